/** MobileFaceNet as the embedding of a FaceModel: each face aligned by its landmarks, then one 128-d vector. */
import type { OnnxFaceEmbedderEntry } from '../catalog.js';
import { modelFile } from '../files.js';
import { type ModelThreads, ort, type Session } from '../runtime/ort.js';
import type { DecodedImage, Face } from '../types.js';
import { alignFace } from './align.js';

export class FaceEmbedder {
  private constructor(
    private readonly entry: OnnxFaceEmbedderEntry,
    private readonly session: Session,
  ) {}

  static async open(
    threads: ModelThreads,
    modelsDir: string,
    entry: OnnxFaceEmbedderEntry,
    lanes: string[],
  ): Promise<FaceEmbedder> {
    const modelPath = modelFile(modelsDir, entry.folder, entry.model);
    const session = await threads.openSession(modelPath, { lanes, reuseMemory: true });
    if (!session.inputNames.includes(entry.input) || !session.outputNames.includes(entry.output)) {
      await session.release();
      throw new Error(
        `${modelPath}: expected input "${entry.input}" and output "${entry.output}", found ${session.inputNames} / ` +
          `${session.outputNames}`,
      );
    }
    return new FaceEmbedder(entry, session);
  }

  get dim(): number {
    return this.entry.dim;
  }

  /** One L2-normalised vector per face; the model takes one face per run (its batch is fixed at 1). */
  embed(image: DecodedImage, faces: Face[]): Promise<Float32Array[]> {
    return Promise.all(faces.map((f) => this.embedOne(image, f)));
  }

  dispose(): Promise<void> {
    return this.session.release();
  }

  private async embedOne(image: DecodedImage, face: Face): Promise<Float32Array> {
    const { size, mean, std, input, output, dim } = this.entry;
    const aligned = alignFace(image, face.landmarks, size);
    const plane = size * size;
    const data = this.session.inputBuffer(3 * plane);
    for (let i = 0; i < plane; i++)
      for (let c = 0; c < 3; c++) data[c * plane + i] = (aligned[i * 3 + c] / 255 - mean[c]) / std[c];
    const out = await this.session.run(
      { [input]: new ort.Tensor('float32', data, [1, 3, size, size]) },
      [output],
      true,
    );
    const v = Float32Array.from(out[output].data as Float32Array);
    if (v.length !== dim) throw new Error(`${this.entry.folder}: ${v.length} values, expected ${dim}`);
    const norm = Math.hypot(...v) || 1;
    for (let i = 0; i < v.length; i++) v[i] /= norm;
    return v;
  }
}
