/**
 * Close calls between look-alikes: where a present concept's region scores close to it (or above) for another concept,
 * the region's cells are matched against each one's reference cells, both ways (cell-match.ts); if a rival's
 * references match better, the concept loses the place (the rival gains nothing). Sibling products differ in where
 * their print sits, which the pooled vectors that the heads score average away.
 */
import { cropImage } from '../../models/image/crop-image.js';
import type { DecodedImage, LinearAlgebra, Matrix, PixelBox, RegionScanner } from '../../models/types.js';
import { type CellGrid, type CellMatch, cellMatches, cellVectors } from './cell-match.js';

/** A present concept, the region it stands on, and the concepts that score close to it there. */
interface CloseCall {
  concept: number;
  region: PixelBox;
  rivals: number[];
}

/** A concept's reference cells, by its index among the user's heads; undefined when it has none. */
type References = (concept: number) => Promise<Matrix | undefined>;

/**
 * How well a region and a concept's references match: both ways at once, the region's cells explained by the references
 * and the references' cells found in the region (a region of the subject's colours alone is only explained).
 */
const bothWays = (m: CellMatch) => (m.explained + m.found) / 2;

/**
 * The concepts that lose their close call: each call's region cut into `grid`'s cells, one scan per call, side by
 * side on the model threads. A concept or rival without references has no say.
 */
export async function settleCloseCalls(
  image: DecodedImage,
  calls: CloseCall[],
  references: References,
  scanner: RegionScanner,
  algebra: LinearAlgebra,
  grid: CellGrid,
): Promise<Set<number>> {
  const lost = await Promise.all(
    calls.map(async ({ concept, region, rivals }) => {
      const [own, ...read] = await Promise.all([concept, ...rivals].map(references));
      if (!own) return false;
      const others = read.filter((t) => t !== undefined);
      if (others.length === 0) return false;
      const cells = await cellVectors(cropImage({ image, box: region }), scanner, grid);
      const [match, ...rivalMatches] = await cellMatches(cells, [own, ...others], algebra);
      const mine = bothWays(match);
      return rivalMatches.some((m) => bothWays(m) > mine);
    }),
  );
  return new Set(calls.filter((_, k) => lost[k]).map((c) => c.concept));
}
