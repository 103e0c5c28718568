/**
 * Requests first: background work (video indexing) waits before each of its steps while foreground work (a
 * request being answered) runs, so that the two do not share the CPU. The wait is bounded, so that a steady
 * stream of requests slows background work down without stopping it.
 */
export class PriorityGate {
  private running = 0;
  private readonly waiters = new Set<() => void>();

  async foreground<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      if (--this.running === 0) for (const wake of [...this.waiters]) wake();
    }
  }

  /** Resolves once no foreground work runs, or after `maxWaitMs`. */
  background(maxWaitMs: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      this.waiters.add(wake);
    });
  }
}
