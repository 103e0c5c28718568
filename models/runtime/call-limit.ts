/** How many calls a model serves at once; the rest wait in a bounded queue, in order, until their signal aborts. */
import { ModelError } from './model-error.js';

export class CallLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueue: number,
  ) {}

  /** Resolves with the function that frees the slot; rejects with `signal.reason` when it aborts first. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.active < this.concurrency) {
      this.active++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueue) {
      throw new ModelError(
        'model_unavailable',
        `the model is busy: ${this.active} calls running and ${this.waiting.length} waiting`,
        1,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', abandon);
        resolve();
      };
      const abandon = () => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(signal.reason);
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', abandon, { once: true });
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next caller in line, so `active` stays counted.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}
