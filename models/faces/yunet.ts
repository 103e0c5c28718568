/** YuNet (raw head: per stride cls, obj, bbox, kps; decode and NMS here) as the face detector of a FaceModel. */
import type { OnnxFaceDetectorEntry } from '../catalog.js';
import { modelFile } from '../files.js';
import { checkImage, clipBox, nms } from '../image/boxes.js';
import { letterbox } from '../image/scale-image.js';
import { type ModelThreads, ort, type Session } from '../runtime/ort.js';
import type { DecodedImage, Face } from '../types.js';

const STRIDES = [8, 16, 32];
/** More faces than any photo shows: a crowd beyond it keeps its most confident faces. */
const MAX_FACES = 64;

export class YunetDetector {
  private constructor(
    private readonly entry: OnnxFaceDetectorEntry,
    private readonly session: Session,
  ) {}

  static async open(
    threads: ModelThreads,
    modelsDir: string,
    entry: OnnxFaceDetectorEntry,
    lanes: string[],
  ): Promise<YunetDetector> {
    const modelPath = modelFile(modelsDir, entry.folder, entry.model);
    const session = await threads.openSession(modelPath, { lanes, reuseMemory: true });
    const outputs = STRIDES.flatMap((s) => ['cls', 'obj', 'bbox', 'kps'].map((o) => `${o}_${s}`));
    const missing = outputs.filter((o) => !session.outputNames.includes(o));
    if (!session.inputNames.includes(entry.input) || missing.length > 0) {
      await session.release();
      throw new Error(`${modelPath}: expected input "${entry.input}" and outputs ${outputs}, missing ${missing}`);
    }
    return new YunetDetector(entry, session);
  }

  /** Faces best first, in pixels of `image`. */
  async detect(image: DecodedImage): Promise<Face[]> {
    checkImage(image);
    // Letterboxed, not stretched: faces keep their shape.
    const { size, input } = this.entry;
    const { data, w, h } = await letterbox(image, this.session.inputBuffer(3 * size * size), size, 0, true);
    const out = await this.session.run(
      { [input]: new ort.Tensor('float32', data, [1, 3, size, size]) },
      undefined,
      true,
    );
    return nms(this.decode(out, w / image.width, h / image.height, image), this.entry.nmsIou, MAX_FACES);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }

  /** Per cell: score sqrt(cls x obj); box centre (col + b0, row + b1) x stride, size exp(b2|b3) x stride. */
  private decode(out: Record<string, ort.Tensor>, sx: number, sy: number, image: DecodedImage): Face[] {
    const { size, minScore } = this.entry;
    const faces: Face[] = [];
    const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
    for (const s of STRIDES) {
      const [cls, obj, bb, kp] = ['cls', 'obj', 'bbox', 'kps'].map((o) => out[`${o}_${s}`].data as Float32Array);
      const cols = size / s;
      for (let i = 0; i < cls.length; i++) {
        const score = Math.sqrt(clamp01(cls[i]) * clamp01(obj[i]));
        if (score < minScore) continue;
        const [c, row] = [i % cols, Math.floor(i / cols)];
        const cx = (c + bb[i * 4]) * s;
        const cy = (row + bb[i * 4 + 1]) * s;
        const bw = Math.exp(bb[i * 4 + 2]) * s;
        const bh = Math.exp(bb[i * 4 + 3]) * s;
        const box = clipBox(
          { x: (cx - bw / 2) / sx, y: (cy - bh / 2) / sy, w: bw / sx, h: bh / sy },
          image.width,
          image.height,
        );
        if (!box) continue;
        const landmarks = Array.from(
          { length: 5 },
          (_, k) =>
            [((c + kp[i * 10 + 2 * k]) * s) / sx, ((row + kp[i * 10 + 2 * k + 1]) * s) / sy] as [number, number],
        );
        faces.push({ box, score, landmarks });
      }
    }
    return faces;
  }
}
