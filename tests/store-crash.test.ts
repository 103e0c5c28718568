/** The concept store after crashes and failed saves, and stores written by older versions: nothing half there. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { describe, expect, it, vi } from 'vitest';
import { toConcept } from '../concepts/concept-records.js';
import { UNCALIBRATED } from '../concepts/learning/quality.js';
import { ConceptStore } from '../concepts/storage/store.js';
import {
  CONCEPTS_TABLE,
  conceptSchema,
  conceptsToArrow,
  VIEWS_TABLE,
  viewsToArrow,
} from '../concepts/storage/store-records.js';
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

useStore();

/**
 * Runs `work` while the store's concept commits throw `message`, as a full disk or a crash would; with `crash`, the
 * store's clean-up after a failed save does not run either.
 */
async function failingCommits(message: string, work: () => Promise<void>, crash = false): Promise<void> {
  const internals = store as unknown as { concepts: { mergeInsert: () => unknown }; undoSave: () => Promise<void> };
  const spies = [
    vi.spyOn(internals.concepts, 'mergeInsert').mockImplementation(() => {
      throw new Error(message);
    }),
    ...(crash ? [vi.spyOn(internals, 'undoSave').mockResolvedValue(undefined)] : []),
  ];
  try {
    await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe('ConceptStore after a crash', () => {
  it('hides and sweeps the views and crops of a save that crashed before its commit', async () => {
    await store.saveConcepts(alice, [concept(alice, 'old')], views(alice, 'old', 2), [
      { conceptId: 'old', photo: 0, jpeg: jpeg(1) },
    ]);
    // A crashed save writes views and crops, and never the concept row: a new concept, and images added to 'old'
    // (version 2).
    await failingCommits(
      'crash',
      () =>
        expect(
          store.saveConcepts(
            alice,
            [concept(alice, 'new'), concept(alice, 'old', 2)],
            [...views(alice, 'new', 3), ...views(alice, 'old', 3)],
            [
              { conceptId: 'new', photo: 0, jpeg: jpeg(2) },
              { conceptId: 'old', photo: 2, jpeg: jpeg(3) },
            ],
          ),
        ).rejects.toThrow('crash'),
      true,
    );
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
    await failingCommits('disk full', () =>
      expect(
        store.saveConcepts(alice, [concept(alice, 'c')], views(alice, 'c', 3), [
          { conceptId: 'c', photo: 0, jpeg: jpeg(1) },
        ]),
      ).rejects.toThrow('disk full'),
    );
    expect(await cropFiles()).toHaveLength(0);
    expect(await store.sweepOrphans({ olderThanMs: -1000 })).toBe(0);
  });

  it("keeps a photo's crop file, overwritten, when a save of the same photo fails", async () => {
    await store.saveConcepts(alice, [concept(alice, 'c')], views(alice, 'c', 1), [
      { conceptId: 'c', photo: 0, jpeg: jpeg(1) },
    ]);
    // A refinement writes the photo's crop again (the subject, found now) and a crop of a new photo.
    await failingCommits('disk full', () =>
      expect(
        store.saveConcepts(alice, [concept(alice, 'c', 2)], views(alice, 'c', 2), [
          { conceptId: 'c', photo: 0, jpeg: jpeg(2) },
          { conceptId: 'c', photo: 1, jpeg: jpeg(3) },
        ]),
      ).rejects.toThrow('disk full'),
    );
    expect(await store.readCrop(alice, 'c', 0)).toEqual(jpeg(2));
    expect(await store.readCrop(alice, 'c', 1)).toBeUndefined();
    expect(await cropFiles()).toHaveLength(1);
    // The committed view of photo 0 keeps its crop from the sweep.
    expect(await store.sweepOrphans({ olderThanMs: -1000 })).toBe(0);
    expect(await store.readCrop(alice, 'c', 0)).toEqual(jpeg(2));
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
      expect(await store.conceptsToRefine()).toEqual([{ scope: alice, id: 'c' }]);
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
    'opens a store written before naming, drafts and quality: naming at the present one, quality unknown and to ' +
      'be calibrated again',
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
        expect(await reopened.conceptsToRefine()).toEqual([{ scope: alice, id: 'c' }]);
        // The added column has the type new rows are written with.
        await reopened.saveConcepts(
          alice,
          [concept(alice, 'c'), { ...concept(alice, 'd'), draftPhotos: 2 }],
          views(alice, 'd', 2),
        );
        expect(await reopened.conceptsToRefine()).toEqual([{ scope: alice, id: 'd' }]);
        reopened.close();
      } finally {
        await rm(old, { recursive: true, force: true });
      }
    },
  );
});
