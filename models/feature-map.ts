/**
 * A region scanner: approximate vectors for any number of windows from one forward pass. The photo runs
 * once through a CNN, and each window's vector is the average of the last convolutional feature map over
 * it (ROI average pooling, read off a summed-area table in O(channels) per window). For the cost of ~3
 * crops, recognition ranks dozens of windows at several scales and embeds only the best ones properly.
 */
import onnxProto from 'onnx-proto';
import { checkImage, cropRegion } from './boxes.js';
import { inputCanvas, type OnnxEncoderEntry } from './catalog.js';
import { inputBuffer, ort, type Session } from './ort.js';
import { drawScaled } from './scale-image.js';
import type { DecodedImage, Matrix, PixelBox, RegionScanner } from './types.js';

const { onnx } = onnxProto;

export interface FeatureMapSpec {
  /** The tensor [N, C, h, w] before global pooling. */
  output: string;
  /** Long side of the photo as the network sees it, a multiple of the network's stride. */
  side: number;
  stride: number;
}

/**
 * The model with free input height and width, answering its feature map besides its own outputs: one
 * session serves the encoder's 224 px crops and the scanner's whole photos, one copy of the weights.
 */
export function withFeatureMap(bytes: Uint8Array, input: string, output: string, channels: number): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const inp = graph.input!.find((i) => i.name === input);
  if (!inp) throw new Error(`model has no input ${input}`);
  inp.type!.tensorType!.shape!.dim = [{ dimParam: 'n' }, { dimValue: 3 }, { dimParam: 'h' }, { dimParam: 'w' }];
  graph.output = [
    ...(graph.output ?? []),
    onnx.ValueInfoProto.create({
      name: output,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'n' }, { dimValue: channels }, { dimParam: 'fh' }, { dimParam: 'fw' }] } } },
    }),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/** Summed-area table of one feature map: (h+1)(w+1) cells of C channels, cell (0, *) and (*, 0) zero. */
interface Table {
  sums: Float32Array;
  h: number;
  w: number;
  c: number;
}

/** The table's memory (~1 MB), reused by every scan: each builds and reads its table in one synchronous step. */
let tableMemory = new Float32Array(0);

function summedArea(map: Float32Array, c: number, h: number, w: number): Table {
  const size = (h + 1) * (w + 1) * c;
  if (tableMemory.length < size) tableMemory = new Float32Array(size);
  const sums = tableMemory.subarray(0, size);
  sums.fill(0, 0, (w + 1) * c);
  const row = new Float32Array(c);
  for (let i = 0; i < h; i++) {
    row.fill(0);
    sums.fill(0, (i + 1) * (w + 1) * c, ((i + 1) * (w + 1) + 1) * c);
    for (let j = 0; j < w; j++) {
      const above = (i * (w + 1) + j + 1) * c;
      const at = ((i + 1) * (w + 1) + j + 1) * c;
      for (let k = 0; k < c; k++) {
        row[k] += map[(k * h + i) * w + j];
        sums[at + k] = sums[above + k] + row[k];
      }
    }
  }
  return { sums, h, w, c };
}

/** Adds sign × the table at real coordinates (u across, v down): bilinear in the table is exact area for a piecewise-constant map. */
function accumulate(t: Table, out: Float32Array, o: number, sign: number, u: number, v: number): void {
  const j = Math.min(Math.floor(u), t.w - 1);
  const i = Math.min(Math.floor(v), t.h - 1);
  const fu = u - j;
  const fv = v - i;
  const { sums, c } = t;
  const a = (i * (t.w + 1) + j) * c;
  const b = a + c;
  const d = a + (t.w + 1) * c;
  const e = d + c;
  const wa = sign * (1 - fv) * (1 - fu);
  const wb = sign * (1 - fv) * fu;
  const wd = sign * fv * (1 - fu);
  const we = sign * fv * fu;
  for (let k = 0; k < c; k++) out[o + k] += wa * sums[a + k] + wb * sums[b + k] + wd * sums[d + k] + we * sums[e + k];
}

/** Average of the map over the region, L2-normalised, into row `row` of `out`. */
function pool(t: Table, image: DecodedImage, r: PixelBox, out: Float32Array, row: number): void {
  const u0 = (r.x / image.width) * t.w;
  const u1 = ((r.x + r.w) / image.width) * t.w;
  const v0 = (r.y / image.height) * t.h;
  const v1 = ((r.y + r.h) / image.height) * t.h;
  const o = row * t.c;
  accumulate(t, out, o, 1, u1, v1);
  accumulate(t, out, o, -1, u0, v1);
  accumulate(t, out, o, -1, u1, v0);
  accumulate(t, out, o, 1, u0, v0);
  let ss = 0;
  for (let k = o; k < o + t.c; k++) ss += out[k] * out[k];
  const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let k = o; k < o + t.c; k++) out[k] *= inv;
}

/** Scans with the session of its encoder (a model opened through withFeatureMap). */
export class FeatureMapScanner implements RegionScanner {
  constructor(
    private readonly entry: OnnxEncoderEntry,
    private readonly spec: FeatureMapSpec,
    private readonly session: Session,
  ) {}

  async scan(image: DecodedImage, boxes: PixelBox[]): Promise<Matrix> {
    checkImage(image);
    const regions = boxes.map((b) => cropRegion(image, b));
    const { map, c, h, w } = await this.featureMap(image);
    const table = summedArea(map, c, h, w);
    const vectors = new Float32Array(regions.length * c);
    regions.forEach((r, i) => pool(table, image, r, vectors, i));
    return { data: vectors, rows: regions.length, cols: c };
  }

  private async featureMap(image: DecodedImage): Promise<{ map: Float32Array; c: number; h: number; w: number }> {
    const { side, stride, output } = this.spec;
    const fit = (n: number) => Math.max(stride, Math.round((n * side) / Math.max(image.width, image.height) / stride) * stride);
    const w = fit(image.width);
    const h = fit(image.height);
    const data = inputBuffer(3 * w * h);
    await drawScaled(image, { ...inputCanvas(this.entry, w, h), data, offset: 0 }, { x: 0, y: 0, w, h });
    const dims = this.entry.layout === 'nchw' ? [1, 3, h, w] : [1, h, w, 3];
    const out = (await this.session.run({ [this.entry.input]: new ort.Tensor('float32', data, dims) }, [output], true))[output];
    const [, c, fh, fw] = out.dims;
    return { map: out.data as Float32Array, c, h: fh, w: fw };
  }
}
