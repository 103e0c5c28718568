/**
 * A circuit breaker for a remote model: after `threshold` failures in a row it opens and refuses calls at
 * once (so a dead server costs callers nothing and gets no load) for `cooldownMs`; then it lets one probe
 * call through (half-open), which closes it on success or opens it again on failure.
 */
import { ModelError } from '../runtime/model-error.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = -Infinity;
  private probing = false;
  private lastFailure = '';

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return this.now() - this.openedAt < this.cooldownMs ? 'open' : 'half-open';
  }

  /** Seconds until the breaker lets a call through again (at least 1: Retry-After is whole seconds). */
  get retryAfterS(): number {
    return Math.max(1, Math.ceil((this.openedAt + this.cooldownMs - this.now()) / 1000));
  }

  describe(): string {
    const state = this.state;
    if (state === 'closed') return 'closed';
    return (
      `${state} after ${this.failures} failures in a row (last: ` +
      `${this.lastFailure})${state === 'open' ? `; next try in ${this.retryAfterS} s` : ''}`
    );
  }

  /** Throws model_unavailable while open, and while half-open with the one probe already out. */
  admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.probing) {
      this.probing = true;
      return;
    }
    throw new ModelError('model_unavailable', `the model server is failing: ${this.lastFailure}`, this.retryAfterS);
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
  }

  failure(reason: string): void {
    this.failures++;
    this.lastFailure = reason;
    this.probing = false;
    if (this.failures >= this.threshold) this.openedAt = this.now();
  }

  /** An admitted call ended without telling anything about the server (the caller gave up). */
  release(): void {
    this.probing = false;
  }
}
