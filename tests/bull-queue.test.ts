/** Video jobs through BullMQ on a real Redis: two queue instances stand for two processes sharing it. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JobRef } from '../concepts/job-queue.js';
import { BullQueue } from '../services/bull-queue.js';
import { startRedisServer, type RedisTestServer } from './support/redis-server.js';

let redis: RedisTestServer;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const job = (id: string): JobRef => ({ tenant: 't', user: 'u', id });

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(20)) if (Date.now() > end) throw new Error('timed out');
}

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.close();
});

it('runs each job once, in whichever process takes it; a job queued twice or removed while waiting does not run ' +
  'again', async () => {
  const [a, b] = [new BullQueue(redis.url), new BullQueue(redis.url)];
  const ran: string[] = [];
  const handler = (who: string) => async (j: JobRef) => {
    ran.push(`${j.id}@${who}`);
    await sleep(50);
  };
  try {
    // Queued before any process takes jobs; one taken out again.
    for (const id of ['v1', 'v2', 'v3', 'v4']) await a.add(job(id));
    await b.add(job('v1'));
    await a.add(job('gone'));
    await b.remove(job('gone'));
    a.start(handler('a'), 1);
    b.start(handler('b'), 1);
    await until(() => ran.length === 4);
    await sleep(300);
    expect(ran.map((r) => r.split('@')[0]).sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(new Set(ran.map((r) => r.split('@')[1]))).toEqual(new Set(['a', 'b']));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}, 30_000);

it('hands a job stopped by a shutdown to another process', async () => {
  const [a, b] = [new BullQueue(redis.url), new BullQueue(redis.url)];
  const ran: string[] = [];
  try {
    a.start(async (j) => {
      ran.push(`${j.id}@a`);
      throw new Error('stopped by a shutdown');
    }, 1);
    await a.add(job('resumed'));
    await until(() => ran.length === 1);
    await a.close();
    b.start(async (j) => void ran.push(`${j.id}@b`), 1);
    await until(() => ran.length === 2);
    expect(ran).toEqual(['resumed@a', 'resumed@b']);
  } finally {
    await b.close();
  }
}, 30_000);

it('takes no jobs at concurrency 0, and counts the ones waiting', async () => {
  const api = new BullQueue(redis.url);
  try {
    api.start(async () => expect.unreachable('an API-only process took a job'), 0);
    await api.add(job('waits'));
    await until(() => api.waiting === 1, 2000);
  } finally {
    await api.close();
  }
}, 30_000);
