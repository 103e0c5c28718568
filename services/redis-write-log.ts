/**
 * The photo table's write log in Redis (write-log.ts): one hash per dataset, version to user; each record drops the
 * entry KEEP versions older, so the hash stays small.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { WriteLog } from '../concepts/library/write-log.js';

/** Versions remembered: far more than a process falls behind between two queries. */
const KEEP = 4096;

export class RedisWriteLog implements WriteLog {
  private readonly key: string;

  /** `dataset`: the data URI, so that datasets sharing one Redis keep apart. */
  constructor(
    private readonly redis: Redis,
    dataset: string,
  ) {
    this.key = `nomen:photo-writes:${createHash('sha256').update(dataset).digest('hex')}`;
  }

  async record(version: number, user: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key, String(version), user)
      .hdel(this.key, String(version - KEEP))
      .exec();
  }

  async users(versions: number[]): Promise<(string | undefined)[]> {
    if (versions.length === 0) return [];
    return (await this.redis.hmget(this.key, ...versions.map(String))).map((u) => u ?? undefined);
  }
}
