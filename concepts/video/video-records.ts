/**
 * The on-disk shape of the video store: one `videos` row per upload (its job state) and one `frames` row per
 * embedded region of a sampled frame, with the arrow conversions between them and records.
 */
import type { RecordBatch, Schema, Table as ArrowTable } from 'apache-arrow';
import { arrow } from '../storage/arrow.js';
import { columnValues, floats, tableOf } from '../storage/tables.js';
import type { Box, Scope } from '../types.js';

export const VIDEOS_TABLE = 'videos';
export const FRAMES_TABLE = 'frames';
/** The faces found on sampled frames: rows like `frames`, with the face model's vectors. */
export const FRAME_FACES_TABLE = 'frame_faces';

/** `deleting` rows are invisible: they mark a deletion in progress, finished at the next start if cut short. */
export type VideoStatus = 'queued' | 'processing' | 'ready' | 'failed' | 'deleting';

export interface VideoRecord {
  tenant: string;
  user: string;
  id: string;
  status: VideoStatus;
  fps: number;
  durationS: number;
  /** Frames indexed (final once ready). */
  frames: number;
  /** Why it failed; empty otherwise. */
  error: string;
  /** Indexing runs started: a job interrupted again and again is failed instead of retried forever. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

/** One embedded region of one sampled frame. */
export interface FrameRegion {
  /** Index of the frame in the video's sampled sequence. */
  frame: number;
  /** Seconds from the start of the video. */
  t: number;
  box: Box;
  vector: Float32Array;
}

const { Field: F, Schema: S, Utf8, Int32, Float32, Float64 } = arrow;

export function videoSchema(): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('id', new Utf8(), false),
    new F('status', new Utf8(), false),
    new F('fps', new Float64(), false),
    new F('duration_s', new Float64(), false),
    new F('frames', new Int32(), false),
    new F('error', new Utf8(), false),
    new F('attempts', new Int32(), false),
    new F('created_at', new Utf8(), false),
    new F('updated_at', new Utf8(), false),
  ]);
}

export function frameSchema(dim: number): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('video_id', new Utf8(), false),
    new F('frame', new Int32(), false),
    new F('t', new Float64(), false),
    new F('box', floats(4, new Float64()), false),
    new F('vector', floats(dim, new Float32()), false),
  ]);
}

export function videosToArrow(records: readonly VideoRecord[]): ArrowTable {
  const pick = <T>(f: (r: VideoRecord) => T) => records.map(f);
  return tableOf(
    videoSchema(),
    {
      tenant: pick((r) => r.tenant),
      user: pick((r) => r.user),
      id: pick((r) => r.id),
      status: pick((r) => r.status),
      fps: pick((r) => r.fps),
      duration_s: pick((r) => r.durationS),
      frames: pick((r) => r.frames),
      error: pick((r) => r.error),
      attempts: pick((r) => r.attempts),
      created_at: pick((r) => r.createdAt),
      updated_at: pick((r) => r.updatedAt),
    },
    records.length,
  );
}

export function videosFromArrow(t: ArrowTable): VideoRecord[] {
  if (t.numRows === 0) return []; // an empty result may come without columns
  const names = [
    'tenant',
    'user',
    'id',
    'status',
    'fps',
    'duration_s',
    'frames',
    'error',
    'attempts',
    'created_at',
    'updated_at',
  ];
  const [tenant, user, id, status, fps, duration, frames, error, attempts, created, updated] = names.map(
    (n) => t.getChild(n)!,
  );
  return Array.from({ length: t.numRows }, (_, i) => ({
    tenant: tenant.get(i),
    user: user.get(i),
    id: id.get(i),
    status: status.get(i),
    fps: fps.get(i),
    durationS: duration.get(i),
    frames: frames.get(i),
    error: error.get(i),
    attempts: attempts.get(i),
    createdAt: created.get(i),
    updatedAt: updated.get(i),
  }));
}

export function framesToArrow(scope: Scope, videoId: string, regions: readonly FrameRegion[], dim: number): ArrowTable {
  const pick = <T>(f: (r: FrameRegion) => T) => regions.map(f);
  return tableOf(
    frameSchema(dim),
    {
      tenant: pick(() => scope.tenant),
      user: pick(() => scope.user),
      video_id: pick(() => videoId),
      frame: pick((r) => r.frame),
      t: pick((r) => r.t),
      box: pick((r) => r.box),
      vector: pick((r) => r.vector),
    },
    regions.length,
  );
}

/** The columns moments read: which frame, when, and the region's vector. */
export const FRAME_SCORE_COLUMNS = ['frame', 't', 'box', 'vector'];

/** A batch of frame regions as flat arrays: vectors row-major, `dim` floats each, without copying. */
export interface FrameBatch {
  frame: Int32Array;
  t: Float64Array;
  /** 4 a row: [x, y, w, h] in fractions of the frame. */
  boxes: Float64Array;
  vectors: Float32Array;
  rows: number;
}

export function frameBatchFromArrow(batch: RecordBatch, dim: number): FrameBatch {
  const [frame, t, box, vector] = FRAME_SCORE_COLUMNS.map((n) => batch.getChild(n)!);
  return {
    frame: columnValues(frame),
    t: columnValues(t),
    boxes: columnValues(box, 4),
    vectors: columnValues(vector, dim),
    rows: batch.numRows,
  };
}
