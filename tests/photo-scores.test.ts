/**
 * The library's kept scores on a real LanceDB and the real linear-algebra thread: what a query finds kept, what
 * sends it back to the stored vectors, and the bound on memory; on s3:// with a real Redis, what another process's
 * writes drop.
 */
import { faceVectorSize } from '../concepts/people/open-people.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lancedb from '@lancedb/lancedb';
import { Redis } from 'ioredis';
import {
  type IndexedPhoto,
  PHOTO_REGIONS_TABLE,
  photoRegionSchema,
  photoRegionsToArrow,
} from '../concepts/library/photo-records.js';
import { type Heads, PhotoScores, type UserScores } from '../concepts/library/photo-scores.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import type { WriteLog } from '../concepts/library/write-log.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';
import { RedisWriteLog } from '../services/redis-write-log.js';
import { startRedisServer } from './support/redis-server.js';
import { startS3Server } from './support/s3-server.js';

const dim = 4;
const alice = { tenant: 't', user: 'alice' };
const bob = { tenant: 't', user: 'bob' };
const photo = (id: string, ...vectors: number[][]): IndexedPhoto => ({
  id,
  regions: vectors.map((v) => ({ box: [0, 0, 1, 1], vector: Float32Array.from(v) })),
});
/** The bytes photo-scores.ts counts for a kept photo scored by one head. */
const PHOTO_WITH_ONE_HEAD = 120 + 72;
const head = (...w: number[]): Heads => new Map([['c', { weights: Float32Array.from(w), bias: 0 }]]);
const raw = (scores: { photos: Map<string, number>; heads: Map<string, { raw: number[] }> }, id: string) =>
  scores.heads.get('c')!.raw[scores.photos.get(id)!];

let dir: string;
let store: PhotoStore;
let algebra: OnnxLinearAlgebra;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nomen-photo-scores-'));
  store = await PhotoStore.open(dir, dim, faceVectorSize());
  algebra = await OnnxLinearAlgebra.open(new ModelThreads());
  await store.add(alice, [photo('a1', [1, 0, 0, 0], [0, 2, 0, 0]), photo('a2', [0, 0, 3, 0])]);
  await store.add(bob, [photo('b1', [0, 0, 0, 4])]);
});

afterAll(async () => {
  store?.close();
  await algebra?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('kept photo scores', () => {
  it("keeps a user's best regions until a head is retrained, and scores new photos as they are written", async () => {
    const scores = new PhotoScores(store, algebra, 1024 ** 2);
    const w = head(1, 1, 1, 1);
    const first = await scores.get(alice, w, ['c']);
    expect([raw(first, 'a1'), raw(first, 'a2')]).toEqual([2, 3]);
    expect(await scores.get(alice, w, ['c'])).toBe(first);

    await scores.add(alice, [photo('a3', [5, 0, 0, 0])], () => store.add(alice, [photo('a3', [5, 0, 0, 0])]));
    const added = await scores.get(alice, w, ['c']);
    expect(added).toBe(first);
    expect(raw(added, 'a3')).toBe(5);

    // A retrained head: the scores of before answer while a reading scores the new one.
    const w2 = head(0, 0, 1, 0);
    expect(await scores.get(alice, w2, ['c'])).toBe(first);
    await scores.settled(alice);
    const retrained = await scores.get(alice, w2, ['c']);
    expect(retrained).not.toBe(first);
    expect([raw(retrained, 'a1'), raw(retrained, 'a2'), raw(retrained, 'a3')]).toEqual([0, 3, 0]);
    expect(await scores.get(alice, w2, ['c'])).toBe(retrained);

    // A user of fewer photos than `staleFrom` waits for the reading instead.
    const waiting = new PhotoScores(store, algebra, 1024 ** 2, 4);
    expect(await waiting.get(alice, w2, ['c'])).not.toBe(retrained);
    expect(raw(await waiting.get(alice, w, ['c']), 'a3')).toBe(5);
  });

  it('joins the photos indexed and deleted during a reading; a concept never scored is read at once', async () => {
    const carol = { tenant: 't', user: 'carol' };
    await store.add(carol, [photo('c1', [1, 0, 0, 0]), photo('c2', [0, 1, 0, 0])]);
    const scores = new PhotoScores(store, algebra, 1024 ** 2);
    const before = await scores.get(carol, head(1, 1, 0, 0), ['c']);
    const w = head(0, 2, 0, 0);
    expect(await scores.get(carol, w, ['c'])).toBe(before);
    // Whether the reading lands before, during or after these changes, its scores hold them.
    await scores.add(carol, [photo('c3', [0, 3, 0, 0])], () => store.add(carol, [photo('c3', [0, 3, 0, 0])]));
    await scores.removed(carol, 'c1', (await store.remove(carol, 'c1'))!);
    await scores.settled(carol);
    const after = await scores.get(carol, w, ['c']);
    expect([...after.photos.keys()].sort()).toEqual(['c2', 'c3']);
    expect([raw(after, 'c2'), raw(after, 'c3')]).toEqual([2, 6]);

    // A new concept has no scores of before: its query waits for a reading of every head of the user.
    const both: Heads = new Map([...w, ['d', { weights: Float32Array.from([0, 0, 0, 0]), bias: 0 }]]);
    const read = await scores.get(carol, both, ['d']);
    expect(read).not.toBe(after);
    expect([...read.heads.keys()]).toEqual(['c', 'd']);
    expect(await scores.get(carol, both, ['c', 'd'])).toBe(read);
  });

  it('keeps the copies through a compaction, which changes no row', async () => {
    const scores = new PhotoScores(store, algebra, 1024 ** 2);
    const w = head(1, 1, 1, 1);
    const before = await scores.get(bob, w, ['c']);
    const version = await store.version();
    await scores.upkeep(() => store.compact(0));
    expect(await store.version()).toBeGreaterThan(version);
    expect(await scores.get(bob, w, ['c'])).toBe(before);
  });

  it('drops the least recently used user past its bytes, and never keeps a user larger than them', async () => {
    const w = head(1, 1, 1, 1);
    // Room for alice's 3 photos or bob's 1, not both.
    const scores = new PhotoScores(store, algebra, 3 * PHOTO_WITH_ONE_HEAD);
    const a = await scores.get(alice, w, ['c']);
    expect(await scores.get(alice, w, ['c'])).toBe(a);
    await scores.get(bob, w, ['c']);
    expect(await scores.get(alice, w, ['c'])).not.toBe(a);

    const tiny = new PhotoScores(store, algebra, 100);
    expect(await tiny.get(bob, w, ['c'])).not.toBe(await tiny.get(bob, w, ['c']));
  });

  it('measures a kept user again when photos join it', async () => {
    const w = head(1, 1, 1, 1);
    const dave = { tenant: 't', user: 'dave' };
    await store.add(dave, [photo('d1', [1, 0, 0, 0])]);
    // Room for two users of one photo each: once dave has two, bob's copy pushes his out.
    const scores = new PhotoScores(store, algebra, 2 * PHOTO_WITH_ONE_HEAD);
    const first = await scores.get(dave, w, ['c']);
    const d2 = photo('d2', [0, 1, 0, 0]);
    await scores.add(dave, [d2], () => store.add(dave, [d2]));
    expect(await scores.get(dave, w, ['c'])).toBe(first);
    await scores.get(bob, w, ['c']);
    expect(await scores.get(dave, w, ['c'])).not.toBe(first);
  });

  it("keeps the best region's box for its place and its extent for the answer; an older library its box", async () => {
    const framed: IndexedPhoto = {
      id: 'framed',
      regions: [
        { box: [0, 0, 1, 1], vector: Float32Array.from([1, 0, 0, 0]), extent: [0.1, 0.1, 0.5, 0.5] },
        { box: [0.5, 0.5, 0.5, 0.5], vector: Float32Array.from([0, 5, 0, 0]), extent: [0.6, 0.7, 0.2, 0.25] },
      ],
    };
    const best = (scores: UserScores, kind: 'boxes' | 'extents') => {
      const i = scores.photos.get('framed')!;
      return scores.heads.get('c')![kind].slice(i * 4, i * 4 + 4);
    };
    const w = head(0, 1, 0, 0);
    expect(store.extents).toBe(true);
    // Scored in memory as written, then read from the table: the same extent.
    const kept = new PhotoScores(store, algebra, 1024 ** 2);
    await kept.get(bob, w, ['c']);
    await kept.add(bob, [framed], () => store.add(bob, [framed]));
    expect(best(await kept.get(bob, w, ['c']), 'extents')).toEqual([0.6, 0.7, 0.2, 0.25].map(Math.fround));
    const read = await new PhotoScores(store, algebra, 1024 ** 2).get(bob, w, ['c']);
    expect(best(read, 'boxes')).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(best(read, 'extents').map(Math.fround)).toEqual([0.6, 0.7, 0.2, 0.25].map(Math.fround));
    expect((await store.photo(bob, 'framed')).map((r) => r.extent?.map(Math.fround))).toEqual(
      framed.regions.map((r) => r.extent!.map(Math.fround)),
    );

    const older = await mkdtemp(path.join(os.tmpdir(), 'nomen-photo-scores-boxes-'));
    try {
      const db = await lancedb.connect(older);
      await db.createEmptyTable(PHOTO_REGIONS_TABLE, photoRegionSchema(dim, true));
      db.close();
      const reopened = await PhotoStore.open(older, dim, faceVectorSize());
      try {
        expect(reopened.extents).toBe(false);
        const scores = new PhotoScores(reopened, algebra, 1024 ** 2);
        // Written while kept (scored in memory), then read again: both answer the region's box.
        await scores.get(bob, w, ['c']);
        await scores.add(bob, [framed], () => reopened.add(bob, [framed]));
        expect(best(await scores.get(bob, w, ['c']), 'extents')).toEqual([0.5, 0.5, 0.5, 0.5]);
        expect(best(await new PhotoScores(reopened, algebra, 1024 ** 2).get(bob, w, ['c']), 'extents')).toEqual([
          0.5, 0.5, 0.5, 0.5,
        ]);
      } finally {
        reopened.close();
      }
    } finally {
      await rm(older, { recursive: true, force: true });
    }
    await store.remove(bob, 'framed');
  });

  it('keeps vectors as float16, and a library written as float32 before as it is', async () => {
    const vector = [0.1, -0.2, 0.3, 1];
    const halves = [0.0999755859375, -0.199951171875, 0.300048828125, 1];
    expect((await store.photo(alice, 'a2'))[0].vector).toEqual(Float32Array.from([0, 0, 3, 0]));
    expect(store.half).toBe(true);
    await store.add(alice, [photo('a4', vector)]);
    expect([...(await store.photo(alice, 'a4'))[0].vector]).toEqual(halves);

    const older = await mkdtemp(path.join(os.tmpdir(), 'nomen-photo-scores-f32-'));
    try {
      const db = await lancedb.connect(older);
      const table = await db.createEmptyTable(PHOTO_REGIONS_TABLE, photoRegionSchema(dim));
      await table.add(photoRegionsToArrow(alice, [photo('old', vector)], dim));
      db.close();
      const reopened = await PhotoStore.open(older, dim, faceVectorSize());
      try {
        expect(reopened.half).toBe(false);
        await reopened.add(alice, [photo('new', vector)]);
        for (const id of ['old', 'new'])
          expect((await reopened.photo(alice, id))[0].vector).toEqual(Float32Array.from(vector));
      } finally {
        reopened.close();
      }
    } finally {
      await rm(older, { recursive: true, force: true });
    }
  });
});

describe('kept photo scores of several processes', () => {
  it('drops only the users whose photos another process wrote, as the shared log names them', async () => {
    const [server, s3] = await Promise.all([startRedisServer(), startS3Server()]);
    const redis = new Redis(server.url);
    // Two processes on one dataset: each its own connection, its own copies; one bucket, one Redis.
    const uri = `s3://${s3.bucket}/photos`;
    const mine = await PhotoStore.open(uri, dim, faceVectorSize(), s3.storage);
    const other = await PhotoStore.open(uri, dim, faceVectorSize(), s3.storage);
    try {
      await mine.add(alice, [photo('a1', [1, 0, 0, 0])]);
      await mine.add(bob, [photo('b1', [0, 0, 0, 4])]);
      const log = new RedisWriteLog(redis, uri);
      const here = new PhotoScores(mine, algebra, 1024 ** 2, 0, log);
      const there = new PhotoScores(other, algebra, 1024 ** 2, 0, log);
      const w = head(1, 1, 1, 1);
      const [a, b] = [await here.get(alice, w, ['c']), await here.get(bob, w, ['c'])];

      await there.add(bob, [photo('b2', [0, 0, 0, 7])], () => other.add(bob, [photo('b2', [0, 0, 0, 7])]));
      expect(await here.get(alice, w, ['c'])).toBe(a);
      const b2 = await here.get(bob, w, ['c']);
      expect(b2).not.toBe(b);
      expect(raw(b2, 'b2')).toBe(7);

      await there.removed(bob, 'b2', (await other.remove(bob, 'b2'))!);
      expect(await here.get(alice, w, ['c'])).toBe(a);
      expect((await here.get(bob, w, ['c'])).photos.has('b2')).toBe(false);

      // Another process's write while this one compacts is not taken for a version of the compaction.
      await here.upkeep(async () => {
        await mine.compact(0);
        await there.add(bob, [photo('b5', [0, 0, 0, 2])], () => other.add(bob, [photo('b5', [0, 0, 0, 2])]));
      });
      expect(await here.get(alice, w, ['c'])).toBe(a);
      expect(raw(await here.get(bob, w, ['c']), 'b5')).toBe(2);

      // Versions that no process logged (another's compaction, a write before the log) drop every copy.
      await there.upkeep(() => other.compact(0));
      const a2 = await here.get(alice, w, ['c']);
      expect(a2).not.toBe(a);
      await other.add(bob, [photo('b3', [0, 0, 0, 1])]);
      expect(await here.get(alice, w, ['c'])).not.toBe(a2);

      // A log that fails or never answers, or a process without one: any version made elsewhere drops everything.
      const broken: WriteLog = {
        record: () => Promise.reject(new Error('Redis is gone')),
        users: () => Promise.reject(new Error('Redis is gone')),
      };
      const hung: WriteLog = { record: async () => undefined, users: () => new Promise(() => undefined) };
      for (const kept of [
        new PhotoScores(mine, algebra, 1024 ** 2, 0, broken),
        new PhotoScores(mine, algebra, 1024 ** 2, 0, hung),
        new PhotoScores(mine, algebra, 1024 ** 2),
      ]) {
        const before = await kept.get(alice, w, ['c']);
        await there.add(bob, [photo('b4', [0, 0, 0, 1])], () => other.add(bob, [photo('b4', [0, 0, 0, 1])]));
        expect(await kept.get(alice, w, ['c'])).not.toBe(before);
        await there.removed(bob, 'b4', (await other.remove(bob, 'b4'))!);
      }
    } finally {
      mine.close();
      other.close();
      redis.disconnect();
      await Promise.all([server.close(), s3.close()]);
    }
  });
});
