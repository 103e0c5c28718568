/** The per-user write lock across processes: two RedisLock instances stand for two API processes. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisLock } from '../services/redis-lock.js';
import { startRedisServer, type RedisTestServer } from './support/redis-server.js';

let server: RedisTestServer;
let clients: Redis[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startRedisServer();
  clients = [new Redis(server.url), new Redis(server.url)];
});

afterAll(async () => {
  clients?.forEach((c) => c.disconnect());
  await server?.close();
});

it('lets one holder of a key work at a time across processes, and different keys at once', async () => {
  const [a, b] = clients.map((c) => new RedisLock(c, { leaseMs: 2000, waitMs: 10_000 }));
  const active = new Map<string, number>();
  let overlap = false;
  let parallel = false;
  const work = (key: string) => async () => {
    active.set(key, (active.get(key) ?? 0) + 1);
    overlap ||= active.get(key)! > 1;
    parallel ||= [...active.values()].filter((n) => n > 0).length > 1;
    await sleep(20);
    active.set(key, active.get(key)! - 1);
  };
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).run(i % 3 ? 'user-1' : 'user-2', work(i % 3 ? 'user-1' : 'user-2')),
    ),
  );
  expect(overlap).toBe(false);
  expect(parallel).toBe(true);
  expect(a.waiting + b.waiting).toBe(0);
});

it('releases on failure, and takes over a lease its holder left behind once it expires', async () => {
  const lock = new RedisLock(clients[0], { leaseMs: 300, waitMs: 5000 });
  await expect(lock.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(await lock.run('k', async () => 'free')).toBe('free');

  expect(await clients[0].keys('nomen:lock:*')).toEqual([]);

  // A process that died holding the lease: while the work runs, the key is handed to a holder that never
  // releases it, so the next caller must wait for the lease to run out.
  let taken = 0;
  const started = Date.now();
  await lock.run('dead', async () => {
    const [held] = await clients[0].keys('nomen:lock:*');
    await clients[0].set(held, 'a-dead-process', 'PX', 300);
  });
  await lock.run('dead', async () => void (taken = Date.now() - started));
  expect(taken).toBeGreaterThanOrEqual(250);
});

it('renews a lease while long work runs', async () => {
  const [a, b] = clients.map((c) => new RedisLock(c, { leaseMs: 150, waitMs: 5000 }));
  const order: string[] = [];
  await Promise.all([
    a.run('long', async () => {
      order.push('a start');
      await sleep(500);
      order.push('a end');
    }),
    sleep(50).then(() => b.run('long', async () => void order.push('b'))),
  ]);
  expect(order).toEqual(['a start', 'a end', 'b']);
});

it('gives up waiting with a retryable "unavailable" error, not a crash, and leaves the holder alone', async () => {
  const [a, b] = clients.map((c) => new RedisLock(c, { leaseMs: 2000, waitMs: 200 }));
  let release!: () => void;
  const holding = a.run('busy', () => new Promise<void>((r) => (release = r)));
  await sleep(50);
  await expect(b.run('busy', async () => 'never')).rejects.toMatchObject({ name: 'DomainError', code: 'unavailable' });
  release();
  await holding;
  await expect(b.run('busy', async () => 'now')).resolves.toBe('now');
});

it('answers "unavailable" when Redis cannot be reached', async () => {
  const gone = new Redis('redis://127.0.0.1:1', {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  gone.on('error', () => undefined);
  try {
    await expect(
      new RedisLock(gone, { leaseMs: 1000, waitMs: 1000 }).run('k', async () => 'never'),
    ).rejects.toMatchObject({ code: 'unavailable' });
  } finally {
    gone.disconnect();
  }
});
