/**
 * The photo library: a user's photos indexed once as the region vectors recognition embeds, and every photo of a
 * concept found by scoring those vectors with the concept's current head and threshold, for concepts registered
 * before or after the photos, without decoding any photo again.
 *
 * Indexing runs as jobs, one at a time in this process, as bulk model work (requests go first). Job state is kept
 * in memory: a restart loses queued photos, which the app posts again (indexing is idempotent per photo id).
 * Corrections of its answers are `corrections.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { DecodedImage, ImageEncoder, TextEncoder } from '../../models/types.js';
import { bulk } from '../../models/runtime/priority.js';
import { DomainError } from '../errors.js';
import { decodeImage, type IntakeLimits } from '../intake/intake.js';
import { KeyedLock, Slots } from '../locks.js';
import { toScore } from '../recognition/recognize.js';
import { defaultRegionOptions, type RegionOptions } from '../recognition/regions.js';
import { embedRegions } from '../recognition/stored-regions.js';
import type { People } from '../people/people.js';
import type { ConceptService } from '../service.js';
import type { ServiceModels } from '../service-options.js';
import type { Box, Scope } from '../types.js';
import type { IndexedPhoto } from './photo-records.js';
import { type Heads, PhotoScores, scoreRegions, type UserScores } from './photo-scores.js';
import type { PhotoStore } from './photo-store.js';
import { LibraryPeople } from './library-people.js';
import { type LibraryPhoto, Page } from './pages.js';
import { LibraryCorrections } from './corrections.js';

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
  /** Memory for the photos' scores kept between queries, all users together. */
  scoreBytes: number;
  /**
   * Photos of a user from which a query after a retraining answers from the scores of before while the new heads
   * are read; below, it waits for the reading (under a second here), so that an undone correction shows at once.
   */
  staleFrom: number;
}

export type JobStatus = 'queued' | 'processing' | 'ready' | 'failed';

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

interface Pending {
  id: string;
  bytes?: Uint8Array;
  cancelled: boolean;
}

interface Job extends PhotoJob {
  scope: Scope;
  photos: Pending[];
  finishedAt?: number;
}

/** The text's row among the heads of a `text=` query. */
const TEXT = '\u0000text';

const keyOf = (scope: Scope) => JSON.stringify([scope.tenant, scope.user]);
const sameScope = (a: Scope, b: Scope) => a.tenant === b.tenant && a.user === b.user;

export class PhotoLibrary {
  private readonly jobs = new Map<string, Job>();
  /** Indexing jobs run one at a time, leaving the other core to requests. */
  private readonly running = new Slots(1);
  /** A user's writes and deletions, one at a time, so that a deletion never misses a photo being written. */
  private readonly locks = new KeyedLock();
  private readonly started = new Set<Promise<void>>();
  private closed = false;
  private readonly kept: PhotoScores;
  readonly corrections: LibraryCorrections;
  private readonly people: LibraryPeople;

  constructor(
    private readonly store: PhotoStore,
    private readonly concepts: ConceptService,
    private readonly models: ServiceModels,
    readonly options: LibraryOptions,
    people?: People,
  ) {
    this.kept = new PhotoScores(store, models.algebra, options.scoreBytes, options.staleFrom);
    this.people = new LibraryPeople(store, people);
    this.corrections = new LibraryCorrections(store, concepts, models, options);
  }

  /** Queues photos for indexing; ids are checked here, photos are decoded by the job. */
  add(scope: Scope, photos: { id: string; bytes: Uint8Array }[]): { job: string; accepted: number } {
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
    this.forgetOldJobs();
    const job: Job = {
      scope,
      job: randomUUID(),
      status: 'queued',
      done: 0,
      total: photos.length,
      errors: [],
      photos: photos.map((p) => ({ ...p, cancelled: false })),
    };
    this.jobs.set(job.job, job);
    const run = this.running.run(() => bulk(() => this.run(job)));
    this.started.add(run);
    void run.finally(() => this.started.delete(run));
    return { job: job.job, accepted: photos.length };
  }

  job(scope: Scope, id: string): PhotoJob {
    const job = this.jobs.get(id);
    if (!job || !sameScope(job.scope, scope)) throw new DomainError('not_found', `no photo job ${id}`);
    const { status, done, total, errors } = job;
    return { job: id, status, done, total, errors };
  }

  /**
   * The photos in which every concept of `refs` (ids or names) is present, best first (a photo's score is its lowest
   * over the concepts; its box the first concept's best region); with `all`, every photo; with `text`, most like
   * the text first.
   */
  async find(scope: Scope, refs: string[], options: FindOptions): Promise<{ photos: LibraryPhoto[]; next?: string }> {
    // A person is found by the faces of the photos, alone: its score has nothing in common with a head's or a text's.
    const person = refs.length === 1 && !options.text ? await this.concepts.personFaces(scope, refs[0]) : undefined;
    if (person) return this.people.find(scope, person, options);
    const heads = await Promise.all(refs.map((ref) => this.concepts.head(scope, ref)));
    const ids = heads.map((h) => h.concept.id);
    const all: Heads = await this.concepts.heads(scope);
    if (ids.some((id) => !all.has(id))) throw new DomainError('not_found', `no concept ${refs.join(', ')}`);
    const scores = await this.scores(scope, all, ids, options.text);
    // The user's word on a photo overrides the head's: a photo said to be wrong is never answered, a missed one is.
    const said = await Promise.all(
      heads.map(async (h) => {
        const feedback = await this.store.listFeedback(scope, h.concept.id);
        return new Map(feedback.filter((f) => f.photoId).map((f) => [f.photoId, f.correct]));
      }),
    );
    const present = (id: string, score: number, j: number) => said[j].get(id) ?? score >= heads[j].concept.threshold;
    // Each head's own bias: scores kept from before a retraining answer as the head that made them.
    const columns = ids.map((id) => scores.heads.get(id)!);
    const text = scores.heads.get(TEXT);
    const page = new Page(options.limit, options.cursor);
    for (const [id, i] of scores.photos) {
      const values = columns.map((c) => toScore(c.raw[i] + c.bias));
      if (!options.all && values.some((v, j) => !present(id, v, j))) continue;
      const score = Math.min(...values);
      const rank = text === undefined ? score : Math.round(text.raw[i] * 1e6) / 1e6;
      page.offer(
        id,
        score,
        rank,
        () => columns[0].boxes.slice(i * 4, i * 4 + 4).map((v) => Math.round(v * 1e4) / 1e4) as Box,
      );
    }
    return page.answer();
  }

  /**
   * The user's photos scored by the concepts `ids`: kept in memory for concept queries (scored once by every head
   * of the user), read from the stored vectors for a text, whose vector joins the heads as `TEXT`.
   */
  private async scores(scope: Scope, heads: Heads, ids: string[], text?: string): Promise<UserScores> {
    if (text === undefined) return this.kept.get(scope, heads, ids);
    const asked: Heads = new Map(ids.map((id) => [id, heads.get(id)!]));
    asked.set(TEXT, { weights: await this.embedText(text), bias: 0 });
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

  /** Removes a photo from the library, and from any job yet to index it. */
  async remove(scope: Scope, id: string): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      let pending = false;
      for (const job of this.jobs.values())
        if (sameScope(job.scope, scope))
          for (const p of job.photos) if (p.id === id && !p.cancelled) pending = p.cancelled = true;
      const version = await this.store.remove(scope, id);
      if (version !== undefined) this.kept.removed(scope, id, version);
      else if (!pending) throw new DomainError('not_found', `no photo ${id}`);
    });
  }

  /** Every photo and job of a user. */
  async removeUser(scope: Scope): Promise<void> {
    await this.locks.run(keyOf(scope), async () => {
      for (const [id, job] of this.jobs)
        if (sameScope(job.scope, scope)) {
          for (const p of job.photos) p.cancelled = true;
          this.jobs.delete(id);
        }
      this.kept.forget(scope, await this.store.removeUser(scope));
    });
  }

  /**
   * Stops taking photos; queued jobs fail (the app posts them again), the chunk being written and the readings of
   * scores finish.
   */
  /** Periodic upkeep of the stored vectors (merged files, the user index, old versions gone); kept scores stay. */
  compact(): Promise<void> {
    return this.kept.upkeep(() => this.store.compact());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.jobs.values()) for (const p of job.photos) p.cancelled = true;
    await Promise.all(this.started);
    // A reading in the background would otherwise outlive the store it reads.
    await this.kept.settled();
  }

  private async run(job: Job): Promise<void> {
    if (this.closed) {
      job.errors.push({ photo: '', message: 'the server stopped before the job ran: post the photos again' });
      return this.finish(job, 'failed');
    }
    if (job.photos.every((p) => p.cancelled)) return this.finish(job);
    job.status = 'processing';
    const { photosPerWrite } = this.options;
    try {
      for (let i = 0; i < job.photos.length; i += photosPerWrite) {
        const chunk = job.photos.slice(i, i + photosPerWrite);
        const known = await this.store.existing(
          job.scope,
          chunk.map((p) => p.id),
        );
        const decoded = await this.decode(
          job,
          chunk.filter((p) => !p.cancelled && !known.has(p.id)),
        );
        const regions = await embedRegions(
          decoded.map((d) => d.image),
          this.models,
          this.options.regions,
        );
        const faces = await this.people.facesOf(
          job.scope,
          decoded.map((d) => ({ id: d.photo.id, image: d.image })),
        );
        await this.locks.run(keyOf(job.scope), async () => {
          // Checked again under the lock: a deletion or another job may have come in meanwhile.
          const again = await this.store.existing(
            job.scope,
            decoded.map((d) => d.photo.id),
          );
          const fresh: IndexedPhoto[] = decoded
            .map((d, k) => ({ id: d.photo.id, regions: regions[k], cancelled: d.photo.cancelled }))
            .filter((p) => !p.cancelled && !again.has(p.id));
          const freshFaces = faces.filter((f) => fresh.some((p) => p.id === f.id));
          await this.kept.add(job.scope, fresh, () => this.store.add(job.scope, fresh, freshFaces));
        });
        for (const p of chunk) p.bytes = undefined;
        job.done += chunk.length;
      }
      this.finish(job, job.errors.length === job.total ? 'failed' : 'ready');
    } catch (err) {
      job.errors.push({ photo: '', message: `indexing failed: ${err instanceof Error ? err.message : String(err)}` });
      this.finish(job, 'failed');
    }
  }

  /** The photos that decode; the others are the job's errors. */
  private async decode(job: Job, photos: Pending[]): Promise<{ photo: Pending; image: DecodedImage }[]> {
    const decoded = await Promise.all(
      photos.map(async (photo) => {
        try {
          return { photo, image: (await decodeImage(photo.bytes!, this.options.limits)).image };
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          job.errors.push({ photo: photo.id, message: err.message });
          return undefined;
        }
      }),
    );
    return decoded.filter((d) => d !== undefined);
  }

  private finish(job: Job, status: JobStatus = 'ready'): void {
    job.status = status;
    job.photos = [];
    job.finishedAt = Date.now();
  }

  private forgetOldJobs(): void {
    const before = Date.now() - this.options.keepJobsMs;
    for (const [id, job] of this.jobs)
      if (job.finishedAt !== undefined && job.finishedAt < before) this.jobs.delete(id);
  }
}

export function defaultLibraryOptions(limits: IntakeLimits): LibraryOptions {
  return {
    maxPhotos: 100,
    limits,
    regions: defaultRegionOptions,
    photosPerWrite: 8,
    keepJobsMs: 60 * 60_000,
    scoreBytes: 256 * 1024 ** 2,
    staleFrom: 5000,
  };
}
