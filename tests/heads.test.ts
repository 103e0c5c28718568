import { describe, expect, it } from 'vitest';
import { fitHead, headOutput, type Example } from '../concepts/heads.js';
import type { Matrix } from '../models/types.js';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function pool(rows: number, cols: number): { pool: Matrix; gram: Float32Array } {
  const rnd = seeded(7);
  const data = new Float32Array(rows * cols).map(() => rnd() - 0.5);
  const gram = new Float32Array(rows * rows);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += data[i * cols + k] * data[j * cols + k];
      gram[i * rows + j] = s;
    }
  return { pool: { data, rows, cols }, gram };
}

describe('fitHead', () => {
  const { pool: p, gram } = pool(40, 64);
  // Rows 0-11 are positives from photos 0..3 (3 views each), the rest negatives.
  const examples: Example[] = Array.from({ length: 40 }, (_, row) =>
    row < 12 ? { row, label: 1, weight: 1 / 24, group: Math.floor(row / 3) } : { row, label: -1, weight: 1 / 56, group: -1 },
  );

  it('separates training data that a hyperplane can separate', () => {
    const { head } = fitHead(p, gram, examples, 1e-3);
    for (const e of examples) expect(Math.sign(headOutput(head, p.data, e.row * p.cols))).toBe(e.label);
  });

  it('gives each held-out head exactly as a refit without that photo', () => {
    const fit = fitHead(p, gram, examples, 1e-2, [0, 2]);
    for (const g of [0, 2]) {
      const refit = fitHead(p, gram, examples.filter((e) => e.group !== g), 1e-2).head;
      const loo = fit.heldOut.get(g)!;
      expect(loo.bias).toBeCloseTo(refit.bias, 6);
      for (let k = 0; k < p.cols; k++) expect(loo.weights[k]).toBeCloseTo(refit.weights[k], 5);
    }
    expect(fit.heldOut.has(1)).toBe(false);
  });
});
