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
import { and, eq, greaterThan, lessThan, scopeWhere } from './sql.js';
import { CONCEPTS_TABLE } from './store-records.js';
import { ensureScalarIndex, floats, openTable, tableOf } from './tables.js';
import type { Box, Scope } from '../types.js';

export const FACES_TABLE = 'faces';

/** One face of one example photo of a person concept: the person's, or in a negative photo someone else's. */
export interface FaceRecord {
  conceptId: string;
  negative: boolean;
  /** Index of the example photo the face was found in. */
  photo: number;
  box: Box;
  /** The face's width in pixels of the photo as decoded. */
  width: number;
  vector: Float32Array;
}

const ROW_CAP = 1_000_000;
const COLUMNS = ['concept_id', 'negative', 'photo', 'box', 'width', 'vector', 'concept_version'];
/** Rows younger than this may belong to a save still in flight, so the sweep leaves them. */
const SWEEP_GRACE_MS = 10 * 60_000;
/** Versions older than this are removed by `compact`; deleted faces then leave no trace in the files. */
const KEEP_VERSIONS_MS = 60 * 60_000;

function faceSchema(dim: number): Schema {
  const { Field: F, Schema: S, Utf8, Int32, Float32, Float64 } = arrow;
  return new S([
    new F('tenant', new Utf8(), false),
    new F('user', new Utf8(), false),
    new F('concept_id', new Utf8(), false),
    new F('negative', new Int32(), false),
    new F('photo', new Int32(), false),
    new F('box', floats(4, new Float64()), false),
    new F('width', new Float64(), false),
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
    const store = new FaceStore(db, table, dim);
    await store.sweepOrphans();
    return store;
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
        negative: faces.map((f) => Number(f.negative)),
        photo: faces.map((f) => f.photo),
        box: faces.map((f) => f.box),
        width: faces.map((f) => f.width),
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
    const [id, negative, photo, box, width, vector, version] = COLUMNS.map((c) => t.getChild(c)!);
    const faces: FaceRecord[] = [];
    for (let i = 0; i < t.numRows; i++) {
      const live = versions.get(id.get(i));
      if (live === undefined || live < version.get(i)) continue;
      faces.push({
        conceptId: id.get(i),
        negative: negative.get(i) === 1,
        photo: photo.get(i),
        box: Array.from((box.get(i) as Vector).toArray() as Float64Array) as Box,
        width: width.get(i),
        vector: Float32Array.from((vector.get(i) as Vector).toArray() as Float32Array),
      });
    }
    return faces;
  }

  /**
   * Removes what an interrupted save left: rows, older than the grace period, whose concept row (in the concept
   * store's table of the same database) is missing or older than they are.
   */
  async sweepOrphans(olderThanMs = SWEEP_GRACE_MS): Promise<number> {
    const committed = new Map<string, number>();
    if ((await this.db.tableNames()).includes(CONCEPTS_TABLE)) {
      const concepts = await this.db.openTable(CONCEPTS_TABLE);
      for await (const batch of concepts.query().select(['tenant', 'user', 'id', 'version'])) {
        const [tenant, user, id, version] = ['tenant', 'user', 'id', 'version'].map((n) => batch.getChild(n)!);
        for (let i = 0; i < batch.numRows; i++)
          committed.set(JSON.stringify([tenant.get(i), user.get(i), id.get(i)]), version.get(i));
      }
      concepts.close();
    }
    const columns = ['tenant', 'user', 'concept_id', 'concept_version'];
    const orphans = new Map<string, { scope: Scope; id: string; version: number }>();
    const old = lessThan('written_at_ms', Date.now() - olderThanMs);
    for await (const batch of this.table.query().where(old).select(columns)) {
      const [tenant, user, id, version] = columns.map((c) => batch.getChild(c)!);
      for (let i = 0; i < batch.numRows; i++) {
        const key = JSON.stringify([tenant.get(i), user.get(i), id.get(i)]);
        const live = committed.get(key) ?? -1;
        if (live < version.get(i) && !orphans.has(key))
          orphans.set(key, { scope: { tenant: tenant.get(i), user: user.get(i) }, id: id.get(i), version: live });
      }
    }
    let removed = 0;
    for (const o of orphans.values()) {
      const where = and(scopeWhere(o.scope), eq('concept_id', o.id), greaterThan('concept_version', o.version), old);
      removed += (await withCommitRetry(() => this.table.delete(where))).numDeletedRows;
    }
    return removed;
  }

  /** Periodic upkeep beside the concept store's: sweep orphans, compact files, drop versions older than an hour. */
  async compact(): Promise<void> {
    await this.sweepOrphans();
    await withCommitRetry(() => this.table.optimize({ cleanupOlderThan: new Date(Date.now() - KEEP_VERSIONS_MS) }));
    await ensureScalarIndex(this.table, 'user');
  }

  /** The faces one save wrote for `conceptId` at `version`: undone when its commit failed. */
  async deleteWritten(scope: Scope, conceptId: string, version: number): Promise<void> {
    const where = and(scopeWhere(scope), eq('concept_id', conceptId), eq('concept_version', version));
    await withCommitRetry(() => this.table.delete(where));
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
