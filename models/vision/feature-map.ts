/**
 * A region scanner: approximate vectors for any number of windows from one forward pass. The photo runs
 * once through a CNN, and each window's vector is the average of the last convolutional feature map over
 * it (ROI average pooling, all windows in one matrix product). For the cost of ~3 crops, recognition
 * ranks dozens of windows at several scales and embeds only the best ones properly.
 */
import onnxProto from 'onnx-proto';
import { checkImage, cropRegion } from '../image/boxes.js';
import { inputCanvas, type OnnxEncoderEntry } from '../catalog.js';
import { ort, type Session } from '../runtime/ort.js';
import { drawScaled } from '../image/scale-image.js';
import type { DecodedImage, LinearAlgebra, Matrix, PixelBox, RegionScanner } from '../types.js';

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
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'n' }, { dimValue: channels }, { dimParam: 'fh' }, { dimParam: 'fw' }] },
        },
      },
    }),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Each window's coverage of the feature map's h×w cells (fractions at its edges), one row per window: the
 * window's vector is its row times the map (C × cells), the exact area average up to scale.
 */
function coverage(image: DecodedImage, regions: PixelBox[], h: number, w: number): Matrix {
  const cells = h * w;
  const data = new Float32Array(regions.length * cells);
  regions.forEach((r, i) => {
    const u0 = (r.x / image.width) * w;
    const u1 = ((r.x + r.w) / image.width) * w;
    const v0 = (r.y / image.height) * h;
    const v1 = ((r.y + r.h) / image.height) * h;
    for (let y = Math.floor(v0); y < Math.min(h, Math.ceil(v1)); y++) {
      const fy = Math.min(v1, y + 1) - Math.max(v0, y);
      for (let x = Math.floor(u0); x < Math.min(w, Math.ceil(u1)); x++)
        data[i * cells + y * w + x] = fy * (Math.min(u1, x + 1) - Math.max(u0, x));
    }
  });
  return { data, rows: regions.length, cols: cells };
}

function normalizeRows(m: Matrix): Matrix {
  for (let r = 0; r < m.rows; r++) {
    const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
    let ss = 0;
    for (const v of row) ss += v * v;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let k = 0; k < row.length; k++) row[k] *= inv;
  }
  return m;
}

/**
 * Scans with the session of its encoder (a model opened through withFeatureMap). The pooling is one matrix
 * product on a model thread: the summed-area table it replaced took ~11 ms of the event loop per photo.
 */
export class FeatureMapScanner implements RegionScanner {
  constructor(
    private readonly entry: OnnxEncoderEntry,
    private readonly spec: FeatureMapSpec,
    private readonly session: Session,
    private readonly algebra: LinearAlgebra,
  ) {}

  async scan(image: DecodedImage, boxes: PixelBox[], side?: number): Promise<Matrix> {
    checkImage(image);
    const regions = boxes.map((b) => cropRegion(image, b));
    const { map, c, h, w } = await this.featureMap(image, side);
    return normalizeRows(
      await this.algebra.mulTransposed(coverage(image, regions, h, w), { data: map, rows: c, cols: h * w }),
    );
  }

  private async featureMap(
    image: DecodedImage,
    side = this.spec.side,
  ): Promise<{ map: Float32Array; c: number; h: number; w: number }> {
    const { stride, output } = this.spec;
    const toStride = (n: number) =>
      Math.max(stride, Math.round((n * side) / Math.max(image.width, image.height) / stride) * stride);
    const w = toStride(image.width);
    const h = toStride(image.height);
    const data = this.session.inputBuffer(3 * w * h);
    await drawScaled(image, { ...inputCanvas(this.entry, w, h), data, offset: 0 }, { x: 0, y: 0, w, h });
    const dims = this.entry.layout === 'nchw' ? [1, 3, h, w] : [1, h, w, 3];
    const out = (await this.session.run({ [this.entry.input]: new ort.Tensor('float32', data, dims) }, [output], true))[
      output
    ];
    const [, c, fh, fw] = out.dims;
    return { map: out.data as Float32Array, c, h: fh, w: fw };
  }
}
