/**
 * Concept-store benchmark at scale: bulk-loads N random 1280-d views (clustered per user) over M users into a
 * temporary store, builds the scalar index, then times user-scoped cosine searches, `loadUser` reads and
 * saves/deletes of one concept.
 *
 *   npx tsx scripts/bench-store.ts [--views 1000000] [--users 100000] [--queries 200] [--batch 50000] [--dim 1280]
 * [--tenant-index]
 *
 * Data goes through the store's own arrow conversions straight into the tables (a million saves would
 * measure commits, not reads), in batches, so memory stays at a few hundred MB whatever N is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as lancedb from '@lancedb/lancedb';
import { ConceptStore, type ConceptRecord, type ViewRecord } from '../concepts/storage/store.js';
import { scopeWhere } from '../concepts/storage/sql.js';
import {
  CONCEPTS_TABLE,
  conceptsToArrow,
  ensureScalarIndexes,
  type StoredView,
  VIEWS_TABLE,
  viewsToArrow,
} from '../concepts/storage/store-records.js';
import type { Scope } from '../concepts/types.js';

export interface BenchOptions {
  views: number;
  users: number;
  dim?: number;
  queries?: number;
  batch?: number;
  /** Also build a BITMAP index on `tenant`, to compare. */
  tenantIndex?: boolean;
  log?: (line: string) => void;
}

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface BenchFigures {
  views: number;
  users: number;
  dim: number;
  /** The scalar indexes in place, and whether the search plan uses one. */
  indexes: string[];
  planUsesIndex: boolean;
  loadSeconds: number;
  indexSeconds: number;
  /** `ConceptStore.open` on the loaded store; includes the orphan sweep, which is timed alone too. */
  openSeconds: number;
  sweepSeconds: number;
  /** `searchViews` (search + the user's concept versions, in parallel), k = 10, ms. */
  search: Percentiles;
  /** One prefiltered LanceDB vector query, as the store issues it, ms. */
  rawSearch: Percentiles;
  loadUser: Percentiles;
  loadUserRows: number;
  /** `saveConcepts` of one new concept with 10 views, and `deleteConcept`, at this table size, ms. */
  save: Percentiles;
  delete: Percentiles;
}

const TENANTS = 10;
const WRITES_TIMED = 20;

/** A fast seeded generator of floats in [-0.5, 0.5). */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  };
}

const scopeOf = (u: number): Scope => ({ tenant: `tenant${u % TENANTS}`, user: `user${u}` });

/** Each user's views scatter around the user's own centre, so a user's nearest views are meaningful. */
function userVector(u: number, dim: number, noise: () => number, out = new Float32Array(dim)): Float32Array {
  const centre = xorshift(u * 2654435761 + 1);
  for (let k = 0; k < dim; k++) out[k] = centre() + 0.5 * noise();
  return out;
}

function conceptRecord(u: number, id: string, dim: number, rnd: () => number): ConceptRecord {
  const now = new Date().toISOString();
  return {
    ...scopeOf(u),
    id,
    name: id,
    nameKey: id,
    category: 'object',
    description: '',
    headWeights: Float32Array.from({ length: dim }, rnd),
    headBias: rnd(),
    threshold: 0.5,
    nameThreshold: 0.6,
    imageCount: 3,
    negativeCount: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
    encoder: 'bench',
    draftPhotos: 0,
    quality: '',
  };
}

function percentiles(ms: number[]): Percentiles {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99) };
}

async function timed(times: number[], run: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await run();
  times.push(performance.now() - t);
}

export async function benchStore(options: BenchOptions): Promise<BenchFigures> {
  const {
    views,
    users,
    dim = 1280,
    queries = 200,
    batch = 50_000,
    tenantIndex = false,
    log = () => undefined,
  } = options;
  const dir = await mkdtemp(join(tmpdir(), 'nomen-bench-store-'));
  const rnd = xorshift(12345);
  try {
    (await ConceptStore.open(dir, dim)).close(); // creates the empty tables
    const db = await lancedb.connect(dir);
    const conceptsTable = await db.openTable(CONCEPTS_TABLE);
    const viewsTable = await db.openTable(VIEWS_TABLE);

    // Old enough that the sweep at open inspects every row: its worst case.
    const writtenAtMs = Date.now() - 24 * 3_600_000;
    let t = performance.now();
    for (let first = 0; first < users; first += batch) {
      const records = Array.from({ length: Math.min(batch, users - first) }, (_, i) =>
        conceptRecord(first + i, `c${first + i}`, dim, rnd),
      );
      await conceptsTable.add(conceptsToArrow(records, dim));
    }
    for (let first = 0; first < views; first += batch) {
      const n = Math.min(batch, views - first);
      const flat = new Float32Array(n * dim);
      const rows: StoredView[] = Array.from({ length: n }, (_, i) => {
        const u = (first + i) % users;
        return {
          ...scopeOf(u),
          conceptId: `c${u}`,
          kind: 'positive',
          vector: userVector(u, dim, rnd, flat.subarray(i * dim, (i + 1) * dim)),
          photo: Math.floor((first + i) / users) % 3,
          box: [0, 0, 1, 1],
          variant: 'whole',
          conceptVersion: 1,
          writeId: 'bench',
          writtenAtMs,
        };
      });
      await viewsTable.add(viewsToArrow(rows, dim));
      log(
        `loaded ${first + n} views (${((performance.now() - t) / 1000).toFixed(0)} s, rss ` +
          `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB)`,
      );
    }
    const loadSeconds = (performance.now() - t) / 1000;

    t = performance.now();
    await ensureScalarIndexes(conceptsTable);
    await ensureScalarIndexes(viewsTable);
    if (tenantIndex)
      for (const table of [conceptsTable, viewsTable])
        await table.createIndex('tenant', { config: lancedb.Index.bitmap() });
    const indexSeconds = (performance.now() - t) / 1000;
    const indexes = (await viewsTable.listIndices()).map((i) => `${i.indexType}(${i.columns.join(',')})`);
    log(`indexes ${indexes.join(' ')} built in ${indexSeconds.toFixed(1)} s`);

    t = performance.now();
    const store = await ConceptStore.open(dir, dim);
    const openSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await store.sweepOrphans();
    const sweepSeconds = (performance.now() - t) / 1000;
    log(`open ${openSeconds.toFixed(1)} s, sweep ${sweepSeconds.toFixed(1)} s`);

    const sample = Array.from({ length: queries }, () => Math.floor((rnd() + 0.5) * users));
    const probe = (u: number) => userVector(u, dim, rnd);
    const raw = (u: number) =>
      viewsTable
        .vectorSearch(probe(u))
        .distanceType('cosine')
        .where(scopeWhere(scopeOf(u)))
        .limit(10);
    const plan = await raw(sample[0]).explainPlan();
    for (const u of sample.slice(0, 20)) await store.searchViews(scopeOf(u), probe(u), 10); // warm-up

    const times = {
      search: [] as number[],
      raw: [] as number[],
      load: [] as number[],
      save: [] as number[],
      delete: [] as number[],
    };
    let rows = 0;
    for (const u of sample) await timed(times.search, () => store.searchViews(scopeOf(u), probe(u), 10));
    for (const u of sample) await timed(times.raw, () => raw(u).toArray());
    for (const u of sample)
      await timed(times.load, async () => {
        rows += (await store.loadUser(scopeOf(u))).views.length;
      });
    for (const u of sample.slice(0, WRITES_TIMED)) {
      const scope = scopeOf(u);
      const views: ViewRecord[] = Array.from({ length: 10 }, (_, i) => ({
        ...scope,
        conceptId: 'fresh',
        kind: 'positive',
        vector: probe(u),
        photo: i % 3,
        box: [0, 0, 1, 1],
        variant: 'whole',
      }));
      await timed(times.save, () => store.saveConcepts(scope, [conceptRecord(u, 'fresh', dim, rnd)], views));
      await timed(times.delete, () => store.deleteConcept(scope, 'fresh'));
    }
    store.close();
    db.close();
    return {
      views,
      users,
      dim,
      indexes,
      planUsesIndex: /ScalarIndexQuery|MaterializeIndex/.test(plan),
      loadSeconds: Math.round(loadSeconds),
      indexSeconds: Math.round(indexSeconds * 10) / 10,
      openSeconds: Math.round(openSeconds * 10) / 10,
      sweepSeconds: Math.round(sweepSeconds * 10) / 10,
      search: percentiles(times.search),
      rawSearch: percentiles(times.raw),
      loadUser: percentiles(times.load),
      loadUserRows: rows / sample.length,
      save: percentiles(times.save),
      delete: percentiles(times.delete),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const figures = await benchStore({
    views: flag(args, 'views', 1_000_000),
    users: flag(args, 'users', 100_000),
    dim: flag(args, 'dim', 1280),
    queries: flag(args, 'queries', 200),
    batch: flag(args, 'batch', 50_000),
    tenantIndex: args.includes('--tenant-index'),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(figures, null, 2));
}
