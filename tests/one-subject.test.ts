/** One subject per place (oneSubjectPerRegion), on hand-made head outputs over hand-made regions. */
import { describe, expect, it } from 'vitest';
import { oneSubjectPerRegion, toScore, type UserHeads } from '../concepts/recognition/recognize.js';
import type { PixelBox } from '../models/types.js';

const box = (x: number, y: number, w: number, h: number): PixelBox => ({ x, y, w, h });

/** Heads with zero bias and the given thresholds; `outputs[r][j]` is head j's output on region r. */
function decide(regions: PixelBox[], outputs: number[][], thresholds: number[]) {
  const cols = thresholds.length;
  const heads = {
    ids: thresholds.map((_, j) => `c${j}`),
    names: thresholds.map((_, j) => `c${j}`),
    weights: { data: new Float32Array(cols), rows: cols, cols: 1 },
    bias: new Float32Array(cols),
    thresholds: Float64Array.from(thresholds),
  } satisfies UserHeads;
  const scores = { data: Float32Array.from(outputs.flat()), rows: regions.length, cols };
  return oneSubjectPerRegion(scores, heads, regions).map((p, j) => ({
    row: p.row,
    present: p.free && toScore(p.raw) >= thresholds[j],
  }));
}

describe('oneSubjectPerRegion', () => {
  const whole = box(0, 0, 100, 100);
  const window = box(0, 0, 75, 75);

  it('gives a carton to the concept it resembles most, even when that one stays under its threshold', () => {
    // c0 (a strict concept) scores higher than its low-threshold sibling c1 on the whole photo and on a window in it.
    const placed = decide(
      [whole, window],
      [
        [0.5, 0.1],
        [0.4, 0.0],
      ],
      [0.9, 0.5],
    );
    expect(placed).toEqual([
      { row: 0, present: false },
      { row: 0, present: false },
    ]);
  });

  it('lets a concept that lost its place take a place of its own', () => {
    const left = box(0, 0, 40, 40);
    const right = box(60, 60, 40, 40);
    // c1 scores best on c0's place, but also well on its own, apart.
    const placed = decide(
      [left, right],
      [
        [1.0, 0.8],
        [0.0, 0.6],
      ],
      [0.6, 0.6],
    );
    expect(placed).toEqual([
      { row: 0, present: true },
      { row: 1, present: true },
    ]);
  });

  it('keeps a small subject inside a large one a place of its own: the toy in the dog`s mouth', () => {
    const toy = box(40, 40, 20, 20);
    const placed = decide(
      [whole, toy],
      [
        [1.0, 0.3],
        [0.2, 0.7],
      ],
      [0.6, 0.6],
    );
    expect(placed).toEqual([
      { row: 0, present: true },
      { row: 1, present: true },
    ]);
  });
});
