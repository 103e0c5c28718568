import type { Matrix } from '../models/types.js';

/** Rows of `dim` floats stacked into one matrix, for a single product against every head or every pool row. */
export function stack(vectors: Float32Array[], dim: number): Matrix {
  const data = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => data.set(v, i * dim));
  return { data, rows: vectors.length, cols: dim };
}

/** Row `r` of `m`, a view on its data. */
export const matrixRow = (m: Matrix, r: number): Float32Array => m.data.subarray(r * m.cols, (r + 1) * m.cols);

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}

/** The rows of every matrix in order, in one allocation. */
export function concatRows(ms: Matrix[]): Matrix {
  const data = new Float32Array(ms.reduce((n, m) => n + m.data.length, 0));
  let at = 0;
  for (const m of ms) {
    data.set(m.data, at);
    at += m.data.length;
  }
  return { data, rows: ms.reduce((n, m) => n + m.rows, 0), cols: ms[0].cols };
}
