/**
 * The photo table's write log in Redis (write-log.ts): one sorted set per dataset, `version:user` scored by version;
 * each record drops every entry KEEP versions older or more, so the set stays small even where versions go unlogged.
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
    this.key = `nomen:photo-write-log:${createHash('sha256').update(dataset).digest('hex')}`;
  }

  async record(version: number, user: string): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.key, version, `${version}:${user}`)
      .zremrangebyscore(this.key, '-inf', `(${version - KEEP + 1}`)
      .exec();
  }

  async users(versions: number[]): Promise<(string | undefined)[]> {
    if (versions.length === 0) return [];
    const read = this.redis.pipeline();
    for (const v of versions) read.zrangebyscore(this.key, v, v);
    const found = (await read.exec()) ?? [];
    return found.map(([error, members]) => {
      if (error) throw error;
      const [member] = members as string[];
      return member === undefined ? undefined : member.slice(member.indexOf(':') + 1);
    });
  }
}
