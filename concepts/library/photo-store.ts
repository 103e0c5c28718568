/**
 * The library's table: every region of every indexed photo, scoped by tenant and user. Each write is one commit,
 * so a photo's regions appear together or not at all. Its indexing jobs are `jobs` (photo-job-store.ts).
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import { withCommitRetry } from '../storage/commit-retry.js';
import { connectData, type ObjectStorage } from '../storage/object-storage.js';
import { fromHalves, toHalves } from '../storage/float16.js';
import { and, eq, oneOf, scopeWhere } from '../storage/sql.js';
import { ensureScalarIndex, openTable } from '../storage/tables.js';
import type { StoredRegion } from '../recognition/stored-regions.js';
import type { Box, Scope } from '../types.js';
import { PhotoJobStore } from './photo-job-store.js';
import {
  FEEDBACK_TABLE,
  type FeedbackRecord,
  feedbackFromArrow,
  feedbackSchema,
  feedbackToArrow,
  halfVectors,
  hasExtents,
  type IndexedPhoto,
  type PhotoBatch,
  photoBatchFromArrow,
  photoRegionSchema,
  photoRegionsToArrow,
  PHOTO_FACES_TABLE,
  PHOTO_REGIONS_TABLE,
  photoScoreColumns,
} from './photo-records.js';

const feedbackWhere = (scope: Scope, conceptId: string, id?: string) =>
  and(scopeWhere(scope), eq('concept_id', conceptId), ...(id === undefined ? [] : [eq('id', id)]));

export class PhotoStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly regions: Table,
    private readonly faces: Table,
    private readonly feedback: Table,
    readonly dim: number,
    readonly faceDim: number,
    /** The regions' vectors are float16: a library made before they were stays float32, new rows included. */
    readonly half: boolean,
    /** The regions keep their extents: a library made before they did answers with the regions' boxes. */
    readonly extents: boolean,
    private readonly floats: (halves: Uint16Array) => Promise<Float32Array>,
    readonly jobs: PhotoJobStore,
  ) {}

  /**
   * `dim`: the encoder's vectors; `faceDim`: the face model's. `floats` makes read float16 vectors float32:
   * onnxruntime's Cast (`LinearAlgebra.fromHalves`) is several times faster than JavaScript's.
   */
  static async open(
    uri: string,
    dim: number,
    faceDim: number,
    storage: ObjectStorage = {},
    floats = async (halves: Uint16Array) => fromHalves(halves),
  ): Promise<PhotoStore> {
    const db = await connectData(uri, storage);
    const before = (await db.tableNames()).includes(PHOTO_REGIONS_TABLE)
      ? await db.openTable(PHOTO_REGIONS_TABLE)
      : undefined;
    const schema = await before?.schema();
    const half = !schema || halfVectors(schema);
    const extents = !schema || hasExtents(schema);
    before?.close();
    const regions = await openTable(db, PHOTO_REGIONS_TABLE, photoRegionSchema(dim, half, extents), 'vector');
    const faces = await openTable(db, PHOTO_FACES_TABLE, photoRegionSchema(faceDim), 'vector');
    const feedback = await openTable(db, FEEDBACK_TABLE, feedbackSchema());
    await Promise.all([ensureScalarIndex(regions, 'user'), ensureScalarIndex(faces, 'user')]);
    const jobs = await PhotoJobStore.open(db, uri, storage);
    return new PhotoStore(db, regions, faces, feedback, dim, faceDim, half, extents, floats, jobs);
  }

  /** A region's extent as a reading of the table will find it: its box where the table keeps no extents. */
  extentOf(region: StoredRegion): Box {
    return (this.extents && region.extent) || region.box;
  }

  /** `vectors` as the table keeps them: what a reading of them will score. */
  asStored(vectors: Float32Array): Float32Array {
    return this.half ? fromHalves(toHalves(vectors)) : vectors;
  }

  close(): void {
    this.regions.close();
    this.faces.close();
    this.feedback.close();
    this.jobs.close();
    this.db.close();
  }

  /** Which of `ids` (all by default) the user's library holds. */
  async existing(scope: Scope, ids?: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (ids?.length === 0) return found;
    const where = ids ? and(scopeWhere(scope), oneOf('photo_id', ids)) : scopeWhere(scope);
    for await (const batch of this.regions.query().where(where).select(['photo_id'])) {
      const column = batch.getChild('photo_id')!;
      for (let i = 0; i < batch.numRows; i++) found.add(column.get(i));
    }
    return found;
  }

  /**
   * Adds photos' regions in one commit, after the faces found on them (`faces`, the same photos' faces): a photo is
   * in the library once its regions are, and a failed commit takes its faces back. The regions' table version it
   * made, none when there was nothing to write.
   */
  async add(scope: Scope, photos: IndexedPhoto[], faces: IndexedPhoto[] = []): Promise<number | undefined> {
    if (photos.every((p) => p.regions.length === 0)) return undefined;
    if (faces.some((p) => p.regions.length > 0)) {
      const rows = photoRegionsToArrow(scope, faces, this.faceDim);
      await withCommitRetry(() => this.faces.add(rows));
    }
    const data = photoRegionsToArrow(scope, photos, this.dim, this.half, this.extents);
    try {
      return (await withCommitRetry(() => this.regions.add(data))).version;
    } catch (err) {
      const ids = faces.map((p) => p.id);
      if (ids.length > 0)
        await this.faces.delete(and(scopeWhere(scope), oneOf('photo_id', ids))).catch(() => undefined);
      throw err;
    }
  }

  /** One photo's regions; none when it is not in the library. */
  async photo(scope: Scope, id: string): Promise<StoredRegion[]> {
    const regions: StoredRegion[] = [];
    for await (const batch of this.batches(scope, id)) {
      for (let i = 0; i < batch.rows; i++)
        regions.push({
          box: [...batch.boxes.subarray(i * 4, i * 4 + 4)] as StoredRegion['box'],
          extent: [...batch.extents.subarray(i * 4, i * 4 + 4)] as StoredRegion['box'],
          vector: batch.vectors.slice(i * this.dim, (i + 1) * this.dim),
        });
    }
    return regions;
  }

  /** Removes a photo: the table version the deletion made, none when the photo was not there. */
  async remove(scope: Scope, id: string): Promise<number | undefined> {
    const where = and(scopeWhere(scope), eq('photo_id', id));
    if ((await this.regions.countRows(where)) === 0) return undefined;
    const { version } = await withCommitRetry(() => this.regions.delete(where));
    await withCommitRetry(() => this.faces.delete(where));
    return version;
  }

  /** Removes the user's photos and corrections: the regions table's version the deletion made. */
  async removeUser(scope: Scope): Promise<number> {
    const { version } = await withCommitRetry(() => this.regions.delete(scopeWhere(scope)));
    await withCommitRetry(() => this.faces.delete(scopeWhere(scope)));
    await withCommitRetry(() => this.feedback.delete(scopeWhere(scope)));
    return version;
  }

  /** Moves with every change of the regions, in this process or another sharing the data. */
  async version(): Promise<number> {
    return this.regions.version();
  }

  async addFeedback(scope: Scope, record: FeedbackRecord): Promise<void> {
    const data = feedbackToArrow(scope, record);
    await withCommitRetry(() => this.feedback.add(data));
  }

  /** A concept's corrections, oldest first; one of them when `id` is given. */
  async listFeedback(scope: Scope, conceptId: string, id?: string): Promise<FeedbackRecord[]> {
    const rows = feedbackFromArrow(
      await this.feedback
        .query()
        .where(feedbackWhere(scope, conceptId, id))
        .toArrow(),
    );
    return rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One correction of a concept, or all of them. */
  async removeFeedback(scope: Scope, conceptId: string, id?: string): Promise<void> {
    await withCommitRetry(() => this.feedback.delete(feedbackWhere(scope, conceptId, id)));
  }

  /** Every stored region of the user (or of one photo), batch by batch: memory stays flat however large the library. */
  batches(scope: Scope, photoId?: string): AsyncGenerator<PhotoBatch> {
    const where = photoId === undefined ? scopeWhere(scope) : and(scopeWhere(scope), eq('photo_id', photoId));
    return this.read(this.regions, where, this.dim, this.extents);
  }

  /** Every face stored on the user's photos, batch by batch (vectors of the face model). */
  faceBatches(scope: Scope): AsyncGenerator<PhotoBatch> {
    return this.read(this.faces, scopeWhere(scope), this.faceDim, false);
  }

  private async *read(table: Table, where: string, dim: number, extents: boolean): AsyncGenerator<PhotoBatch> {
    // Plain queries have no default limit: this reads every row that `where` selects.
    for await (const batch of table.query().where(where).select(photoScoreColumns(extents))) {
      if (batch.numRows === 0) continue;
      const { vectors, ...rest } = photoBatchFromArrow(batch, dim);
      yield { ...rest, vectors: vectors instanceof Uint16Array ? await this.floats(vectors) : vectors };
    }
  }

  /** Periodic upkeep: merge small files, fold new rows into the index, drop old versions. */
  async compact(keepVersionsMs = 60 * 60_000): Promise<void> {
    for (const table of [this.regions, this.faces]) {
      await withCommitRetry(() => table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
      await ensureScalarIndex(table, 'user');
    }
  }
}
