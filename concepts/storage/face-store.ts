/**
 * Face vectors of person concepts, in a LanceDB table of their own beside the concept store's: the face model's
 * vectors have their own dimension. Only the example photos' faces are kept, never those of recognised photos.
 * A row is visible once its concept row exists with at least the version it was written for, as views are.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import type { Schema, Vector } from 'apache-arrow';
import { arrow } from './arrow.js';
import { withCommitRetry } from './commit-retry.js';
import { connectData, type ObjectStorage } from './object-storage.js';
import { and, eq, scopeWhere } from './sql.js';
import { ensureScalarIndex, floats, openTable, tableOf } from './tables.js';
import type { Box, Scope } from '../types.js';

export const FACES_TABLE = 'faces';

/** One face of one example photo of a person concept. */
export interface FaceRecord {
  conceptId: string;
  /** Index of the example photo the face was found in. */
  photo: number;
  box: Box;
  vector: Float32Array;
}

const ROW_CAP = 1_000_000;
const COLUMNS = ['concept_id', 'photo', 'box', 'vector', 'concept_version'];

function faceSchema(dim: number): Schema {
  const { Field: F, Schema: S, Utf8, Int32, Float32, Float64 } = arrow;
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('concept_id', new Utf8(), false),
    new F('photo', new Int32(), false),
    new F('box', floats(4, new Float64()), false),
    new F('vector', floats(dim, new Float32()), false),
    new F('concept_version', new Int32(), false),
    new F('written_at_ms', new Float64(), false),
  ]);
}

export class FaceStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly table: Table,
    readonly dim: number,
  ) {}

  static async open(uri: string, dim: number, storage: ObjectStorage = {}): Promise<FaceStore> {
    const db = await connectData(uri, storage);
    const table = await openTable(db, FACES_TABLE, faceSchema(dim), 'vector');
    await ensureScalarIndex(table, 'user');
    return new FaceStore(db, table, dim);
  }

  close(): void {
    this.table.close();
    this.db.close();
  }

  /** Writes faces that become visible once their concept row is saved at `version` (ConceptStore.saveConcepts). */
  async add(scope: Scope, version: number, faces: FaceRecord[]): Promise<void> {
    if (faces.length === 0) return;
    const at = Date.now();
    const data = tableOf(
      faceSchema(this.dim),
      {
        tenant: faces.map(() => scope.tenant),
        user: faces.map(() => scope.user),
        concept_id: faces.map((f) => f.conceptId),
        photo: faces.map((f) => f.photo),
        box: faces.map((f) => f.box),
        vector: faces.map((f) => f.vector),
        concept_version: faces.map(() => version),
        written_at_ms: faces.map(() => at),
      },
      faces.length,
    );
    await withCommitRetry(() => this.table.add(data));
  }

  /** The user's faces of the concepts in `versions` (id -> committed version), written at or below that version. */
  async load(scope: Scope, versions: ReadonlyMap<string, number>): Promise<FaceRecord[]> {
    if (versions.size === 0) return [];
    const t = await this.table.query().where(scopeWhere(scope)).select(COLUMNS).limit(ROW_CAP).toArrow();
    if (t.numRows === 0) return [];
    const [id, photo, box, vector, version] = COLUMNS.map((c) => t.getChild(c)!);
    const faces: FaceRecord[] = [];
    for (let i = 0; i < t.numRows; i++) {
      const live = versions.get(id.get(i));
      if (live === undefined || live < version.get(i)) continue;
      faces.push({
        conceptId: id.get(i),
        photo: photo.get(i),
        box: Array.from((box.get(i) as Vector).toArray() as Float64Array) as Box,
        vector: Float32Array.from((vector.get(i) as Vector).toArray() as Float32Array),
      });
    }
    return faces;
  }

  /** Every face vector of one concept. */
  async deleteConcept(scope: Scope, conceptId: string): Promise<void> {
    await withCommitRetry(() => this.table.delete(and(scopeWhere(scope), eq('concept_id', conceptId))));
  }

  /** Every face vector of one user. */
  async deleteUser(scope: Scope): Promise<void> {
    await withCommitRetry(() => this.table.delete(scopeWhere(scope)));
  }

  /** Rows of the user in the table, visible or not (tests check that deletions leave none). */
  async count(scope: Scope): Promise<number> {
    return this.table.countRows(scopeWhere(scope));
  }
}
