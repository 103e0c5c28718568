/**
 * The on-disk shape of the concept store: table names, arrow schemas, and the conversions between records
 * and arrow tables. Bulk loaders (the store benchmark) write through these conversions too.
 */
import type { Table } from '@lancedb/lancedb';
import type { Schema, Table as ArrowTable, Vector } from 'apache-arrow';
import { arrow } from './arrow.js';
import { ensureScalarIndex, floats, tableOf } from './tables.js';
import type { Box, ViewKind } from '../types.js';

export const CONCEPTS_TABLE = 'concepts';
export const VIEWS_TABLE = 'views';

export interface ConceptRecord {
  tenant: string;
  user: string;
  id: string;
  name: string;
  /** `name` lower-cased, for the case-insensitive uniqueness check. */
  nameKey: string;
  category: string;
  description: string;
  headWeights: Float32Array;
  headBias: number;
  threshold: number;
  /** Score at and above which captions and answers call the concept by its name (at least `threshold`). */
  nameThreshold: number;
  imageCount: number;
  negativeCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** The encoder that made the vectors the head was trained on. */
  encoder: string;
  /** Photos 0..draftPhotos-1 have only their draft views yet: their refinement is due (0: none). */
  draftPhotos: number;
  /** `Quality` as JSON; empty for concepts calibrated before the region bank. */
  quality: string;
}

export interface ViewRecord {
  tenant: string;
  user: string;
  conceptId: string;
  kind: ViewKind;
  vector: Float32Array;
  /** Index of the example photo the view was cut from. */
  photo: number;
  box: Box;
  /** How the view was made from the photo (whole, flip, crop...). */
  variant: string;
}

/**
 * A view row as stored. `conceptVersion` is the version of the concept row saved with it: a view is visible
 * only once its concept row exists with at least that version, so views written ahead of a commit that never
 * happened stay invisible. `writeId` names the save that wrote it, `writtenAtMs` when.
 */
export interface StoredView extends ViewRecord {
  conceptVersion: number;
  writeId: string;
  writtenAtMs: number;
}

const { Field: F, Schema: S, Utf8, Int32, Float32, Float64 } = arrow;

export function conceptSchema(dim: number): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('id', new Utf8(), false),
    new F('name', new Utf8(), false),
    new F('name_key', new Utf8(), false),
    new F('category', new Utf8(), false),
    new F('description', new Utf8(), false),
    new F('head_weights', floats(dim, new Float32()), false),
    new F('head_bias', new Float64(), false),
    new F('threshold', new Float64(), false),
    new F('name_threshold', new Float64(), false),
    new F('image_count', new Int32(), false),
    new F('negative_count', new Int32(), false),
    new F('version', new Int32(), false),
    new F('created_at', new Utf8(), false),
    new F('updated_at', new Utf8(), false),
    new F('encoder', new Utf8(), false),
    new F('draft_photos', new Int32(), false),
    new F('quality', new Utf8(), false),
  ]);
}

export function viewSchema(dim: number): Schema {
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('concept_id', new Utf8(), false),
    new F('kind', new Utf8(), false),
    new F('vector', floats(dim, new Float32()), false),
    new F('photo', new Int32(), false),
    new F('box', floats(4, new Float64()), false),
    new F('variant', new Utf8(), false),
    new F('concept_version', new Int32(), false),
    new F('write_id', new Utf8(), false),
    new F('written_at_ms', new Float64(), false),
  ]);
}

/** The column that holds each table's D-dimensional vectors. */
export const DIM_COLUMN = { [CONCEPTS_TABLE]: 'head_weights', [VIEWS_TABLE]: 'vector' } as const;

/**
 * Scalar indexes: a BTREE on the high-cardinality `user` column narrows every scoped query to that user's few
 * rows; `tenant` is then checked on those rows only (a BITMAP on tenant gave no clear gain at 200k views).
 */
export async function ensureScalarIndexes(table: Table): Promise<void> {
  await ensureScalarIndex(table, 'user');
}

export function conceptsToArrow(records: readonly ConceptRecord[], dim: number): ArrowTable {
  const pick = <T>(f: (r: ConceptRecord) => T) => records.map(f);
  return tableOf(
    conceptSchema(dim),
    {
      tenant: pick((r) => r.tenant),
      user: pick((r) => r.user),
      id: pick((r) => r.id),
      name: pick((r) => r.name),
      name_key: pick((r) => r.nameKey),
      category: pick((r) => r.category),
      description: pick((r) => r.description),
      head_weights: pick((r) => r.headWeights),
      head_bias: pick((r) => r.headBias),
      threshold: pick((r) => r.threshold),
      name_threshold: pick((r) => r.nameThreshold),
      image_count: pick((r) => r.imageCount),
      negative_count: pick((r) => r.negativeCount),
      version: pick((r) => r.version),
      created_at: pick((r) => r.createdAt),
      updated_at: pick((r) => r.updatedAt),
      encoder: pick((r) => r.encoder),
      draft_photos: pick((r) => r.draftPhotos),
      quality: pick((r) => r.quality),
    },
    records.length,
  );
}

export function viewsToArrow(rows: readonly StoredView[], dim: number): ArrowTable {
  const pick = <T>(f: (r: StoredView) => T) => rows.map(f);
  return tableOf(
    viewSchema(dim),
    {
      tenant: pick((r) => r.tenant),
      user: pick((r) => r.user),
      concept_id: pick((r) => r.conceptId),
      kind: pick((r) => r.kind),
      vector: pick((r) => r.vector),
      photo: pick((r) => r.photo),
      box: pick((r) => r.box),
      variant: pick((r) => r.variant),
      concept_version: pick((r) => r.conceptVersion),
      write_id: pick((r) => r.writeId),
      written_at_ms: pick((r) => r.writtenAtMs),
    },
    rows.length,
  );
}

/** Reads one column of a query result; a missing column is a bug in the query's projection. */
function col(table: ArrowTable, name: string): Vector {
  const c = table.getChild(name);
  if (!c) throw new Error(`query result lacks column ${name}`);
  return c;
}

/** Copies, so that a record does not pin the whole result batch in memory. */
function f32(v: Vector, i: number): Float32Array {
  return Float32Array.from((v.get(i) as Vector).toArray() as Float32Array);
}

export function conceptsFromArrow(t: ArrowTable): ConceptRecord[] {
  if (t.numRows === 0) return []; // an empty result may come without columns
  const c = (name: string) => col(t, name);
  const [
    tenant,
    user,
    id,
    name,
    nameKey,
    category,
    description,
    weights,
    bias,
    threshold,
    nameThreshold,
    images,
    negatives,
    version,
    created,
    updated,
    encoder,
    draftPhotos,
    quality,
  ] = [
    'tenant',
    'user',
    'id',
    'name',
    'name_key',
    'category',
    'description',
    'head_weights',
    'head_bias',
    'threshold',
    'name_threshold',
    'image_count',
    'negative_count',
    'version',
    'created_at',
    'updated_at',
    'encoder',
    'draft_photos',
    'quality',
  ].map(c);
  return Array.from({ length: t.numRows }, (_, i) => ({
    tenant: tenant.get(i),
    user: user.get(i),
    id: id.get(i),
    name: name.get(i),
    nameKey: nameKey.get(i),
    category: category.get(i),
    description: description.get(i),
    headWeights: f32(weights, i),
    headBias: bias.get(i),
    threshold: threshold.get(i),
    nameThreshold: nameThreshold.get(i),
    imageCount: images.get(i),
    negativeCount: negatives.get(i),
    version: version.get(i),
    createdAt: created.get(i),
    updatedAt: updated.get(i),
    encoder: encoder.get(i),
    draftPhotos: draftPhotos.get(i),
    quality: quality.get(i),
  }));
}

/** The view columns a reader needs: the record plus `concept_version` for the visibility rule. */
export const VIEW_READ_COLUMNS = [
  'tenant',
  'user',
  'concept_id',
  'kind',
  'vector',
  'photo',
  'box',
  'variant',
  'concept_version',
];

export function viewsFromArrow(t: ArrowTable): (ViewRecord & { conceptVersion: number })[] {
  if (t.numRows === 0) return [];
  const [tenant, user, conceptId, kind, vector, photo, box, variant, conceptVersion] = VIEW_READ_COLUMNS.map((n) =>
    col(t, n),
  );
  return Array.from({ length: t.numRows }, (_, i) => ({
    tenant: tenant.get(i),
    user: user.get(i),
    conceptId: conceptId.get(i),
    kind: kind.get(i),
    vector: f32(vector, i),
    photo: photo.get(i),
    box: Array.from((box.get(i) as Vector).toArray() as Float64Array) as Box,
    variant: variant.get(i),
    conceptVersion: conceptVersion.get(i),
  }));
}

/** Reads of one user beyond this many rows throw instead of silently losing rows. */
export const USER_ROW_CAP = 1_000_000;
