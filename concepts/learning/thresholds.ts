/**
 * Where a concept's threshold sits, from held-out scores: between its own photos and the user's other concepts
 * (closed world), above what ordinary photos reach (open world), and stricter again for naming.
 */

/** In a clean gap the cut sits in the middle: the fewest unregistered look-alikes named at no cost in F1 (docs). */
const GAP_FRACTION = 1 / 2;

/** Naming is precision-first (a wrong name is seen, a missing one reads "the dog"): two thirds into the gap. */
const NAME_FRACTION = 2 / 3;

/** The naming cut over the same held-out scores as chooseCut (which gave `cut`); never below `cut`. */
export function chooseNameCut(positives: number[], negatives: number[], cut: number): number {
  if (positives.length === 0) return cut;
  const lowPos = Math.min(...positives);
  const highNeg = negatives.length > 0 ? Math.max(...negatives) : 0;
  return Math.max(cut, highNeg + NAME_FRACTION * Math.max(0, lowPos - highNeg));
}

/**
 * The cut between positive and negative scores: in a clean gap at GAP_FRACTION; with overlap, the best F1 over
 * the held-out photos, so that many look-alike photos outweigh one of the subject's. With no held-out negatives (a
 * user's only concept), 0, the middle of the training
 * labels, stands for the highest negative.
 */
export function chooseCut(positives: number[], negatives: number[]): number {
  if (positives.length === 0) return 0;
  const lowPos = Math.min(...positives);
  if (negatives.length === 0) return lowPos > 0 ? GAP_FRACTION * lowPos : lowPos / 2;
  const highNeg = Math.max(...negatives);
  if (lowPos > highNeg) return highNeg + GAP_FRACTION * (lowPos - highNeg);
  const points = [...new Set([...positives, ...negatives])].sort((a, b) => a - b);
  let best = 0;
  let bestCut = 0;
  for (let i = 0; i < points.length - 1; i++) {
    const cut = (points[i] + points[i + 1]) / 2;
    const tp = positives.filter((p) => p >= cut).length;
    const fp = negatives.filter((n) => n >= cut).length;
    const f1 = (2 * tp) / (2 * tp + fp + (positives.length - tp));
    if (f1 > best) {
      best = f1;
      bestCut = cut;
    }
  }
  return bestCut;
}

/**
 * The raw output below which a concept stays silent on ordinary photos: each bank photo's best region, their
 * mean plus `z` standard deviations, and never below the highest of them. A tail bound from the spread rather
 * than a high quantile, which a hundred photos cannot estimate.
 */
export function openWorldCut(maxima: Float64Array, z: number): number {
  if (maxima.length === 0) return -Infinity;
  let sum = 0;
  let high = -Infinity;
  for (const m of maxima) {
    sum += m;
    high = Math.max(high, m);
  }
  const mean = sum / maxima.length;
  let sq = 0;
  for (const m of maxima) sq += (m - mean) ** 2;
  return Math.max(high, mean + z * Math.sqrt(sq / maxima.length));
}
