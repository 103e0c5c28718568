/**
 * Several API processes and a worker on one dataset in S3-compatible object storage (a local s3rver, the
 * same protocol as MinIO or S3): the tables through LanceDB, reference crops and videos through the S3 blob
 * store, memory caches that follow what another process changed, each user's writes serialised through
 * Redis, and video jobs through the BullMQ queue in Redis.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore, s3Client } from '../concepts/storage/blob-store.js';
import { ConceptStore, type ConceptRecord, type ViewRecord } from '../concepts/storage/store.js';
import type { Scope } from '../concepts/types.js';
import { defaultDataDir, defaultModelsDir } from '../scripts/lib/dreambooth.js';
import { makeVideo } from '../scripts/lib/make-video.js';
import { startServer, type ServerProcess } from '../scripts/lib/server-process.js';
import { startRedisServer, type RedisTestServer } from './support/redis-server.js';
import { startS3Server, type S3TestServer } from './support/s3-server.js';
import { startWorker } from './support/worker-process.js';

let s3: S3TestServer;
let redis: RedisTestServer;

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3Server(), startRedisServer()]);
});

afterAll(async () => {
  await Promise.all([s3?.close(), redis?.close()]);
});

describe('S3 blob store', () => {
  it('puts, gets, deletes one key and every key under a prefix', async () => {
    const blobs = new S3BlobStore(s3Client(s3.storage), s3.bucket, 'blobs-test/crops');
    try {
      await blobs.put('u1/c1/0.jpg', Uint8Array.from([1, 2, 3]));
      await blobs.put('u1/c1/1.jpg', Uint8Array.from([4]));
      await blobs.put('u1/c2/0.jpg', Uint8Array.from([5]));
      await blobs.put('u10/c1/0.jpg', Uint8Array.from([6]));
      expect(await blobs.get('u1/c1/0.jpg')).toEqual(Uint8Array.from([1, 2, 3]));
      expect(await blobs.get('u1/c9/0.jpg')).toBeUndefined();
      expect(await blobs.has('u1/c1/1.jpg')).toBe(true);
      await blobs.delete('u1/c1/1.jpg');
      expect(await blobs.get('u1/c1/1.jpg')).toBeUndefined();
      expect(await blobs.has('u1/c1/1.jpg')).toBe(false);
      await blobs.deletePrefix('u1');
      expect(await blobs.get('u1/c1/0.jpg')).toBeUndefined();
      expect(await blobs.get('u1/c2/0.jpg')).toBeUndefined();
      // A prefix is a folder: u1 does not reach into u10.
      expect(await blobs.get('u10/c1/0.jpg')).toEqual(Uint8Array.from([6]));
      await expect(blobs.put('../x', Uint8Array.from([0]))).rejects.toThrow(/bad blob key/);

      // Files in and out without holding them in memory.
      const dir = await mkdtemp(join(tmpdir(), 'nomen-blob-'));
      const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => i % 251);
      await writeFile(join(dir, 'video'), bytes);
      await blobs.putFile('u2/v1', join(dir, 'video'));
      const local = await blobs.openFile('u2/v1');
      expect(new Uint8Array(await readFile(local.path))).toEqual(bytes);
      await local.release();
      await expect(readFile(local.path)).rejects.toThrow(/ENOENT/);
      await rm(dir, { recursive: true, force: true });
    } finally {
      blobs.close();
    }
  });
});

describe('concept store on s3://', () => {
  const DIM = 8;
  const record = (scope: Scope, id: string, version: number): ConceptRecord => ({
    ...scope,
    id,
    name: id,
    nameKey: id,
    category: '',
    description: '',
    headWeights: new Float32Array(DIM).fill(0.5),
    headBias: 0,
    threshold: 0.5,
    nameThreshold: 0.6,
    imageCount: 1,
    negativeCount: 0,
    version,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    encoder: 'test',
    draftPhotos: 0,
    quality: '',
  });
  const view = (scope: Scope, conceptId: string): ViewRecord => ({
    ...scope,
    conceptId,
    kind: 'positive',
    vector: new Float32Array(DIM).fill(1),
    photo: 0,
    box: [0, 0, 1, 1],
    variant: 'whole',
  });

  it('lets two connections see each other, and keeps every one of their concurrent commits', async () => {
    const uri = `s3://${s3.bucket}/store-test`;
    const [a, b] = [await ConceptStore.open(uri, DIM, s3.storage), await ConceptStore.open(uri, DIM, s3.storage)];
    try {
      const alice = { tenant: 't', user: 'alice' };
      const before = await b.conceptsVersion();
      await a.saveConcepts(
        alice,
        [record(alice, 'c1', 1)],
        [view(alice, 'c1')],
        [{ conceptId: 'c1', photo: 0, jpeg: Uint8Array.from([0xff, 0xd8]) }],
      );
      expect(await b.conceptsVersion()).toBeGreaterThan(before);
      expect((await b.loadUser(alice)).concepts.map((c) => c.id)).toEqual(['c1']);
      expect(await b.readCrop(alice, 'c1', 0)).toEqual(Uint8Array.from([0xff, 0xd8]));

      // Commits racing from two connections: put-if-absent makes the loser retry on top of the winner.
      const users = Array.from({ length: 6 }, (_, i) => ({ tenant: 't', user: `u${i}` }));
      await Promise.all(users.map((u, i) => (i % 2 ? a : b).saveConcepts(u, [record(u, 'c', 1)], [view(u, 'c')])));
      for (const u of users)
        expect(
          (await a.loadUser(u)).concepts.map((c) => c.id),
          u.user,
        ).toEqual(['c']);

      await b.deleteUser(alice);
      expect((await a.loadUser(alice)).concepts).toEqual([]);
      expect(await a.readCrop(alice, 'c1', 0)).toBeUndefined();
      await a.compact({ keepVersionsMs: 0 });
      expect((await b.loadUser(users[0])).views).toHaveLength(1);
    } finally {
      a.close();
      b.close();
    }
  }, 120_000);
});

describe('two API processes on one dataset', () => {
  const servers: ServerProcess[] = [];
  const env = () => ({
    ...s3.env,
    NOMEN_DATA: `s3://${s3.bucket}/api`,
    NOMEN_MODELS: process.env.NOMEN_MODELS ?? defaultModelsDir,
    NOMEN_COMPACT_INTERVAL_S: '0',
    NOMEN_API_KEYS: '',
    REDIS_URL: redis.url,
    NOMEN_VIDEO_JOBS: '0',
  });
  const photo = async (subject: string, n: number) => ({
    data: (await readFile(join(defaultDataDir, subject, `0${n}.jpg`))).toString('base64'),
  });

  async function call(
    server: ServerProcess,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }> {
    const res = await fetch(`${server.url}/v1${path}`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  const names = async (server: ServerProcess, user: string) =>
    (await call(server, 'GET', `/users/${user}/concepts`)).body.concepts.map((c: { name: string }) => c.name).sort();

  beforeAll(async () => {
    servers.push(...(await Promise.all([startServer(env()), startServer(env())])));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('registers on one and recognizes, renames and deletes on the other, each seeing the other at once', async () => {
    const [a, b] = servers;
    const user = 'shared-user';
    // B reads the user first, so that it holds the user in memory when A changes it.
    expect(await names(b, user)).toEqual([]);
    const dog = await call(a, 'POST', `/users/${user}/concepts`, {
      name: 'Biscuit',
      images: [await photo('dog', 0), await photo('dog', 1)],
    });
    expect(dog.status, JSON.stringify(dog.body)).toBe(201);

    expect(await call(b, 'GET', `/users/${user}/concepts/${dog.body.id}`)).toEqual({ status: 200, body: dog.body });
    const seen = await call(b, 'POST', `/users/${user}/recognize`, { image: await photo('dog', 4) });
    expect(seen.status).toBe(200);
    expect(seen.body.concepts.map((m: { id: string }) => m.id)).toEqual([dog.body.id]);

    expect((await call(b, 'PATCH', `/users/${user}/concepts/${dog.body.id}`, { name: 'Biscuit Jr' })).status).toBe(200);
    expect((await call(a, 'GET', `/users/${user}/concepts/${dog.body.id}`)).body.name).toBe('Biscuit Jr');

    expect((await call(b, 'DELETE', `/users/${user}/concepts/${dog.body.id}`)).status).toBe(204);
    expect((await call(a, 'GET', `/users/${user}/concepts/${dog.body.id}`)).status).toBe(404);
    expect(
      (await call(a, 'POST', `/users/${user}/recognize`, { image: await photo('dog', 4), all: true })).body.concepts,
    ).toEqual([]);
  }, 120_000);

  it('lands concurrent registrations of different users through both processes', async () => {
    const subjects = ['cat', 'backpack', 'teapot', 'can', 'candle', 'duck_toy'];
    const results = await Promise.all(
      subjects.map(async (s, i) =>
        call(servers[i % 2], 'POST', `/users/busy-${i}/concepts`, { name: s, images: [await photo(s, 0)] }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(subjects.map(() => 201));
    for (const [i, s] of subjects.entries())
      for (const server of servers) expect(await names(server, `busy-${i}`)).toEqual([s]);
  }, 180_000);

  it("serialises one user's writes across both processes: no photo or name lost to a race", async () => {
    const [a, b] = servers;
    const user = 'contended';
    const dog = (await call(a, 'POST', `/users/${user}/concepts`, { name: 'Dog', images: [await photo('dog', 0)] }))
      .body;
    // Both processes add photos to the same concept and register one name, all at once.
    const [addA, addB, catA, catB] = await Promise.all([
      call(a, 'POST', `/users/${user}/concepts/${dog.id}/images`, {
        images: [await photo('dog', 1), await photo('dog', 2)],
      }),
      call(b, 'POST', `/users/${user}/concepts/${dog.id}/images`, {
        images: [await photo('dog', 3), await photo('dog', 4)],
      }),
      call(a, 'POST', `/users/${user}/concepts`, { name: 'Cat', images: [await photo('cat', 0)] }),
      call(b, 'POST', `/users/${user}/concepts`, { name: 'cat', images: [await photo('cat', 1)] }),
    ]);
    expect([addA.status, addB.status]).toEqual([200, 200]);
    expect([catA.status, catB.status].sort()).toEqual([201, 409]);
    for (const server of servers) {
      expect((await call(server, 'GET', `/users/${user}/concepts/${dog.id}`)).body.imageCount).toBe(5);
      expect((await names(server, user)).map((n: string) => n.toLowerCase()).sort()).toEqual(['cat', 'dog']);
    }
  }, 180_000);

  it('indexes a video uploaded to one API process in a worker process on another machine, and answers from the other ' +
    'API process', async () => {
    const [a, b] = servers;
    const user = 'filmed';
    // The worker's own temporary folder stands for another machine: the video can only reach it through S3.
    const [work, elsewhere] = await Promise.all([
      mkdtemp(join(tmpdir(), 'nomen-clip-')),
      mkdtemp(join(tmpdir(), 'nomen-machine-')),
    ]);
    try {
      const clip = join(work, 'clip.mp4');
      const shots = [join(defaultDataDir, 'dog', '04.jpg'), join(defaultDataDir, 'teapot', '03.jpg')].map((p) => ({
        photo: p,
        seconds: 3,
      }));
      await makeVideo(shots, clip, { width: 640, height: 480, fps: 10, preset: 'ultrafast' });
      const dog = await call(a, 'POST', `/users/${user}/concepts`, {
        name: 'Dog',
        images: await Promise.all([0, 1, 2].map((n) => photo('dog', n))),
      });
      expect(dog.status).toBe(201);
      const upload = await call(a, 'POST', `/users/${user}/videos`, {
        data: (await readFile(clip)).toString('base64'),
      });
      expect(upload.status, JSON.stringify(upload.body)).toBe(202);
      const video = `/users/${user}/videos/${upload.body.id}`;
      // No API process takes jobs here (NOMEN_VIDEO_JOBS=0): it waits for a worker.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await call(b, 'GET', video)).body.status).toBe('queued');

      const worker = await startWorker({ ...env(), NOMEN_VIDEO_JOBS: '1', TMPDIR: elsewhere });
      try {
        let state: any;
        for (let i = 0; i < 240 && !['ready', 'failed'].includes(state?.status); i++) {
          await new Promise((r) => setTimeout(r, 250));
          state = (await call(b, 'GET', video)).body;
        }
        expect(state, JSON.stringify(state)).toMatchObject({ status: 'ready' });
        const moments = (await call(b, 'GET', `${video}/moments?concept=dog`)).body.moments;
        expect(moments.length).toBeGreaterThanOrEqual(1);
        expect(moments[0].start).toBeLessThan(1);
        expect(moments[0].end).toBeGreaterThan(2);
        expect(moments[0].end).toBeLessThan(4);
      } finally {
        await worker.stop();
      }
      expect((await call(a, 'DELETE', video)).status).toBe(204);
      expect((await call(b, 'GET', video)).status).toBe(404);
    } finally {
      await Promise.all([work, elsewhere].map((d) => rm(d, { recursive: true, force: true })));
    }
  }, 240_000);

  // Last: it stops Redis.
  it('counts Redis in readiness: unready once it is gone', async () => {
    const readiness = async (server: ServerProcess) => {
      const res = await fetch(`${server.url}/readyz`);
      return { status: res.status, checks: (await res.json()).checks };
    };
    expect(await readiness(servers[0])).toMatchObject({ status: 200, checks: { redis: 'ok', database: 'ok' } });
    await redis.close();
    const gone = await readiness(servers[0]);
    expect(gone.status).toBe(503);
    expect(gone.checks.redis).not.toBe('ok');
  }, 60_000);
});
