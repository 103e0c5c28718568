import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCommitConflict, withCommitRetry } from '../concepts/storage/commit-retry.js';
import { ConceptStore, type ConceptRecord, type ViewRecord } from '../concepts/storage/store.js';
import {
  CONCEPTS_TABLE,
  conceptSchema,
  conceptsToArrow,
  VIEWS_TABLE,
  viewsToArrow,
} from '../concepts/storage/store-records.js';
import type { Scope } from '../concepts/types.js';
import { UNCALIBRATED } from '../concepts/learning/quality.js';
import { toConcept } from '../concepts/concept-records.js';

const DIM = 16;

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}
const rnd = seeded(42);
const randomVector = () => Float32Array.from({ length: DIM }, rnd);

function concept(scope: Scope, id: string, version = 1): ConceptRecord {
  return {
    ...scope,
    id,
    name: `Name ${id}`,
    nameKey: `name ${id}`,
    category: 'pet',
    description: 'a "quoted" \'thing\'',
    headWeights: randomVector(),
    headBias: -0.123456789,
    threshold: 0.61,
    nameThreshold: 0.7,
    imageCount: 3,
    negativeCount: 1,
    version,
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-02T10:00:00.000Z',
    encoder: 'mobilenet-v2',
    draftPhotos: 0,
    quality: '',
  };
}

function views(scope: Scope, conceptId: string, count: number, vector = randomVector): ViewRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    ...scope,
    conceptId,
    kind: i % 4 === 3 ? 'negative' : 'positive',
    vector: vector(),
    photo: i % 3,
    box: [0.1, 0.2, 0.3, 0.4 + i / 1000],
    variant: `v${i}`,
  }));
}

const jpeg = (n: number) => Uint8Array.from([0xff, 0xd8, n, 0xff, 0xd9]);

let dir: string;
let store: ConceptStore;
const alice: Scope = { tenant: 'acme', user: 'alice' };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nomen-store-'));
  store = await ConceptStore.open(dir, DIM);
});

afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

async function cropFiles(): Promise<string[]> {
  return (await readdir(join(dir, 'crops'), { recursive: true }).catch(() => [] as string[])).filter((p) =>
    p.endsWith('.jpg'),
  );
}

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

  it('hides and sweeps the views and crops of a save that crashed before its commit', async () => {
    await store.saveConcepts(alice, [concept(alice, 'old')], views(alice, 'old', 2), [
      { conceptId: 'old', photo: 0, jpeg: jpeg(1) },
    ]);
    // A crashed save writes views and crops, and never the concept row: a new concept, and images added to 'old'
    // (version 2).
    const failing = store as unknown as { concepts: { mergeInsert: () => never } };
    const realConcepts = failing.concepts;
    failing.concepts = {
      mergeInsert: () => {
        throw new Error('crash');
      },
    };
    const undo = (store as unknown as { undoSave: () => Promise<void> }).undoSave;
    // A crash runs no clean-up.
    (store as unknown as { undoSave: () => Promise<void> }).undoSave = async () => undefined;
    await expect(
      store.saveConcepts(
        alice,
        [concept(alice, 'new'), concept(alice, 'old', 2)],
        [...views(alice, 'new', 3), ...views(alice, 'old', 3)],
        [
          { conceptId: 'new', photo: 0, jpeg: jpeg(2) },
          { conceptId: 'old', photo: 2, jpeg: jpeg(3) },
        ],
      ),
    ).rejects.toThrow('crash');
    failing.concepts = realConcepts;
    (store as unknown as { undoSave: typeof undo }).undoSave = undo;
    expect(await cropFiles()).toHaveLength(3);

    const loaded = await store.loadUser(alice);
    expect(loaded.concepts.map((c) => [c.id, c.version])).toEqual([['old', 1]]);
    expect(loaded.views).toHaveLength(2);
    expect((await store.searchViews(alice, randomVector(), 10)).length).toBe(2);

    expect(await store.sweepOrphans()).toBe(0); // too young: could be a save in flight
    expect(await store.sweepOrphans({ olderThanMs: -1000 })).toBe(6);
    expect(await store.readCrop(alice, 'new', 0)).toBeUndefined();
    expect(await store.readCrop(alice, 'old', 2)).toBeUndefined();
    expect(await store.readCrop(alice, 'old', 0)).toEqual(jpeg(1));
    expect(await cropFiles()).toHaveLength(1);
    expect((await store.loadUser(alice)).views).toHaveLength(2);
  });

  it('removes what a failed save wrote', async () => {
    const failing = store as unknown as { concepts: { mergeInsert: () => never } };
    const realConcepts = failing.concepts;
    failing.concepts = {
      mergeInsert: () => {
        throw new Error('disk full');
      },
    };
    await expect(
      store.saveConcepts(alice, [concept(alice, 'c')], views(alice, 'c', 3), [
        { conceptId: 'c', photo: 0, jpeg: jpeg(1) },
      ]),
    ).rejects.toThrow('disk full');
    failing.concepts = realConcepts;
    expect(await cropFiles()).toHaveLength(0);
    expect(await store.sweepOrphans({ olderThanMs: -1000 })).toBe(0);
  });

  it(
    'keeps uploaded originals of draft photos until they are dropped, and deletes them with their ' + 'concept',
    async () => {
      const originals = [0, 1].map((photo) => ({ conceptId: 'c', photo, bytes: jpeg(photo + 5) }));
      await store.saveConcepts(
        alice,
        [{ ...concept(alice, 'c'), draftPhotos: 2 }],
        views(alice, 'c', 2),
        [],
        originals,
      );
      expect(await store.draftConcepts()).toEqual([{ scope: alice, id: 'c' }]);
      expect(await store.readOriginal(alice, 'c', 1)).toEqual(jpeg(6));
      await store.dropOriginals(alice, 'c', 1);
      expect(await store.readOriginal(alice, 'c', 0)).toBeUndefined();
      expect(await store.readOriginal(alice, 'c', 1)).toEqual(jpeg(6));
      await expect(
        store.saveConcepts(alice, [concept(alice, 'c')], [], [], [{ conceptId: 'c', photo: 3, bytes: jpeg(1) }]),
      ).rejects.toThrow(/no new view/);
      await store.deleteConcept(alice, 'c');
      expect(await store.readOriginal(alice, 'c', 1)).toBeUndefined();
    },
  );

  it('sweeps at open what a crash left', async () => {
    // Orphan views written directly, as a crash between the views and the commit leaves them, an hour ago.
    const db = await lancedb.connect(dir);
    const stale = views(alice, 'ghost', 3).map((v) => ({
      ...v,
      conceptVersion: 1,
      writeId: 'w',
      writtenAtMs: Date.now() - 3_600_000,
    }));
    await (await db.openTable(VIEWS_TABLE)).add(viewsToArrow(stale, DIM));
    const reopened = await ConceptStore.open(dir, DIM);
    expect(await (await db.openTable(VIEWS_TABLE)).countRows()).toBe(0);
    reopened.close();
  });

  it('refuses a store made for another vector dimension', async () => {
    await store.saveConcepts(alice, [concept(alice, 'c')], views(alice, 'c', 1));
    await expect(ConceptStore.open(dir, DIM * 2)).rejects.toThrow(
      /16-dimensional vectors but the encoder makes 32-dimensional/,
    );
  });

  it(
    'opens a store written before naming, drafts and quality: naming at the present one, nothing to refine, quality ' +
      'unknown',
    async () => {
      const old = await mkdtemp(join(tmpdir(), 'nomen-store-old-'));
      try {
        const db = await lancedb.connect(old);
        const before = concept(alice, 'c');
        const added = ['name_threshold', 'draft_photos', 'quality'];
        const columns = conceptSchema(DIM)
          .fields.map((f) => f.name)
          .filter((name) => !added.includes(name));
        await db.createTable(CONCEPTS_TABLE, conceptsToArrow([before], DIM).select(columns));
        const reopened = await ConceptStore.open(old, DIM);
        const [loaded] = (await reopened.loadUser(alice)).concepts;
        expect(loaded.threshold).toBe(before.threshold);
        expect(loaded.nameThreshold).toBe(before.threshold);
        expect(loaded.draftPhotos).toBe(0);
        expect(toConcept(loaded).quality).toEqual(UNCALIBRATED);
        expect(await reopened.draftConcepts()).toEqual([]);
        // The added column has the type new rows are written with.
        await reopened.saveConcepts(alice, [{ ...concept(alice, 'd'), draftPhotos: 2 }], views(alice, 'd', 2));
        expect(await reopened.draftConcepts()).toEqual([{ scope: alice, id: 'd' }]);
        reopened.close();
      } finally {
        await rm(old, { recursive: true, force: true });
      }
    },
  );

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
