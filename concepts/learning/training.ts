/**
 * Trains every head of one user at once: each concept's positives against the user's other concepts (same
 * category weighted up), its own negative photos and backgrounds, and the nearest vectors of a generic
 * negative bank; then calibrates each threshold on leave-one-photo-out scores of whole region sets.
 */
import type { LinearAlgebra, Matrix } from '../../models/types.js';
import { dualOutputs, fitHeads, primal, type Example, type Head } from './heads.js';
import type { ViewKind } from '../types.js';
import { stack } from '../matrix.js';
import { bankPhotoMaxima, type RegionBank } from './region-bank.js';
import { chooseCut, chooseNameCut, openWorldCut } from './thresholds.js';

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
  /** The stricter one at which the concept is named in captions and answers (chooseNameCut). */
  nameCut: number;
  /** Share of the concept's own photos, each scored by the head trained without it, that reach `cut`. */
  heldOutRecall: number;
  /** The raw output that ordinary photos rarely reach (openWorldCut); `cut` is never below it. */
  openCut: number;
}

/** Photos in which no concept appears, and the penalty recognition puts on its scanned windows. */
export interface OpenWorld {
  bank: RegionBank;
  scanPenalty: number;
}

export interface TrainingOptions {
  lambda: number;
  maxNegatives: number;
  bankPerConcept: number;
  sameCategoryWeight: number;
  /** At most this much of the pool-by-targets product at once (calibration), whatever the user's size. */
  crossBytes: number;
  /** How far above the bank photos' mean best output a threshold sits, in their standard deviations (openWorldCut). */
  openWorldZ: number;
}

export const defaultTrainingOptions: TrainingOptions = {
  lambda: 0.02,
  maxNegatives: 256,
  bankPerConcept: 32,
  sameCategoryWeight: 2,
  crossBytes: 16 << 20,
  openWorldZ: 4,
};

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

/** Consecutive concepts grouped so that each group has at most `columns` targets (or is one concept). */
function chunks(ranges: readonly (readonly [number, number])[], columns: number): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let start = 0;
  ranges.forEach(([from, to], o) => {
    if (group.length > 0 && to - start > columns) {
      groups.push(group);
      group = [];
    }
    if (group.length === 0) start = from;
    group.push(o);
  });
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Trains the heads of the concepts in `only` (every concept's by default); the other concepts still serve as
 * negatives and calibration photos. The result holds the heads trained.
 */
export async function trainHeads(
  concepts: TrainingConcept[],
  bank: Matrix,
  algebra: LinearAlgebra,
  dim: number,
  options: TrainingOptions = defaultTrainingOptions,
  only?: ReadonlySet<string>,
  world?: OpenWorld,
): Promise<Map<string, TrainedHead>> {
  const result = new Map<string, TrainedHead>();
  const positives = concepts.map((c) => c.views.filter((v) => v.kind === 'positive'));
  const trainable = concepts.flatMap((c, ci) => (positives[ci].length > 0 && (!only || only.has(c.id)) ? [ci] : []));
  if (trainable.length === 0) return result;
  const protos = stack(
    trainable.map((ci) => prototype(positives[ci], dim)),
    dim,
  );

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
    const sims = await algebra.mulTransposed(protos, bank);
    for (const [at, ci] of trainable.entries()) {
      const order = Array.from({ length: bank.rows }, (_, j) => j).sort(
        (a, b) => sims.data[at * bank.rows + b] - sims.data[at * bank.rows + a],
      );
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
  const allRows = stack(pool, dim);
  const closeness = (await algebra.mulTransposed(protos, allRows)).data;
  // Calibration targets: the region sets of every photo (probes) and the regions of negative photos, each
  // concept's in one range [from, to).
  const targets: { owner: number; view: TrainingView }[] = [];
  const targetRanges = concepts.map((c, ci) => {
    const from = targets.length;
    for (const view of c.views)
      if (view.kind === 'probe' || view.kind === 'negative') targets.push({ owner: ci, view });
    return [from, targets.length] as const;
  });

  const categories = concepts.map((c) => c.category.toLowerCase());
  const sets = trainable.map((ci, at) => {
    // Groups: each own photo (its positives and backgrounds), each own negative photo, each other concept.
    const groupOf = (row: number) => {
      const o = owner[row];
      return o === ci ? `${kinds[row] === 'negative' ? 'n' : 'p'}:${photos[row]}` : o >= 0 ? `c:${o}` : '';
    };
    const sameCategory = (row: number) =>
      owner[row] >= 0 && owner[row] !== ci && categories[ci] !== '' && categories[owner[row]] === categories[ci];
    const weightOf = (row: number) => (sameCategory(row) ? options.sameCategoryWeight : 1);
    const examples: Example[] = [];
    // Always kept: the concept's own negative photos and its bank rows; the rest compete on closeness to it.
    const kept = (bankRows.get(ci) ?? []).map((j) => bankIndex.get(j)!);
    const rest: number[] = [];
    for (let row = 0; row < pool.length; row++) {
      const o = owner[row];
      if (o === ci) {
        if (kinds[row] === 'positive') examples.push({ row, label: 1, weight: 0, group: groupOf(row) });
        else if (kinds[row] === 'negative') kept.push(row);
        else rest.push(row);
      } else if (o >= 0 && kinds[row] === 'positive') rest.push(row);
    }
    const chosen = [
      ...kept,
      ...hardest(
        rest,
        closeness.subarray(at * pool.length, (at + 1) * pool.length),
        options.maxNegatives - kept.length,
      ),
    ];
    const posWeight = 0.5 / examples.length;
    for (const e of examples) e.weight = posWeight;
    const negTotal = chosen.reduce((sum, row) => sum + weightOf(row), 0);
    for (const row of chosen)
      examples.push({ row, label: -1, weight: (0.5 * weightOf(row)) / negTotal, group: groupOf(row) });
    return examples;
  });
  // Only the rows that some head trains on enter the products: all of them when every head is trained.
  const used = [...new Set(sets.flatMap((examples) => examples.map((e) => e.row)))].sort((a, b) => a - b);
  const usedAt = new Map(used.map((row, i) => [row, i]));
  for (const examples of sets) for (const e of examples) e.row = usedAt.get(e.row)!;
  const poolMatrix =
    used.length === pool.length
      ? allRows
      : stack(
          used.map((row) => pool[row]),
          dim,
        );
  const fits = await fitHeads(poolMatrix, sets, options.lambda, algebra);

  // Best output per photo over its regions, from the head trained without that photo (or without that
  // photo's concept): what recognition will see for photos the head has never met.
  const held = trainable.map(() => ({ positive: new Map<number, number>(), negative: [] as number[] }));
  // A lone photo cannot be held out (no positive would remain): it is scored by the full head, optimistically.
  const lone = trainable.map((ci) => new Set(positives[ci].map((v) => v.photo)).size === 1);
  // The pool's products with the targets, a few concepts' targets at a time: whole, they grow with the square of a
  // user's views.
  for (const chunk of chunks(targetRanges, Math.max(1, Math.floor(options.crossBytes / (4 * poolMatrix.rows))))) {
    const base = targetRanges[chunk[0]][0];
    const cross = await algebra.mulTransposed(
      poolMatrix,
      stack(
        targets.slice(base, targetRanges[chunk[chunk.length - 1]][1]).map((t) => t.view.vector),
        dim,
      ),
    );
    for (const o of chunk) {
      // A user with many concepts calibrates for long: requests waiting on the event loop go between concepts.
      await new Promise((resolve) => setImmediate(resolve));
      const [from, to] = targetRanges[o];
      for (const [at, ci] of trainable.entries()) {
        const { examples, without } = fits[at];
        const best = new Map<number, number>();
        if (o !== ci) {
          // Another concept's photos, each scored by the head trained without that concept: one row-major pass.
          const outputs = dualOutputs(examples, without(`c:${o}`), cross, from - base, to - base);
          for (let k = from; k < to; k++)
            best.set(targets[k].view.photo, Math.max(outputs[k - from], best.get(targets[k].view.photo) ?? -Infinity));
        } else {
          for (let k = from; k < to; k++) {
            const { photo, kind } = targets[k].view;
            const [s] = dualOutputs(
              examples,
              without(kind === 'negative' ? `n:${photo}` : lone[at] ? '' : `p:${photo}`),
              cross,
              k - base,
              k - base + 1,
            );
            const into = kind === 'negative' ? best : held[at].positive;
            into.set(photo, Math.max(s, into.get(photo) ?? -Infinity));
          }
        }
        held[at].negative.push(...best.values());
      }
    }
  }
  const heads = fits.map((fit) => primal(poolMatrix, fit.examples, fit.coef));
  const maxima = world ? await bankPhotoMaxima(heads, world.bank, algebra, world.scanPenalty) : [];
  for (const [at, ci] of trainable.entries()) {
    const heldPositives = [...held[at].positive.values()];
    const openCut = world ? openWorldCut(maxima[at], options.openWorldZ) : -Infinity;
    const cut = Math.max(openCut, chooseCut(heldPositives, held[at].negative));
    const heldOutRecall = heldPositives.filter((p) => p >= cut).length / (heldPositives.length || 1);
    result.set(concepts[ci].id, {
      head: heads[at],
      cut,
      nameCut: chooseNameCut(heldPositives, held[at].negative, cut),
      heldOutRecall,
      openCut,
    });
  }
  return result;
}
