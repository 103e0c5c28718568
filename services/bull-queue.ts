/**
 * Indexing jobs in Redis through BullMQ (REDIS_URL): one queue a kind of job (videos, library photos) for every
 * process on a dataset, so that any process with a worker (API processes, or `npm run worker`) takes them, and a
 * process that dies leaves its jobs to the others (BullMQ finds them stalled once their lock runs out).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type JobHandler, type JobQueue, type JobRef, MAX_JOB_ATTEMPTS } from '../concepts/job-queue.js';

/** The queues' names in Redis. */
const VIDEO_QUEUE = 'nomen-video-jobs';
export const PHOTO_QUEUE = 'nomen-photo-jobs';
const COUNT_EVERY_MS = 5000;
/** How long closing waits for Redis (to hand back running jobs) before letting go: a shutdown must end. */
const CLOSE_WAIT_MS = 5000;

export class BullQueue implements JobQueue {
  // BullMQ blocks on its connections: they must retry forever, unlike the ones for short commands.
  private readonly connection: Redis;
  private readonly queue: Queue<JobRef>;
  private worker?: Worker<JobRef>;
  private count = 0;
  private readonly counter: NodeJS.Timeout;

  constructor(
    redisUrl: string,
    private readonly name = VIDEO_QUEUE,
  ) {
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    // Reconnecting is ioredis's own; failed commands say what went wrong.
    this.connection.on('error', () => undefined);
    this.queue = new Queue<JobRef>(name, {
      connection: this.connection,
      // Finished jobs leave Redis: their state is in the service's table, and the id may be queued again there.
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: true,
        // A job stopped by a shutdown is handed out again, as often as the service restarts it at most.
        attempts: MAX_JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: 1000 },
      },
    });
    this.counter = setInterval(() => this.recount(), COUNT_EVERY_MS);
    this.counter.unref();
  }

  /** Other processes change the count too: it is asked for now and then, and after each change made here. */
  private recount(): void {
    void this.queue.getWaitingCount().then(
      (n) => (this.count = n),
      () => undefined,
    );
  }

  get waiting(): number {
    return this.count;
  }

  async add(job: JobRef): Promise<void> {
    // The video or photo job id is the job id: adding a job that waits or runs anywhere is a no-op.
    await this.queue.add('index', { tenant: job.tenant, user: job.user, id: job.id }, { jobId: job.id });
    this.recount();
  }

  async remove(job: JobRef): Promise<void> {
    // A running (locked) job is not removed; it notices the deletion in its row.
    await this.queue.remove(job.id);
    this.recount();
  }

  start(handler: JobHandler, concurrency: number): void {
    if (concurrency <= 0) return;
    this.worker = new Worker<JobRef>(this.name, (job) => handler(job.data), {
      connection: this.connection,
      concurrency,
    });
    // Connection trouble is retried by ioredis; an unhandled 'error' event would end the process.
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.counter);
    let waited: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => (waited = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all([this.worker?.close(), this.queue.close()]), giveUp]);
    clearTimeout(waited);
    this.connection.disconnect();
  }
}
