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
import { checkVideoId, FrameTable } from './frame-table.js';
import {
  type FrameBatch,
  type FrameRegion,
  FRAME_FACES_TABLE,
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

export class VideoStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly videos: Table,
    private readonly frames: FrameTable,
    /** The faces found on the frames, when faces were on for the video's tenant as it was indexed. */
    private readonly faces: FrameTable,
    /** Local: where uploads are received. */
    private readonly folder: string,
    private readonly sources: BlobStore,
    readonly dim: number,
  ) {}

  /** `dim`: the encoder's vectors; `faceDim`: the face model's. */
  static async open(uri: string, dim: number, faceDim: number, storage: ObjectStorage = {}): Promise<VideoStore> {
    const db = await connectData(uri, storage);
    const videos = await openTable(db, VIDEOS_TABLE, videoSchema());
    const store = new VideoStore(
      db,
      videos,
      await FrameTable.open(db, FRAMES_TABLE, dim),
      await FrameTable.open(db, FRAME_FACES_TABLE, faceDim),
      folderBeside(uri, 'videos'),
      blobStoreBeside(uri, 'videos', storage),
      dim,
    );
    await ensureScalarIndex(videos, 'user');
    await store.removeStaleUploads();
    return store;
  }

  close(): void {
    this.videos.close();
    this.frames.close();
    this.faces.close();
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
    checkVideoId(record.id);
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
    await withCommitRetry(() => this.videos.delete(and(scopeWhere(scope), eq('id', checkVideoId(id)))));
  }

  async deleteUserFiles(scope: Scope): Promise<void> {
    await this.sources.deletePrefix(userPrefix(scope));
  }

  /** A batch of frames' regions, and the faces found on them: faces first, so that frames never lack theirs. */
  async addFrames(scope: Scope, videoId: string, regions: FrameRegion[], faces: FrameRegion[] = []): Promise<void> {
    await this.faces.add(scope, videoId, faces);
    await this.frames.add(scope, videoId, regions);
  }

  /** The last frame stored for a video: where an interrupted job resumes, after dropping faces of later frames. */
  async lastFrame(scope: Scope, videoId: string): Promise<{ frame: number; t: number } | undefined> {
    const last = await this.frames.lastFrame(scope, videoId);
    await this.faces.deleteVideo(scope, videoId, last?.frame ?? -1);
    return last;
  }

  async deleteFrames(scope: Scope, videoId: string): Promise<void> {
    await this.frames.deleteVideo(scope, videoId);
    await this.faces.deleteVideo(scope, videoId);
  }

  async deleteUserFrames(scope: Scope): Promise<void> {
    await this.frames.deleteUser(scope);
    await this.faces.deleteUser(scope);
  }

  /** Every stored region of a video, batch by batch. */
  frameBatches(scope: Scope, videoId: string): AsyncGenerator<FrameBatch> {
    return this.frames.batches(scope, videoId);
  }

  /** Each stored region's frame and time, without its vector. */
  frameTimes(scope: Scope, videoId: string): AsyncGenerator<{ frame: number; t: number }> {
    return this.frames.times(scope, videoId);
  }

  /** Every face found on a video's frames, batch by batch (vectors of the face model). */
  faceBatches(scope: Scope, videoId: string): AsyncGenerator<FrameBatch> {
    return this.faces.batches(scope, videoId);
  }

  /**
   * Periodic upkeep: merge the small files that frame batches and job updates leave, fold new rows into the indexes,
   * drop old versions.
   */
  async compact(keepVersionsMs = 60 * 60_000): Promise<void> {
    await withCommitRetry(() => this.videos.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
    await ensureScalarIndex(this.videos, 'user');
    await this.frames.compact(keepVersionsMs);
    await this.faces.compact(keepVersionsMs);
  }

  private sourceKey(scope: Scope, id: string): string {
    return `${userPrefix(scope)}/${checkVideoId(id)}`;
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
