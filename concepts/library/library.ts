/**
 * The photo library: a user's photos indexed once as the region vectors recognition embeds, and every photo of a
 * concept found by scoring those vectors with the concept's current head and threshold, for concepts registered
 * before or after the photos, without decoding any photo again.
 *
 * Indexing runs as jobs, as bulk model work (requests go first), one at a time in a process by default. A job's
 * state lives in the `photo_jobs` table and its photos' bytes in the blob store beside the data until indexed
 * (`photo-job-store.ts`), so a restart picks every unfinished job up again, and any process sharing the job queue
 * may run it (`photo-jobs.ts`). Corrections of its answers are `corrections.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { ImageEncoder, TextEncoder } from '../../models/types.js';
import { DomainError } from '../errors.js';
import type { IntakeLimits } from '../intake/intake.js';
import { InProcessQueue, type JobQueue } from '../job-queue.js';
import { KeyedLock } from '../locks.js';
import { boxAt, keepsBestPlace } from '../recognition/places.js';
import { toScore } from '../recognition/recognize.js';
import { defaultRegionOptions, type RegionOptions } from '../recognition/regions.js';
import type { People } from '../people/people.js';
import type { ConceptService } from '../service.js';
import type { ServiceModels } from '../service-options.js';
import { type Box, keyOf, type Scope } from '../types.js';
import { type Heads, PhotoScores, scoreRegions, type UserScores } from './photo-scores.js';
import type { JobStatus } from './photo-job-store.js';
import { PhotoJobs } from './photo-jobs.js';
import type { PhotoStore } from './photo-store.js';
import type { WriteLog } from './write-log.js';
import { LibraryPeople } from './library-people.js';
import { type LibraryPhoto, Page } from './pages.js';
import { LibraryCorrections } from './corrections.js';
import { round4 } from '../rounding.js';

/** The app's own photo id (SPEC "photo id"). */
export const PHOTO_ID = /^[A-Za-z0-9._@-]{1,128}$/;

export interface LibraryOptions {
  /** Photos one request may post. */
  maxPhotos: number;
  limits: IntakeLimits;
  regions: RegionOptions;
  /** Photos embedded and written together: one commit each, so a photo is indexed whole or not at all. */
  photosPerWrite: number;
  /** How long a finished job's status stays readable. */
  keepJobsMs: number;
  /** Indexing jobs this process runs at once; 0: only other processes sharing the job queue run them. */
  concurrency: number;
  /** Memory for the photos' scores kept between queries, all users together. */
  scoreBytes: number;
  /**
   * Photos of a user from which a query after a retraining answers from the scores of before while the new heads
   * are read; below, it waits for the reading (under a second here), so that an undone correction shows at once.
   */
  staleFrom: number;
}

export interface PhotoJob {
  job: string;
  status: JobStatus;
  done: number;
  total: number;
  errors: { photo: string; message: string }[];
}

export interface FindOptions {
  limit: number;
  cursor?: string;
  /** Every scored photo, not only those where the concepts are present. */
  all: boolean;
  /** Ranks the photos by their similarity to this text (encoders with a text side). */
  text?: string;
}

/** The text's row among the heads of a `text=` query. */
const TEXT = '\u0000text';

export class PhotoLibrary {
  /** A user's writes and deletions, one at a time, so that a deletion never misses a photo being written. */
  private readonly locks = new KeyedLock();
  private closed = false;
  private readonly kept: PhotoScores;
  readonly corrections: LibraryCorrections;
  private readonly people: LibraryPeople;
  private readonly indexing: PhotoJobs;

  private constructor(
    private readonly store: PhotoStore,
    private readonly concepts: ConceptService,
    private readonly models: ServiceModels,
    readonly options: LibraryOptions,
    people: People | undefined,
    private readonly jobs: JobQueue,
    log?: WriteLog,
  ) {
    this.kept = new PhotoScores(store, models.algebra, options.scoreBytes, options.staleFrom, log);
    this.people = new LibraryPeople(store, people);
    this.corrections = new LibraryCorrections(store, concepts, models, options);
    this.indexing = new PhotoJobs(store, models, options, this.kept, this.people, this.locks);
  }

  /**
   * Opens the library and queues again the jobs an earlier process left unfinished (a queue does not take a job
   * twice, so one still running elsewhere is left to run).
   */
  static async open(
    store: PhotoStore,
    concepts: ConceptService,
    models: ServiceModels,
    options: LibraryOptions,
    people?: People,
    jobs: JobQueue = new InProcessQueue(),
    /** Shared with the other processes of the dataset (write-log.ts), when there are others. */
    log?: WriteLog,
  ): Promise<PhotoLibrary> {
    const library = new PhotoLibrary(store, concepts, models, options, people, jobs, log);
    for (const r of await store.jobs.unfinished()) await jobs.add({ tenant: r.tenant, user: r.user, id: r.id });
    jobs.start((job) => library.indexing.handle(job), options.concurrency);
    return library;
  }

  /** Jobs waiting to start. */
  get queuedJobs(): number {
    return this.jobs.waiting;
  }

  /** Queues photos for indexing; ids are checked before anything is stored, photos are decoded by the job. */
  async add(scope: Scope, photos: { id: string; bytes: Uint8Array }[]): Promise<{ job: string; accepted: number }> {
    const { maxPhotos } = this.options;
    if (this.closed) throw new DomainError('unavailable', 'the server is stopping: post the photos again shortly');
    if (photos.length === 0) throw new DomainError('invalid_request', 'send at least one photo');
    if (photos.length > maxPhotos)
      throw new DomainError('too_large', `send at most ${maxPhotos} photos per request, got ${photos.length}`);
    const seen = new Set<string>();
    for (const { id } of photos) {
      if (!PHOTO_ID.test(id))
        throw new DomainError('invalid_request', `photo id ${JSON.stringify(id)}: 1 to 128 of A-Z a-z 0-9 . _ @ -`);
      if (seen.has(id)) throw new DomainError('invalid_request', `photo id ${id} appears twice in the request`);
      seen.add(id);
    }
    const now = new Date().toISOString();
    const record = {
      ...scope,
      id: randomUUID(),
      status: 'queued' as const,
      photos: photos.map((p) => p.id),
      done: 0,
      errors: [],
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    // Under the user's lock, so that a deletion of the user never misses a job being queued.
    await this.locks.run(keyOf(scope), async () => {
      await this.store.jobs.create(
        record,
        photos.map((p) => p.bytes),
      );
      await this.jobs.add({ ...scope, id: record.id });
    });
    return { job: record.id, accepted: photos.length };
  }

  /** A job of the user, as any process sharing the data sees it; a finished one for `keepJobsMs`. */
  async job(scope: Scope, id: string): Promise<PhotoJob> {
    const job = await this.store.jobs.get(scope, id);
    const finished = job && (job.status === 'ready' || job.status === 'failed');
    if (!job || (finished && Date.parse(job.updatedAt) < Date.now() - this.options.keepJobsMs))
      throw new DomainError('not_found', `no photo job ${id}`);
    const { status, done, errors } = job;
    return { job: id, status, done, total: job.photos.length, errors };
  }

  /**
   * The photos in which every concept of `refs` (ids or names) is present, best first (a photo's score is its lowest
   * over the concepts; its box the extent of the first concept's best region); with `all`, every photo; with `text`,
   * most like the text first.
   */
  async find(scope: Scope, refs: string[], options: FindOptions): Promise<{ photos: LibraryPhoto[]; next?: string }> {
    // A person is found by the faces of the photos, alone: its score has nothing in common with a head's or a text's.
    const scoring = await this.concepts.storedScoring(scope, refs, !options.text);
    if ('person' in scoring) return this.people.find(scope, scoring.person, options);
    const { asked: heads, all } = scoring;
    const ids = heads.map((h) => h.concept.id);
    const scores = await this.scores(scope, all, ids, options.text);
    // The user's word on a photo overrides the head's: a photo said to be wrong is never answered, a missed one is.
    const said = await Promise.all(
      heads.map(async (h) => {
        const feedback = await this.store.listFeedback(scope, h.concept.id);
        return new Map(feedback.filter((f) => f.photoId).map((f) => [f.photoId, f.correct]));
      }),
    );
    // Each head's own bias: scores kept from before a retraining answer as the head that made them. The user's
    // concepts of now compete (a deleted one's kept scores do not; one not read yet cannot).
    const rivals = [...scores.heads].filter(([id]) => all.has(id)).map(([, h]) => h);
    const columns = ids.map((id) => scores.heads.get(id)!);
    const at = columns.map((c) => rivals.indexOf(c));
    // As in recognition, a concept is present only on a place of its own: a sibling scoring higher there takes it.
    const ownPlace = (i: number, j: number) =>
      keepsBestPlace(at[j], {
        count: rivals.length,
        output: (k) => rivals[k].raw[i] + rivals[k].bias,
        box: (k) => boxAt(rivals[k].boxes, i),
      });
    const present = (id: string, i: number, score: number, j: number) =>
      said[j].get(id) ?? (score >= heads[j].concept.threshold && ownPlace(i, j));
    const text = scores.heads.get(TEXT);
    const page = new Page(options.limit, options.cursor);
    for (const [id, i] of scores.photos) {
      const values = columns.map((c) => toScore(c.raw[i] + c.bias));
      if (!options.all && values.some((v, j) => !present(id, i, v, j))) continue;
      const score = Math.min(...values);
      const rank = text === undefined ? score : Math.round(text.raw[i] * 1e6) / 1e6;
      page.offer(id, score, rank, () => columns[0].extents.slice(i * 4, i * 4 + 4).map(round4) as Box);
    }
    return page.answer();
  }

  /**
   * The user's photos scored by the concepts `ids`: kept in memory for concept queries (scored once by every head
   * of the user), read from the stored vectors for a text, whose vector joins the heads as `TEXT`.
   */
  private async scores(scope: Scope, heads: Heads, ids: string[], text?: string): Promise<UserScores> {
    if (text === undefined) return this.kept.get(scope, heads, ids);
    // Every head, as for concept queries: the asked concepts' places are decided among all of them.
    const asked: Heads = new Map([...heads, [TEXT, { weights: await this.embedText(text), bias: 0 }]]);
    return scoreRegions(this.store.batches(scope), asked, this.store.dim, this.models.algebra);
  }

  /** Once the user's readings under way have landed: the next query answers from the heads as they are now. */
  async settled(scope: Scope): Promise<void> {
    await this.kept.settled(scope);
  }

  private async embedText(text: string): Promise<Float32Array> {
    const { encoder } = this.models;
    if (!('embedText' in encoder))
      throw new DomainError(
        'unprocessable',
        `the active encoder ${encoder.name} has no text side, so photos cannot be ranked by text; a CLIP or SigLIP ` +
          'encoder has one: npm run fetch-models clip-vit-base-patch32, then NOMEN_ENCODER=clip-vit-base-patch32',
      );
    const [vector] = await (encoder as ImageEncoder & TextEncoder).embedText([text]);
    return vector;
  }

  /** Removes a photo from the library, and from any job yet to index it, in whichever process. */
  async remove(scope: Scope, id: string): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      // Its bytes first: a job that writes it meanwhile finds them gone and removes it again.
      const pending = await this.store.jobs.cancel(scope, id);
      const version = await this.store.remove(scope, id);
      if (version !== undefined) await this.kept.removed(scope, id, version);
      else if (!pending) throw new DomainError('not_found', `no photo ${id}`);
    });
  }

  /** Every photo and job of a user. */
  async removeUser(scope: Scope): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      const jobs = await this.store.jobs.removeUser(scope);
      await Promise.all(jobs.map((j) => this.jobs.remove({ ...scope, id: j.id })));
      await this.kept.forget(scope, await this.store.removeUser(scope));
    });
  }

  /**
   * Periodic upkeep of the stored vectors (merged files, the user index, old versions gone; kept scores stay) and
   * of the jobs' table (finished jobs past `keepJobsMs` gone).
   */
  async compact(): Promise<void> {
    await this.kept.upkeep(() => this.store.compact());
    await this.store.jobs.compact(this.options.keepJobsMs);
  }

  /**
   * Stops taking photos; the chunk being written and the readings of scores finish, the jobs left resume at the next
   * start or in another process.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.indexing.stop();
    await this.jobs.close();
    // A reading in the background would otherwise outlive the store it reads.
    await this.kept.settled();
  }
}

export function defaultLibraryOptions(limits: IntakeLimits): LibraryOptions {
  return {
    maxPhotos: 100,
    limits,
    regions: defaultRegionOptions,
    photosPerWrite: 8,
    keepJobsMs: 60 * 60_000,
    concurrency: 1,
    scoreBytes: 256 * 1024 ** 2,
    staleFrom: 5000,
  };
}
