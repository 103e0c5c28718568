/**
 * The concept store: concept rows (head, threshold, metadata) and their views (embedding vectors) in embedded
 * LanceDB, reference crops in a blob store beside the tables.
 *
 * Write order makes one commit the moment a save or delete happens, so a crash never shows half a concept:
 * - save: views (invisible until their concept row exists with their version), then crops and uploaded
 *   originals, then ONE mergeInsert of every given concept row: the commit point.
 * - delete: the concept row(s) first (the commit point), then crops, then views. Views go last because they
 *   are the trace from which `sweepOrphans` finds what a crash left behind, crops included.
 */
import { randomUUID } from 'node:crypto';
import type * as lancedb from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import { checkId, conceptPrefix, cropKey, originalKey, userPrefix } from './blob-keys.js';
import { type BlobStore, blobStoreBeside } from './blob-store.js';
import { withCommitRetry } from './commit-retry.js';
import { connectData, type ObjectStorage } from './object-storage.js';
import { sweepOrphans } from './orphans.js';
import { checkSave } from './save-checks.js';
import { and, eq, greaterThan, or, scopeWhere } from './sql.js';
import { openTable } from './tables.js';
import {
  CONCEPTS_TABLE,
  type ConceptRecord,
  conceptSchema,
  conceptsFromArrow,
  conceptsToArrow,
  DIM_COLUMN,
  ensureScalarIndexes,
  type StoredView,
  USER_ROW_CAP,
  VIEW_READ_COLUMNS,
  type ViewRecord,
  viewSchema,
  viewsFromArrow,
  viewsToArrow,
  VIEWS_TABLE,
} from './store-records.js';
import type { Scope } from '../types.js';

export type { ConceptRecord, ViewRecord } from './store-records.js';

export interface CropInput {
  conceptId: string;
  photo: number;
  jpeg: Uint8Array;
}

/** A photo as it was uploaded, kept until the background refinement of its views has read it. */
export interface OriginalInput {
  conceptId: string;
  photo: number;
  bytes: Uint8Array;
}

export interface ViewMatch {
  view: ViewRecord;
  /** Cosine distance, 1 - cosine similarity. */
  distance: number;
}

/** Rows younger than this may belong to a save still in flight, so the sweep leaves them. */
const SWEEP_GRACE_MS = 10 * 60_000;
/** Versions older than this are removed by `compact`. */
const KEEP_VERSIONS_MS = 60 * 60_000;
export class ConceptStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly concepts: Table,
    private readonly views: Table,
    private readonly crops: BlobStore,
    readonly dim: number,
  ) {}

  /** Opens (creating if absent) the store at `uri`, a folder or an object-storage URI, for `dim`-d vectors. */
  static async open(uri: string, dim: number, storage: ObjectStorage = {}): Promise<ConceptStore> {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`bad vector dimension: ${dim}`);
    const db = await connectData(uri, storage);
    // Stores written before naming had its own threshold name at the present one; before drafts, none; before the
    // region bank, no quality.
    const concepts = await openTable(db, CONCEPTS_TABLE, conceptSchema(dim), DIM_COLUMN[CONCEPTS_TABLE], {
      name_threshold: 'threshold',
      draft_photos: 'CAST(0 AS INT)',
      quality: "''",
    });
    const views = await openTable(db, VIEWS_TABLE, viewSchema(dim), DIM_COLUMN[VIEWS_TABLE]);
    const store = new ConceptStore(db, concepts, views, blobStoreBeside(uri, 'crops', storage), dim);
    await ensureScalarIndexes(concepts);
    await ensureScalarIndexes(views);
    await store.sweepOrphans();
    return store;
  }

  close(): void {
    this.concepts.close();
    this.views.close();
    this.db.close();
    this.crops.close();
  }

  /** Changes whenever concept rows change, in this process or another sharing the data. */
  async conceptsVersion(): Promise<number> {
    return this.concepts.version();
  }

  /**
   * Saves concept rows (new, or updated: e.g. every head of the user retrained at once) with the views,
   * crops and originals that are new in this save. Every view, crop and original must belong to one of
   * `records`; a crop or original must match a new view's photo, so that the sweep can find it from the views.
   * On failure, what this call wrote is removed again where possible (a crop or original that replaced one of the same
   * photo stays); anything left is invisible and swept later.
   */
  async saveConcepts(
    scope: Scope,
    records: ConceptRecord[],
    newViews: ViewRecord[],
    crops: CropInput[] = [],
    originals: OriginalInput[] = [],
  ): Promise<void> {
    const versions = checkSave(this.dim, scope, records, newViews, [...crops, ...originals]);
    if (records.length === 0) return;
    const writeId = randomUUID();
    const written: string[] = [];
    const blobs = [
      ...crops.map((c) => ({ key: cropKey(scope, c.conceptId, c.photo), bytes: c.jpeg })),
      ...originals.map((o) => ({ key: originalKey(scope, o.conceptId, o.photo), bytes: o.bytes })),
    ];
    // Asked while the views are written; the user's commit lock keeps the answers true until the puts.
    const existing = Promise.all(blobs.map((b) => this.crops.has(b.key)));
    existing.catch(() => undefined);
    try {
      if (newViews.length > 0) {
        const writtenAtMs = Date.now();
        const rows: StoredView[] = newViews.map((v) => ({
          ...v,
          conceptVersion: versions.get(v.conceptId)!,
          writeId,
          writtenAtMs,
        }));
        const data = viewsToArrow(rows, this.dim);
        await withCommitRetry(() => this.views.add(data));
      }
      // A key that exists is an earlier save's crop or original of that photo: a failure overwrites, never removes it.
      const existed = await existing;
      written.push(...blobs.filter((_, i) => !existed[i]).map((b) => b.key));
      // All settled before a failure is thrown: the undo must not race a put still in flight.
      const puts = await Promise.allSettled(blobs.map(({ key, bytes }) => this.crops.put(key, bytes)));
      const failed = puts.find((p) => p.status === 'rejected');
      if (failed) throw failed.reason;
      const data = conceptsToArrow(records, this.dim);
      await withCommitRetry(() =>
        this.concepts
          .mergeInsert(['tenant', 'user', 'id'])
          .whenMatchedUpdateAll()
          .whenNotMatchedInsertAll()
          .execute(data),
      );
    } catch (err) {
      await this.undoSave(scope, writeId, written).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes one concept with its views and crops; false if it had no concept row. */
  async deleteConcept(scope: Scope, id: string): Promise<boolean> {
    checkId(id);
    const { numDeletedRows } = await withCommitRetry(() => this.concepts.delete(and(scopeWhere(scope), eq('id', id))));
    await this.crops.deletePrefix(conceptPrefix(scope, id));
    await withCommitRetry(() => this.views.delete(and(scopeWhere(scope), eq('concept_id', id))));
    return numDeletedRows > 0;
  }

  /** Deletes the views of one photo of a concept (a correction taken back); its next save retrains without them. */
  async deleteViews(scope: Scope, conceptId: string, photo: number): Promise<void> {
    checkId(conceptId);
    await withCommitRetry(() =>
      this.views.delete(and(scopeWhere(scope), eq('concept_id', conceptId), eq('photo', photo))),
    );
  }

  /** Deletes every concept, view and crop of one user; returns how many concepts there were. */
  async deleteUser(scope: Scope): Promise<number> {
    const { numDeletedRows } = await withCommitRetry(() => this.concepts.delete(scopeWhere(scope)));
    await this.crops.deletePrefix(userPrefix(scope));
    await withCommitRetry(() => this.views.delete(scopeWhere(scope)));
    return numDeletedRows;
  }

  /** All concepts of a user and their visible views: one query each. */
  async loadUser(scope: Scope): Promise<{ concepts: ConceptRecord[]; views: ViewRecord[] }> {
    const where = scopeWhere(scope);
    const [conceptTable, viewTable] = await Promise.all([
      this.concepts.query().where(where).limit(USER_ROW_CAP).toArrow(),
      this.views.query().where(where).select(VIEW_READ_COLUMNS).limit(USER_ROW_CAP).toArrow(),
    ]);
    if (conceptTable.numRows >= USER_ROW_CAP || viewTable.numRows >= USER_ROW_CAP)
      throw new Error(`user holds more than ${USER_ROW_CAP} rows: reads would be truncated`);
    const concepts = conceptsFromArrow(conceptTable);
    const versions = new Map(concepts.map((c) => [c.id, c.version]));
    return { concepts, views: visible(viewsFromArrow(viewTable), versions) };
  }

  async getConcept(scope: Scope, id: string): Promise<ConceptRecord | undefined> {
    const table = await this.concepts
      .query()
      .where(and(scopeWhere(scope), eq('id', id)))
      .limit(1)
      .toArrow();
    return conceptsFromArrow(table)[0];
  }

  async readCrop(scope: Scope, conceptId: string, photo: number): Promise<Uint8Array | undefined> {
    checkId(conceptId);
    if (!Number.isInteger(photo) || photo < 0) throw new Error(`bad photo index: ${photo}`);
    return this.crops.get(cropKey(scope, conceptId, photo));
  }

  /** A photo as uploaded, kept for the refinement of its concept's views; `undefined` once dropped. */
  async readOriginal(scope: Scope, conceptId: string, photo: number): Promise<Uint8Array | undefined> {
    checkId(conceptId);
    return this.crops.get(originalKey(scope, conceptId, photo));
  }

  /** Drops the uploaded originals of photos 0..count-1, once their views are refined. */
  async dropOriginals(scope: Scope, conceptId: string, count: number): Promise<void> {
    checkId(conceptId);
    for (let photo = 0; photo < count; photo++) await this.crops.delete(originalKey(scope, conceptId, photo));
  }

  /**
   * Every concept, of any user, whose draft views await refinement, or that has no quality: its threshold was set
   * before the region bank, and the user's heads are to be calibrated again.
   */
  async conceptsToRefine(): Promise<{ scope: Scope; id: string }[]> {
    const found: { scope: Scope; id: string }[] = [];
    for await (const batch of this.concepts
      .query()
      .where(or(greaterThan('draft_photos', 0), eq('quality', '')))
      .select(['tenant', 'user', 'id'])) {
      const [tenant, user, id] = ['tenant', 'user', 'id'].map((n) => batch.getChild(n)!);
      for (let i = 0; i < batch.numRows; i++)
        found.push({ scope: { tenant: tenant.get(i), user: user.get(i) }, id: id.get(i) });
    }
    return found;
  }

  /** The user's `k` visible views nearest to `vector` by cosine distance, nearest first. */
  async searchViews(scope: Scope, vector: Float32Array, k: number): Promise<ViewMatch[]> {
    if (vector.length !== this.dim) throw new Error(`query vector has ${vector.length} values, expected ${this.dim}`);
    const versions = this.conceptVersions(scope);
    // Prefiltered: the where picks the user's rows first, then the (flat) search ranks only those.
    for (let fetch = k; ; fetch *= 2) {
      const [hits, live] = await Promise.all([
        this.views
          .vectorSearch(vector)
          .distanceType('cosine')
          .where(scopeWhere(scope))
          .select([...VIEW_READ_COLUMNS, '_distance'])
          .limit(fetch)
          .toArrow(),
        versions,
      ]);
      const distances = hits.getChild('_distance')!;
      const matches = viewsFromArrow(hits)
        .map((view, i) => ({ view, distance: distances.get(i) as number }))
        .filter((m) => (live.get(m.view.conceptId) ?? -1) >= m.view.conceptVersion)
        .map((m) => ({ view: strip(m.view), distance: m.distance }));
      // Hidden (uncommitted) views took places: ask for more until k are found or the user has no more.
      if (matches.length >= k || hits.numRows < fetch) return matches.slice(0, k);
    }
  }

  /**
   * Removes what interrupted saves and deletes left behind (orphans.ts). Only rows older than `olderThanMs` are
   * touched, so saves in flight are safe. Returns the number of view rows removed.
   */
  sweepOrphans({ olderThanMs = SWEEP_GRACE_MS }: { olderThanMs?: number } = {}): Promise<number> {
    return sweepOrphans({ concepts: this.concepts, views: this.views, crops: this.crops }, olderThanMs);
  }

  /**
   * Periodic upkeep: sweep orphans, compact files, fold new rows into the indexes, drop versions older than
   * `keepVersionsMs`.
   */
  async compact({ keepVersionsMs = KEEP_VERSIONS_MS }: { keepVersionsMs?: number } = {}): Promise<void> {
    await this.sweepOrphans();
    for (const table of [this.concepts, this.views]) {
      await withCommitRetry(() => table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }));
      await ensureScalarIndexes(table);
    }
  }

  /** Which concepts of a user are committed, at which version: what a copy of the user in memory must match. */
  async conceptVersions(scope: Scope): Promise<Map<string, number>> {
    const t = await this.concepts
      .query()
      .where(scopeWhere(scope))
      .select(['id', 'version'])
      .limit(USER_ROW_CAP)
      .toArrow();
    const [id, version] = [t.getChild('id')!, t.getChild('version')!];
    return new Map(Array.from({ length: t.numRows }, (_, i) => [id.get(i) as string, version.get(i) as number]));
  }

  /** Best-effort removal of a failed save's views and crops. */
  private async undoSave(scope: Scope, writeId: string, cropKeys: string[]): Promise<void> {
    await Promise.all(cropKeys.map((key) => this.crops.delete(key)));
    await withCommitRetry(() => this.views.delete(and(scopeWhere(scope), eq('write_id', writeId))));
  }
}

/** Views whose concept row is committed at (at least) the version they were saved with. */
function visible(views: (ViewRecord & { conceptVersion: number })[], versions: Map<string, number>): ViewRecord[] {
  return views.filter((v) => (versions.get(v.conceptId) ?? -1) >= v.conceptVersion).map(strip);
}

function strip({ conceptVersion: _, ...view }: ViewRecord & { conceptVersion: number }): ViewRecord {
  return view;
}
