/**
 * The first two phases of training: the pool of vectors the heads train on (every view of the user, then the
 * bank regions nearest to some concept) and, per concept, the examples it trains on, weighted.
 */
import type { LinearAlgebra, Matrix } from '../../models/types.js';
import type { Example } from './heads.js';
import type { ViewKind } from '../types.js';
import { matrixRow, stack } from '../matrix.js';
import type { TrainingConcept, TrainingOptions, TrainingView } from './training.js';

export interface TrainingPool {
  rows: Float32Array[];
  /** `rows` stacked, as the closeness to the prototypes was computed on. */
  matrix: Matrix;
  /** Per row: the index of the concept it belongs to, -1 for bank rows. */
  owner: number[];
  kinds: ViewKind[];
  photos: number[];
  /** Per trainable concept: the pool rows of its nearest bank regions, always among its negatives. */
  bankRows: number[][];
  /** Per trainable concept, per pool row: the row's dot product with the concept's prototype. */
  closeness: Float32Array;
}

function normalised(v: Float64Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return Float32Array.from(v, (x) => x / n);
}

function prototype(views: TrainingView[], dim: number): Float32Array {
  const sum = new Float64Array(dim);
  for (const v of views) for (let k = 0; k < dim; k++) sum[k] += v.vector[k];
  return normalised(sum);
}

/** The `m` rows closest to the concept (highest `closeness[row]`), in pool order: a cut found by one native sort. */
function hardest(rows: number[], closeness: Float32Array, m: number): number[] {
  if (m <= 0) return [];
  if (rows.length <= m) return rows;
  const cutoff = Float32Array.from(rows, (r) => closeness[r]).sort()[rows.length - m];
  const picked = rows.filter((r) => closeness[r] > cutoff);
  for (const r of rows) if (picked.length < m && closeness[r] === cutoff) picked.push(r);
  return picked;
}

/** Every view of the user but the probes, then the bank rows nearest to each trainable concept's prototype. */
export async function trainingPool(
  concepts: TrainingConcept[],
  trainable: number[],
  bank: Matrix,
  algebra: LinearAlgebra,
  dim: number,
  options: TrainingOptions,
): Promise<TrainingPool> {
  const protos = stack(
    trainable.map((ci) =>
      prototype(
        concepts[ci].views.filter((v) => v.kind === 'positive'),
        dim,
      ),
    ),
    dim,
  );
  const pool: Omit<TrainingPool, 'closeness' | 'bankRows' | 'matrix'> = { rows: [], owner: [], kinds: [], photos: [] };
  const add = (vector: Float32Array, owner: number, kind: ViewKind, photo: number) => {
    pool.rows.push(vector);
    pool.owner.push(owner);
    pool.kinds.push(kind);
    pool.photos.push(photo);
  };
  concepts.forEach((c, ci) => c.views.forEach((v) => v.kind !== 'probe' && add(v.vector, ci, v.kind, v.photo)));
  const nearest = bank.rows > 0 && options.bankPerConcept > 0 ? await algebra.mulTransposed(protos, bank) : null;
  const poolRowOf = new Map<number, number>();
  const bankRows = trainable.map((_, at) => {
    if (!nearest) return [];
    const sims = nearest.data.subarray(at * bank.rows, (at + 1) * bank.rows);
    const order = Array.from({ length: bank.rows }, (_, j) => j).sort((a, b) => sims[b] - sims[a]);
    return order.slice(0, options.bankPerConcept).map((j) => {
      if (!poolRowOf.has(j)) {
        poolRowOf.set(j, pool.rows.length);
        add(matrixRow(bank, j), -1, 'negative', -1);
      }
      return poolRowOf.get(j)!;
    });
  });
  const matrix = stack(pool.rows, dim);
  const closeness = (await algebra.mulTransposed(protos, matrix)).data;
  return { ...pool, matrix, bankRows, closeness };
}

/**
 * Per trainable concept: its positives, and as negatives its own negative photos, its bank rows and the pool rows
 * closest to it (backgrounds, other concepts; the same category weighted up). Groups say what a held-out head
 * leaves out: each own photo, each own negative photo, each other concept.
 */
export function exampleSets(
  concepts: TrainingConcept[],
  trainable: number[],
  pool: TrainingPool,
  options: TrainingOptions,
): Example[][] {
  const { owner, kinds, photos } = pool;
  const categories = concepts.map((c) => c.category.toLowerCase());
  return trainable.map((ci, at) => {
    const groupOf = (row: number) => {
      const o = owner[row];
      return o === ci ? `${kinds[row] === 'negative' ? 'n' : 'p'}:${photos[row]}` : o >= 0 ? `c:${o}` : '';
    };
    const sameCategory = (row: number) =>
      owner[row] >= 0 && owner[row] !== ci && categories[ci] !== '' && categories[owner[row]] === categories[ci];
    const weightOf = (row: number) => (sameCategory(row) ? options.sameCategoryWeight : 1);
    const examples: Example[] = [];
    const kept = [...pool.bankRows[at]];
    const rest: number[] = [];
    for (let row = 0; row < pool.rows.length; row++) {
      const o = owner[row];
      if (o === ci) {
        if (kinds[row] === 'positive') examples.push({ row, label: 1, weight: 0, group: groupOf(row) });
        else if (kinds[row] === 'negative') kept.push(row);
        else rest.push(row);
      } else if (o >= 0 && kinds[row] === 'positive') rest.push(row);
    }
    const closeness = pool.closeness.subarray(at * pool.rows.length, (at + 1) * pool.rows.length);
    const chosen = [...kept, ...hardest(rest, closeness, options.maxNegatives - kept.length)];
    const posWeight = 0.5 / examples.length;
    for (const e of examples) e.weight = posWeight;
    const negTotal = chosen.reduce((sum, row) => sum + weightOf(row), 0);
    for (const row of chosen)
      examples.push({ row, label: -1, weight: (0.5 * weightOf(row)) / negTotal, group: groupOf(row) });
    return examples;
  });
}

/**
 * The pool rows some set trains on, as one matrix, with the sets' rows renumbered into it: the pool's own matrix when
 * every row is used (every head trained), not a copy.
 */
export function usedRows(pool: TrainingPool, sets: Example[][], dim: number): Matrix {
  const used = [...new Set(sets.flatMap((examples) => examples.map((e) => e.row)))].sort((a, b) => a - b);
  if (used.length === pool.rows.length) return pool.matrix;
  const usedAt = new Map(used.map((row, i) => [row, i]));
  for (const examples of sets) for (const e of examples) e.row = usedAt.get(e.row)!;
  return stack(
    used.map((row) => pool.rows[row]),
    dim,
  );
}
