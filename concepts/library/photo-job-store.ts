/**
 * Photo indexing jobs as every process sharing the data sees them: one `photo_jobs` row per job (its state), and
 * the bytes of each photo still to index in the blob store beside the tables, under a hash of tenant and user, the
 * job id and the photo's place in the job (photo ids may hold characters that keys may not). A photo's bytes go
 * once it is written or failed, or when it is deleted before: a photo without bytes is never indexed.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import type { Table as ArrowTable } from 'apache-arrow';
import { arrow } from '../storage/arrow.js';
import { userPrefix } from '../storage/blob-keys.js';
import { type BlobStore, blobStoreBeside } from '../storage/blob-store.js';
import { withCommitRetry } from '../storage/commit-retry.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { and, eq, lessThan, oneOf, scopeWhere } from '../storage/sql.js';
import { ensureScalarIndex, openTable, tableOf, type Values } from '../storage/tables.js';
import type { Scope } from '../types.js';

export const PHOTO_JOBS_TABLE = 'photo_jobs';

export type JobStatus = 'queued' | 'processing' | 'ready' | 'failed';

export interface PhotoJobRecord {
  tenant: string;
  user: string;
  id: string;
  status: JobStatus;
  /** The photo ids in the order posted: photo `i`'s bytes wait under key `i` of the job. */
  photos: string[];
  /** Photos handled, indexed or not: a resumed job starts there. */
  done: number;
  errors: { photo: string; message: string }[];
  /** Runs started: a job interrupted again and again is failed instead of retried forever. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

const UNFINISHED: JobStatus[] = ['queued', 'processing'];

const { Field: F, Schema: S, Utf8, Int32 } = arrow;
const schema = new S([
  ...['tenant', 'user', 'id', 'status', 'photos'].map((name) => new F(name, new Utf8(), false)),
  new F('done', new Int32(), false),
  new F('errors', new Utf8(), false),
  new F('attempts', new Int32(), false),
  new F('created_at', new Utf8(), false),
  new F('updated_at', new Utf8(), false),
]);

function toArrow(r: PhotoJobRecord): ArrowTable {
  const { tenant, user, id, status, done, attempts, createdAt, updatedAt } = r;
  const texts = { tenant, user, id, status, photos: JSON.stringify(r.photos), errors: JSON.stringify(r.errors) };
  const columns: Record<string, Values> = { done: [done], attempts: [attempts] };
  for (const [name, value] of Object.entries({ ...texts, created_at: createdAt, updated_at: updatedAt }))
    columns[name] = [value];
  return tableOf(schema, columns, 1);
}

function fromArrow(t: ArrowTable): PhotoJobRecord[] {
  return t.toArray().map((row) => {
    const r = row.toJSON();
    const { photos, errors, created_at: createdAt, updated_at: updatedAt, ...rest } = r;
    return { ...rest, photos: JSON.parse(photos), errors: JSON.parse(errors), createdAt, updatedAt };
  });
}

export class PhotoJobStore {
  private constructor(
    private readonly table: Table,
    private readonly blobs: BlobStore,
  ) {}

  static async open(db: lancedb.Connection, uri: string, storage: ObjectStorage = {}): Promise<PhotoJobStore> {
    const table = await openTable(db, PHOTO_JOBS_TABLE, schema);
    await ensureScalarIndex(table, 'user');
    return new PhotoJobStore(table, blobStoreBeside(uri, 'photo-jobs', storage));
  }

  close(): void {
    this.table.close();
    this.blobs.close();
  }

  /**
   * A new job and its photos' bytes. The row first: a crash before the bytes are stored leaves a job nobody was told
   * of, whose photos without bytes are passed over.
   */
  async create(record: PhotoJobRecord, bytes: Uint8Array[]): Promise<void> {
    const data = toArrow(record);
    await withCommitRetry(() => this.table.add(data));
    try {
      await Promise.all(bytes.map((b, i) => this.blobs.put(this.key(record, record.id, i), b)));
    } catch (err) {
      await this.blobs.deletePrefix(this.key(record, record.id));
      await withCommitRetry(() => this.table.delete(this.where(record, record.id)));
      throw err;
    }
  }

  /** A job's new state; none when its row is gone (its user deleted, maybe by another process). */
  async update(record: PhotoJobRecord): Promise<void> {
    const data = toArrow(record);
    await withCommitRetry(() => this.table.mergeInsert(['tenant', 'user', 'id']).whenMatchedUpdateAll().execute(data));
  }

  async get(scope: Scope, id: string): Promise<PhotoJobRecord | undefined> {
    return fromArrow(await this.table.query().where(this.where(scope, id)).limit(1).toArrow())[0];
  }

  /** Queued and interrupted jobs, of every user or of one, oldest first: what a start picks up again. */
  async unfinished(scope?: Scope): Promise<PhotoJobRecord[]> {
    const where = scope ? and(scopeWhere(scope), oneOf('status', UNFINISHED)) : oneOf('status', UNFINISHED);
    // Plain queries have no default limit: this reads every such row.
    const rows = fromArrow(await this.table.query().where(where).toArrow());
    return rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Photo `i` of a job; none once written, failed or deleted. */
  photo(scope: Scope, job: string, i: number): Promise<Uint8Array | undefined> {
    return this.blobs.get(this.key(scope, job, i));
  }

  hasPhoto(scope: Scope, job: string, i: number): Promise<boolean> {
    return this.blobs.has(this.key(scope, job, i));
  }

  async dropPhoto(scope: Scope, job: string, i: number): Promise<void> {
    await this.blobs.delete(this.key(scope, job, i));
  }

  /** Every photo left of a finished job. */
  async dropPhotos(scope: Scope, job: string): Promise<void> {
    await this.blobs.deletePrefix(this.key(scope, job));
  }

  /** Takes photo `id` out of the user's unfinished jobs: whether any still had it to index. */
  async cancel(scope: Scope, id: string): Promise<boolean> {
    const entries = (await this.unfinished(scope)).flatMap((job) =>
      job.photos.flatMap((photo, i) => (photo === id ? [{ job: job.id, i }] : [])),
    );
    const dropped = await Promise.all(
      entries.map(async (e) => {
        if (!(await this.hasPhoto(scope, e.job, e.i))) return false;
        await this.dropPhoto(scope, e.job, e.i);
        return true;
      }),
    );
    return dropped.some(Boolean);
  }

  /** Every job of the user: rows, then photos, so that a job running elsewhere finds nothing left to index. */
  async removeUser(scope: Scope): Promise<PhotoJobRecord[]> {
    const jobs = await this.unfinished(scope);
    await withCommitRetry(() => this.table.delete(scopeWhere(scope)));
    await this.blobs.deletePrefix(userPrefix(scope));
    return jobs;
  }

  /** Periodic upkeep: finished jobs older than `keepMs` go, small files are merged, old versions dropped. */
  async compact(keepMs: number, keepVersionsMs = 60 * 60_000): Promise<void> {
    const before = new Date(Date.now() - keepMs).toISOString();
    await withCommitRetry(() =>
      this.table.delete(and(oneOf('status', ['ready', 'failed']), lessThan('updated_at', before))),
    );
    await withCommitRetry(() => this.table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
    await ensureScalarIndex(this.table, 'user');
  }

  private where(scope: Scope, id: string): string {
    return and(scopeWhere(scope), eq('id', id));
  }

  private key(scope: Scope, job: string, i?: number): string {
    return i === undefined ? `${userPrefix(scope)}/${job}` : `${userPrefix(scope)}/${job}/${i}`;
  }
}
