/**
 * A second look at concepts close to present: the scanner runs again on each one's best region, as if that region were
 * the photo, and the windows inside that its head ranks best are embedded. A subject small in the photo is then seen
 * as closely as in a photo of its own; the first pass's windows are too coarse to frame it.
 */
import { firstApart } from '../../models/image/boxes.js';
import { cropImage, cropPixels } from '../../models/image/crop-image.js';
import type { DecodedImage, Detection, Matrix, PixelBox, RegionScanner } from '../../models/types.js';
import { type ObjectFit, objectBox, type Scan } from './subject-box.js';
import { gridWindows, type RegionOptions } from './regions.js';
import { dot, matrixRow } from '../matrix.js';

/** A concept close to present and the region to look at again. */
export interface Candidate {
  concept: number;
  region: PixelBox;
}

/**
 * Concepts whose best region is their own and whose margin (score minus threshold) lies in [floor, 0), closest to
 * present first, one per place: at most `count` of them.
 */
export function candidates(
  best: { row: number; free: boolean }[],
  margins: number[],
  regions: PixelBox[],
  floor: number,
  count: number,
): Candidate[] {
  const order = margins
    .map((margin, concept) => ({ concept, margin }))
    .filter((c) => best[c.concept].free && c.margin < 0 && c.margin >= floor)
    .sort((a, b) => b.margin - a.margin);
  return firstApart(
    order.map(({ concept }) => ({ concept, region: regions[best[concept].row] })),
    (c) => c.region,
    count,
  );
}

/**
 * The `windows` windows inside the candidate's region that its head (a row of `weights`) ranks best, and the scan they
 * came from (every window, in the photo's pixels, with the head's output on it): what the match's box is made from.
 */
export async function closerWindows(
  image: DecodedImage,
  { concept, region }: Candidate,
  weights: Matrix,
  scanner: RegionScanner,
  options: RegionOptions['secondLook'],
): Promise<{ windows: PixelBox[]; scan: Scan }> {
  // The crop starts at the region's corner rounded to a pixel: its windows are placed from there.
  const pixels = cropPixels(image, region);
  const inside = cropImage({ image, box: pixels });
  const windows = gridWindows(inside, options.grid);
  const vectors = await scanner.scan(inside, windows, options.side);
  const { x, y } = pixels;
  const inPhoto = windows.map((w) => ({ x: x + w.x, y: y + w.y, w: w.w, h: w.h }));
  const head = matrixRow(weights, concept);
  const output = Float32Array.from(windows, (_, i) => dot(matrixRow(vectors, i), head));
  const ranked = inPhoto.map((_, i) => i).sort((a, b) => output[b] - output[a]);
  return {
    windows: firstApart(ranked, (i) => inPhoto[i], options.windows).map((i) => inPhoto[i]),
    scan: { windows: inPhoto, outputs: { data: output, rows: output.length, cols: 1 } },
  };
}

/**
 * The detector's object in a candidate's region, seen whole (the closer windows, on a grid, cut it or take in its
 * surroundings), in whole pixels as those windows are; none where no object fits or one rounds to no pixel.
 */
export function objectInRegion(
  image: DecodedImage,
  region: PixelBox,
  objects: Detection[],
  fit: ObjectFit,
): PixelBox | undefined {
  const found = objectBox(region, objects, fit);
  if (!found) return undefined;
  const pixels = cropPixels(image, found);
  return pixels.w > 0 && pixels.h > 0 ? pixels : undefined;
}
