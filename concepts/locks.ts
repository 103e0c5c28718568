/** Runs work of one key (one user's writes) one at a time, letting different keys run in parallel. */
export interface Lock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Calls whose work waits for another of the same key to finish. */
  readonly waiting: number;
}

/** A lock within this process. */
export class KeyedLock implements Lock {
  private readonly tails = new Map<string, Promise<unknown>>();
  private queued = 0;

  /** Calls whose work waits for another of the same key to finish. */
  get waiting(): number {
    return this.queued;
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    this.queued++;
    const result = previous
      .catch(() => undefined)
      .then(() => {
        this.queued--;
        return work();
      });
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** At most `size` runs at once, whatever their key; the rest wait in order. */
export class Slots {
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
