/** The FaceModel of a face detector and a face embedding from the catalog: one lane of their own runs both. */
import type { OnnxFaceDetectorEntry, OnnxFaceEmbedderEntry } from '../catalog.js';
import type { ModelThreads } from '../runtime/ort.js';
import type { DecodedImage, Face, FaceModel } from '../types.js';
import { FaceEmbedder } from './mobilefacenet.js';
import { YunetDetector } from './yunet.js';

/** The lane's thread runs the two models one after the other: a face is embedded only once found. */
const LANES = ['faces'];

export class OnnxFaceModel implements FaceModel {
  readonly name: string;
  readonly dim: number;

  private constructor(
    private readonly detector: YunetDetector,
    private readonly embedder: FaceEmbedder,
    detectorFolder: string,
    embedderFolder: string,
  ) {
    this.name = `${detectorFolder}+${embedderFolder}`;
    this.dim = embedder.dim;
  }

  static async open(
    threads: ModelThreads,
    modelsDir: string,
    detector: OnnxFaceDetectorEntry,
    embedder: OnnxFaceEmbedderEntry,
  ): Promise<OnnxFaceModel> {
    const d = await YunetDetector.open(threads, modelsDir, detector, LANES);
    const e = await FaceEmbedder.open(threads, modelsDir, embedder, LANES).catch(async (err) => {
      await d.dispose();
      throw err;
    });
    return new OnnxFaceModel(d, e, detector.folder, embedder.folder);
  }

  detect(image: DecodedImage): Promise<Face[]> {
    return this.detector.detect(image);
  }

  embed(image: DecodedImage, faces: Face[]): Promise<Float32Array[]> {
    return this.embedder.embed(image, faces);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.detector.dispose(), this.embedder.dispose()]);
  }
}
