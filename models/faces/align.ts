/** Face alignment: a similarity transform of 5 landmarks onto the embedding's 112x112 template, and the warp. */
import type { DecodedImage } from '../types.js';

export type Point = [number, number];

/** The ArcFace / MobileFaceNet 5-point template (eyes, nose, mouth corners) in a 112x112 frame. */
export const TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** `[a, -b, tx; b, a, ty]`: rotation and uniform scale (a, b) then translation. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** The least-squares similarity transform taking `src` points onto `dst` (Umeyama, without reflection). */
export function similarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new Error(`need two or more point pairs, got ${n} and ${dst.length}`);
  let [mx, my, ux, uy] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    mx += src[i][0] / n;
    my += src[i][1] / n;
    ux += dst[i][0] / n;
    uy += dst[i][1] / n;
  }
  let [sxx, a, b] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const [x, y, u, v] = [src[i][0] - mx, src[i][1] - my, dst[i][0] - ux, dst[i][1] - uy];
    sxx += x * x + y * y;
    a += x * u + y * v;
    b += x * v - y * u;
  }
  if (!(sxx > 0)) throw new Error('landmarks coincide: no transform');
  a /= sxx;
  b /= sxx;
  return { a, b, tx: ux - (a * mx - b * my), ty: uy - (b * mx + a * my) };
}

export function applySimilarity({ a, b, tx, ty }: Similarity, [x, y]: Point): Point {
  return [a * x - b * y + tx, b * x + a * y + ty];
}

/**
 * The face under `landmarks` warped onto a size x size frame (template scaled from 112): every output pixel
 * inverse-mapped into the photo and sampled bilinearly, black outside it. Interleaved RGB floats 0..255.
 */
export function alignFace(image: DecodedImage, landmarks: readonly Point[], size = 112): Float32Array {
  const k = size / 112;
  const t = similarity(
    landmarks,
    TEMPLATE_112.map(([x, y]) => [x * k, y * k] as Point),
  );
  const det = t.a * t.a + t.b * t.b;
  const { data, width, height } = image;
  const out = new Float32Array(size * size * 3);
  const px = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= width || y >= height ? 0 : data[(y * width + x) * 3 + c];
  for (let y = 0, o = 0; y < size; y++) {
    for (let x = 0; x < size; x++, o += 3) {
      const [u, v] = [x - t.tx, y - t.ty];
      const sx = (t.a * u + t.b * v) / det;
      const sy = (-t.b * u + t.a * v) / det;
      const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
      const [ax, ay] = [sx - x0, sy - y0];
      for (let c = 0; c < 3; c++) {
        const top = (1 - ax) * px(x0, y0, c) + ax * px(x0 + 1, y0, c);
        const bottom = (1 - ax) * px(x0, y0 + 1, c) + ax * px(x0 + 1, y0 + 1, c);
        out[o + c] = (1 - ay) * top + ay * bottom;
      }
    }
  }
  return out;
}
