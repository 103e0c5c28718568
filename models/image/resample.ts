/**
 * Resampling a region of a decoded RGB image straight into a model's float input tensor.
 *
 * Downscaling is area averaging (a box filter), so a 4000 px photo and a 768 px photo of the same scene
 * give nearly the same input; upscaling is bilinear. To keep the per-crop cost independent of the photo's
 * size, big reductions first pick a level of a 2x box pyramid (built once per image, cached), leaving a
 * final step below 2, i.e. at most 3 source pixels per output pixel and axis. Both passes are separable,
 * with unrolled 2- and 3-tap loops (~1-2.5 ms per 224 px crop on this machine's 2 cores; bilinear below 2 instead
 * of area cost 3 more false positives in `npm run eval`). Pure JavaScript: model threads load it to draw
 * crops (cutRegion on the event loop, drawSource in the model thread).
 */
import type { Layout } from '../catalog.js';
import type { DecodedImage, PixelBox } from '../types.js';

/** A width x height image inside a float tensor, and how bytes become values: v = byte * gain[c] + bias[c]. */
export interface TensorCanvas {
  data: Float32Array;
  /** Index of this image's first value in `data` (batch item * values per image). */
  offset: number;
  width: number;
  height: number;
  layout: Layout;
  bgr: boolean;
  /** Per channel, RGB order. */
  gain: readonly [number, number, number];
  bias: readonly [number, number, number];
}

/** Output i of one axis reads source pixels start[i] .. start[i]+taps-1 with weights[i*taps + k]. */
interface Axis {
  taps: number;
  start: Int32Array;
  weights: Float32Array;
  min: number;
  max: number;
}

/** Weights that map source interval [from, from+len) onto `out` samples, never reading outside [0, limit). */
function axis(from: number, len: number, out: number, limit: number): Axis {
  const step = len / out;
  const lo = Math.max(0, Math.min(limit - 1, Math.floor(from)));
  const hi = Math.max(lo, Math.min(limit, Math.ceil(from + len)) - 1);
  const span = step >= 1 ? Math.ceil(step) + 1 : 2;
  const starts = new Int32Array(out);
  const counts = new Int32Array(out);
  const raw = new Float32Array(out * span);
  for (let i = 0; i < out; i++) {
    // Area: source interval [a, b) of this output. Bilinear: the two pixels around its centre c.
    const a = from + i * step;
    const b = a + step;
    const c = a + step / 2 - 0.5;
    const first = step >= 1 ? Math.floor(a) : Math.floor(c);
    const last = step >= 1 ? Math.ceil(b) - 1 : first + 1;
    let s = 0;
    let n = 0;
    for (let p = first; p <= last; p++) {
      const weight = step >= 1 ? (Math.min(b, p + 1) - Math.max(a, p)) / step : p === first ? first + 1 - c : c - first;
      if (weight < 1e-6) continue; // slivers that float error leaves at aligned edges
      // Clamped indices repeat only at the region's edges, next to each other: merge their weights.
      const q = Math.min(hi, Math.max(lo, p));
      if (n > 0 && q === s + n - 1) raw[i * span + n - 1] += weight;
      else {
        if (n === 0) s = q;
        raw[i * span + n++] = weight;
      }
    }
    starts[i] = s;
    counts[i] = n;
  }
  // A fixed tap count per axis (zero-padded) lets the loops below be unrolled; shift windows that would
  // run past the image so every index read is valid.
  const taps = Math.min(
    limit,
    counts.reduce((m, v) => Math.max(m, v), 2),
  );
  const a: Axis = { taps, start: new Int32Array(out), weights: new Float32Array(out * taps), min: limit, max: 0 };
  for (let i = 0; i < out; i++) {
    const start = Math.min(starts[i], limit - taps);
    const shift = starts[i] - start;
    for (let k = 0; k < counts[i]; k++) a.weights[i * taps + shift + k] = raw[i * span + k];
    a.start[i] = start;
    a.min = Math.min(a.min, start);
    a.max = Math.max(a.max, start + taps - 1);
  }
  return a;
}

/** Levels of the 2x box pyramid, keyed by pixel buffer; level L pixel (x, y) averages base [x*2^L, (x+1)*2^L). */
const pyramids = new WeakMap<Uint8Array, DecodedImage[]>();

function halve(img: DecodedImage): DecodedImage {
  const w = img.width >> 1;
  const h = img.height >> 1;
  const src = img.data;
  const data = new Uint8Array(w * h * 3);
  const stride = img.width * 3;
  for (let y = 0, o = 0; y < h; y++) {
    let a = 2 * y * stride;
    let b = a + stride;
    for (let x = 0; x < w; x++, a += 6, b += 6, o += 3) {
      data[o] = (src[a] + src[a + 3] + src[b] + src[b + 3] + 2) >> 2;
      data[o + 1] = (src[a + 1] + src[a + 4] + src[b + 1] + src[b + 4] + 2) >> 2;
      data[o + 2] = (src[a + 2] + src[a + 5] + src[b + 2] + src[b + 5] + 2) >> 2;
    }
  }
  return { data, width: w, height: h };
}

function level(image: DecodedImage, n: number): DecodedImage {
  let levels = pyramids.get(image.data);
  if (!levels) pyramids.set(image.data, (levels = [image]));
  while (levels.length <= n) levels.push(halve(levels[levels.length - 1]));
  return levels[n];
}

/** Fills `rect` of the canvas (all of it by default) with one RGB colour: letterbox padding, a zoomed view's frame. */
export function fillCanvas(
  canvas: TensorCanvas,
  rgb: readonly [number, number, number],
  rect: PixelBox = { x: 0, y: 0, w: canvas.width, h: canvas.height },
): void {
  const { data, offset, width, height, layout, bgr, gain, bias } = canvas;
  const plane = width * height;
  const v = [0, 1, 2].map((c) => rgb[c] * gain[c] + bias[c]);
  const order = bgr ? [v[2], v[1], v[0]] : v;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    const row = offset + (y * width + rect.x) * (layout === 'nchw' ? 1 : 3);
    if (layout === 'nchw') {
      for (let c = 0; c < 3; c++) data.fill(order[c], row + c * plane, row + c * plane + rect.w);
    } else {
      for (let o = row; o < row + rect.w * 3; o += 3) {
        data[o] = order[0];
        data[o + 1] = order[1];
        data[o + 2] = order[2];
      }
    }
  }
}

/** Where R, G and B of canvas pixel (x, y) live: offset + (y * width + x) * step + channel offset; `dx` is ±step. */
export function writer(canvas: TensorCanvas, flip = false): Writer {
  const step = canvas.layout === 'nchw' ? 1 : 3;
  const channel = canvas.layout === 'nchw' ? canvas.width * canvas.height : 1;
  const [oR, oB] = canvas.bgr ? [2 * channel, 0] : [0, 2 * channel];
  const [gR, gG, gB] = canvas.gain;
  const [bR, bG, bB] = canvas.bias;
  // Plain numbers: destructuring arrays inside the per-row functions doubled their cost.
  return { out: canvas.data, dx: flip ? -step : step, oR, oG: channel, oB, gR, gG, gB, bR, bG, bB };
}

/**
 * The pixels a region is drawn from (a pyramid level, or the part of one that the region reads), and the region in
 * them.
 */
export interface RegionSource {
  image: DecodedImage;
  src: PixelBox;
}

/** The pyramid level that leaves a final shrink below 2 for drawing `src` onto a `dst`-sized rectangle. */
export function regionSource(image: DecodedImage, src: PixelBox, dst: PixelBox): RegionSource {
  const shrink = Math.min(src.w / dst.w, src.h / dst.h);
  let n = shrink >= 2 ? Math.floor(Math.log2(shrink)) : 0;
  while (n > 0 && (image.width >> n < 2 || image.height >> n < 2)) n--;
  const f = 2 ** -n;
  return { image: level(image, n), src: { x: src.x * f, y: src.y * f, w: src.w * f, h: src.h * f } };
}

/** The whole pixels that drawing `source` reads (see axis): [x0, x1) x [y0, y1). */
export function readRect({ image, src }: RegionSource): { x0: number; y0: number; x1: number; y1: number } {
  const span = (from: number, len: number, limit: number) => {
    const lo = Math.max(0, Math.min(limit - 1, Math.floor(from)));
    return [lo, Math.max(lo + 1, Math.min(limit, Math.ceil(from + len)))];
  };
  const [x0, x1] = span(src.x, src.w, image.width);
  const [y0, y1] = span(src.y, src.h, image.height);
  return { x0, y0, x1, y1 };
}

/**
 * Copies what drawing `source` reads (`rect`) into `out` at byte `at`: a source of its own that draws the same pixels.
 */
export function cutRegion(source: RegionSource, out: Uint8Array, at: number, rect = readRect(source)): RegionSource {
  const { x0, y0, x1, y1 } = rect;
  const { image, src } = source;
  const width = x1 - x0;
  const row = width * 3;
  for (let y = y0; y < y1; y++)
    out.set(image.data.subarray((y * image.width + x0) * 3, (y * image.width + x1) * 3), at + (y - y0) * row);
  return {
    image: { data: out.subarray(at, at + row * (y1 - y0)), width, height: y1 - y0 },
    src: { x: src.x - x0, y: src.y - y0, w: src.w, h: src.h },
  };
}

/**
 * Resamples `src` (image pixels, fractional allowed, inside the image) onto the integer rectangle `dst`
 * of the canvas, mirrored left-right when `flip`. Treats the image's pixels as immutable (pyramid cache).
 */
export function drawRegion(
  image: DecodedImage,
  src: PixelBox,
  canvas: TensorCanvas,
  dst: PixelBox,
  flip = false,
): void {
  drawSource(regionSource(image, src, dst), canvas, dst, flip);
}

/** drawRegion from a level chosen already (in a model thread, say). */
export function drawSource({ image: img, src }: RegionSource, canvas: TensorCanvas, dst: PixelBox, flip = false): void {
  const xs = axis(src.x, src.w, dst.w, img.width);
  const ys = axis(src.y, src.h, dst.h, img.height);

  const x0 = xs.min;
  const row = new Float64Array((xs.max - x0 + 1) * 3);
  const write = writer(canvas, flip);
  const step = Math.abs(write.dx);
  for (let oy = 0; oy < dst.h; oy++) {
    // Vertical pass over whole source rows (contiguous), then the horizontal pass over that one row.
    verticalPass(img, ys, oy, x0, row);
    const o = canvas.offset + ((dst.y + oy) * canvas.width + dst.x + (flip ? dst.w - 1 : 0)) * step;
    horizontalPass(row, xs, x0, write, o);
  }
}

/** Where the horizontal pass stores a pixel: channel values at o + oR/oG/oB, then o moves by dx. */
export interface Writer {
  out: Float32Array;
  dx: number;
  oR: number;
  oG: number;
  oB: number;
  gR: number;
  gG: number;
  gB: number;
  bR: number;
  bG: number;
  bB: number;
}

// One function per tap count: V8 does not unswitch loops, so a tap-count branch inside the pixel loop
// would be paid for every pixel (the generic loop runs ~3x slower than the unrolled ones).

function verticalPass(img: DecodedImage, ys: Axis, oy: number, x0: number, row: Float64Array): void {
  const px = img.data;
  const stride = img.width * 3;
  const n = row.length;
  const t = ys.taps;
  const w = ys.weights;
  const i = oy * t;
  const b0 = ys.start[oy] * stride + x0 * 3;
  if (t === 2) {
    const b1 = b0 + stride;
    const w0 = w[i];
    const w1 = w[i + 1];
    for (let j = 0; j < n; j++) row[j] = w0 * px[b0 + j] + w1 * px[b1 + j];
  } else if (t === 3) {
    const b1 = b0 + stride;
    const b2 = b1 + stride;
    const w0 = w[i];
    const w1 = w[i + 1];
    const w2 = w[i + 2];
    for (let j = 0; j < n; j++) row[j] = w0 * px[b0 + j] + w1 * px[b1 + j] + w2 * px[b2 + j];
  } else {
    row.fill(0);
    for (let k = 0; k < t; k++) {
      const b = b0 + k * stride;
      const wk = w[i + k];
      for (let j = 0; j < n; j++) row[j] += wk * px[b + j];
    }
  }
}

function horizontalPass(row: Float64Array, xs: Axis, x0: number, wr: Writer, o: number): void {
  if (xs.taps === 2) horizontal2(row, xs.start, xs.weights, x0, wr, o);
  else if (xs.taps === 3) horizontal3(row, xs.start, xs.weights, x0, wr, o);
  else horizontalN(row, xs, x0, wr, o);
}

function horizontal2(row: Float64Array, start: Int32Array, w: Float32Array, x0: number, wr: Writer, o: number): void {
  const { out, dx, oR, oG, oB, gR, gG, gB, bR, bG, bB } = wr;
  for (let ox = 0; ox < start.length; ox++, o += dx) {
    const j = (start[ox] - x0) * 3;
    const v0 = w[2 * ox];
    const v1 = w[2 * ox + 1];
    out[o + oR] = (v0 * row[j] + v1 * row[j + 3]) * gR + bR;
    out[o + oG] = (v0 * row[j + 1] + v1 * row[j + 4]) * gG + bG;
    out[o + oB] = (v0 * row[j + 2] + v1 * row[j + 5]) * gB + bB;
  }
}

function horizontal3(row: Float64Array, start: Int32Array, w: Float32Array, x0: number, wr: Writer, o: number): void {
  const { out, dx, oR, oG, oB, gR, gG, gB, bR, bG, bB } = wr;
  for (let ox = 0; ox < start.length; ox++, o += dx) {
    const j = (start[ox] - x0) * 3;
    const v0 = w[3 * ox];
    const v1 = w[3 * ox + 1];
    const v2 = w[3 * ox + 2];
    out[o + oR] = (v0 * row[j] + v1 * row[j + 3] + v2 * row[j + 6]) * gR + bR;
    out[o + oG] = (v0 * row[j + 1] + v1 * row[j + 4] + v2 * row[j + 7]) * gG + bG;
    out[o + oB] = (v0 * row[j + 2] + v1 * row[j + 5] + v2 * row[j + 8]) * gB + bB;
  }
}

function horizontalN(row: Float64Array, xs: Axis, x0: number, wr: Writer, o: number): void {
  const { out, dx, oR, oG, oB, gR, gG, gB, bR, bG, bB } = wr;
  const t = xs.taps;
  for (let ox = 0; ox < xs.start.length; ox++, o += dx) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let k = 0, j = (xs.start[ox] - x0) * 3; k < t; k++, j += 3) {
      const v = xs.weights[ox * t + k];
      r += v * row[j];
      g += v * row[j + 1];
      b += v * row[j + 2];
    }
    out[o + oR] = r * gR + bR;
    out[o + oG] = g * gG + bG;
    out[o + oB] = b * gB + bB;
  }
}
