/**
 * IEEE half precision, as LanceDB stores a `Float16` column: Node 20 has no Float16Array, so values travel as their
 * 16 bits in a Uint16Array. Not apache-arrow's `util.float64ToUint16`: it turns 1e-8 into -Infinity (18.1.0).
 */

const single = new Float32Array(1);
const singleBits = new Uint32Array(single.buffer);

/** The half nearest `x` (ties to even), as its bits. */
export function toHalf(x: number): number {
  single[0] = x;
  const bits = singleBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent === 128 + 15) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent >= 0x1f) return sign | 0x7c00;
  // Below the smallest normal half: the implicit leading bit joins the mantissa, shifted further.
  const full = exponent > 0 ? mantissa : mantissa | 0x800000;
  const shift = exponent > 0 ? 13 : 14 - exponent;
  if (shift > 24) return sign;
  const half = (exponent > 0 ? exponent << 10 : 0) | (full >>> shift);
  const rest = full & ((1 << shift) - 1);
  const tie = 1 << (shift - 1);
  // A carry out of the mantissa moves the exponent up, as rounding should.
  return sign | (half + (rest > tie || (rest === tie && half & 1) ? 1 : 0));
}

/** Every half's value, by its bits. */
const VALUES = Float32Array.from({ length: 0x10000 }, (_, h) => {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
});

/** Halves' bits of `values`. */
export function toHalves(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  return out;
}

/** The values of halves' bits. */
export function fromHalves(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = VALUES[bits[i]];
  return out;
}
