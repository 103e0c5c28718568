/**
 * Where indexing jobs (videos, library photos) wait until a process takes them. Each service keeps its jobs' state
 * in its table; a queue only decides which job runs next, and where: in this process (`InProcessQueue`), or in
 * any process sharing the queue (a Redis-backed one, in services/).
 */

/** A job interrupted this many times (crashes, restarts) fails instead of starting again. */
export const MAX_JOB_ATTEMPTS = 5;

/** A job: whose it is, and the id of what it works on (a video to index, a batch of photos). */
export interface JobRef {
  tenant: string;
  user: string;
  id: string;
}

/** Runs one job; rejects when the job was stopped before its end and should run again, in whatever process. */
export type JobHandler = (job: JobRef) => Promise<void>;

export interface JobQueue {
  /** Queues a job; one already waiting or running is not queued twice. */
  add(job: JobRef): Promise<void>;
  /** Takes a job out if it is still waiting. */
  remove(job: JobRef): Promise<void>;
  /** Starts taking jobs for `handler`, at most `concurrency` at once in this process (0: this process takes none). */
  start(handler: JobHandler, concurrency: number): void;
  /** Jobs waiting to start, as last known. */
  readonly waiting: number;
  /** Stops taking jobs and waits for the handlers running (the caller stops them first). */
  close(): Promise<void>;
}

/** Jobs in this process's memory, lost with it: each service queues them again from its table at start. */
export class InProcessQueue implements JobQueue {
  private readonly jobs: JobRef[] = [];
  private readonly running = new Set<Promise<void>>();
  private handler?: JobHandler;
  private concurrency = 0;
  private closed = false;

  get waiting(): number {
    return this.jobs.length;
  }

  async add(job: JobRef): Promise<void> {
    if (!this.jobs.some((j) => j.id === job.id)) this.jobs.push(job);
    this.pump();
  }

  async remove(job: JobRef): Promise<void> {
    const at = this.jobs.findIndex((j) => j.id === job.id);
    if (at >= 0) this.jobs.splice(at, 1);
  }

  start(handler: JobHandler, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.jobs.length = 0;
    await Promise.all(this.running);
  }

  private pump(): void {
    while (!this.closed && this.handler && this.running.size < this.concurrency && this.jobs.length > 0) {
      const job = this.jobs.shift()!;
      // A stopped job runs again at the next start, from the table: nothing to do with the rejection here.
      const run: Promise<void> = this.handler(job)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }
}
