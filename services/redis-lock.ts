/**
 * The per-user write lock shared by every API process on one dataset: a lease in Redis (SET NX PX), renewed
 * while the work runs and released only by its holder, so that a process that dies lets go within one lease.
 * Without it two processes could change one user at once: same names twice, photo numbers reused.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DomainError } from '../concepts/errors.js';
import { KeyedLock, type Lock } from '../concepts/locks.js';

export interface RedisLockOptions {
  /** How long a lease lasts unless renewed; a third of it is the renewal period. */
  leaseMs: number;
  /** How long to wait for another process's lease before failing. */
  waitMs: number;
}

export const defaultRedisLockOptions: RedisLockOptions = { leaseMs: 15_000, waitMs: 60_000 };

// Compare-and-act: only the holder (its token) renews or releases.
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisLock implements Lock {
  // Callers of one process queue here first, so that Redis sees one waiter per process and key.
  private readonly local = new KeyedLock();
  private acquiring = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisLockOptions = defaultRedisLockOptions,
  ) {}

  get waiting(): number {
    return this.local.waiting + this.acquiring;
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, () => this.held(key, work));
  }

  private async held<T>(key: string, work: () => Promise<T>): Promise<T> {
    // Keys name tenants and users: hashed, so that nothing a caller chose becomes a Redis key.
    const name = `nomen:lock:${createHash('sha256').update(key).digest('hex')}`;
    const token = randomUUID();
    await this.acquire(name, token);
    const { leaseMs } = this.options;
    const renew = setInterval(
      () => void this.redis.eval(RENEW, 1, name, token, leaseMs).catch(() => undefined),
      leaseMs / 3,
    );
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE, 1, name, token).catch(() => undefined);
    }
  }

  private async acquire(name: string, token: string): Promise<void> {
    const deadline = Date.now() + this.options.waitMs;
    this.acquiring++;
    try {
      for (let delay = 5; ; delay = Math.min(2 * delay, 200)) {
        const taken = await this.redis.set(name, token, 'PX', this.options.leaseMs, 'NX').catch((err: Error) => {
          throw new DomainError('unavailable', `the shared lock store (Redis) cannot be reached: ${err.message}`);
        });
        if (taken === 'OK') return;
        if (Date.now() > deadline)
          throw new DomainError(
            'unavailable',
            `another write of this user held its lock for over ${this.options.waitMs} ms; retry later`,
          );
        // Jittered, so that waiters of several processes do not ask in step.
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
      }
    } finally {
      this.acquiring--;
    }
  }
}
