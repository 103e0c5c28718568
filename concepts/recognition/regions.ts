/**
 * Region proposals: where in a photo a concept may be. Detector boxes find objects; a multi-scale grid catches what the
 * detector has no class for.
 */
import { iou } from '../../models/image/boxes.js';
import type { DecodedImage, Detection, ObjectDetector, PixelBox } from '../../models/types.js';
import type { CellGrid } from './cell-match.js';
import type { ReferenceOptions } from './reference-cells.js';
import type { ObjectFit } from './subject-box.js';

export interface Region {
  box: PixelBox;
  source: 'whole' | 'grid' | 'detector' | 'given';
  /** The detector's category, for detector regions. */
  label?: string;
}

export interface RegionOptions {
  /** Windows of `size` (fraction of each side) at `steps`×`steps` evenly spaced places, always embedded. */
  grid: { size: number; steps: number }[];
  /** Smaller windows that a region scanner ranks; the best `scanned` of them are embedded too. */
  scanGrid: { size: number; steps: number }[];
  scanned: number;
  /**
   * The lowest margin (score minus the concept's threshold) at which a scanned window is still embedded, and a
   * concept's best region still gets a second look.
   * Measured on `npm run eval`: a floor of -0.2 embeds 2.5 fewer crops per photo (12.5 -> 10.0) at scene F1
   * 0.931 -> 0.928 (seed 1) and 0.893 -> 0.893 (seed 2); -0.1 embeds 8.6 at 0.915 and 0.890.
   */
  scanFloor: number;
  /**
   * Subtracted from head outputs on scanned windows: they were picked because they scored high, so their
   * maximum runs above what calibration saw on the fixed regions (a selection-bias correction).
   */
  scanPenalty: number;
  /**
   * Scanned windows whose head output is this close to the concept's best window's make its box (subjectBox).
   * Chosen on the eval's fold 0 scenes (0.2-0.4 tried), checked on fold 1: docs/open-world.md.
   */
  boxSpread: number;
  /**
   * The second look (second-look.ts) at the best regions of up to `regions` concepts whose margin is at least
   * `scanFloor`: the scanner at `side` px over `grid` inside each, the best `windows` embedded with the scan penalty.
   * Chosen on the eval's fold 0 scenes, checked on fold 1: docs/open-world.md.
   */
  secondLook: { regions: number; windows: number; side: number; grid: RegionOptions['grid'] };
  /**
   * A present concept whose region scores within `margin` (in score) for another concept has its region's `cells`
   * matched against their `references` (close-calls.ts). Chosen on the eval's fold 0 (margins 0.1-0.5; the whole
   * registration photos in 14 x 14 cells or the reference crops in 7 x 7 as references), checked on fold 1.
   */
  closeCall: { margin: number; cells: CellGrid; references: ReferenceOptions };
  /** The detector's strongest objects, proposed as regions. */
  maxDetections: number;
  minDetectionScore: number;
  /** Context added around a detector box, as a fraction of its size on each side. */
  padding: number;
  /**
   * The detector's objects down to `minScore` (at most `max`) that may give a match's box its extent (objectBox).
   * Chosen on the eval's fold 0 scenes against hand-drawn subject boxes, checked on fold 1: docs/open-world.md.
   */
  objects: { minScore: number; max: number } & ObjectFit;
}

export const defaultRegionOptions: RegionOptions = {
  grid: [{ size: 0.75, steps: 2 }],
  // Strides of about a third of the window: scanning is cheap, and a window that cuts a subject scores low.
  scanGrid: [
    { size: 0.5, steps: 4 },
    { size: 0.4, steps: 5 },
    { size: 0.3, steps: 6 },
    { size: 0.25, steps: 7 },
  ],
  scanned: 6,
  scanFloor: -0.2,
  scanPenalty: 0.1,
  boxSpread: 0.3,
  secondLook: {
    regions: 2,
    windows: 3,
    side: 320,
    grid: [
      { size: 0.8, steps: 2 },
      { size: 0.65, steps: 3 },
      { size: 0.5, steps: 3 },
    ],
  },
  closeCall: {
    margin: 0.3,
    // The region's central 10 x 10 of 14 x 14 cells: its edges are the background around the subject.
    cells: { n: 14, edge: 2, side: 448 },
    references: { grid: { n: 7, edge: 0, side: 448 }, photos: 3, maxBytes: 16 << 20 },
  },
  maxDetections: 6,
  minDetectionScore: 0.3,
  padding: 0.1,
  objects: { minScore: 0.02, max: 100, inside: 0.7, minArea: 0.1 },
};

/** Grows a box by `padding` of its size on each side, kept inside the image. */
export function padBox(box: PixelBox, padding: number, image: DecodedImage): PixelBox {
  const x = Math.max(0, Math.round(box.x - box.w * padding));
  const y = Math.max(0, Math.round(box.y - box.h * padding));
  const x2 = Math.min(image.width, Math.round(box.x + box.w * (1 + padding)));
  const y2 = Math.min(image.height, Math.round(box.y + box.h * (1 + padding)));
  return { x, y, w: Math.max(1, x2 - x), h: Math.max(1, y2 - y) };
}

/** Windows of `size` (fraction of each side) at `steps`×`steps` evenly spaced places, per grid entry. */
export function gridWindows(image: DecodedImage, grid: RegionOptions['grid']): PixelBox[] {
  const windows: PixelBox[] = [];
  for (const { size, steps } of grid) {
    const w = Math.max(1, Math.round(image.width * size));
    const h = Math.max(1, Math.round(image.height * size));
    for (let i = 0; i < steps; i++)
      for (let j = 0; j < steps; j++) {
        const fx = steps === 1 ? 0.5 : j / (steps - 1);
        const fy = steps === 1 ? 0.5 : i / (steps - 1);
        windows.push({ x: Math.round((image.width - w) * fx), y: Math.round((image.height - h) * fy), w, h });
      }
  }
  return windows;
}

/** The whole photo, then the grid's windows. */
export function gridRegions(image: DecodedImage, grid: RegionOptions['grid']): Region[] {
  return [
    { box: { x: 0, y: 0, w: image.width, h: image.height }, source: 'whole' },
    ...gridWindows(image, grid).map((box): Region => ({ box, source: 'grid' })),
  ];
}

/** The detector's objects strong enough to be proposed as regions, best first (none without a detector). */
export async function detectObjects(
  image: DecodedImage,
  detector: ObjectDetector | undefined,
  options: RegionOptions,
): Promise<Detection[]> {
  return detector?.detect(image, { minScore: options.minDetectionScore, maxDetections: options.maxDetections }) ?? [];
}

/**
 * The strongest of the detector's `objects` (best first) as regions, padded, leaving out those that repeat a region
 * `taken` already. Suppression keeps the best first, so the strongest of a longer list are the same objects.
 */
export function detectedRegions(
  image: DecodedImage,
  objects: Detection[],
  options: RegionOptions,
  taken: Region[],
): Region[] {
  const regions: Region[] = [];
  for (const d of objects.filter((o) => o.score >= options.minDetectionScore).slice(0, options.maxDetections)) {
    const box = padBox(d.box, options.padding, image);
    if (box.w < 8 || box.h < 8) continue;
    if ([...taken, ...regions].some((r) => iou(r.box, box) > 0.9)) continue;
    regions.push({ box, source: 'detector', label: d.label });
  }
  return regions;
}

/** The whole photo, the grid's windows and the detector's strongest `objects`. */
function proposedRegions(image: DecodedImage, objects: Detection[], options: RegionOptions): Region[] {
  const regions = gridRegions(image, options.grid);
  return [...regions, ...detectedRegions(image, objects, options, regions)];
}

/** The regions to embed and every object that may give a box its extent, from one detector pass. */
export async function proposeWithObjects(
  image: DecodedImage,
  detector: ObjectDetector | undefined,
  options: RegionOptions,
): Promise<{ regions: Region[]; objects: Detection[] }> {
  // Also every object that may give a match's box its extent: the proposals take the strongest of them.
  const { minScore, max } = options.objects;
  const objects =
    (await detector?.detect(image, {
      minScore: Math.min(minScore, options.minDetectionScore),
      maxDetections: Math.max(max, options.maxDetections),
    })) ?? [];
  return { regions: proposedRegions(image, objects, options), objects };
}

export async function proposeRegions(
  image: DecodedImage,
  detector: ObjectDetector | undefined,
  options: RegionOptions = defaultRegionOptions,
): Promise<Region[]> {
  return proposedRegions(image, await detectObjects(image, detector, options), options);
}
