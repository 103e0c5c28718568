/** Moments from per-frame scores: smoothing, hysteresis, merging and ranking, on hand-made score tracks. */
import { describe, expect, it } from 'vitest';
import { defaultMomentOptions, findMoments } from '../concepts/video/moments.js';

/** Scores sampled every half second from t = 0. */
const track = (scores: number[]) => scores.map((score, i) => ({ t: i / 2, score }));

describe('findMoments', () => {
  it('finds a stretch above the threshold, ending where the next frame no longer shows the concept', () => {
    expect(findMoments(track([0.1, 0.1, 0.9, 0.8, 0.9, 0.1, 0.1]), 0.5, 3.5)).toEqual([
      { start: 1, end: 2.5, score: 0.8667, peak: 1 },
    ]);
  });

  it('runs the last moment to the end of the video', () => {
    expect(findMoments(track([0.1, 0.9, 0.9, 0.9]), 0.5, 2.2)).toMatchObject([{ start: 0.5, end: 2.2 }]);
  });

  it('ignores a one-frame blip and bridges a one-frame dip', () => {
    expect(findMoments(track([0.1, 0.1, 0.9, 0.1, 0.1, 0.1]), 0.5, 3)).toEqual([]);
    expect(findMoments(track([0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9]), 0.5, 3.5)).toMatchObject([{ start: 0, end: 3.5 }]);
  });

  it('stays in a moment while the score hovers just under the threshold, but not far under it', () => {
    const hovering = track([0.1, 0.6, 0.6, 0.47, 0.47, 0.47, 0.6, 0.6, 0.1, 0.1]);
    expect(findMoments(hovering, 0.5, 5)).toMatchObject([{ start: 0.5, end: 4 }]);
    const falling = track([0.1, 0.6, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3, 0.6, 0.6, 0.1, 0.1]);
    expect(findMoments(falling, 0.5, 6, { ...defaultMomentOptions, maxGapS: 0 }).map((m) => [m.start, m.end])).toEqual([
      [0.5, 1.5],
      [4, 5],
    ]);
  });

  it('closes short gaps, keeps long ones, and ranks the strongest moment first', () => {
    const scores = track([0.7, 0.7, 0.7, 0.1, 0.1, 0.7, 0.7, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.95, 0.95, 0.95]);
    expect(findMoments(scores, 0.5, 8).map((m) => [m.start, m.end])).toEqual([
      [6.5, 8],
      [0, 4],
    ]);
  });

  it('drops moments shorter than the minimum length', () => {
    const scores = track([0.1, 0.9, 0.9, 0.1, 0.1]);
    expect(findMoments(scores, 0.5, 2.5, { ...defaultMomentOptions, medianRadius: 0, minLengthS: 1.5 })).toEqual([]);
    expect(findMoments(scores, 0.5, 2.5, { ...defaultMomentOptions, medianRadius: 0 })).toHaveLength(1);
  });

  it('answers nothing for no frames', () => {
    expect(findMoments([], 0.5, 10)).toEqual([]);
  });
});
