/**
 * Trains every head of one user at once: each concept's positives against the user's other concepts (same
 * category weighted up), its own negative photos and backgrounds, and the nearest vectors of a generic
 * negative bank; then calibrates each threshold on leave-one-photo-out scores of whole region sets.
 */
import type { MatMul, Matrix } from '../models/types.js';
import { fitHead, headOutput, type Example, type Head } from './heads.js';
import type { ViewKind } from './types.js';

export interface TrainingView {
  kind: ViewKind;
  photo: number;
  vector: Float32Array;
}

export interface TrainingConcept {
  id: string;
  category: string;
  views: TrainingView[];
}

export interface TrainedHead {
  head: Head;
  /** Decision threshold on the raw head output. */
  cut: number;
}

export interface TrainingOptions {
  lambda: number;
  maxNegatives: number;
  bankPerConcept: number;
  sameCategoryWeight: number;
}

export const defaultTrainingOptions: TrainingOptions = {
  lambda: 0.02,
  maxNegatives: 256,
  bankPerConcept: 32,
  sameCategoryWeight: 2,
};

function stack(vectors: Float32Array[], dim: number): Matrix {
  const data = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => data.set(v, i * dim));
  return { data, rows: vectors.length, cols: dim };
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

/** Best raw head output over the regions of each photo: what recognition would see for that photo. */
function photoScores(head: Head, views: TrainingView[]): Map<number, number> {
  const best = new Map<number, number>();
  for (const v of views) {
    const s = headOutput(head, v.vector);
    if (s > (best.get(v.photo) ?? -Infinity)) best.set(v.photo, s);
  }
  return best;
}

/**
 * The cut between positive and negative scores. Held-out positives are pessimistic and negatives that were
 * in training are optimistic, so with a clean gap the middle is fair; with overlap, the best balanced accuracy.
 */
export function chooseCut(positives: number[], negatives: number[]): number {
  if (positives.length === 0) return 0;
  if (negatives.length === 0) return Math.min(0, Math.min(...positives) / 2);
  const lowPos = Math.min(...positives);
  const highNeg = Math.max(...negatives);
  if (lowPos > highNeg) return (lowPos + highNeg) / 2;
  const points = [...new Set([...positives, ...negatives])].sort((a, b) => a - b);
  let best = 0;
  let bestCut = 0;
  for (let i = 0; i < points.length - 1; i++) {
    const cut = (points[i] + points[i + 1]) / 2;
    const tpr = positives.filter((p) => p >= cut).length / positives.length;
    const tnr = negatives.filter((n) => n < cut).length / negatives.length;
    if (tpr + tnr > best) {
      best = tpr + tnr;
      bestCut = cut;
    }
  }
  return bestCut;
}

export async function trainHeads(
  concepts: TrainingConcept[],
  bank: Matrix,
  matmul: MatMul,
  dim: number,
  options: TrainingOptions = defaultTrainingOptions,
): Promise<Map<string, TrainedHead>> {
  const result = new Map<string, TrainedHead>();
  if (concepts.length === 0) return result;
  const positives = concepts.map((c) => c.views.filter((v) => v.kind === 'positive'));
  const protos = stack(positives.map((p) => prototype(p, dim)), dim);

  // Pool rows: every trainable view of the user, then the bank vectors nearest to any concept.
  const pool: Float32Array[] = [];
  const owner: number[] = [];
  const kinds: ViewKind[] = [];
  const photos: number[] = [];
  concepts.forEach((c, ci) =>
    c.views.forEach((v) => {
      if (v.kind === 'probe') return;
      pool.push(v.vector);
      owner.push(ci);
      kinds.push(v.kind);
      photos.push(v.photo);
    }),
  );
  const bankRows = new Map<number, number[]>();
  if (bank.rows > 0 && options.bankPerConcept > 0) {
    const sims = await matmul.mulTransposed(protos, bank);
    for (let ci = 0; ci < concepts.length; ci++) {
      const order = Array.from({ length: bank.rows }, (_, j) => j).sort((a, b) => sims.data[ci * bank.rows + b] - sims.data[ci * bank.rows + a]);
      bankRows.set(ci, order.slice(0, options.bankPerConcept));
    }
  }
  const bankIndex = new Map<number, number>();
  for (const rows of bankRows.values())
    for (const j of rows)
      if (!bankIndex.has(j)) {
        bankIndex.set(j, pool.length);
        pool.push(bank.data.subarray(j * dim, (j + 1) * dim));
        owner.push(-1);
        kinds.push('negative');
        photos.push(-1);
      }
  const poolMatrix = stack(pool, dim);
  const gram = (await matmul.mulTransposed(poolMatrix, poolMatrix)).data;
  const closeness = (await matmul.mulTransposed(protos, poolMatrix)).data;

  concepts.forEach((c, ci) => {
    const own = positives[ci];
    if (own.length === 0) return;
    const examples: Example[] = [];
    const negatives: { row: number; weight: number; hardness: number; keep: boolean }[] = [];
    for (let row = 0; row < pool.length; row++) {
      const o = owner[row];
      if (o === ci) {
        if (kinds[row] === 'positive') examples.push({ row, label: 1, weight: 0, group: photos[row] });
        else negatives.push({ row, weight: 1, hardness: closeness[ci * pool.length + row], keep: kinds[row] === 'negative' });
      } else if (o >= 0 && kinds[row] === 'positive') {
        const same = concepts[o].category !== '' && concepts[o].category.toLowerCase() === c.category.toLowerCase();
        negatives.push({ row, weight: same ? options.sameCategoryWeight : 1, hardness: closeness[ci * pool.length + row], keep: false });
      }
    }
    for (const j of bankRows.get(ci) ?? []) negatives.push({ row: bankIndex.get(j)!, weight: 1, hardness: -Infinity, keep: true });
    negatives.sort((a, b) => Number(b.keep) - Number(a.keep) || b.hardness - a.hardness);
    const chosen = negatives.slice(0, Math.max(options.maxNegatives, negatives.filter((n) => n.keep).length));
    const posWeight = 0.5 / examples.length;
    for (const e of examples) e.weight = posWeight;
    const negTotal = chosen.reduce((s, n) => s + n.weight, 0);
    for (const n of chosen) examples.push({ row: n.row, label: -1, weight: (0.5 * n.weight) / negTotal, group: -1 });

    const ownPhotos = [...new Set(own.map((v) => v.photo))];
    const fit = fitHead(poolMatrix, gram, examples, options.lambda, ownPhotos.length > 1 ? ownPhotos : []);
    const probes = c.views.filter((v) => v.kind === 'probe');
    const posScores = ownPhotos.map((photo) => {
      const head = fit.heldOut.get(photo) ?? fit.head;
      return Math.max(...probes.filter((v) => v.photo === photo).map((v) => headOutput(head, v.vector)), -Infinity);
    }).filter(Number.isFinite);
    const negScores: number[] = [];
    concepts.forEach((other, oi) => {
      if (oi === ci) return;
      negScores.push(...photoScores(fit.head, other.views.filter((v) => v.kind === 'probe')).values());
    });
    negScores.push(...photoScores(fit.head, c.views.filter((v) => v.kind === 'negative')).values());
    result.set(c.id, { head: fit.head, cut: chooseCut(posScores, negScores) });
  });
  return result;
}
