/**
 * Moments: from one concept's score on each sampled frame to the stretches of video where it is on screen.
 * A median over neighbouring frames removes one-frame blips and dips but keeps cuts sharp; hysteresis enters a
 * moment at the concept's threshold and leaves it only below a lower one, so a score hovering at the threshold
 * does not chop a moment into pieces; short gaps are closed and slivers dropped.
 */
import { round4 } from '../rounding.js';

export interface FrameScore {
  /** Seconds from the start of the video. */
  t: number;
  /** The concept's score on the frame's best region, in [0, 1]; 0 where another concept took that region. */
  score: number;
}

export interface Moment {
  start: number;
  end: number;
  /** Mean score over the moment's frames: a steady presence ranks above a brief high one. */
  score: number;
  /** When the score is highest. */
  peak: number;
}

export interface MomentOptions {
  /** Frames on each side of the median window. */
  medianRadius: number;
  /** A moment is left when the smoothed score falls below the threshold minus this. */
  exitMargin: number;
  /** Gaps up to this many seconds between two moments are closed. */
  maxGapS: number;
  /** Moments shorter than this many seconds are dropped. */
  minLengthS: number;
}

export const defaultMomentOptions: MomentOptions = {
  medianRadius: 1,
  // Small: calibration puts thresholds only a third of the way from the highest negatives towards the positives.
  exitMargin: 0.05,
  maxGapS: 1,
  minLengthS: 0.5,
};

/** Median over 2 × radius + 1 frames, the first and last frames repeated past the ends. */
function smooth(scores: number[], radius: number): number[] {
  const at = (j: number) => scores[Math.min(scores.length - 1, Math.max(0, j))];
  return scores.map((_, i) => {
    const window = Array.from({ length: 2 * radius + 1 }, (_, k) => at(i - radius + k)).sort((a, b) => a - b);
    return window[radius];
  });
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * Moments of one concept in one video, best first. `frames` are in time order; each frame stands for the time
 * until the next one (the last until `durationS`), so a moment ends where the next frame no longer shows it.
 */
export function findMoments(
  frames: FrameScore[],
  threshold: number,
  durationS: number,
  options: MomentOptions = defaultMomentOptions,
): Moment[] {
  const smoothed = smooth(
    frames.map((f) => f.score),
    options.medianRadius,
  );
  const exit = threshold - options.exitMargin;
  const runs: { first: number; last: number }[] = [];
  let open: { first: number; last: number } | undefined;
  smoothed.forEach((s, i) => {
    if (open ? s >= exit : s >= threshold) {
      if (open) open.last = i;
      else runs.push((open = { first: i, last: i }));
    } else open = undefined;
  });

  const endOf = (i: number) => (i + 1 < frames.length ? frames[i + 1].t : Math.max(durationS, frames[i].t));
  const merged: { first: number; last: number }[] = [];
  for (const run of runs) {
    const previous = merged.at(-1);
    if (previous && frames[run.first].t - endOf(previous.last) <= options.maxGapS) previous.last = run.last;
    else merged.push({ ...run });
  }

  return merged
    .filter((r) => endOf(r.last) - frames[r.first].t >= options.minLengthS)
    .map((r) => {
      const inside = frames.slice(r.first, r.last + 1);
      const best = inside.reduce((a, b) => (b.score > a.score ? b : a));
      return {
        start: round3(frames[r.first].t),
        end: round3(endOf(r.last)),
        score: round4(inside.reduce((s, f) => s + f.score, 0) / inside.length),
        peak: round3(best.t),
      };
    })
    .sort((a, b) => b.score - a.score || a.start - b.start);
}
