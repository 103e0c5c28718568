/**
 * When the refinements of draft concepts run (see ConceptService.create): one at a time in this process, in
 * the background, each waiting for a pause in registrations, so that a refinement never slows the registration
 * a user waits for.
 */
import { InProcessQueue, type JobRef } from './job-queue.js';

/**
 * A refinement waits until no registration has ended for QUIET_MS and none is running, but never more than
 * MAX_DEFER_MS: on 2 cores a refinement beside a registration made it ~1.8x slower (12 back to back, in
 * process: p50 195 -> 360 ms).
 */
const QUIET_MS = 150;
const MAX_DEFER_MS = 10_000;

const keyOf = (job: JobRef) => JSON.stringify([job.tenant, job.user, job.id]);

export class Refinements {
  private readonly queue = new InProcessQueue();
  /** Per queued refinement, what ends it: run, or left to the next start when the scheduler closes. */
  private readonly pending = new Map<string, { done: Promise<void>; end: () => void }>();
  private registering = 0;
  private lastRegistration = 0;
  /** Callers of `settled()` waiting: refinements go on without a pause meanwhile. */
  private hurrying = 0;
  private stopped = false;

  /** `refine` runs one job; `onError` hears of a job that failed (it runs again only at the next start). */
  constructor(
    refine: (job: JobRef) => Promise<void>,
    private readonly quietMs = QUIET_MS,
    onError: (err: unknown, job: JobRef) => void = () => {},
  ) {
    this.queue.start(
      (job) =>
        refine(job)
          .catch((err: unknown) => onError(err, job))
          .finally(() => this.settle(job)),
      1,
    );
  }

  /** Refinements waiting to start. */
  get waiting(): number {
    return this.queue.waiting;
  }

  /** True once closed: a refinement that has not written yet should stop, and runs again at the next start. */
  get closed(): boolean {
    return this.stopped;
  }

  add(job: JobRef): void {
    const key = keyOf(job);
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

  /** Resolves when no registration runs or ended lately, after MAX_DEFER_MS, at once while `settled()` waits or once closed. */
  async pause(): Promise<void> {
    const since = performance.now();
    const busy = () => this.registering > 0 || performance.now() - this.lastRegistration < this.quietMs;
    while (!this.stopped && this.hurrying === 0 && busy() && performance.now() - since < MAX_DEFER_MS) await new Promise((resolve) => setTimeout(resolve, 30));
  }

  /** Resolves once the job's refinement, if one is queued or running, has ended. */
  async whenDone(job: JobRef): Promise<void> {
    await this.pending.get(keyOf(job))?.done;
  }

  /** Resolves once no refinement is waiting or running; they run without waiting for a pause meanwhile. */
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
    await this.queue.close();
    for (const p of this.pending.values()) p.end();
    this.pending.clear();
  }

  private settle(job: JobRef): void {
    this.pending.get(keyOf(job))?.end();
    this.pending.delete(keyOf(job));
  }
}
