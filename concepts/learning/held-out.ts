/**
 * Calibration's evidence: every photo of the user scored by a head that never trained on it. A concept's own
 * photos by the head trained without that photo; other concepts' photos by the head trained without that
 * concept. Exact, from the fits' dual coefficients, with no retraining.
 */
import type { LinearAlgebra, Matrix } from '../../models/types.js';
import { dualOutputs, type HeadFit } from './heads.js';
import { stack } from '../matrix.js';
import type { TrainingConcept, TrainingView } from './training.js';

/** Per head, the best output over each photo's regions: of its own photos (by photo) and of every other photo. */
export interface HeldOutOutputs {
  positive: Map<number, number>;
  negative: number[];
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
 * Scores the region sets of every photo (probes) and the regions of negative photos with the held-out heads of
 * `fits` (one per trainable concept). The pool's products with these targets are taken a few concepts at a time
 * (at most `crossBytes`): whole, they grow with the square of a user's views.
 */
export async function heldOutOutputs(
  concepts: TrainingConcept[],
  trainable: number[],
  fits: HeadFit[],
  pool: Matrix,
  algebra: LinearAlgebra,
  crossBytes: number,
): Promise<HeldOutOutputs[]> {
  const targets: TrainingView[] = [];
  const ranges = concepts.map((c) => {
    const from = targets.length;
    for (const view of c.views) if (view.kind === 'probe' || view.kind === 'negative') targets.push(view);
    return [from, targets.length] as const;
  });
  const held = trainable.map(() => ({ positive: new Map<number, number>(), negative: [] as number[] }));
  // A lone photo cannot be held out (no positive would remain): it is scored by the full head, optimistically.
  const lone = trainable.map(
    (ci) => new Set(concepts[ci].views.filter((v) => v.kind === 'positive').map((v) => v.photo)).size === 1,
  );
  const keepBest = (into: Map<number, number>, photo: number, s: number) =>
    into.set(photo, Math.max(s, into.get(photo) ?? -Infinity));
  for (const chunk of chunks(ranges, Math.max(1, Math.floor(crossBytes / (4 * pool.rows))))) {
    const base = ranges[chunk[0]][0];
    const vectors = targets.slice(base, ranges[chunk[chunk.length - 1]][1]).map((t) => t.vector);
    const cross = await algebra.mulTransposed(pool, stack(vectors, pool.cols));
    for (const o of chunk) {
      // A user with many concepts calibrates for long: requests waiting on the event loop go between concepts.
      await new Promise((resolve) => setImmediate(resolve));
      const [from, to] = ranges[o];
      for (const [at, ci] of trainable.entries()) {
        const { examples, without } = fits[at];
        const best = new Map<number, number>();
        if (o !== ci) {
          // Another concept's photos, each scored by the head trained without that concept: one row-major pass.
          const outputs = dualOutputs(examples, without(`c:${o}`), cross, from - base, to - base);
          for (let k = from; k < to; k++) keepBest(best, targets[k].photo, outputs[k - from]);
        } else {
          for (let k = from; k < to; k++) {
            const { photo, kind } = targets[k];
            const group = kind === 'negative' ? `n:${photo}` : lone[at] ? '' : `p:${photo}`;
            const [s] = dualOutputs(examples, without(group), cross, k - base, k - base + 1);
            keepBest(kind === 'negative' ? best : held[at].positive, photo, s);
          }
        }
        held[at].negative.push(...best.values());
      }
    }
  }
  return held;
}
