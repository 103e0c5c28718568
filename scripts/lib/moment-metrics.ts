/** Temporal detection metrics for the video eval, as ActivityNet computes them. */

export interface Segment {
  video: string;
  start: number;
  end: number;
}

export function temporalIoU(a: Segment, b: Segment): number {
  const inter = Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
  return inter / (a.end - a.start + (b.end - b.start) - inter);
}

/**
 * Average precision of scored segments against the true ones of one class: best score first, each prediction
 * takes the unmatched true segment of its video with the highest temporal IoU at or above `threshold`; AP is
 * the area under the precision-recall curve with precision made monotone (ActivityNet's interpolation).
 */
export function segmentAP(predicted: (Segment & { score: number })[], truth: Segment[], threshold: number): number {
  if (truth.length === 0) return NaN;
  const taken = new Set<Segment>();
  const hits = [...predicted]
    .sort((a, b) => b.score - a.score)
    .map((p) => {
      let best: Segment | undefined;
      let bestIoU = threshold;
      for (const t of truth) {
        if (t.video !== p.video || taken.has(t)) continue;
        const iou = temporalIoU(p, t);
        if (iou >= bestIoU) [best, bestIoU] = [t, iou];
      }
      if (best) taken.add(best);
      return best !== undefined;
    });
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  hits.forEach((hit, k) => {
    if (hit) tp++;
    precision.push(tp / (k + 1));
    recall.push(tp / truth.length);
  });
  // Monotone precision envelope, then the area over recall steps.
  for (let k = precision.length - 2; k >= 0; k--) precision[k] = Math.max(precision[k], precision[k + 1]);
  let ap = 0;
  let previous = 0;
  recall.forEach((r, k) => {
    ap += (r - previous) * precision[k];
    previous = r;
  });
  return ap;
}
