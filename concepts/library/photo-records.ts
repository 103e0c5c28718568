/**
 * The on-disk shape of the photo library: one `photo_regions` row per region of an indexed photo (its box, the
 * encoder's vector, float16, and its extent), with the arrow conversions. The photo itself is not kept.
 */
import type { RecordBatch, Schema, Table as ArrowTable } from 'apache-arrow';
import { arrow } from '../storage/arrow.js';
import { columnValues, floats, tableOf } from '../storage/tables.js';
import type { StoredRegion } from '../recognition/stored-regions.js';
import type { Box, Scope } from '../types.js';

export const PHOTO_REGIONS_TABLE = 'photo_regions';
/** The faces on indexed photos, while faces are on for the tenant: rows like `photo_regions`, face-model vectors. */
export const PHOTO_FACES_TABLE = 'photo_faces';

/** One indexed photo: the app's id and the regions recognition would embed on it. */
export interface IndexedPhoto {
  id: string;
  regions: StoredRegion[];
}

const { Field: F, Schema: S, Utf8, Float16, Float32 } = arrow;

/**
 * `half`: vectors as float16 (the regions of libraries made since), else float32 (faces, and older libraries);
 * `extents`: each region's extent beside its box (libraries made since; an older one answers with the box).
 */
export function photoRegionSchema(dim: number, half = false, extents = false): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('photo_id', new Utf8(), false),
    new F('box', floats(4, new Float32()), false),
    new F('vector', floats(dim, half ? new Float16() : new Float32()), false),
    ...(extents ? [new F('extent', floats(4, new Float32()), false)] : []),
  ]);
}

/** Whether a table of `schema` keeps its vectors as float16. */
export const halfVectors = (schema: Schema) =>
  String(schema.fields.find((f) => f.name === 'vector')?.type).includes('<Float16>');

/** Whether a table of `schema` keeps each region's extent. */
export const hasExtents = (schema: Schema) => schema.fields.some((f) => f.name === 'extent');

export function photoRegionsToArrow(
  scope: Scope,
  photos: readonly IndexedPhoto[],
  dim: number,
  half = false,
  extents = false,
): ArrowTable {
  const rows = photos.flatMap((p) => p.regions.map((r) => ({ id: p.id, ...r })));
  return tableOf(
    photoRegionSchema(dim, half, extents),
    {
      tenant: rows.map(() => scope.tenant),
      user: rows.map(() => scope.user),
      photo_id: rows.map((r) => r.id),
      box: rows.map((r) => r.box),
      vector: rows.map((r) => r.vector),
      ...(extents ? { extent: rows.map((r) => r.extent ?? r.box) } : {}),
    },
    rows.length,
  );
}

/** The columns a query reads, the extents where the table has them. */
export const photoScoreColumns = (extents: boolean) => ['photo_id', 'box', 'vector', ...(extents ? ['extent'] : [])];

/**
 * A batch of photo regions as flat arrays: boxes and extents 4 and vectors `dim` floats a row, row-major. The
 * extents are the boxes where the table keeps none.
 */
export interface PhotoBatch {
  photo: string[];
  boxes: Float32Array;
  extents: Float32Array;
  vectors: Float32Array;
  rows: number;
}

/** A batch as read: float16 vectors come as their bits. */
export function photoBatchFromArrow(
  batch: RecordBatch,
  dim: number,
): Omit<PhotoBatch, 'vectors'> & { vectors: Float32Array | Uint16Array } {
  const [photo, box, vector] = photoScoreColumns(false).map((n) => batch.getChild(n)!);
  const extent = batch.getChild('extent');
  const boxes = columnValues<Float32Array>(box, 4);
  return {
    photo: photo.toArray() as string[],
    boxes,
    extents: extent ? columnValues<Float32Array>(extent, 4) : boxes,
    vectors: columnValues(vector, dim),
    rows: batch.numRows,
  };
}

export const FEEDBACK_TABLE = 'concept_feedback';

/** A correction of a concept: which region of which photo, and the concept photo it became. */
export interface FeedbackRecord {
  id: string;
  conceptId: string;
  /** The library photo corrected; empty for a photo sent with the correction. */
  photoId: string;
  correct: boolean;
  /** The region taken, in fractions of the photo. */
  box: Box;
  /** The concept's photo number that holds the region's view. */
  conceptPhoto: number;
  createdAt: string;
}

const { Int32, Float64 } = arrow;

export function feedbackSchema(): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('id', new Utf8(), false),
    new F('concept_id', new Utf8(), false),
    new F('photo_id', new Utf8(), false),
    new F('correct', new Int32(), false),
    new F('box', floats(4, new Float64()), false),
    new F('concept_photo', new Int32(), false),
    new F('created_at', new Utf8(), false),
  ]);
}

export function feedbackToArrow(scope: Scope, r: FeedbackRecord): ArrowTable {
  return tableOf(
    feedbackSchema(),
    {
      tenant: [scope.tenant],
      user: [scope.user],
      id: [r.id],
      concept_id: [r.conceptId],
      photo_id: [r.photoId],
      correct: [r.correct ? 1 : 0],
      box: [r.box],
      concept_photo: [r.conceptPhoto],
      created_at: [r.createdAt],
    },
    1,
  );
}

export function feedbackFromArrow(t: ArrowTable): FeedbackRecord[] {
  if (t.numRows === 0) return []; // an empty result may come without columns
  const names = ['id', 'concept_id', 'photo_id', 'correct', 'box', 'concept_photo', 'created_at'];
  const [id, concept, photo, correct, box, conceptPhoto, created] = names.map((n) => t.getChild(n)!);
  return Array.from({ length: t.numRows }, (_, i) => ({
    id: id.get(i),
    conceptId: concept.get(i),
    photoId: photo.get(i),
    correct: correct.get(i) === 1,
    box: [...box.get(i)] as Box,
    conceptPhoto: conceptPhoto.get(i),
    createdAt: created.get(i),
  }));
}
