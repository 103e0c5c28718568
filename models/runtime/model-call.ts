/**
 * One call to a model under a watchdog: the caller's signal, a timeout that covers waiting for a slot,
 * connecting and answering (re-armed by each streamed piece), and the concurrency slot it holds.
 */
import type { CallLimit } from './call-limit.js';
import { ModelError } from './model-error.js';

export class ModelCall {
  private readonly controller = new AbortController();
  private timer?: NodeJS.Timeout;
  private expires = 0;
  private releaseSlot?: () => void;
  timedOut = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly caller?: AbortSignal,
  ) {
    caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    if (caller?.aborted) this.onCallerAbort();
    this.arm();
  }

  /** Aborts on timeout, on the caller's abort, and when the call ends. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Restarts the timeout (a streamed piece arrived). */
  arm(): void {
    clearTimeout(this.timer);
    this.expires = Date.now() + this.timeoutMs;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new ModelError('model_timeout', `no answer within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
  }

  /** Whether waiting `ms` more still leaves the call inside its timeout. */
  hasTime(ms: number): boolean {
    return Date.now() + ms < this.expires;
  }

  async slot(limit: CallLimit): Promise<void> {
    this.releaseSlot = await limit.acquire(this.signal);
  }

  /** Whether the caller gave up (then there is nobody to answer and nothing to report). */
  get abandoned(): boolean {
    return this.caller?.aborted === true;
  }

  /** Frees the slot and stops whatever is still running (a response body nobody reads). */
  end(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
    this.releaseSlot?.();
    this.controller.abort();
  }

  private readonly onCallerAbort = () => this.controller.abort(this.caller?.reason);
}
