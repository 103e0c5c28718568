/**
 * The on-disk shape of the photo library: one `photo_regions` row per region of an indexed photo (its box and the
 * encoder's vector), with the arrow conversions. The photo itself is not kept.
 */
import type { RecordBatch, Schema, Table as ArrowTable } from 'apache-arrow';
import { arrow } from '../storage/arrow.js';
import { columnValues, floats, tableOf } from '../storage/tables.js';
import type { StoredRegion } from '../recognition/stored-regions.js';
import type { Scope } from '../types.js';

export const PHOTO_REGIONS_TABLE = 'photo_regions';

/** One indexed photo: the app's id and the regions recognition would embed on it. */
export interface IndexedPhoto {
  id: string;
  regions: StoredRegion[];
}

const { Field: F, Schema: S, Utf8, Float32 } = arrow;

export function photoRegionSchema(dim: number): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('photo_id', new Utf8(), false),
    new F('box', floats(4, new Float32()), false),
    new F('vector', floats(dim, new Float32()), false),
  ]);
}

export function photoRegionsToArrow(scope: Scope, photos: readonly IndexedPhoto[], dim: number): ArrowTable {
  const rows = photos.flatMap((p) => p.regions.map((r) => ({ id: p.id, ...r })));
  return tableOf(
    photoRegionSchema(dim),
    {
      tenant: rows.map(() => scope.tenant),
      user: rows.map(() => scope.user),
      photo_id: rows.map((r) => r.id),
      box: rows.map((r) => r.box),
      vector: rows.map((r) => r.vector),
    },
    rows.length,
  );
}

/** The columns a query reads. */
export const PHOTO_SCORE_COLUMNS = ['photo_id', 'box', 'vector'];

/** A batch of photo regions as flat arrays: boxes 4 and vectors `dim` floats a row, row-major. */
export interface PhotoBatch {
  photo: string[];
  boxes: Float32Array;
  vectors: Float32Array;
  rows: number;
}

export function photoBatchFromArrow(batch: RecordBatch, dim: number): PhotoBatch {
  const [photo, box, vector] = PHOTO_SCORE_COLUMNS.map((n) => batch.getChild(n)!);
  return {
    photo: photo.toArray() as string[],
    boxes: columnValues(box, 4),
    vectors: columnValues(vector, dim),
    rows: batch.numRows,
  };
}
