/**
 * Photo library jobs that outlive their process: their state in the `photo_jobs` table and their queued photos in
 * the blob store beside the data, so that a job queued before a restart is indexed after it, and, with Redis, a job
 * posted to one runtime is run by another and followed from the first. Real models, LanceDB, redis-server and an
 * S3-compatible server.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoLibrary } from '../concepts/library/library.js';
import type { PhotoJobRecord } from '../concepts/library/photo-job-store.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import { faceVectorSize } from '../concepts/people/open-people.js';
import { createApp } from '../services/api/app.js';
import type { Api, Deps } from '../services/api/context.js';
import { type Config, loadConfig } from '../services/config.js';
import { openRuntime, type Runtime } from '../services/runtime.js';
import { PHOTOS } from './support/two-tenants.js';
import { startRedisServer } from './support/redis-server.js';
import { startS3Server } from './support/s3-server.js';
import { modelsDir } from './support/shared-data.js';

const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });
const photo = async (subject: string, n: number) =>
  (await readFile(join(PHOTOS, subject, `0${n}.jpg`))).toString('base64');

function configOf(env: Record<string, string>): Config {
  return loadConfig(
    {
      NOMEN_MODELS: modelsDir,
      NOMEN_API_KEYS: '',
      NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
      ...env,
    },
    () => '',
  );
}

function appOf(runtime: Runtime, config: Config): Api {
  return createApp({ service: runtime.service, library: runtime.library, config, ready });
}

async function call(app: Api, method: string, path: string, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await app.request(`/v1/users${path}`, {
    method,
    headers: json === undefined ? {} : { 'Content-Type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls a job through `app` until it ends; its last state. */
async function finished(app: Api, user: string, job: string): Promise<any> {
  for (let i = 0; i < 1200; i++) {
    const r = await call(app, 'GET', `/${user}/photo-jobs/${job}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.status === 'ready' || r.body.status === 'failed') return r.body;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`job ${job} did not end in time`);
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('a restart', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'nomen-photo-jobs-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('resumes a job queued before it: the new runtime indexes its photos and answers its status', async () => {
    const config = configOf({ NOMEN_DATA: dataDir });
    // Takes no job, so that the job is certainly still queued when the runtime closes.
    const first = await openRuntime({ ...config, photoJobs: 0 });
    let job: string;
    try {
      const app = appOf(first, config);
      const posted = await call(app, 'POST', '/alice/photos', {
        photos: [
          { id: 'dog-3', data: await photo('dog', 3) },
          { id: 'broken', data: Buffer.from('not an image at all').toString('base64') },
          { id: 'cat@3', data: await photo('cat', 3) },
        ],
      });
      expect(posted.status, JSON.stringify(posted.body)).toBe(202);
      job = posted.body.job;
      expect((await call(app, 'GET', `/alice/photo-jobs/${job}`)).body).toMatchObject({
        status: 'queued',
        done: 0,
        total: 3,
      });
      expect(await files(join(dataDir, 'photo-jobs'))).toHaveLength(3);
      // A queued photo deleted: its bytes go, and the job will pass it over.
      expect((await call(app, 'DELETE', '/alice/photos/cat@3')).status).toBe(204);
      expect(await files(join(dataDir, 'photo-jobs'))).toHaveLength(2);
      // Bad input stores nothing.
      const bad = await call(app, 'POST', '/alice/photos', { photos: [{ id: 'a/b', data: await photo('dog', 0) }] });
      expect(bad.status).toBe(400);
      expect(await files(join(dataDir, 'photo-jobs'))).toHaveLength(2);
    } finally {
      await first.close();
    }

    const second = await openRuntime(config);
    try {
      const app = appOf(second, config);
      expect(await finished(app, 'alice', job)).toEqual({
        job,
        status: 'ready',
        done: 3,
        total: 3,
        errors: [{ photo: 'broken', message: expect.any(String) }],
      });
      const db = await lancedb.connect(dataDir);
      const regions = await db.openTable('photo_regions');
      expect(await regions.countRows("photo_id = 'dog-3'")).toBeGreaterThan(0);
      expect(await regions.countRows("photo_id = 'cat@3'")).toBe(0);
      regions.close();
      db.close();
      // A finished job keeps no photo.
      expect(await files(join(dataDir, 'photo-jobs'))).toEqual([]);
      expect((await call(app, 'DELETE', '/alice/photos/dog-3')).status).toBe(204);
    } finally {
      await second.close();
    }
  }, 300_000);
  it('resumes an interrupted job after the photos its row counts as done', async () => {
    const config = configOf({ NOMEN_DATA: dataDir });
    const runtime = await openRuntime({ ...config, photoJobs: 0 });
    const store = await PhotoStore.open(dataDir, runtime.models.encoder.dim, faceVectorSize());
    const scope = { tenant: 'local', user: 'carol' };
    const now = new Date().toISOString();
    // As a process that died after its first chunk (of one photo) leaves it.
    const record: PhotoJobRecord = {
      ...scope,
      id: crypto.randomUUID(),
      status: 'processing',
      photos: ['dog-1', 'dog-2'],
      done: 1,
      errors: [],
      attempts: 1,
      createdAt: now,
      updatedAt: now,
    };
    const bytes = await Promise.all([1, 2].map(async (n) => Buffer.from(await photo('dog', n), 'base64')));
    await store.jobs.create(record, bytes);
    const library = await PhotoLibrary.open(store, runtime.service, runtime.models, {
      ...runtime.library.options,
      concurrency: 1,
    });
    try {
      let job = await library.job(scope, record.id);
      for (let i = 0; i < 1200 && job.status === 'processing'; i++) {
        await new Promise((done) => setTimeout(done, 100));
        job = await library.job(scope, record.id);
      }
      expect(job).toMatchObject({ status: 'ready', done: 2, total: 2, errors: [] });
      expect([...(await store.existing(scope))]).toEqual(['dog-2']);
      expect((await store.jobs.get(scope, record.id))?.attempts).toBe(2);
    } finally {
      await library.close();
      store.close();
      await runtime.close();
    }
  }, 300_000);
});

describe('with Redis', () => {
  it('runs a job posted to one runtime in another, and answers its status from the first', async () => {
    // Shared object storage: a local folder's tables are not read again at their latest version.
    const [s3, redis] = await Promise.all([startS3Server(), startRedisServer()]);
    const env = { ...s3.env, NOMEN_DATA: `s3://${s3.bucket}/photo-jobs`, REDIS_URL: redis.url };
    const config = configOf({ ...env, NOMEN_PHOTO_JOBS: '0' });
    let api: Runtime | undefined;
    let worker: Runtime | undefined;
    try {
      api = await openRuntime(config);
      const app = appOf(api, config);
      const posted = await call(app, 'POST', '/alice/photos', {
        photos: [
          { id: 'dog-4', data: await photo('dog', 4) },
          { id: 'teapot-3', data: await photo('teapot', 3) },
        ],
      });
      expect(posted.status, JSON.stringify(posted.body)).toBe(202);
      expect((await call(app, 'GET', `/alice/photo-jobs/${posted.body.job}`)).body.status).toBe('queued');
      // A job of a user deleted before any process took it never runs.
      const gone = await call(app, 'POST', '/bob/photos', { photos: [{ id: 'dog-2', data: await photo('dog', 2) }] });
      expect(gone.status).toBe(202);
      expect((await call(app, 'DELETE', '/bob')).status).toBe(204);
      expect((await call(app, 'GET', `/bob/photo-jobs/${gone.body.job}`)).status).toBe(404);

      worker = await openRuntime(configOf(env));
      expect(await finished(app, 'alice', posted.body.job)).toMatchObject({ status: 'ready', done: 2, total: 2 });
      // Indexed by the worker: the API runtime deletes them from the library.
      for (const id of ['dog-4', 'teapot-3'])
        expect((await call(app, 'DELETE', `/alice/photos/${id}`)).status).toBe(204);
      expect((await call(app, 'DELETE', '/bob/photos/dog-2')).status).toBe(404);
    } finally {
      await worker?.close();
      await api?.close();
      await Promise.all([s3.close(), redis.close()]);
    }
  }, 300_000);
});
