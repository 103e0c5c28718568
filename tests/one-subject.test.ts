/**
 * One subject per place, on hand-made head outputs over hand-made regions: recognition's (oneSubjectPerRegion), and
 * stored photos' over each concept's best region alone (keepsBestPlace).
 */
import { describe, expect, it } from 'vitest';
import { keepsBestPlace } from '../concepts/recognition/places.js';
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

const whole = box(0, 0, 100, 100);

/**
 * Per case: the regions, each region's outputs of heads c0 and c1, their thresholds, and per concept the region it
 * ends on and whether it is present.
 */
const cases: [string, PixelBox[], number[][], number[], [number, boolean][]][] = [
  [
    // c0, strict, scores above its low-threshold sibling c1 on the whole photo and on a window in it.
    'gives a carton to the concept it resembles most, even when that one stays under its threshold',
    [whole, box(0, 0, 75, 75)],
    [
      [0.5, 0.1],
      [0.4, 0.0],
    ],
    [0.9, 0.5],
    [
      [0, false],
      [0, false],
    ],
  ],
  [
    // c1 scores best on c0's place, but also well on its own, apart.
    'lets a concept that lost its place take a place of its own',
    [box(0, 0, 40, 40), box(60, 60, 40, 40)],
    [
      [1.0, 0.8],
      [0.0, 0.6],
    ],
    [0.6, 0.6],
    [
      [0, true],
      [1, true],
    ],
  ],
  [
    'keeps a small subject inside a large one a place of its own: the toy in the dog`s mouth',
    [whole, box(40, 40, 20, 20)],
    [
      [1.0, 0.3],
      [0.2, 0.7],
    ],
    [0.6, 0.6],
    [
      [0, true],
      [1, true],
    ],
  ],
];

describe('oneSubjectPerRegion', () => {
  it.each(cases)('%s', (_, regions, outputs, thresholds, expected) => {
    expect(decide(regions, outputs, thresholds)).toEqual(expected.map(([row, present]) => ({ row, present })));
  });
});

/** Which concepts keep their best region, given each one's output there and the region. */
const keeping = (places: [number, PixelBox][]) =>
  places.map((_, j) =>
    keepsBestPlace(j, { count: places.length, output: (k) => places[k][0], box: (k) => places[k][1] }),
  );

describe('keepsBestPlace', () => {
  it('gives a place to the concept scoring highest there, whichever asks', () => {
    expect(
      keeping([
        [0.4, whole],
        [0.9, box(0, 0, 75, 75)],
      ]),
    ).toEqual([false, true]);
  });

  it('keeps places apart, and a small subject inside a large one, to their concepts', () => {
    expect(
      keeping([
        [0.9, box(0, 0, 40, 40)],
        [0.5, box(60, 60, 40, 40)],
        [0.3, box(5, 5, 10, 10)],
      ]),
    ).toEqual([true, true, true]);
  });

  it('lets a concept that lost its place claim nothing: the next one keeps a place it overlapped', () => {
    // c1's region is c0's place, and half of c2's; c2's region is not c0's place.
    const c0 = box(0, 0, 40, 100);
    const c1 = box(0, 0, 60, 100);
    const c2 = box(35, 0, 45, 100);
    expect(
      keeping([
        [0.9, c0],
        [0.8, c1],
        [0.7, c2],
      ]),
    ).toEqual([true, false, true]);
  });

  it('breaks a tie by order, as recognition does', () => {
    expect(
      keeping([
        [0.5, whole],
        [0.5, whole],
      ]),
    ).toEqual([true, false]);
  });
});
