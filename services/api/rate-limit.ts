/** Per-key rate limits (SPEC `429 rate_limited`): one token bucket per API key. */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';
import { errorJson } from './errors.js';

/** Buckets that refill at `perSecond` tokens a second up to `burst`; one request takes one token. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  /** Takes a token for `key`; 0 when granted, else the seconds until one is there. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }
}

/**
 * Answers 429 with Retry-After once a key has spent its bucket. Runs after auth, which names the key; the
 * buckets stay few because only configured keys (or the one loopback caller) get past auth.
 */
export function rateLimit({ perSecond, burst }: { perSecond: number; burst: number }): MiddlewareHandler<AppEnv> {
  if (perSecond <= 0) return (_c, next) => next();
  const buckets = new TokenBuckets(perSecond, burst);
  return async (c, next) => {
    const wait = buckets.take(c.var.keyId);
    if (wait === 0) return next();
    return errorJson(
      c,
      429,
      'rate_limited',
      `too many requests for this API key: at most ${perSecond}/s, ${burst} at once`,
      {
        'Retry-After': String(Math.ceil(wait)),
      },
    );
  };
}
