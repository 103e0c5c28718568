/**
 * Photo indexing jobs as this process runs them: a job resumes after the photos its row counts as done, indexes
 * the others a chunk at a time (one commit each), records its progress in its row after each chunk and drops the
 * chunk's bytes, and records its end (ready or failed) there.
 */
import type { DecodedImage } from '../../models/types.js';
import { bulk } from '../../models/runtime/priority.js';
import { DomainError } from '../errors.js';
import { decodeImage } from '../intake/intake.js';
import { type JobRef, MAX_JOB_ATTEMPTS } from '../job-queue.js';
import type { Lock } from '../locks.js';
import { embedRegions } from '../recognition/stored-regions.js';
import type { ServiceModels } from '../service-options.js';
import { keyOf, type Scope } from '../types.js';
import type { LibraryPeople } from './library-people.js';
import type { LibraryOptions } from './library.js';
import type { JobStatus, PhotoJobRecord } from './photo-job-store.js';
import type { IndexedPhoto } from './photo-records.js';
import type { PhotoScores } from './photo-scores.js';
import type { PhotoStore } from './photo-store.js';

type JobError = PhotoJobRecord['errors'][number];

export class PhotoJobs {
  private stopped = false;

  constructor(
    private readonly store: PhotoStore,
    private readonly models: ServiceModels,
    private readonly options: LibraryOptions,
    private readonly kept: PhotoScores,
    private readonly people: LibraryPeople,
    /** The library's lock of a user's writes and deletions. */
    private readonly locks: Lock,
  ) {}

  /** Stops the running jobs after their chunk; they resume at the next start, or in another process. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs one job the queue handed to this process; rejects when a shutdown stopped it, so that it runs again. */
  async handle({ tenant, user, id }: JobRef): Promise<void> {
    const ended = await bulk(() => this.run({ tenant, user }, id));
    if (!ended) throw new Error(`photo job ${id}: stopped by a shutdown`);
  }

  /** Whether the job ended (or was not there to run). */
  private async run(scope: Scope, id: string): Promise<boolean> {
    const record = await this.store.jobs.get(scope, id);
    // Only a queued or interrupted job runs: a queue may hand out a job that another process has finished.
    if (!record || !(record.status === 'queued' || record.status === 'processing')) return true;
    if (record.attempts >= MAX_JOB_ATTEMPTS)
      return this.finish(record, 'failed', `indexing was interrupted ${record.attempts} times: post the photos again`);
    // A job handed out while this process stops is left as it was, its attempts untouched.
    if (this.stopped) return false;
    let job: PhotoJobRecord = { ...record, status: 'processing', attempts: record.attempts + 1, updatedAt: now() };
    await this.store.jobs.update(job);
    const { photosPerWrite } = this.options;
    try {
      for (let i = job.done; i < job.photos.length; i += photosPerWrite) {
        if (this.stopped) return false;
        const chunk = job.photos.slice(i, i + photosPerWrite).map((photo, k) => ({ photo, at: i + k }));
        const errors = await this.index(scope, id, chunk);
        job = { ...job, done: i + chunk.length, errors: [...job.errors, ...errors], updatedAt: now() };
        await this.store.jobs.update(job);
        await Promise.all(chunk.map(({ at }) => this.store.jobs.dropPhoto(scope, id, at)));
      }
      return this.finish(job, job.errors.length === job.photos.length ? 'failed' : 'ready');
    } catch (err) {
      return this.finish(job, 'failed', `indexing failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Indexes the photos of a chunk that have bytes and are not in the library yet: the photos that failed. */
  private async index(scope: Scope, job: string, chunk: { photo: string; at: number }[]): Promise<JobError[]> {
    const known = await this.store.existing(
      scope,
      chunk.map((p) => p.photo),
    );
    const errors: JobError[] = [];
    const decoded = await this.decode(
      scope,
      job,
      chunk.filter((p) => !known.has(p.photo)),
      errors,
    );
    const regions = await embedRegions(
      decoded.map((d) => d.image),
      this.models,
      this.options.regions,
    );
    const faces = await this.people.facesOf(
      scope,
      decoded.map((d) => ({ id: d.photo, image: d.image })),
    );
    await this.locks.run(keyOf(scope), async () => {
      // Checked again under the lock: another job may have written one of them meanwhile.
      const again = await this.store.existing(
        scope,
        decoded.map((d) => d.photo),
      );
      const fresh: (IndexedPhoto & { at: number })[] = decoded
        .map((d, k) => ({ id: d.photo, at: d.at, regions: regions[k] }))
        .filter((p) => !again.has(p.id));
      const freshFaces = faces.filter((f) => fresh.some((p) => p.id === f.id));
      await this.kept.add(scope, fresh, () => this.store.add(scope, fresh, freshFaces));
      // Written, then checked: a photo deleted meanwhile (its bytes gone), maybe in another process, goes again.
      const still = await Promise.all(fresh.map((p) => this.store.jobs.hasPhoto(scope, job, p.at)));
      for (const [k, p] of fresh.entries())
        if (!still[k]) {
          const version = await this.store.remove(scope, p.id);
          if (version !== undefined) await this.kept.removed(scope, p.id, version);
        }
    });
    return errors;
  }

  /** The photos that decode; the others join `errors`, and those without bytes (deleted) are passed over. */
  private async decode(
    scope: Scope,
    job: string,
    photos: { photo: string; at: number }[],
    errors: JobError[],
  ): Promise<{ photo: string; at: number; image: DecodedImage }[]> {
    const decoded = await Promise.all(
      photos.map(async ({ photo, at }) => {
        const bytes = await this.store.jobs.photo(scope, job, at);
        if (!bytes) return undefined;
        try {
          return { photo, at, image: (await decodeImage(bytes, this.options.limits)).image };
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          errors.push({ photo, message: err.message });
          return undefined;
        }
      }),
    );
    return decoded.filter((d) => d !== undefined);
  }

  /** Records the job's end; its photos' bytes go. */
  private async finish(job: PhotoJobRecord, status: JobStatus, error?: string): Promise<true> {
    const errors = error ? [...job.errors, { photo: '', message: error }] : job.errors;
    await this.store.jobs.update({ ...job, status, errors, updatedAt: now() });
    await this.store.jobs.dropPhotos(job, job.id);
    return true;
  }
}

const now = () => new Date().toISOString();
