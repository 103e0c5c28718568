/**
 * Concept-independent region vectors, kept for later: video frames and library photos embed the regions recognition
 * proposes once, and any concept, registered before or after, is scored on the stored vectors without decoding again.
 */
import type { DecodedImage, ImageEncoder, LinearAlgebra, Matrix, ObjectDetector } from '../../models/types.js';
import { toRelativeBox } from '../intake/intake.js';
import type { Box } from '../types.js';
import { proposeWithObjects, type RegionOptions } from './regions.js';
import { objectBox } from './subject-box.js';

export interface StoredRegion {
  /** Fractions of the image, [x, y, w, h]. */
  box: Box;
  vector: Float32Array;
  /** What an answer shows for the region: the detector's object in it (objectBox), else `box`. */
  extent?: Box;
}

export interface RegionModels {
  encoder: ImageEncoder;
  /** Detector boxes join the fixed regions when given. */
  detector?: ObjectDetector;
}

/** Each image's proposed regions and their vectors, all images' crops in one embedding call. */
export async function embedRegions(
  images: DecodedImage[],
  models: RegionModels,
  options: RegionOptions,
): Promise<StoredRegion[][]> {
  const proposed = await Promise.all(images.map((image) => proposeWithObjects(image, models.detector, options)));
  const vectors = await models.encoder.embed(
    images.flatMap((image, i) => proposed[i].regions.map((r) => ({ image, box: r.box }))),
  );
  let k = 0;
  return images.map((image, i) =>
    proposed[i].regions.map((r) => ({
      box: toRelativeBox(r.box, image),
      vector: vectors[k++],
      extent: toRelativeBox(objectBox(r.box, proposed[i].objects, options.objects) ?? r.box, image),
    })),
  );
}

/** Rows of stored region vectors, `rows` × dim, row-major. */
export interface RegionBatch {
  vectors: Float32Array;
  rows: number;
}

/** A head's best region in a group: its output (bias not added) and what `keep` took from its row. */
export interface BestRegion<T> {
  raw: number;
  kept: T;
}

/**
 * Per group of rows (a frame, a photo), every head's best region: one matrix product per batch, so memory stays
 * flat however many rows are stored. `heads` holds one head per row; the answer has one entry per head per group.
 */
export async function bestRegions<B extends RegionBatch, G, T>(
  batches: AsyncIterable<B>,
  heads: Matrix,
  algebra: LinearAlgebra,
  group: (batch: B, row: number) => G,
  keep: (batch: B, row: number) => T,
): Promise<Map<G, BestRegion<T>[]>> {
  const best = new Map<G, BestRegion<T>[]>();
  const k = heads.rows;
  for await (const batch of batches) {
    const out = await algebra.mulTransposed({ data: batch.vectors, rows: batch.rows, cols: heads.cols }, heads);
    for (let i = 0; i < batch.rows; i++) {
      const key = group(batch, i);
      const seen = best.get(key);
      if (!seen) {
        const kept = keep(batch, i);
        best.set(
          key,
          Array.from({ length: k }, (_, j) => ({ raw: out.data[i * k + j], kept })),
        );
        continue;
      }
      // What a row keeps is taken once, however many heads it is best for.
      let kept: T | undefined;
      for (let j = 0; j < k; j++)
        if (out.data[i * k + j] > seen[j].raw) seen[j] = { raw: out.data[i * k + j], kept: (kept ??= keep(batch, i)) };
    }
  }
  return best;
}
