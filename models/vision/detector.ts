/** YOLOX (raw head output, decode and NMS here) as an ObjectDetector, configured by its catalog entry. */
import { checkImage, clipBox, nms } from '../image/boxes.js';
import type { OnnxDetectorEntry } from '../catalog.js';
import { modelFile, readLabels } from '../files.js';
import { type ModelThreads, ort, type Session } from '../runtime/ort.js';
import { letterbox } from '../image/scale-image.js';
import type { DecodedImage, Detection, ObjectDetector } from '../types.js';

const STRIDES = [8, 16, 32];

export interface DetectOptions {
  /** Lowest objectness x class probability kept (default 0.25). */
  minScore?: number;
  /** Most boxes returned, best first (default 20). */
  maxDetections?: number;
}

export class YoloxDetector implements ObjectDetector {
  readonly name: string;

  private constructor(
    private readonly entry: OnnxDetectorEntry,
    private readonly session: Session,
    private readonly labels: string[],
  ) {
    this.name = entry.folder;
  }

  static async open(threads: ModelThreads, modelsDir: string, entry: OnnxDetectorEntry): Promise<YoloxDetector> {
    const modelPath = modelFile(modelsDir, entry.folder, entry.model);
    const labels = await readLabels(modelFile(modelsDir, entry.folder, entry.labels));
    // A lane of its own runs it beside the scanner; one thread, as YOLOX-nano runs no faster on two (13.5 vs 14.4 ms
    // here).
    const session = await threads.openSession(modelPath, { threads: 1, lanes: ['detector'], reuseMemory: true });
    if (!session.inputNames.includes(entry.input) || !session.outputNames.includes(entry.output)) {
      await session.release();
      throw new Error(
        `${modelPath}: expected input "${entry.input}" and output "${entry.output}", found ${session.inputNames} / ` +
          `${session.outputNames}`,
      );
    }
    return new YoloxDetector(entry, session, labels);
  }

  async detect(image: DecodedImage, options: DetectOptions = {}): Promise<Detection[]> {
    const { minScore = 0.25, maxDetections = 20 } = options;
    if (!(minScore >= 0 && minScore <= 1)) throw new Error(`minScore must be in [0, 1], got ${minScore}`);
    if (!Number.isInteger(maxDetections) || maxDetections < 0)
      throw new Error(`maxDetections must be a non-negative integer, got ${maxDetections}`);
    checkImage(image);

    const { size, padValue } = this.entry;
    const { data, w, h } = await letterbox(
      image,
      this.session.inputBuffer(3 * size * size),
      size,
      padValue,
      this.entry.channels === 'bgr',
    );

    const input = new ort.Tensor('float32', data, [1, 3, size, size]);
    const out = (await this.session.run({ [this.entry.input]: input }, [this.entry.output], true))[this.entry.output];
    // Map back per axis: rounding made the letterbox scale differ slightly between x and y.
    const candidates = this.decode(out, minScore, w / image.width, h / image.height, image);
    return nms(candidates, this.entry.nmsIou, maxDetections, (a, b) => a.label === b.label);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /** Rows [dx, dy, log w, log h, objectness, class probs...] over the grids of strides 8, 16, 32. */
  private decode(out: ort.Tensor, minScore: number, sx: number, sy: number, image: DecodedImage): Detection[] {
    const { size } = this.entry;
    const cols = 5 + this.labels.length;
    const cells = STRIDES.reduce((n, s) => n + (size / s) ** 2, 0);
    if (out.dims.length !== 3 || out.dims[1] !== cells || out.dims[2] !== cols) {
      throw new Error(
        `${this.name}: output [${out.dims}] does not match ${cells} cells x (5 + ${this.labels.length} labels)`,
      );
    }
    const d = out.data as Float32Array;
    const found: Detection[] = [];
    let o = 0;
    for (const s of STRIDES) {
      const g = size / s;
      for (let gy = 0; gy < g; gy++) {
        for (let gx = 0; gx < g; gx++, o += cols) {
          const objectness = d[o + 4];
          if (objectness < minScore) continue; // score = objectness x class prob <= objectness
          let cls = 0;
          for (let c = 1; c < cols - 5; c++) if (d[o + 5 + c] > d[o + 5 + cls]) cls = c;
          const score = objectness * d[o + 5 + cls];
          if (score < minScore) continue;
          const cx = (d[o] + gx) * s;
          const cy = (d[o + 1] + gy) * s;
          const bw = Math.exp(d[o + 2]) * s;
          const bh = Math.exp(d[o + 3]) * s;
          const box = clipBox(
            { x: (cx - bw / 2) / sx, y: (cy - bh / 2) / sy, w: bw / sx, h: bh / sy },
            image.width,
            image.height,
          );
          if (box) found.push({ box, label: this.labels[cls], score });
        }
      }
    }
    return found;
  }
}
