/**
 * Close calls between look-alikes: where a present concept's region scores close to it (or above) for another concept,
 * the region is looked at again at twice the scale of a 224 px crop, and if the rival's head then scores higher the
 * concept loses the place (the rival gains nothing). Sibling products differ in small print that a 224 px crop blurs.
 */
import { cropImage } from '../../models/image/crop-image.js';
import type { DecodedImage, Matrix, PixelBox, RegionScanner } from '../../models/types.js';
import { dot, matrixRow } from '../matrix.js';

/** A present concept, the region it stands on, and the concepts that score close to it there. */
export interface CloseCall {
  concept: number;
  region: PixelBox;
  rivals: number[];
}

/**
 * The concepts that lose their close call: each call's region, scanned whole at `side` px, scored by the heads
 * (`weights` rows, `bias`); one scan per call, side by side on the model threads.
 */
export async function settleCloseCalls(
  image: DecodedImage,
  calls: CloseCall[],
  weights: Matrix,
  bias: Float32Array,
  scanner: RegionScanner,
  side: number,
): Promise<Set<number>> {
  const lost = await Promise.all(
    calls.map(async ({ concept, region, rivals }) => {
      const inside = cropImage({ image, box: region });
      const { data } = await scanner.scan(inside, [{ x: 0, y: 0, w: inside.width, h: inside.height }], side);
      const output = (j: number) => dot(data, matrixRow(weights, j)) + bias[j];
      return rivals.some((r) => output(r) > output(concept));
    }),
  );
  return new Set(calls.filter((_, k) => lost[k]).map((c) => c.concept));
}
