/**
 * The video service: uploads become indexing jobs, jobs run a few at a time (one by default, so that indexing
 * leaves the CPU to requests), and moments of any concept are read off the stored frame vectors.
 *
 * Job state lives in the `videos` table, so a restart picks every job up again: a queued one starts, an
 * interrupted one resumes after its last stored frame, a deletion cut short is finished. Status changes are
 * the only writes to that table; progress while a job runs is kept in memory. Which process runs a job is
 * the job queue's choice: this one, or any sharing the queue, so a job also watches its row for a deletion.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { LinearAlgebra } from '../../models/types.js';
import { DomainError } from '../errors.js';
import { DecodeError } from './frames.js';
import { InProcessQueue, type JobQueue, type JobRef } from '../job-queue.js';
import { KeyedLock } from '../locks.js';
import { defaultMomentOptions, findMoments, type FrameScore, type Moment, type MomentOptions } from './moments.js';
import { PriorityGate } from '../priority.js';
import { toScore } from '../recognition/recognize.js';
import { defaultRegionOptions } from '../recognition/regions.js';
import { bestRegions } from '../recognition/stored-regions.js';
import type { ConceptService } from '../service.js';
import type { Scope } from '../types.js';
import { bulk } from '../../models/runtime/priority.js';
import { indexVideo, type IndexModels, type IndexOptions } from './video-indexer.js';
import { probeVideo } from './video-probe.js';
import type { VideoRecord, VideoStatus } from './video-records.js';
import type { VideoStore } from './video-store.js';

export interface VideoOptions {
  /** Largest upload accepted, in bytes. */
  maxBytes: number;
  maxDurationS: number;
  /** Frames sampled per second unless an upload asks for another rate, and the most it may ask for. */
  fps: number;
  maxFps: number;
  /** Indexing jobs running at once. */
  concurrency: number;
  /** Whether detector boxes join each frame's fixed regions. */
  detector: boolean;
  index: Omit<IndexOptions, 'fps'>;
  moments: MomentOptions;
}

export const defaultVideoOptions: VideoOptions = {
  maxBytes: 2 * 1024 ** 3,
  maxDurationS: 3 * 3600,
  fps: 2,
  maxFps: 10,
  concurrency: 1,
  detector: false,
  index: {
    // The encoder sees 224 px crops; 512 px frames leave the 0.75 grid windows above that.
    maxSide: 512,
    sceneThreshold: 0.2,
    regions: defaultRegionOptions,
    cropsPerEmbed: 16,
    framesPerWrite: 64,
  },
  moments: defaultMomentOptions,
};

/** A video as the API shows it (SPEC "videos"). */
export interface Video {
  id: string;
  status: Exclude<VideoStatus, 'deleting'>;
  /** Fraction of the video indexed, 0 to 1. */
  progress: number;
  durationS: number;
  frames: number;
  fps: number;
  error?: string;
}

export interface VideoModels extends IndexModels {
  algebra: LinearAlgebra;
}

/** Where job events go (a pino logger fits). */
export interface JobLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** A job interrupted this many times (crashes, restarts) fails instead of starting again. */
const MAX_ATTEMPTS = 5;
/** The longest a job waits for requests to be answered before its next batch: it slows down, never stops. */
const MAX_YIELD_MS = 1000;

interface Running {
  abort: AbortController;
  done: Promise<void>;
  frames: number;
  t: number;
}

const quietLog: JobLog = { info: () => undefined, error: () => undefined };
const keyOf = (scope: Scope, id?: string) =>
  JSON.stringify(id === undefined ? [scope.tenant, scope.user] : [scope.tenant, scope.user, id]);

export class VideoService {
  /** Jobs running in this process. */
  private readonly running = new Map<string, Running>();
  /** Uploads and deletions of one user run one at a time, so a deletion never misses a video being added. */
  private readonly locks = new KeyedLock();
  private readonly gate = new PriorityGate();
  private closed = false;

  private constructor(
    private readonly store: VideoStore,
    private readonly concepts: ConceptService,
    private readonly models: VideoModels,
    readonly options: VideoOptions,
    private readonly log: JobLog,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * Opens the service and picks up what an earlier process left: deletions are finished, jobs queued again
   * (a queue does not take a job twice, so one still running elsewhere is left to run).
   */
  static async open(
    store: VideoStore,
    concepts: ConceptService,
    models: VideoModels,
    options: VideoOptions = defaultVideoOptions,
    log: JobLog = quietLog,
    jobs: JobQueue = new InProcessQueue(),
  ): Promise<VideoService> {
    const service = new VideoService(store, concepts, models, options, log, jobs);
    for (const r of await store.withStatus(['deleting'])) await service.purge(r, r.id);
    for (const r of await store.withStatus(['processing', 'queued']))
      await jobs.add({ tenant: r.tenant, user: r.user, id: r.id });
    jobs.start((job) => service.handle(job), options.concurrency);
    return service;
  }

  /** Jobs waiting to start. */
  get queuedJobs(): number {
    return this.jobs.waiting;
  }

  /** Stops running jobs (they resume at the next start, or in another process) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.running.values()) r.abort.abort();
    await this.jobs.close();
  }

  /** Answers a request: while any is being answered, indexing jobs wait before their next batch. */
  serving<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.foreground(work);
  }

  /** Periodic upkeep of the video tables. */
  compact(): Promise<void> {
    return this.store.compact();
  }

  /** Where a request may write an upload before handing it to `add`. */
  uploadPath(): Promise<string> {
    return this.store.uploadPath();
  }

  /** Probes an upload and queues it for indexing; the upload file is always consumed (moved or removed). */
  async add(scope: Scope, upload: string, fps = this.options.fps): Promise<Video> {
    try {
      if (!(fps > 0 && fps <= this.options.maxFps))
        throw new DomainError('invalid_request', `fps must be above 0 and at most ${this.options.maxFps}`);
      const info = await probeVideo(upload, this.options.maxDurationS);
      return await this.locks.run(keyOf(scope), async () => {
        const now = new Date().toISOString();
        const record: VideoRecord = {
          ...scope,
          id: randomUUID(),
          status: 'queued',
          fps,
          durationS: info.durationS,
          frames: 0,
          error: '',
          attempts: 0,
          createdAt: now,
          updatedAt: now,
        };
        // The row first: a crash before the move leaves a job without a file, which fails cleanly at the next start.
        await this.store.save(record);
        await this.store.adoptUpload(upload, scope, record.id).catch(async (err: unknown) => {
          await this.store.deleteRow(scope, record.id);
          throw err;
        });
        await this.jobs.add({ ...scope, id: record.id });
        return this.toVideo(record);
      });
    } finally {
      await rm(upload, { force: true });
    }
  }

  async get(scope: Scope, id: string): Promise<Video> {
    return this.toVideo(await this.find(scope, id));
  }

  /** Moments of a concept (id or name) in a ready video, best first. */
  async moments(scope: Scope, id: string, concept: string): Promise<Moment[]> {
    const { video, frames, threshold } = await this.frameScores(scope, id, concept);
    return findMoments(frames, threshold, video.durationS, this.options.moments);
  }

  /** A concept's score on each indexed frame of a ready video, in time order, and the concept's threshold. */
  async frameScores(
    scope: Scope,
    id: string,
    concept: string,
  ): Promise<{ video: Video; frames: FrameScore[]; threshold: number }> {
    const video = await this.find(scope, id);
    if (video.status !== 'ready')
      throw new DomainError('unprocessable', `the video is ${video.status}; moments can be asked once it is ready`);
    const head = await this.concepts.head(scope, concept);
    const best = await bestRegions(
      this.store.frameBatches(scope, id),
      { data: head.weights, rows: 1, cols: head.weights.length },
      this.models.algebra,
      (batch, i) => batch.frame[i],
      (batch, i) => batch.t[i],
    );
    const frames = [...best.values()]
      .sort((a, b) => a[0].kept - b[0].kept)
      .map(([f]) => ({ t: f.kept, score: toScore(f.raw + head.bias) }));
    return { video: this.toVideo(video), frames, threshold: head.concept.threshold };
  }

  /** Deletes a video: its job, frames, file and row. */
  async remove(scope: Scope, id: string): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      const video = await this.find(scope, id);
      // The commit point: from here the video is gone for readers; a crash leaves `deleting`, finished at the next
      // start.
      await this.store.save({ ...video, status: 'deleting', updatedAt: new Date().toISOString() });
      await this.purge(scope, id);
    });
  }

  /** Deletes every video of a user with their frames and files. */
  async removeUser(scope: Scope): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      const videos = await this.store.markUserDeleting(scope);
      await Promise.all(videos.map((v) => this.cancel(scope, v.id)));
      await this.store.deleteUserFrames(scope);
      await this.store.deleteUserFiles(scope);
      for (const v of videos) await this.store.deleteRow(scope, v.id);
    });
  }

  private async purge(scope: Scope, id: string): Promise<void> {
    await this.cancel(scope, id);
    await this.store.deleteFrames(scope, id);
    await this.store.removeSource(scope, id);
    await this.store.deleteRow(scope, id);
  }

  /**
   * Takes a video out of the queue, or stops its job here and waits until it has stopped (one running elsewhere sees
   * the deletion in its row).
   */
  private async cancel(scope: Scope, id: string): Promise<void> {
    await this.jobs.remove({ ...scope, id });
    const running = this.running.get(keyOf(scope, id));
    if (running) {
      running.abort.abort();
      await running.done;
    }
  }

  private async find(scope: Scope, id: string): Promise<VideoRecord> {
    const video = await this.store.get(scope, id);
    if (!video || video.status === 'deleting') throw new DomainError('not_found', `no video ${id}`);
    return video;
  }

  private toVideo(r: VideoRecord): Video {
    const live = this.running.get(keyOf(r, r.id));
    const progress =
      r.status === 'ready' ? 1 : live ? Math.min(0.999, Math.round((live.t / r.durationS) * 1000) / 1000) : 0;
    return {
      id: r.id,
      status: r.status as Video['status'],
      progress,
      durationS: r.durationS,
      frames: live ? live.frames : r.frames,
      fps: r.fps,
      ...(r.error && { error: r.error }),
    };
  }

  /** Runs one job the queue handed to this process; rejects when a shutdown stopped it, so that it runs again. */
  private async handle({ tenant, user, id }: JobRef): Promise<void> {
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
    if (record.attempts >= MAX_ATTEMPTS) return this.fail(record, `indexing was interrupted ${record.attempts} times`);
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
        { encoder: this.models.encoder, detector: detector ? this.models.detector : undefined },
        { ...index, fps: record.fps },
        {
          after,
          signal: job.abort.signal,
          write: async (regions) => {
            await this.store.addFrames(scope, id, regions);
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
