/** Half precision as the library stores its vectors: nearest half, ties to even, subnormals, overflow. */
import { describe, expect, it } from 'vitest';
import { fromHalves, toHalf, toHalves } from '../concepts/storage/float16.js';

const roundTrip = (x: number) => fromHalves(Uint16Array.of(toHalf(x)))[0];

describe('float16', () => {
  it('keeps the values a half holds, and rounds others to the nearest, ties to even', () => {
    for (const x of [0, 1, -2, 0.5, 1024, 65504, 2 ** -14, 2 ** -24]) expect(roundTrip(x)).toBe(x);
    expect(roundTrip(0.1)).toBe(0.0999755859375);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: the even mantissa (1) wins; 1 + 3 * 2^-11 rounds up.
    expect(roundTrip(1 + 2 ** -11)).toBe(1);
    expect(roundTrip(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
  });

  it('goes to signed zero below the smallest subnormal and to infinity above the largest half', () => {
    expect(roundTrip(1e-8)).toBe(0);
    expect(Object.is(roundTrip(-1e-8), -0)).toBe(true);
    expect(roundTrip(3 * 2 ** -26)).toBe(2 ** -24);
    expect(roundTrip(1e6)).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(roundTrip(Number.NaN))).toBe(true);
  });

  it('converts arrays both ways', () => {
    const values = Float32Array.of(0.25, -3, 7.5);
    expect(fromHalves(toHalves(values))).toEqual(values);
  });
});
