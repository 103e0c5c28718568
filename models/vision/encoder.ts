/** Any ONNX image classifier/feature extractor as an ImageEncoder, configured by its catalog entry. */
import { readFileSync } from 'node:fs';
import { cropRegion, checkImage } from '../image/boxes.js';
import { inputCanvas, type OnnxEncoderEntry } from '../catalog.js';
import { readClassifier } from './classifier.js';
import { FeatureMapScanner, withFeatureMap } from './feature-map.js';
import { modelFile, readLabels } from '../files.js';
import { type Draws, type ModelThreads, ort, type Session } from '../runtime/ort.js';
import { cutRegion, readRect, regionSource } from '../image/resample.js';
import type { Crop, ImageEncoder, LinearAlgebra, PixelBox, RegionScanner } from '../types.js';
import { meanColour, zoomDraw } from '../image/zoom.js';

/**
 * Crops per model call: per-crop time is flat from 4 to 32 here; small batches overlap their pre-processing
 * with inference and keep the activation memory that the session holds between runs small (peak RSS 538 MB
 * with 8, 510 MB with 4).
 */
const BATCH = 4;

export interface Classification {
  label: string;
  /** Softmax probability of that label. */
  score: number;
}

export class OnnxImageEncoder implements ImageEncoder {
  readonly name: string;
  readonly dim: number;
  readonly scanner?: RegionScanner;
  private bank?: Promise<Float32Array[]>;

  private constructor(
    private readonly entry: OnnxEncoderEntry,
    private readonly modelPath: string,
    private readonly session: Session,
    private readonly labels: string[] | undefined,
    algebra: LinearAlgebra,
  ) {
    this.name = entry.folder;
    this.dim = entry.dim;
    this.scanner = entry.featureMap && new FeatureMapScanner(entry, entry.featureMap, session, algebra);
  }

  /** `algebra` runs the region scanner's pooling (entries with a feature map). */
  static async open(
    threads: ModelThreads,
    modelsDir: string,
    entry: OnnxEncoderEntry,
    algebra: LinearAlgebra,
  ): Promise<OnnxImageEncoder> {
    const modelPath = modelFile(modelsDir, entry.folder, entry.model);
    const labels = entry.classifier
      ? await readLabels(modelFile(modelsDir, entry.folder, entry.classifier.labels))
      : undefined;
    const { featureMap } = entry;
    const model = featureMap
      ? withFeatureMap(readFileSync(modelPath), entry.input, featureMap.output, entry.dim)
      : modelPath;
    // Crops also run on the detector's thread, idle once the proposals are found: two one-thread copies do more
    // per core than one on two threads (MobileNetV2's depthwise layers scale poorly).
    const session = await threads.openSession(model, { reuseMemory: true, lanes: ['models', 'detector'] });
    const outputs = [entry.output, ...(entry.classifier ? [entry.classifier.output] : [])];
    const missing = [entry.input].filter((n) => !session.inputNames.includes(n));
    missing.push(...outputs.filter((n) => !session.outputNames.includes(n)));
    if (missing.length) {
      await session.release();
      throw new Error(
        `${modelPath} has no tensor named ${missing.join(', ')} (inputs ${session.inputNames}, outputs ` +
          `${session.outputNames})`,
      );
    }
    return new OnnxImageEncoder(entry, modelPath, session, labels, algebra);
  }

  async embed(crops: Crop[]): Promise<Float32Array[]> {
    const rows = await this.run(crops, this.entry.output, this.dim);
    for (const v of rows) normalize(v);
    return rows;
  }

  /** Top-1 class of each crop, from the model's own classifier (e.g. to suggest a subject's category). */
  async classify(crops: Crop[]): Promise<Classification[]> {
    const { classifier } = this.entry;
    if (!classifier || !this.labels) throw new Error(`${this.name} has no classifier output`);
    const labels = this.labels;
    const rows = await this.run(crops, classifier.output, labels.length);
    return rows.map((logits) => {
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      let sum = 0;
      for (const v of logits) sum += Math.exp(v - logits[best]);
      return { label: labels[best], score: 1 / sum };
    });
  }

  /**
   * One vector per class of the model's own classifier: the positive part of its weight row. Features are
   * post-ReLU (non-negative), so a class's features line up with the positive weights of its row: for 87 of
   * the 114 shared photos the nearest row is that of the predicted class. Cached; callers must not mutate.
   */
  negativeBank(): Promise<Float32Array[]> {
    const { classifier } = this.entry;
    if (!classifier) return Promise.resolve([]);
    if (!this.bank) {
      this.bank = readClassifier(this.modelPath, classifier.output).then((c) => {
        if (c.features !== this.dim)
          throw new Error(`${this.name}: classifier takes ${c.features} features, encoder gives ${this.dim}`);
        const bank: Float32Array[] = [];
        for (let k = 0; k < c.classes; k++) {
          const row = c.weights.slice(k * c.features, (k + 1) * c.features).map((v) => Math.max(0, v));
          if (normalize(row)) bank.push(row);
        }
        return bank;
      });
      this.bank.catch(() => (this.bank = undefined)); // a failed read may be retried
    }
    return this.bank;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /** Runs all crops through the model in batches, returning `width` floats of `output` per crop. */
  private async run(crops: Crop[], output: string, width: number): Promise<Float32Array[]> {
    const regions = crops.map((c) => {
      checkImage(c.image);
      return cropRegion(c.image, c.box);
    });
    const batches: Promise<Float32Array[]>[] = [];
    for (let i = 0; i < crops.length; i += BATCH) {
      // In flight at most: one batch per model thread, and the one built here meanwhile.
      const window = this.session.parallelism + 1;
      if (batches.length >= window) await batches[batches.length - window];
      const n = Math.min(BATCH, crops.length - i);
      const { input, draws } = this.tensor(crops.slice(i, i + n), regions.slice(i, i + n));
      const batch = this.session.run({ [this.entry.input]: input }, [output], true, draws).then((out) => {
        const data = out[output].data as Float32Array;
        if (data.length !== n * width)
          throw new Error(`${this.name}: "${output}" gave ${data.length / n} values per crop, expected ${width}`);
        return Array.from({ length: n }, (_, k) => data.slice(k * width, (k + 1) * width));
      });
      batch.catch(() => undefined); // rejections surface in Promise.all below, not as unhandled ones
      batches.push(batch);
    }
    return (await Promise.all(batches)).flat();
  }

  /**
   * One batch tensor, and how its model thread fills it: every crop resized, flipped, zoomed and normalised into place.
   */
  private tensor(crops: Crop[], regions: PixelBox[]): { input: ort.Tensor; draws: Draws } {
    const { size, layout } = this.entry;
    const per = 3 * size * size;
    // Zero-filled, and zero is the mean colour after normalisation: letterbox padding comes for free.
    const data = this.session.inputBuffer(crops.length * per);
    const canvas = inputCanvas(this.entry, size, size);
    const placed = crops.map((crop, k) => {
      const placement = this.placement(regions[k]);
      let { src, dst } = placement;
      let fill: { rect: PixelBox; rgb: [number, number, number] } | undefined;
      if (crop.zoom) {
        const draw = zoomDraw(regions[k], crop.zoom, placement);
        if (!draw) throw new Error(`zoom ${JSON.stringify(crop.zoom)} shows nothing of the region`);
        ({ from: src, to: dst } = draw);
        fill = { rect: placement.dst, rgb: meanColour(crop.image, regions[k]) };
      }
      const source = regionSource(crop.image, src, dst);
      const rect = readRect(source);
      return { crop, source, rect, dst, fill, bytes: (rect.x1 - rect.x0) * (rect.y1 - rect.y0) * 3, offset: k * per };
    });
    // Only the pixels each crop reads travel to the model thread: at most ~2x the input size per crop.
    const pixels = this.session.pixelBuffer(placed.reduce((n, p) => n + p.bytes, 0));
    let at = 0;
    const drawn = placed.map(({ crop, source, rect, dst, fill, bytes, offset }) => {
      const { image, src } = cutRegion(source, pixels, at, rect);
      const region = { at, width: image.width, height: image.height, src, dst, flip: crop.flip ?? false, offset, fill };
      at += bytes;
      return region;
    });
    const dims = layout === 'nchw' ? [crops.length, 3, size, size] : [crops.length, size, size, 3];
    return {
      input: new ort.Tensor('float32', data, dims),
      draws: { input: this.entry.input, canvas, pixels, regions: drawn },
    };
  }

  /** Which source rectangle lands where in the square input, per the entry's resize policy. */
  private placement(r: PixelBox): { src: PixelBox; dst: PixelBox } {
    const { size, resize, cropFraction } = this.entry;
    const full = { x: 0, y: 0, w: size, h: size };
    switch (resize) {
      case 'squash':
        return { src: r, dst: full };
      case 'shortside-centercrop': {
        // Short side scaled to size / cropFraction, centre size x size cut: a centred square of the source.
        const side = Math.min(r.w, r.h) * cropFraction;
        return { src: { x: r.x + (r.w - side) / 2, y: r.y + (r.h - side) / 2, w: side, h: side }, dst: full };
      }
      case 'letterbox': {
        const s = size / Math.max(r.w, r.h);
        const w = Math.max(1, Math.round(r.w * s));
        const h = Math.max(1, Math.round(r.h * s));
        return { src: r, dst: { x: (size - w) >> 1, y: (size - h) >> 1, w, h } };
      }
    }
  }
}

/** Scales `v` to unit length in place; false when it is all zeros. */
function normalize(v: Float32Array): boolean {
  let ss = 0;
  for (const x of v) ss += x * x;
  if (ss === 0) return false;
  const inv = 1 / Math.sqrt(ss);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return true;
}
