/**
 * Video indexing jobs as this process runs them: each resumes after its last stored frame, yields to requests
 * between batches, watches its row for a deletion elsewhere, and records its end (ready or failed) in the row.
 */
import type { LinearAlgebra } from '../../models/types.js';
import type { People } from '../people/people.js';
import { bulk } from '../../models/runtime/priority.js';
import { type JobRef, MAX_JOB_ATTEMPTS } from '../job-queue.js';
import type { PriorityGate } from '../priority.js';
import { keyOf, type Scope } from '../types.js';
import { DecodeError } from './frames.js';
import { indexVideo, type IndexModels } from './video-indexer.js';
import type { VideoOptions } from './video-options.js';
import type { VideoRecord } from './video-records.js';
import type { VideoStore } from './video-store.js';

export interface VideoModels extends Omit<IndexModels, 'faces'> {
  algebra: LinearAlgebra;
  /** Person concepts' faces: a video's frames keep theirs when faces are on for its tenant. */
  people?: People;
}

/** Where job events go (a pino logger fits). */
export interface JobLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** The longest a job waits for requests to be answered before its next batch: it slows down, never stops. */
const MAX_YIELD_MS = 1000;

export interface Running {
  abort: AbortController;
  done: Promise<void>;
  frames: number;
  t: number;
}

export class VideoJobs {
  /** Jobs running in this process. */
  readonly running = new Map<string, Running>();
  private closed = false;

  constructor(
    private readonly store: VideoStore,
    private readonly models: VideoModels,
    private readonly options: VideoOptions,
    private readonly log: JobLog,
    private readonly gate: PriorityGate,
  ) {}

  /** Stops the running jobs; they resume at the next start, or in another process. */
  stop(): void {
    this.closed = true;
    for (const r of this.running.values()) r.abort.abort();
  }

  /** Runs one job the queue handed to this process; rejects when a shutdown stopped it, so that it runs again. */
  async handle({ tenant, user, id }: JobRef): Promise<void> {
    const scope = { tenant, user };
    const key = keyOf(scope, id);
    const job: Running = { abort: new AbortController(), done: Promise.resolve(), frames: 0, t: 0 };
    this.running.set(key, job);
    job.done = this.run(scope, id, job)
      .catch((err: unknown) => this.log.error({ err, video: id }, 'video job could not record its end'))
      .finally(() => this.running.delete(key));
    await job.done;
    if (this.closed && job.abort.signal.aborted) throw new Error(`video ${id}: stopped by a shutdown`);
  }

  /** Whether a video was deleted (or is being deleted) since its job started, maybe by another process. */
  private async deleted(scope: Scope, id: string): Promise<boolean> {
    const row = await this.store.get(scope, id);
    return !row || row.status === 'deleting';
  }

  /** Indexing is bulk model work: requests go first on the model threads. */
  private run(scope: Scope, id: string, job: Running): Promise<void> {
    return bulk(() => this.index(scope, id, job));
  }

  private async index(scope: Scope, id: string, job: Running): Promise<void> {
    const record = await this.store.get(scope, id);
    // Only a queued or interrupted job runs: a queue may hand out a job that another process has finished.
    if (!record || !(record.status === 'queued' || record.status === 'processing') || job.abort.signal.aborted) return;
    if (record.attempts >= MAX_JOB_ATTEMPTS)
      return this.fail(record, `indexing was interrupted ${record.attempts} times`);
    const started = performance.now();
    const after = await this.store.lastFrame(scope, id);
    if (after) Object.assign(job, { frames: after.frame + 1, t: after.t });
    await this.store.save({
      ...record,
      status: 'processing',
      attempts: record.attempts + 1,
      updatedAt: new Date().toISOString(),
    });
    const { detector, index } = this.options;
    let source: { path: string; release(): Promise<void> } | undefined;
    try {
      source = await this.store.openSource(scope, id);
      const frames = await indexVideo(
        source.path,
        {
          encoder: this.models.encoder,
          detector: detector ? this.models.detector : undefined,
          faces: this.models.people?.allows(scope.tenant) ? this.models.people.model : undefined,
        },
        { ...index, fps: record.fps },
        {
          after,
          signal: job.abort.signal,
          write: async (regions, faces) => {
            await this.store.addFrames(scope, id, regions, faces);
            // Written, then checked: frames that a deletion elsewhere could have missed are removed here.
            if (await this.deleted(scope, id)) {
              job.abort.abort();
              await this.store.deleteFrames(scope, id);
            }
          },
          progress: (frames, t) => Object.assign(job, { frames, t }),
          yield: () => this.gate.background(MAX_YIELD_MS),
        },
      );
      if (frames === 0) throw new DecodeError('no frame could be decoded');
      if (job.abort.signal.aborted) return;
      if (await this.deleted(scope, id)) return void (await this.store.deleteFrames(scope, id));
      await this.store.save({
        ...record,
        status: 'ready',
        frames,
        attempts: record.attempts + 1,
        updatedAt: new Date().toISOString(),
      });
      await this.store.removeSource(scope, id);
      const seconds = (performance.now() - started) / 1000;
      this.log.info(
        {
          video: id,
          frames,
          seconds: Math.round(seconds * 10) / 10,
          realtime: Math.round((record.durationS / seconds) * 10) / 10,
        },
        'video indexed',
      );
    } catch (err) {
      // Stopped for a deletion or a shutdown: the deletion cleans up, a restart resumes.
      if (job.abort.signal.aborted) return;
      const reason =
        err instanceof DecodeError
          ? err.message
          : `indexing failed: ${err instanceof Error ? err.message : String(err)}`;
      this.log.error({ err, video: id }, 'video indexing failed');
      await this.fail({ ...record, attempts: record.attempts + 1 }, reason);
    } finally {
      await source?.release();
    }
  }

  /** A failed video keeps its row (and reason) but none of its frames, nor its file. */
  private async fail(record: VideoRecord, reason: string): Promise<void> {
    await this.store.deleteFrames(record, record.id);
    await this.store.removeSource(record, record.id);
    await this.store.save({
      ...record,
      status: 'failed',
      frames: 0,
      error: reason,
      updatedAt: new Date().toISOString(),
    });
  }
}
