/**
 * Concept heads: a linear scorer per concept, trained as weighted kernel ridge regression (a least-squares
 * SVM) on a pool of embeddings. The dual form makes training one small Cholesky solve, and gives every
 * leave-one-photo-out head exactly, with no retraining, for threshold calibration.
 */
import type { Matrix } from '../models/types.js';
import { cholesky, choleskySolve, solveSmall } from './linalg.js';

export interface Head {
  weights: Float32Array;
  bias: number;
}

/** One training example: a row of the pool, its label, its weight, and the photo it came from (-1 = none). */
export interface Example {
  row: number;
  label: 1 | -1;
  weight: number;
  group: number;
}

export interface HeadFit {
  head: Head;
  /** For each requested photo, the head trained without that photo's examples. */
  heldOut: Map<number, Head>;
}

/** Combines pool rows with dual coefficients into a primal head: w = Σ aᵢ xᵢ, b = Σ aᵢ (the kernel's +1). */
function primal(pool: Matrix, examples: Example[], coef: Float64Array): Head {
  const d = pool.cols;
  const w = new Float64Array(d);
  let bias = 0;
  for (let i = 0; i < examples.length; i++) {
    const c = coef[i];
    if (c === 0) continue;
    bias += c;
    const off = examples[i].row * d;
    for (let k = 0; k < d; k++) w[k] += c * pool.data[off + k];
  }
  return { weights: Float32Array.from(w), bias };
}

/**
 * Fits one head. `gram` is pool·poolᵀ (pool.rows²); `lambda` is the ridge strength relative to the example
 * weights, which should sum to about 1.
 */
export function fitHead(pool: Matrix, gram: Float32Array, examples: Example[], lambda: number, holdOut: number[] = []): HeadFit {
  const n = examples.length;
  const m = pool.rows;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = examples[i].row * m;
    for (let j = 0; j <= i; j++) {
      const v = gram[ri + examples[j].row] + 1;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
    a[i * n + i] += lambda / examples[i].weight;
  }
  cholesky(a, n);
  const coef = choleskySolve(a, n, Float64Array.from(examples, (e) => e.label));
  const heldOut = new Map<number, Head>();
  for (const group of holdOut) {
    const members = examples.flatMap((e, i) => (e.group === group ? [i] : []));
    if (members.length === 0 || members.length === n) continue;
    // Removing a block S from a ridge system: a₋ₛ = a − H[:,S] · H[S,S]⁻¹ · a[S], with H the inverse system matrix.
    const columns = members.map((s) => {
      const e = new Float64Array(n);
      e[s] = 1;
      return choleskySolve(a, n, e);
    });
    const k = members.length;
    const hss = new Float64Array(k * k);
    for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) hss[r * k + c] = columns[c][members[r]];
    const t = solveSmall(hss, k, Float64Array.from(members, (s) => coef[s]));
    const reduced = Float64Array.from(coef);
    for (let c = 0; c < k; c++) for (let i = 0; i < n; i++) reduced[i] -= columns[c][i] * t[c];
    for (const s of members) reduced[s] = 0;
    heldOut.set(group, primal(pool, examples, reduced));
  }
  return { head: primal(pool, examples, coef), heldOut };
}

/** The head's raw output on one vector. */
export function headOutput(head: Head, v: Float32Array, offset = 0): number {
  let s = head.bias;
  const w = head.weights;
  for (let k = 0; k < w.length; k++) s += w[k] * v[offset + k];
  return s;
}
