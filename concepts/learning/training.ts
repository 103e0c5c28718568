/**
 * Trains every head of one user at once, in four phases: the pool and each concept's examples
 * (training-pool.ts: its positives against the user's other concepts, its own negative photos and backgrounds,
 * the nearest regions of the bank), one fit of all heads (heads.ts), every photo scored by a head that never
 * trained on it (held-out.ts), and from those scores and the bank each threshold (thresholds.ts).
 */
import type { LinearAlgebra, Matrix } from '../../models/types.js';
import { fitHeads, primal, type Head } from './heads.js';
import type { ViewKind } from '../types.js';
import { heldOutOutputs } from './held-out.js';
import { bankPhotoMaxima, type RegionBank } from './region-bank.js';
import { chooseCut, chooseNameCut, openWorldCut } from './thresholds.js';
import { exampleSets, trainingPool, usedRows } from './training-pool.js';

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
  const trainable = concepts.flatMap((c, ci) =>
    c.views.some((v) => v.kind === 'positive') && (!only || only.has(c.id)) ? [ci] : [],
  );
  if (trainable.length === 0) return result;
  const pool = await trainingPool(concepts, trainable, bank, algebra, dim, options);
  const sets = exampleSets(concepts, trainable, pool, options);
  const poolMatrix = usedRows(pool, sets, dim);
  const fits = await fitHeads(poolMatrix, sets, options.lambda, algebra);
  const held = await heldOutOutputs(concepts, trainable, fits, poolMatrix, algebra, options.crossBytes);
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
