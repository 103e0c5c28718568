/**
 * Concept heads: a linear scorer per concept, trained as weighted kernel ridge regression (a least-squares
 * SVM) on a pool of embeddings. In the dual, training is one inverse of an examples×examples matrix, and
 * that inverse gives, with no retraining, the exact head trained without any group of examples: without
 * one of the concept's photos, or without another concept, for honest threshold calibration.
 */
import type { LinearAlgebra, Matrix } from '../../models/types.js';
import { solveSmall } from './linalg.js';
import { matrixRow, stack } from '../matrix.js';

export interface Head {
  weights: Float32Array;
  bias: number;
}

/** One training example: a row of the pool, its label, its weight, and the group it is held out with ('' = never). */
export interface Example {
  row: number;
  label: 1 | -1;
  weight: number;
  group: string;
}

export interface HeadFit {
  examples: Example[];
  /** Dual coefficients, one per example: the head is w = Σ aᵢ xᵢ, b = Σ aᵢ. */
  coef: Float64Array;
  /** The coefficients of the head trained without one group's examples (the full head for unknown groups). */
  without(group: string): Float64Array;
}

/** Combines pool rows with dual coefficients into a primal head (the kernel's +1 is the bias). */
export function primal(pool: Matrix, examples: Example[], coef: Float64Array): Head {
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
 * The head's outputs on columns [from, to) of `cross` (pool rows × targets, the dot products of every pool
 * row with every target vector): no primal weights needed. Row by row, so that memory is read in order.
 */
export function dualOutputs(
  examples: Example[],
  coef: Float64Array,
  cross: Matrix,
  from: number,
  to: number,
): Float64Array {
  const out = new Float64Array(to - from);
  let bias = 0;
  for (let i = 0; i < examples.length; i++) {
    const c = coef[i];
    if (c === 0) continue;
    bias += c;
    const at = examples[i].row * cross.cols;
    for (let k = from; k < to; k++) out[k - from] += c * cross.data[at + k];
  }
  for (let k = 0; k < out.length; k++) out[k] += bias;
  return out;
}

/**
 * Fits one head per example set, with one batched inverse. `lambda` is the ridge strength relative to the
 * example weights, which should sum to about 1. The sets' Gram blocks come from one product of the whole
 * pool while that is at most `gramBytes`, else from one product per set: the whole pool's grows with the
 * square of a user's views (144 MB at 100 concepts), the sets' only linearly.
 */
export async function fitHeads(
  pool: Matrix,
  sets: Example[][],
  lambda: number,
  algebra: LinearAlgebra,
  gramBytes = 16 << 20,
): Promise<HeadFit[]> {
  const whole = pool.rows * pool.rows * 4 <= gramBytes ? (await algebra.mulTransposed(pool, pool)).data : undefined;
  const systems: Matrix[] = [];
  for (const examples of sets) {
    const n = examples.length;
    const at = Int32Array.from(examples, (e) => e.row);
    let a: Float32Array;
    if (whole) {
      a = new Float32Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = whole[at[i] * pool.rows + at[j]];
    } else {
      const rows = stack(
        Array.from(at, (r) => matrixRow(pool, r)),
        pool.cols,
      );
      a = (await algebra.mulTransposed(rows, rows)).data;
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i * n + j] += 1;
      a[i * n + i] += lambda / examples[i].weight;
    }
    systems.push({ data: a, rows: n, cols: n });
  }
  const inverses = await algebra.inverse(systems);
  return sets.map((examples, k) => fromInverse(examples, inverses[k].data));
}

/** The head's coefficients from the inverse system matrix `h`, and the exact heads without each group. */
function fromInverse(examples: Example[], h: Float32Array): HeadFit {
  const n = examples.length;
  const coef = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += h[i * n + j] * examples[j].label;
    coef[i] = s;
  }
  const groups = new Map<string, number[]>();
  examples.forEach((e, i) => {
    if (!e.group) return;
    const members = groups.get(e.group);
    if (members) members.push(i);
    else groups.set(e.group, [i]);
  });
  const cache = new Map<string, Float64Array>();
  const without = (group: string): Float64Array => {
    const hit = cache.get(group);
    if (hit) return hit;
    const members = groups.get(group) ?? [];
    if (members.length === 0 || members.length === n) return coef;
    // Removing a block S from a ridge system: a₋ₛ = a − H[:,S]·H[S,S]⁻¹·a[S], H the inverse system matrix.
    const k = members.length;
    const hss = new Float64Array(k * k);
    for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) hss[r * k + c] = h[members[r] * n + members[c]];
    const t = solveSmall(
      hss,
      k,
      Float64Array.from(members, (s) => coef[s]),
    );
    const reduced = Float64Array.from(coef);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += h[i * n + members[c]] * t[c];
      reduced[i] -= s;
    }
    for (const s of members) reduced[s] = 0;
    cache.set(group, reduced);
    return reduced;
  };
  return { examples, coef, without };
}
