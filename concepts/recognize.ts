/** Recognition: one batch of region embeddings, every head of the user over every region, each concept's best region. */
import type { DecodedImage, ImageEncoder, MatMul, Matrix, ObjectDetector } from '../models/types.js';
import { proposeRegions, type RegionOptions } from './regions.js';
import type { Box, Match, Timings } from './types.js';

/** A user's heads stacked for one matrix product per photo. */
export interface UserHeads {
  ids: string[];
  names: string[];
  weights: Matrix;
  bias: Float32Array;
  /** Per concept, in score space: a concept is present when its score reaches it. */
  thresholds: Float64Array;
}

/** Raw head outputs are squashed into [0, 1] by a fixed logistic, so scores and thresholds share one scale. */
const squash = 3;
const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
export const toScore = (raw: number) => round4(1 / (1 + Math.exp(-squash * raw)));

export interface RecognizeModels {
  encoder: ImageEncoder;
  detector?: ObjectDetector;
  matmul: MatMul;
}

export async function recognizeImage(
  image: DecodedImage,
  heads: UserHeads,
  models: RecognizeModels,
  timings: Timings,
  regionOptions?: RegionOptions,
): Promise<Match[]> {
  if (heads.ids.length === 0) return [];
  let t = performance.now();
  const regions = await proposeRegions(image, models.detector, regionOptions);
  timings.regions = performance.now() - t;
  t = performance.now();
  const vectors = await models.encoder.embed(regions.map((r) => ({ image, box: r.box })));
  timings.embed = performance.now() - t;
  t = performance.now();
  const dim = heads.weights.cols;
  const features = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => features.set(v, i * dim));
  const out = await models.matmul.mulTransposed({ data: features, rows: vectors.length, cols: dim }, heads.weights);
  const c = heads.ids.length;
  const matches = heads.ids.map((id, j) => {
    let best = 0;
    for (let r = 1; r < regions.length; r++) if (out.data[r * c + j] > out.data[best * c + j]) best = r;
    const raw = out.data[best * c + j] + heads.bias[j];
    const b = regions[best].box;
    const box: Box = [b.x / image.width, b.y / image.height, b.w / image.width, b.h / image.height].map(round4) as Box;
    const score = toScore(raw);
    return { id, name: heads.names[j], score, present: score >= heads.thresholds[j], box };
  });
  timings.heads = performance.now() - t;
  return matches.sort((a, b) => b.score - a.score);
}
