/** The photo table's write log in a real Redis: what it returns, and that it forgets old versions. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisWriteLog } from '../services/redis-write-log.js';
import { type RedisTestServer, startRedisServer } from './support/redis-server.js';

let server: RedisTestServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.close();
});

it("answers each logged version's user, keeps datasets apart, forgets versions 4096 behind", async () => {
  const log = new RedisWriteLog(redis, 'file:///a');
  await log.record(1, 't/alice');
  await log.record(2, 't/bob:2');
  expect(await log.users([2, 1, 3])).toEqual(['t/bob:2', 't/alice', undefined]);
  expect(await new RedisWriteLog(redis, 'file:///b').users([1])).toEqual([undefined]);
  // Versions in between were never logged (another process's compaction): the old ones are forgotten all the same.
  await log.record(4100, 't/carol');
  expect(await log.users([1, 2, 4100])).toEqual([undefined, undefined, 't/carol']);
});
