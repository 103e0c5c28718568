/**
 * When the refinements of draft concepts run (see ConceptService.register): one at a time in this process, in
 * the background, each waiting for a pause in registrations, so that a refinement never slows the registration
 * a user waits for.
 */
import { InProcessQueue, type JobRef } from '../job-queue.js';
import { keyOf } from '../types.js';

/**
 * A refinement waits until no registration has ended for QUIET_MS and none is running, but never more than
 * MAX_DEFER_MS: on 2 cores a refinement beside a registration made it ~1.8x slower (12 back to back, in
 * process: p50 195 -> 360 ms).
 */
const QUIET_MS = 150;
const MAX_DEFER_MS = 10_000;

export interface RefinementOptions {
  /** How long after the last registration a refinement may start (QUIET_MS). */
  quietMs?: number;
  /** A failed refinement (a model or storage error) runs again after retryMs, up to `attempts` runs in all. */
  retryMs?: number;
  attempts?: number;
  onError?: (err: unknown, job: JobRef) => void;
}

export class Refinements {
  private readonly queue = new InProcessQueue();
  /** Per queued refinement, what ends it: run, or left to the next start when the scheduler closes. */
  private readonly pending = new Map<string, { done: Promise<void>; end: () => void }>();
  private registering = 0;
  private lastRegistration = 0;
  /** Callers of `settled()` waiting: refinements go on without a pause meanwhile. */
  private hurrying = 0;
  private stopped = false;
  /** Failed runs so far of each job that failed, and the retries waiting to be queued. */
  private readonly failures = new Map<string, number>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly quietMs: number;

  /** `refine` runs one job. */
  constructor(refine: (job: JobRef) => Promise<void>, options: RefinementOptions = {}) {
    this.quietMs = options.quietMs ?? QUIET_MS;
    const { retryMs = 60_000, attempts = 3, onError = () => {} } = options;
    const run = async (job: JobRef) => {
      const key = keyOf(job, job.id);
      try {
        await refine(job);
        this.failures.delete(key);
      } catch (err) {
        onError(err, job);
        const failed = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, failed);
        if (failed < attempts && !this.stopped) {
          const retry = setTimeout(() => {
            this.retries.delete(retry);
            this.add(job);
          }, retryMs);
          retry.unref();
          this.retries.add(retry);
        } else this.failures.delete(key);
      } finally {
        this.settle(job);
      }
    };
    this.queue.start(run, 1);
  }

  /** Refinements waiting to start. */
  get waiting(): number {
    return this.queue.waiting;
  }

  /** True once closed: a refinement that has not written yet should stop, and runs again at the next start. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Queues a job; once closed, leaves it to the next start (its concept is still a draft in the store). */
  add(job: JobRef): void {
    if (this.stopped) return;
    const key = keyOf(job, job.id);
    if (!this.pending.has(key)) {
      let end = () => {};
      const done = new Promise<void>((resolve) => (end = resolve));
      this.pending.set(key, { done, end });
    }
    void this.queue.add(job);
  }

  /** Runs a registration: refinements wait while it runs and for a pause after it. */
  async registration<T>(work: () => Promise<T>): Promise<T> {
    this.registering++;
    try {
      return await work();
    } finally {
      this.registering--;
      this.lastRegistration = performance.now();
    }
  }

  /**
   * Resolves when no registration runs or ended lately, after MAX_DEFER_MS, at once while `settled()` waits or once
   * closed.
   */
  async pause(): Promise<void> {
    const since = performance.now();
    const busy = () => this.registering > 0 || performance.now() - this.lastRegistration < this.quietMs;
    while (!this.stopped && this.hurrying === 0 && busy() && performance.now() - since < MAX_DEFER_MS)
      await new Promise((resolve) => setTimeout(resolve, 30));
  }

  /** Resolves once the job's refinement, if one is queued or running, has ended. */
  async whenDone(job: JobRef): Promise<void> {
    await this.pending.get(keyOf(job, job.id))?.done;
  }

  /**
   * Resolves once no refinement is waiting or running (a failed one's retry is not waited for); they run without
   * waiting for a pause meanwhile.
   */
  async settled(): Promise<void> {
    this.hurrying++;
    try {
      while (this.pending.size > 0) await Promise.all([...this.pending.values()].map((p) => p.done));
    } finally {
      this.hurrying--;
    }
  }

  /** Stops taking refinements and waits for the one running; those left start again at the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const retry of this.retries) clearTimeout(retry);
    this.retries.clear();
    await this.queue.close();
    for (const p of this.pending.values()) p.end();
    this.pending.clear();
  }

  private settle(job: JobRef): void {
    const key = keyOf(job, job.id);
    this.pending.get(key)?.end();
    this.pending.delete(key);
  }
}
