import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseCut, chooseNameCut } from '../concepts/learning/thresholds.js';
import { defaultTrainingOptions, trainHeads, type TrainingConcept } from '../concepts/learning/training.js';
import { dualOutputs, fitHeads, primal, type Example } from '../concepts/learning/heads.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { Matrix } from '../models/types.js';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function randomPool(rows: number, cols: number): { pool: Matrix; gram: Float32Array } {
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

const output = (pool: Matrix, coef: Float64Array, examples: Example[], row: number) => {
  const head = primal(pool, examples, coef);
  let s = head.bias;
  for (let k = 0; k < pool.cols; k++) s += head.weights[k] * pool.data[row * pool.cols + k];
  return s;
};

describe('fitHeads', () => {
  let algebra: OnnxLinearAlgebra;
  beforeAll(async () => {
    algebra = await OnnxLinearAlgebra.open(new ModelThreads());
  });
  afterAll(() => algebra.dispose());

  const { pool, gram } = randomPool(40, 64);
  // Rows 0-11 are positives from photos 0..3 (3 views each); rows 12-39 negatives of two other concepts.
  const examples: Example[] = Array.from({ length: 40 }, (_, row) =>
    row < 12
      ? { row, label: 1, weight: 1 / 24, group: `p:${Math.floor(row / 3)}` }
      : { row, label: -1, weight: 1 / 56, group: row < 26 ? 'c:a' : 'c:b' },
  );

  it('separates training data that a hyperplane can separate', async () => {
    const [fit] = await fitHeads(pool, [examples], 1e-3, algebra);
    for (const e of examples) expect(Math.sign(output(pool, fit.coef, examples, e.row))).toBe(e.label);
  });

  it(
    'gives the head without a group exactly as a refit without it, fitting sets of different sizes in one ' + 'batch',
    async () => {
      const groups = ['p:0', 'p:2', 'c:b'];
      const kept = groups.map((group) => examples.filter((e) => e.group !== group));
      const [fit, ...refits] = await fitHeads(pool, [examples, ...kept], 1e-2, algebra);
      for (const [i, group] of groups.entries()) {
        const a = primal(pool, examples, fit.without(group));
        const b = primal(pool, kept[i], refits[i].coef);
        expect(a.bias).toBeCloseTo(b.bias, 3);
        for (let k = 0; k < pool.cols; k++) expect(a.weights[k]).toBeCloseTo(b.weights[k], 3);
      }
      expect(fit.without('no-such-group')).toBe(fit.coef);
    },
  );

  it('fits the same from per-set Gram blocks as from the whole pool', async () => {
    const sets = [examples, examples.filter((e) => e.group !== 'c:b')];
    const whole = await fitHeads(pool, sets, 1e-2, algebra);
    const perSet = await fitHeads(pool, sets, 1e-2, algebra, 0);
    for (const [k, fit] of whole.entries())
      for (let i = 0; i < fit.coef.length; i++) expect(perSet[k].coef[i]).toBeCloseTo(fit.coef[i], 4);
  });

  it('scores targets in the dual as the primal head does', async () => {
    const [fit] = await fitHeads(pool, [examples], 1e-2, algebra);
    const cross: Matrix = { data: gram, rows: pool.rows, cols: pool.rows };
    const outputs = dualOutputs(examples, fit.coef, cross, 10, 40);
    expect(outputs).toHaveLength(30);
    for (const target of [10, 13, 39])
      expect(outputs[target - 10]).toBeCloseTo(output(pool, fit.coef, examples, target), 4);
  });
});

describe('chooseCut', () => {
  it('cuts a clean gap in the middle, leaving every held-out score on its side', () => {
    expect(chooseCut([0.8, 1.2], [-0.5, 0.2])).toBeCloseTo(0.5, 10);
  });

  it('takes 0, the middle of the labels, for the highest negative when there is none', () => {
    expect(chooseCut([0.6, 0.9], [])).toBeCloseTo(0.3, 10);
    expect(chooseCut([-0.2, 0.9], [])).toBeCloseTo(-0.1, 10);
  });

  it('takes the best F1 over the held-out photos where the scores overlap', () => {
    // At 0.05: every positive and one negative (F1 8/9); at 0.4: 3 of 4 positives and no negative (6/7).
    expect(chooseCut([0.1, 0.5, 0.7, 0.9], [-0.3, 0.3, 0.0])).toBeCloseTo(0.05, 10);
    // Against many negatives that reach the positives, a false alarm costs more than a miss.
    expect(chooseCut([0.1, 0.5, 0.7, 0.9], [-0.3, 0.0, 0.2, 0.25, 0.28, 0.3])).toBeCloseTo(0.4, 10);
  });
});

describe('chooseNameCut', () => {
  it('names only two thirds of the way from the highest negative to the lowest positive', () => {
    expect(chooseNameCut([0.8, 1.2], [-0.4, 0.2], 0.5)).toBeCloseTo(0.6, 10);
    expect(chooseNameCut([0.6, 0.9], [], 0.3)).toBeCloseTo(0.4, 10);
  });

  it('never names at a score a held-out photo of another concept reached', () => {
    // The best F1 keeps every positive and accepts the negative at 0.3 (one of eight); naming does not.
    const positives = [0.2, 0.5, 0.6];
    const negatives = [-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.3];
    const cut = chooseCut(positives, negatives);
    expect(cut).toBeCloseTo(0.15, 10);
    expect(chooseNameCut(positives, negatives, cut)).toBeCloseTo(0.3, 10);
  });

  it('is never below the present cut', () => {
    expect(chooseNameCut([0.6], [0.1], 0.58)).toBe(0.58);
    expect(chooseNameCut([], [0.2], 0)).toBe(0);
  });
});

describe('trainHeads', () => {
  let algebra: OnnxLinearAlgebra;
  beforeAll(async () => {
    algebra = await OnnxLinearAlgebra.open(new ModelThreads());
  });
  afterAll(() => algebra.dispose());

  /** Six concepts of 3 photos, each photo with 4 views near its concept's centre, 3 probes and a background. */
  function user(): TrainingConcept[] {
    const rnd = seeded(11);
    const dim = 32;
    const unit = (v: Float32Array) => v.map((x, _, a) => x / Math.hypot(...a));
    const near = (centre: Float32Array, spread: number) => unit(centre.map((x) => x + spread * (rnd() - 0.5)));
    return Array.from({ length: 6 }, (_, i) => {
      const centre = unit(Float32Array.from({ length: dim }, () => rnd() - 0.5));
      const views = Array.from({ length: 3 }, (_, photo) => [
        ...Array.from({ length: 4 }, () => ({ kind: 'positive' as const, photo, vector: near(centre, 0.6) })),
        ...Array.from({ length: 3 }, () => ({ kind: 'probe' as const, photo, vector: near(centre, 1.5) })),
        { kind: 'background' as const, photo, vector: near(centre, 4) },
      ]).flat();
      return { id: `c${i}`, category: i < 3 ? 'dog' : 'toy', views };
    });
  }
  const bank: Matrix = { data: new Float32Array(0), rows: 0, cols: 32 };

  it('calibrates the same whether the targets are scored in one product or one concept at a time', async () => {
    const whole = await trainHeads(user(), bank, algebra, 32);
    // Room for a single target column: every concept's targets come in a product of their own.
    const piecewise = await trainHeads(user(), bank, algebra, 32, { ...defaultTrainingOptions, crossBytes: 1 });
    expect(whole.size).toBe(6);
    for (const [id, head] of whole) {
      const other = piecewise.get(id)!;
      expect(other.cut).toBeCloseTo(head.cut, 5);
      expect(other.nameCut).toBeCloseTo(head.nameCut, 5);
      expect(Array.from(other.head.weights)).toEqual(Array.from(head.head.weights));
    }
  });
  it("trains one concept's head alone as it trains it among all, and leaves the others out", async () => {
    const withBank: Matrix = {
      data: Float32Array.from({ length: 8 * 32 }, (_, i) => Math.sin(i * i)),
      rows: 8,
      cols: 32,
    };
    // Fewer bank rows per concept than the bank holds: each head must pick its own nearest ones.
    const options = { ...defaultTrainingOptions, bankPerConcept: 3 };
    const all = await trainHeads(user(), withBank, algebra, 32, options);
    const alone = await trainHeads(user(), withBank, algebra, 32, options, new Set(['c4']));
    expect([...alone.keys()]).toEqual(['c4']);
    const [a, b] = [alone.get('c4')!, all.get('c4')!];
    expect(a.cut).toBeCloseTo(b.cut, 4);
    expect(a.nameCut).toBeCloseTo(b.nameCut, 4);
    expect(a.head.bias).toBeCloseTo(b.head.bias, 4);
    a.head.weights.forEach((w, k) => expect(w).toBeCloseTo(b.head.weights[k], 4));
  });
});
