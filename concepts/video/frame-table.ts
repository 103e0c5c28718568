/**
 * One LanceDB table of frame rows of a fixed vector size: the regions a video's frames were embedded with, or the
 * faces found on them. Every query is scoped to a tenant and user, and to one video where it reads or writes.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import { withCommitRetry } from '../storage/commit-retry.js';
import { and, eq, greaterThan, scopeWhere } from '../storage/sql.js';
import { ensureScalarIndex, openTable } from '../storage/tables.js';
import type { Scope } from '../types.js';
import {
  FRAME_SCORE_COLUMNS,
  type FrameBatch,
  frameBatchFromArrow,
  type FrameRegion,
  frameSchema,
  framesToArrow,
} from './video-records.js';

const SAFE_ID = /^[0-9a-f-]{36}$/;

export function checkVideoId(id: string): string {
  if (!SAFE_ID.test(id)) throw new Error(`video id not storable: ${JSON.stringify(id)}`);
  return id;
}

export class FrameTable {
  private constructor(
    private readonly table: Table,
    readonly dim: number,
  ) {}

  static async open(db: lancedb.Connection, name: string, dim: number): Promise<FrameTable> {
    const table = await openTable(db, name, frameSchema(dim), 'vector');
    await ensureScalarIndex(table, 'video_id');
    return new FrameTable(table, dim);
  }

  close(): void {
    this.table.close();
  }

  async add(scope: Scope, videoId: string, rows: FrameRegion[]): Promise<void> {
    if (rows.length === 0) return;
    const data = framesToArrow(scope, videoId, rows, this.dim);
    await withCommitRetry(() => this.table.add(data));
  }

  /** The last frame stored for a video: where an interrupted job resumes. */
  async lastFrame(scope: Scope, videoId: string): Promise<{ frame: number; t: number } | undefined> {
    let last: { frame: number; t: number } | undefined;
    for await (const f of this.times(scope, videoId)) if (!last || f.frame > last.frame) last = f;
    return last;
  }

  /** Each row's frame and time, without its vector. */
  async *times(scope: Scope, videoId: string): AsyncGenerator<{ frame: number; t: number }> {
    for await (const batch of this.table.query().where(this.videoWhere(scope, videoId)).select(['frame', 't'])) {
      const [frame, t] = [batch.getChild('frame')!, batch.getChild('t')!];
      for (let i = 0; i < batch.numRows; i++) yield { frame: frame.get(i), t: t.get(i) };
    }
  }

  /** A video's rows, or (`after`) those of its frames after that one. */
  async deleteVideo(scope: Scope, videoId: string, after?: number): Promise<void> {
    const where = this.videoWhere(scope, videoId);
    await withCommitRetry(() =>
      this.table.delete(after === undefined ? where : and(where, greaterThan('frame', after))),
    );
  }

  async deleteUser(scope: Scope): Promise<void> {
    await withCommitRetry(() => this.table.delete(scopeWhere(scope)));
  }

  /** Every row of a video, batch by batch: memory stays flat however long the video. */
  async *batches(scope: Scope, videoId: string): AsyncGenerator<FrameBatch> {
    // Plain queries have no default limit: this reads every row of the video.
    for await (const batch of this.table.query().where(this.videoWhere(scope, videoId)).select(FRAME_SCORE_COLUMNS)) {
      if (batch.numRows > 0) yield frameBatchFromArrow(batch, this.dim);
    }
  }

  async compact(keepVersionsMs: number): Promise<void> {
    await withCommitRetry(() => this.table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
    await ensureScalarIndex(this.table, 'video_id');
  }

  private videoWhere(scope: Scope, videoId: string): string {
    return and(eq('video_id', checkVideoId(videoId)), scopeWhere(scope));
  }
}
