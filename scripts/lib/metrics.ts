/** Detection metrics for the evaluation scripts. */

/** Average precision of one ranking: scores with their truth, best first. */
export function averagePrecision(items: { score: number; positive: boolean }[]): number {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const total = sorted.filter((i) => i.positive).length;
  if (total === 0) return NaN;
  let hits = 0;
  let sum = 0;
  sorted.forEach((item, k) => {
    if (item.positive) {
      hits++;
      sum += hits / (k + 1);
    }
  });
  return sum / total;
}

export class Confusion {
  tp = 0;
  fp = 0;
  fn = 0;
  tn = 0;

  add(predicted: boolean, actual: boolean): void {
    if (predicted && actual) this.tp++;
    else if (predicted) this.fp++;
    else if (actual) this.fn++;
    else this.tn++;
  }

  get precision(): number {
    return this.tp / (this.tp + this.fp || 1);
  }
  get recall(): number {
    return this.tp / (this.tp + this.fn || 1);
  }
  get f1(): number {
    return (2 * this.precision * this.recall) / (this.precision + this.recall || 1);
  }
  /** Mean of accuracy on positives and on negatives, as RAP and Yo'LLaVA report it. */
  get weightedAccuracy(): number {
    return (this.recall + this.tn / (this.tn + this.fp || 1)) / 2;
  }
}

export const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / (xs.length || 1);

/** The mean of average precisions over the queries that have positives (the others' AP is NaN). */
export const meanAveragePrecision = (aps: number[]) => mean(aps.filter(Number.isFinite));

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** The median, 0 of none (a data folder without subject boxes measures none). */
export const medianOf = (xs: number[]): number => (xs.length > 0 ? percentile(xs, 50) : 0);
