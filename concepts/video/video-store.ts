/**
 * The video store: job rows and frame vectors in LanceDB, uploaded files in a blob store beside the tables
 * (a local folder, or object storage, where every process sharing the data finds them; a job reads a local
 * copy, since ffmpeg reads files). Uploads are written to a local `uploads/` folder first and stored under a
 * hash of tenant and user once accepted, so a user's files go together and names that users choose never
 * become paths.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import { type BlobStore, blobStoreBeside, folderBeside } from '../storage/blob-store.js';
import { withCommitRetry } from '../storage/commit-retry.js';
import { connectData, type ObjectStorage } from '../storage/object-storage.js';
import { and, eq, oneOf, scopeWhere } from '../storage/sql.js';
import { userPrefix } from '../storage/blob-keys.js';
import { ensureScalarIndex, openTable } from '../storage/tables.js';
import type { Scope } from '../types.js';
import {
  FRAME_SCORE_COLUMNS,
  type FrameBatch,
  frameBatchFromArrow,
  type FrameRegion,
  frameSchema,
  framesToArrow,
  FRAMES_TABLE,
  type VideoRecord,
  videoSchema,
  videosFromArrow,
  videosToArrow,
  VIDEOS_TABLE,
  type VideoStatus,
} from './video-records.js';

/** Uploads older than this at start belong to requests that died with an earlier process. */
const STALE_UPLOAD_MS = 60 * 60_000;
const SAFE_ID = /^[0-9a-f-]{36}$/;

function checkId(id: string): string {
  if (!SAFE_ID.test(id)) throw new Error(`video id not storable: ${JSON.stringify(id)}`);
  return id;
}

export class VideoStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly videos: Table,
    private readonly frames: Table,
    /** Local: where uploads are received. */
    private readonly folder: string,
    private readonly sources: BlobStore,
    readonly dim: number,
  ) {}

  static async open(uri: string, dim: number, storage: ObjectStorage = {}): Promise<VideoStore> {
    const db = await connectData(uri, storage);
    const videos = await openTable(db, VIDEOS_TABLE, videoSchema());
    const frames = await openTable(db, FRAMES_TABLE, frameSchema(dim), 'vector');
    const store = new VideoStore(
      db,
      videos,
      frames,
      folderBeside(uri, 'videos'),
      blobStoreBeside(uri, 'videos', storage),
      dim,
    );
    await Promise.all([ensureScalarIndex(videos, 'user'), ensureScalarIndex(frames, 'video_id')]);
    await store.removeStaleUploads();
    return store;
  }

  close(): void {
    this.videos.close();
    this.frames.close();
    this.db.close();
    this.sources.close();
  }

  /** A fresh path under which a request may write an upload; the caller removes it if it is not adopted. */
  async uploadPath(): Promise<string> {
    const dir = join(this.folder, 'uploads');
    await mkdir(dir, { recursive: true });
    return join(dir, randomUUID());
  }

  /** Stores an accepted upload where the video's job reads it. */
  async adoptUpload(upload: string, scope: Scope, id: string): Promise<void> {
    await this.sources.putFile(this.sourceKey(scope, id), upload);
  }

  /** The video's file as a local file, until `release`. */
  openSource(scope: Scope, id: string): Promise<{ path: string; release(): Promise<void> }> {
    return this.sources.openFile(this.sourceKey(scope, id));
  }

  async removeSource(scope: Scope, id: string): Promise<void> {
    await this.sources.delete(this.sourceKey(scope, id));
  }

  async save(record: VideoRecord): Promise<void> {
    checkId(record.id);
    const data = videosToArrow([record]);
    await withCommitRetry(() =>
      this.videos.mergeInsert(['tenant', 'user', 'id']).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data),
    );
  }

  async get(scope: Scope, id: string): Promise<VideoRecord | undefined> {
    const t = await this.videos
      .query()
      .where(and(scopeWhere(scope), eq('id', id)))
      .limit(1)
      .toArrow();
    return videosFromArrow(t)[0];
  }

  /** Rows of every tenant in one of `statuses`, oldest first: what a start must pick up again. */
  async withStatus(statuses: VideoStatus[]): Promise<VideoRecord[]> {
    // Plain queries have no default limit: this reads every such row.
    const rows = videosFromArrow(await this.videos.query().where(oneOf('status', statuses)).toArrow());
    return rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Marks every video of a user `deleting`: from here on none of them is visible. */
  async markUserDeleting(scope: Scope): Promise<VideoRecord[]> {
    await withCommitRetry(() =>
      this.videos.update({
        where: scopeWhere(scope),
        values: { status: 'deleting', updated_at: new Date().toISOString() },
      }),
    );
    return videosFromArrow(await this.videos.query().where(scopeWhere(scope)).toArrow());
  }

  async deleteRow(scope: Scope, id: string): Promise<void> {
    await withCommitRetry(() => this.videos.delete(and(scopeWhere(scope), eq('id', checkId(id)))));
  }

  async deleteUserFiles(scope: Scope): Promise<void> {
    await this.sources.deletePrefix(userPrefix(scope));
  }

  async addFrames(scope: Scope, videoId: string, regions: FrameRegion[]): Promise<void> {
    if (regions.length === 0) return;
    const data = framesToArrow(scope, videoId, regions, this.dim);
    await withCommitRetry(() => this.frames.add(data));
  }

  /** The last frame stored for a video: where an interrupted job resumes. */
  async lastFrame(scope: Scope, videoId: string): Promise<{ frame: number; t: number } | undefined> {
    let last: { frame: number; t: number } | undefined;
    for await (const batch of this.frames.query().where(this.videoWhere(scope, videoId)).select(['frame', 't'])) {
      const [frame, t] = [batch.getChild('frame')!, batch.getChild('t')!];
      for (let i = 0; i < batch.numRows; i++)
        if (!last || frame.get(i) > last.frame) last = { frame: frame.get(i), t: t.get(i) };
    }
    return last;
  }

  async deleteFrames(scope: Scope, videoId: string): Promise<void> {
    await withCommitRetry(() => this.frames.delete(this.videoWhere(scope, videoId)));
  }

  async deleteUserFrames(scope: Scope): Promise<void> {
    await withCommitRetry(() => this.frames.delete(scopeWhere(scope)));
  }

  /** Every stored region of a video, batch by batch: memory stays flat however long the video. */
  async *frameBatches(scope: Scope, videoId: string): AsyncGenerator<FrameBatch> {
    // Plain queries have no default limit: this reads every row of the video.
    for await (const batch of this.frames.query().where(this.videoWhere(scope, videoId)).select(FRAME_SCORE_COLUMNS)) {
      if (batch.numRows > 0) yield frameBatchFromArrow(batch, this.dim);
    }
  }

  /**
   * Periodic upkeep: merge the small files that frame batches and job updates leave, fold new rows into the indexes,
   * drop old versions.
   */
  async compact(keepVersionsMs = 60 * 60_000): Promise<void> {
    for (const [table, column] of [
      [this.videos, 'user'],
      [this.frames, 'video_id'],
    ] as const) {
      await withCommitRetry(() => table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
      await ensureScalarIndex(table, column);
    }
  }

  private sourceKey(scope: Scope, id: string): string {
    return `${userPrefix(scope)}/${checkId(id)}`;
  }

  private videoWhere(scope: Scope, videoId: string): string {
    return and(eq('video_id', checkId(videoId)), scopeWhere(scope));
  }

  private async removeStaleUploads(): Promise<void> {
    const dir = join(this.folder, 'uploads');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(dir, name);
      const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
      if (Date.now() - mtimeMs > STALE_UPLOAD_MS) await rm(path, { force: true });
    }
  }
}
