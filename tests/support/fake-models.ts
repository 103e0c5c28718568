/**
 * Deterministic stand-ins for the models, for testing service logic in the unit lane without ONNX: an encoder whose
 * vector is the crop's colour layout (a grid of mean colours) and the dense algebra in plain JavaScript.
 */
import type { RegionBank } from '../../concepts/learning/region-bank.js';
import { seeded } from '../../concepts/random.js';
import { fromHalves } from '../../concepts/storage/float16.js';
import type { Crop, DecodedImage, ImageEncoder, LinearAlgebra, Matrix, PixelBox } from '../../models/types.js';

const GRID = 4;

/** Mean colour of each cell of a GRID x GRID grid over `box`, as seen through `zoom` and `flip`. */
function colourLayout(image: DecodedImage, box: PixelBox, crop: Crop): Float32Array {
  const sums = new Float64Array(GRID * GRID * 3);
  const counts = new Float64Array(GRID * GRID);
  const { factor = 1, x: zx = 0.5, y: zy = 0.5 } = crop.zoom ?? {};
  // A zoomed-out region fills 1/factor of its frame; the rest of the frame is the region's mean colour.
  const left = zx * (1 - 1 / factor);
  const top = zy * (1 - 1 / factor);
  const mean = [0, 0, 0];
  const step = Math.max(1, Math.floor(Math.min(box.w, box.h) / 32));
  let n = 0;
  for (let py = box.y; py < box.y + box.h; py += step)
    for (let px = box.x; px < box.x + box.w; px += step) {
      const i = (py * image.width + px) * 3;
      let u = ((px - box.x) / box.w / factor + left) * GRID;
      const v = ((py - box.y) / box.h / factor + top) * GRID;
      if (crop.flip) u = GRID - u;
      const cell = Math.min(GRID - 1, Math.floor(v)) * GRID + Math.min(GRID - 1, Math.floor(u));
      for (let c = 0; c < 3; c++) {
        sums[cell * 3 + c] += image.data[i + c];
        mean[c] += image.data[i + c];
      }
      counts[cell]++;
      n++;
    }
  const out = new Float32Array(GRID * GRID * 3);
  for (let cell = 0; cell < GRID * GRID; cell++)
    for (let c = 0; c < 3; c++)
      out[cell * 3 + c] = (counts[cell] ? sums[cell * 3 + c] / counts[cell] : mean[c] / n) / 255 - 0.5;
  return unit(out);
}

function unit(v: Float32Array): Float32Array {
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/** An encoder of colour layouts: the same pixels give the same vector, a similar layout a nearby one. */
export class FakeEncoder implements ImageEncoder {
  readonly name = 'fake-colour-layout';
  readonly dim = GRID * GRID * 3;
  /** Crops embedded so far. */
  embedded = 0;

  async embed(crops: Crop[]): Promise<Float32Array[]> {
    this.embedded += crops.length;
    return crops.map((c) => colourLayout(c.image, c.box ?? { x: 0, y: 0, w: c.image.width, h: c.image.height }, c));
  }

  async negativeBank(): Promise<Float32Array[]> {
    return [];
  }

  async dispose(): Promise<void> {}
}

/** `a · bᵀ` and inverses (Gauss-Jordan, partial pivoting), in float64 arithmetic. */
export class JsAlgebra implements LinearAlgebra {
  async mulTransposed(a: Matrix, b: Matrix): Promise<Matrix> {
    const data = new Float32Array(a.rows * b.rows);
    for (let i = 0; i < a.rows; i++)
      for (let j = 0; j < b.rows; j++) {
        let s = 0;
        for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k] * b.data[j * b.cols + k];
        data[i * b.rows + j] = s;
      }
    return { data, rows: a.rows, cols: b.rows };
  }

  async fromHalves(bits: Uint16Array): Promise<Float32Array> {
    return fromHalves(bits);
  }

  async inverse(matrices: Matrix[]): Promise<Matrix[]> {
    return matrices.map(({ data, rows: n }) => {
      const a = Float64Array.from(data);
      const inv = new Float64Array(n * n);
      for (let i = 0; i < n; i++) inv[i * n + i] = 1;
      for (let c = 0; c < n; c++) {
        let p = c;
        for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
        for (const m of [a, inv])
          for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
        const pivot = a[c * n + c];
        for (let k = 0; k < n; k++) {
          a[c * n + k] /= pivot;
          inv[c * n + k] /= pivot;
        }
        for (let r = 0; r < n; r++) {
          const f = a[r * n + c];
          if (r === c || f === 0) continue;
          for (let k = 0; k < n; k++) {
            a[r * n + k] -= f * a[c * n + k];
            inv[r * n + k] -= f * inv[c * n + k];
          }
        }
      }
      return { data: Float32Array.from(inv), rows: n, cols: n };
    });
  }

  async dispose(): Promise<void> {}
}

/** An open world of `photos` photos of random colour layouts, `perPhoto` regions each, seeded. */
export function fakeRegionBank(dim: number, photos = 40, perPhoto = 4, seed = 7): RegionBank {
  const random = seeded(seed);
  const next = () => random() - 0.5;
  const rows = photos * perPhoto;
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) data.set(unit(Float32Array.from({ length: dim }, next)), r * dim);
  return {
    vectors: { data, rows, cols: dim },
    photo: Int32Array.from({ length: rows }, (_, r) => Math.floor(r / perPhoto)),
    scanned: new Uint8Array(rows),
    photos,
  };
}
