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
import { DomainError } from '../errors.js';
import { InProcessQueue, type JobQueue } from '../job-queue.js';
import { KeyedLock } from '../locks.js';
import { PriorityGate } from '../priority.js';
import { toScore } from '../recognition/recognize.js';
import { boxAt, keepsBestPlace } from '../recognition/places.js';
import { bestRegions } from '../recognition/stored-regions.js';
import { stack } from '../matrix.js';
import type { ConceptService } from '../service.js';
import { keyOf, type Scope } from '../types.js';
import { faceScore } from '../people/faces.js';
import { findMoments, type FrameScore, type Moment } from './moments.js';
import { type JobLog, type VideoModels, VideoJobs } from './video-jobs.js';
import { defaultVideoOptions, type VideoOptions } from './video-options.js';
import { probeVideo } from './video-probe.js';
import type { VideoRecord, VideoStatus } from './video-records.js';
import type { VideoStore } from './video-store.js';

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

const quietLog: JobLog = { info: () => undefined, error: () => undefined };

export class VideoService {
  /** Uploads and deletions of one user run one at a time, so a deletion never misses a video being added. */
  private readonly locks = new KeyedLock();
  private readonly gate = new PriorityGate();
  private readonly indexing: VideoJobs;

  private constructor(
    private readonly store: VideoStore,
    private readonly concepts: ConceptService,
    private readonly models: VideoModels,
    readonly options: VideoOptions,
    log: JobLog,
    private readonly jobs: JobQueue,
  ) {
    this.indexing = new VideoJobs(store, models, options, log, this.gate);
  }

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
    jobs.start((job) => service.indexing.handle(job), options.concurrency);
    return service;
  }

  /** Jobs waiting to start. */
  get queuedJobs(): number {
    return this.jobs.waiting;
  }

  /** Stops running jobs (they resume at the next start, or in another process) and waits for them. */
  async close(): Promise<void> {
    this.indexing.stop();
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

  /**
   * A concept's score on each indexed frame of a ready video, in time order, and the concept's threshold. A frame on
   * which a concept scoring higher took the concept's best region (one place, one subject) scores 0 for it.
   */
  async frameScores(
    scope: Scope,
    id: string,
    concept: string,
  ): Promise<{ video: Video; frames: FrameScore[]; threshold: number }> {
    const video = await this.find(scope, id);
    if (video.status !== 'ready')
      throw new DomainError('unprocessable', `the video is ${video.status}; moments can be asked once it is ready`);
    const scoring = await this.concepts.storedScoring(scope, [concept], true);
    if ('person' in scoring) {
      const { concept: person, examples } = scoring.person;
      const frames = await this.personFrames(scope, id, examples);
      return { video: this.toVideo(video), frames, threshold: person.threshold };
    }
    const {
      asked: [head],
      all,
    } = scoring;
    const j = [...all.keys()].indexOf(head.concept.id);
    const heads = [...all.values()];
    const best = await bestRegions(
      this.store.frameBatches(scope, id),
      stack(
        heads.map((h) => h.weights),
        head.weights.length,
      ),
      this.models.algebra,
      (batch, i) => batch.frame[i],
      (batch, i) => ({ t: batch.t[i], box: boxAt(batch.boxes, i) }),
    );
    const frames = [...best.values()]
      .sort((a, b) => a[j].kept.t - b[j].kept.t)
      .map((regions) => {
        const places = {
          count: heads.length,
          output: (k: number) => regions[k].raw + heads[k].bias,
          box: (k: number) => regions[k].kept.box,
        };
        return { t: regions[j].kept.t, score: keepsBestPlace(j, places) ? toScore(places.output(j)) : 0 };
      });
    return { video: this.toVideo(video), frames, threshold: head.concept.threshold };
  }

  /**
   * A person's score on each indexed frame: its best face's, 0 on a frame without faces (or indexed while faces were
   * off for the tenant).
   */
  private async personFrames(scope: Scope, id: string, examples: Float32Array[]): Promise<FrameScore[]> {
    const frames = new Map<number, FrameScore>();
    for await (const { frame, t } of this.store.frameTimes(scope, id)) frames.set(frame, { t, score: 0 });
    for await (const b of this.store.faceBatches(scope, id)) {
      const dim = b.vectors.length / b.rows;
      for (let i = 0; i < b.rows; i++) {
        const frame = frames.get(b.frame[i]);
        const score = faceScore(b.vectors.subarray(i * dim, (i + 1) * dim), examples);
        if (frame && score > frame.score) frame.score = score;
      }
    }
    return [...frames.values()].sort((a, b) => a.t - b.t);
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
    const running = this.indexing.running.get(keyOf(scope, id));
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
    const live = this.indexing.running.get(keyOf(r, r.id));
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
}
