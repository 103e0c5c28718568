/** The concept store on a real LanceDB in a temp folder: reads, writes, deletes, tenants, search, compaction. */
import * as lancedb from '@lancedb/lancedb';
import { describe, expect, it } from 'vitest';
import { isCommitConflict, withCommitRetry } from '../concepts/storage/commit-retry.js';
import { ConceptStore, type ViewRecord } from '../concepts/storage/store.js';
import { VIEWS_TABLE } from '../concepts/storage/store-records.js';
import {
  alice,
  concept,
  cropFiles,
  DIM,
  dir,
  jpeg,
  randomVector,
  store,
  useStore,
  views,
} from './support/store-fixtures.js';
import type { Scope } from '../concepts/types.js';

useStore();

describe('ConceptStore', () => {
  it('round-trips concept and view records', async () => {
    const c = concept(alice, 'c1');
    const v = views(alice, 'c1', 4);
    await store.saveConcepts(alice, [c], v, [{ conceptId: 'c1', photo: 0, jpeg: jpeg(1) }]);
    const loaded = await store.loadUser(alice);
    expect(loaded.concepts).toEqual([c]);
    expect(loaded.concepts[0].headWeights).toBeInstanceOf(Float32Array);
    const byVariant = (a: ViewRecord, b: ViewRecord) => a.variant.localeCompare(b.variant);
    expect(loaded.views.sort(byVariant)).toEqual(v);
    expect(loaded.views[0].vector).toBeInstanceOf(Float32Array);
    expect(await store.getConcept(alice, 'c1')).toEqual(c);
    expect(await store.getConcept(alice, 'nope')).toBeUndefined();
    expect(await store.readCrop(alice, 'c1', 0)).toEqual(jpeg(1));
    expect(await store.readCrop(alice, 'c1', 1)).toBeUndefined();
  });

  it('loads more than LanceDB default limit of 10 rows', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
    await store.saveConcepts(
      alice,
      ids.map((id) => concept(alice, id)),
      ids.flatMap((id) => views(alice, id, 5)),
    );
    const loaded = await store.loadUser(alice);
    expect(loaded.concepts).toHaveLength(12);
    expect(loaded.views).toHaveLength(60);
  });

  it('updates every concept of a user in one save', async () => {
    await store.saveConcepts(
      alice,
      [concept(alice, 'a'), concept(alice, 'b')],
      [...views(alice, 'a', 2), ...views(alice, 'b', 2)],
    );
    const retrained = [
      { ...concept(alice, 'a', 2), threshold: 0.7 },
      { ...concept(alice, 'b', 2), threshold: 0.8 },
    ];
    await store.saveConcepts(alice, retrained, views(alice, 'b', 3));
    const loaded = await store.loadUser(alice);
    expect(loaded.concepts.map((c) => [c.id, c.version, c.threshold]).sort()).toEqual([
      ['a', 2, 0.7],
      ['b', 2, 0.8],
    ]);
    expect(loaded.views).toHaveLength(7);
  });

  it('keeps tenants apart, even for the same user name', async () => {
    const other: Scope = { tenant: 'globex', user: 'alice' };
    await store.saveConcepts(alice, [concept(alice, 'mine')], views(alice, 'mine', 3), [
      { conceptId: 'mine', photo: 0, jpeg: jpeg(1) },
    ]);
    await store.saveConcepts(other, [concept(other, 'theirs')], views(other, 'theirs', 2));
    const loaded = await store.loadUser(other);
    expect(loaded.concepts.map((c) => c.id)).toEqual(['theirs']);
    expect(loaded.views.every((v) => v.tenant === 'globex')).toBe(true);
    expect(await store.getConcept(other, 'mine')).toBeUndefined();
    expect(await store.readCrop(other, 'mine', 0)).toBeUndefined();
    expect((await store.searchViews(other, randomVector(), 10)).map((m) => m.view.conceptId)).toEqual([
      'theirs',
      'theirs',
    ]);
  });

  it('deleteConcept removes the row, its views and its crop files', async () => {
    await store.saveConcepts(
      alice,
      [concept(alice, 'gone'), concept(alice, 'kept')],
      [...views(alice, 'gone', 3), ...views(alice, 'kept', 3)],
      [
        { conceptId: 'gone', photo: 0, jpeg: jpeg(1) },
        { conceptId: 'gone', photo: 1, jpeg: jpeg(2) },
        { conceptId: 'kept', photo: 0, jpeg: jpeg(3) },
      ],
    );
    expect(await cropFiles()).toHaveLength(3);
    expect(await store.deleteConcept(alice, 'gone')).toBe(true);
    expect(await store.deleteConcept(alice, 'gone')).toBe(false);
    const loaded = await store.loadUser(alice);
    expect(loaded.concepts.map((c) => c.id)).toEqual(['kept']);
    expect(new Set(loaded.views.map((v) => v.conceptId))).toEqual(new Set(['kept']));
    expect(await store.readCrop(alice, 'gone', 0)).toBeUndefined();
    expect(await cropFiles()).toHaveLength(1);
    // Nothing hidden either: the views rows themselves are gone.
    const db = await lancedb.connect(dir);
    expect(await (await db.openTable(VIEWS_TABLE)).countRows(`concept_id = 'gone'`)).toBe(0);
  });

  it('deleteUser removes all of that user and nothing of others', async () => {
    const bob: Scope = { tenant: 'acme', user: 'bob' };
    const otherAlice: Scope = { tenant: 'globex', user: 'alice' };
    for (const s of [alice, bob, otherAlice])
      await store.saveConcepts(
        s,
        [concept(s, 'x'), concept(s, 'y')],
        [...views(s, 'x', 2), ...views(s, 'y', 2)],
        [{ conceptId: 'x', photo: 0, jpeg: jpeg(1) }],
      );
    expect(await store.deleteUser(alice)).toBe(2);
    expect(await store.loadUser(alice)).toEqual({ concepts: [], views: [] });
    expect(await store.readCrop(alice, 'x', 0)).toBeUndefined();
    for (const s of [bob, otherAlice]) {
      const loaded = await store.loadUser(s);
      expect([loaded.concepts.length, loaded.views.length]).toEqual([2, 4]);
      expect(await store.readCrop(s, 'x', 0)).toEqual(jpeg(1));
    }
    expect(await cropFiles()).toHaveLength(2);
  });

  it('escapes quotes in user names', async () => {
    const tricky: Scope = { tenant: 'acme', user: `o'brien" OR '1'='1` };
    const plain: Scope = { tenant: 'acme', user: 'o' };
    await store.saveConcepts(tricky, [concept(tricky, 'q')], views(tricky, 'q', 2), [
      { conceptId: 'q', photo: 0, jpeg: jpeg(1) },
    ]);
    await store.saveConcepts(plain, [concept(plain, 'p')], views(plain, 'p', 2));
    const loaded = await store.loadUser(tricky);
    expect(loaded.concepts.map((c) => [c.user, c.id])).toEqual([[tricky.user, 'q']]);
    expect(loaded.views.every((v) => v.user === tricky.user)).toBe(true);
    expect((await store.searchViews(tricky, randomVector(), 10)).map((m) => m.view.conceptId)).toEqual(['q', 'q']);
    expect(await store.readCrop(tricky, 'q', 0)).toEqual(jpeg(1));
    expect(await store.deleteUser({ tenant: 'acme', user: `x' OR '1'='1` })).toBe(0);
    expect(await store.deleteConcept(tricky, 'q')).toBe(true);
    expect((await store.loadUser(plain)).concepts).toHaveLength(1);
  });

  it('lands 16 concurrent saves of one user', async () => {
    // Two stores on one folder act as two writers racing for the same table versions.
    const second = await ConceptStore.open(dir, DIM);
    const ids = Array.from({ length: 16 }, (_, i) => `c${i}`);
    await Promise.all(
      ids.map((id, i) =>
        (i % 2 ? second : store).saveConcepts(alice, [concept(alice, id)], views(alice, id, 3), [
          { conceptId: id, photo: 0, jpeg: jpeg(i) },
        ]),
      ),
    );
    second.close();
    const fresh = await ConceptStore.open(dir, DIM);
    const loaded = await fresh.loadUser(alice);
    fresh.close();
    expect(loaded.concepts.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(loaded.views).toHaveLength(48);
    expect(await cropFiles()).toHaveLength(16);
  });

  it('searchViews ranks only the user’s own visible views by cosine distance', async () => {
    const bob: Scope = { tenant: 'acme', user: 'bob' };
    const target = randomVector();
    await store.saveConcepts(
      bob,
      [concept(bob, 'b')],
      views(bob, 'b', 5, () => Float32Array.from(target)),
    );
    const aliceViews = views(alice, 'a', 20);
    aliceViews[7].vector = Float32Array.from(target, (x) => 3 * x); // same direction: cosine distance 0
    await store.saveConcepts(alice, [concept(alice, 'a')], aliceViews);
    const matches = await store.searchViews(alice, target, 5);
    expect(matches).toHaveLength(5);
    expect(matches.every((m) => m.view.user === 'alice' && m.view.tenant === 'acme')).toBe(true);
    expect(matches[0].view.variant).toBe('v7');
    expect(matches[0].distance).toBeCloseTo(0, 5);
    expect(matches.map((m) => m.distance)).toEqual([...matches.map((m) => m.distance)].sort((a, b) => a - b));
  });

  it('compacts and still reads everything', async () => {
    for (let i = 0; i < 5; i++) await store.saveConcepts(alice, [concept(alice, `c${i}`)], views(alice, `c${i}`, 3));
    await store.deleteConcept(alice, 'c0');
    await store.compact({ keepVersionsMs: 0 });
    const loaded = await store.loadUser(alice);
    expect([loaded.concepts.length, loaded.views.length]).toEqual([4, 12]);
  });
});

describe('withCommitRetry', () => {
  it('retries commit conflicts and nothing else', async () => {
    let calls = 0;
    const result = await withCommitRetry(
      async () => {
        if (++calls < 3)
          throw new Error('lance error: Retryable commit conflict for version 7: transaction was preempted');
        return 'ok';
      },
      5,
      1,
    );
    expect([result, calls]).toEqual(['ok', 3]);
    let other = 0;
    await expect(
      withCommitRetry(
        async () => {
          other++;
          throw new Error('invalid input');
        },
        5,
        1,
      ),
    ).rejects.toThrow('invalid input');
    expect(other).toBe(1);
    expect(isCommitConflict(new Error('Commit conflict for version 3'))).toBe(true);
  });
});
