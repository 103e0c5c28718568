/**
 * Recognition: region proposals, one batch of region embeddings, every head of the user over every region,
 * each concept's best region. A region scanner, when the encoder has one, ranks dozens of small windows
 * cheaply; the windows that look best for some concept are embedded properly alongside the proposals. Concepts just
 * under their threshold get a second look inside their best region (second-look.ts); a present concept that a
 * look-alike scores close to there is checked against the reference crops of both (close-calls.ts).
 */
import { firstApart } from '../../models/image/boxes.js';
import type {
  DecodedImage,
  Detection,
  ImageEncoder,
  LinearAlgebra,
  Matrix,
  ObjectDetector,
  PixelBox,
} from '../../models/types.js';
import { defaultRegionOptions, gridWindows, proposeWithObjects, type RegionOptions } from './regions.js';
import { candidates, closerWindows, objectInRegion } from './second-look.js';
import { settleCloseCalls } from './close-calls.js';
import { samePlace } from './places.js';
import { objectBox, type Scan, subjectBox } from './subject-box.js';
import type { Match, Timings } from '../types.js';
import { concatRows, stack } from '../matrix.js';
import { round4 } from '../rounding.js';
import { toRelativeBox } from '../intake/intake.js';

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
export const toScore = (raw: number) => round4(1 / (1 + Math.exp(-squash * raw)));

/** A concept's reference cells by its id (reference-cells.ts); without them, close calls are not settled. */
type ReferenceSource = (id: string) => Promise<Matrix | undefined>;

interface RecognizeModels {
  encoder: ImageEncoder;
  detector?: ObjectDetector;
  algebra: LinearAlgebra;
}

/** What every step of one photo's recognition reads, and the timings they add to. */
interface Photo {
  image: DecodedImage;
  heads: UserHeads;
  models: RecognizeModels;
  options: RegionOptions;
  timings: Timings;
}

/** Per concept, the row (region) with the highest head output, and that output. */
function bestRows(scores: Matrix, bias: Float32Array): { row: number; raw: number }[] {
  const c = scores.cols;
  return Array.from({ length: c }, (_, j) => {
    let row = 0;
    for (let r = 1; r < scores.rows; r++) if (scores.data[r * c + j] > scores.data[row * c + j]) row = r;
    return { row, raw: scores.data[row * c + j] + bias[j] };
  });
}

/** A concept's best region, and whether it is its own (no concept that scores higher claimed that place). */
interface Placed {
  row: number;
  raw: number;
  free: boolean;
}

/** Every region embedded so far, every head's output on each, and each concept's place among them. */
interface Decision {
  regions: PixelBox[];
  scores: Matrix;
  best: Placed[];
}

/**
 * Each concept's best region, where a region that one concept claims is no longer open to the others: one carton is
 * Arla milk or Garant milk, not both. Concepts claim in order of their score, present or not, so a concept with a
 * low threshold cannot name a carton that its sibling matches better; a concept that loses its region takes its best
 * one elsewhere (samePlace), and with none left it is absent.
 */
export function oneSubjectPerRegion(scores: Matrix, heads: UserHeads, regions: PixelBox[]): Placed[] {
  const best: Placed[] = bestRows(scores, heads.bias).map((b) => ({ ...b, free: true }));
  const order = best.map((_, j) => j).sort((a, b) => best[b].raw - best[a].raw);
  const claimed: PixelBox[] = [];
  const taken = (box: PixelBox) => claimed.some((c) => samePlace(c, box));
  const c = scores.cols;
  for (const j of order) {
    if (taken(regions[best[j].row])) {
      let row = -1;
      for (let r = 0; r < scores.rows; r++) {
        if (taken(regions[r])) continue;
        if (row < 0 || scores.data[r * c + j] > scores.data[row * c + j]) row = r;
      }
      best[j] =
        row < 0 ? { ...best[j], free: false } : { row, raw: scores.data[row * c + j] + heads.bias[j], free: true };
    }
    if (best[j].free) claimed.push(regions[best[j].row]);
  }
  return best;
}

/** Scanner vectors of the small windows, ranked against every head: one pass, run while the detector runs. */
async function scanWindows({ image, heads, models, options }: Photo): Promise<Scan | null> {
  const scanner = models.encoder.scanner;
  if (!scanner || options.scanned === 0) return null;
  const windows = gridWindows(image, options.scanGrid);
  return { windows, outputs: await models.algebra.mulTransposed(await scanner.scan(image, windows), heads.weights) };
}

/** Each concept's best window (its subject's box), concepts closest to present first, hopeless ones left out. */
function ranked(scan: Scan | null, { heads, image, options }: Photo) {
  if (!scan) return [];
  return bestRows(scan.outputs, heads.bias)
    .map((b, j) => ({ j, row: b.row, margin: toScore(b.raw) - heads.thresholds[j] }))
    .filter((c) => c.margin >= options.scanFloor)
    .sort((a, b) => b.margin - a.margin)
    .map((c) => ({ box: subjectBox(scan.windows[c.row], scan, c.j, image, options.boxSpread), margin: c.margin }));
}

/** The first `scanned` of the ranked windows, skipping those that windows already taken cover. */
function promising(ranked: { box: PixelBox }[], taken: PixelBox[], options: RegionOptions): PixelBox[] {
  return firstApart(ranked, (r) => r.box, options.scanned, taken).map((r) => r.box);
}

/** Every head's output on each region (regions × concepts, no bias), less the scan penalty from row `scannedFrom`. */
async function headOutputs(
  { image, heads, models, timings, options }: Photo,
  regions: PixelBox[],
  scannedFrom: number,
): Promise<Matrix> {
  const vectors = await timed(timings, 'embed', () => models.encoder.embed(regions.map((box) => ({ image, box }))));
  return timed(timings, 'heads', async () => {
    const scores = await models.algebra.mulTransposed(stack(vectors, heads.weights.cols), heads.weights);
    for (let r = scannedFrom; r < scores.rows; r++)
      for (let j = 0; j < scores.cols; j++) scores.data[r * scores.cols + j] -= options.scanPenalty;
    return scores;
  });
}

/** Present concepts that another scores close to (or above) on their own region, whose close call a rival wins. */
async function closeCallsLost(
  { image, heads, models, options }: Photo,
  { best, scores, regions }: Decision,
  present: boolean[],
  references?: ReferenceSource,
): Promise<Set<number>> {
  const scanner = models.encoder.scanner;
  if (!scanner || !references) return new Set();
  const c = scores.cols;
  const calls = best.flatMap((b, concept) => {
    if (!present[concept]) return [];
    const score = toScore(b.raw);
    // A rival scoring higher here took a place elsewhere: the closer look says whether this one is still its own.
    const near = (j: number) => score - toScore(scores.data[b.row * c + j] + heads.bias[j]) < options.closeCall.margin;
    const rivals = best.map((_, j) => j).filter((j) => j !== concept && near(j));
    return rivals.length > 0 ? [{ concept, region: regions[b.row], rivals }] : [];
  });
  const byIndex = (j: number) => references(heads.ids[j]);
  return settleCloseCalls(image, calls, byIndex, scanner, models.algebra, options.closeCall.cells);
}

/** Runs `work`, adding the milliseconds it took to `timings[key]`: a step may run more than once per photo. */
async function timed<T>(timings: Timings, key: string, work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    timings[key] = (timings[key] ?? 0) + performance.now() - t;
  }
}

/** A second look's scan, for its concept, and the windows to embed: the scan's best and the object looked at. */
interface Look {
  concept: number;
  scan: Scan;
  windows: PixelBox[];
  /** The detector's object in the region, one of `windows`, where there is one. */
  object?: PixelBox;
}

/**
 * The second look (second-look.ts) for the concepts closest to present, with the detector's object in each region
 * they look at (objectInRegion); none without a scanner.
 */
async function secondLook(
  { image, heads, models, options }: Photo,
  { best, regions }: Decision,
  objects: Detection[],
): Promise<Look[]> {
  const scanner = models.encoder.scanner;
  if (!scanner || options.secondLook.regions === 0) return [];
  const margins = best.map((b, j) => toScore(b.raw) - heads.thresholds[j]);
  const picked = candidates(best, margins, regions, options.scanFloor, options.secondLook.regions);
  // The scans run side by side, one per model thread.
  return Promise.all(
    picked.map(async (c) => {
      const { windows, scan } = await closerWindows(image, c, heads.weights, scanner, options.secondLook);
      const object = objectInRegion(image, c.region, objects, options.objects);
      return { concept: c.concept, scan, windows: object ? [...windows, object] : windows, object };
    }),
  );
}

export async function recognizeImage(
  image: DecodedImage,
  heads: UserHeads,
  models: RecognizeModels,
  timings: Timings,
  options: RegionOptions = defaultRegionOptions,
  references?: ReferenceSource,
): Promise<Match[]> {
  if (heads.ids.length === 0) return [];
  const photo: Photo = { image, heads, models, options, timings };
  const { regions, fixedCount, scan, objects } = await timed(timings, 'regions', async () => {
    const [proposed, scan] = await Promise.all([
      proposeWithObjects(image, models.detector, options),
      scanWindows(photo),
    ]);
    const { objects } = proposed;
    const regions = proposed.regions.map((r) => r.box);
    const fixedCount = regions.length;
    regions.push(...promising(ranked(scan, photo), regions, options));
    return { regions, fixedCount, scan, objects };
  });
  const scores = await headOutputs(photo, regions, fixedCount);
  let decision: Decision = { regions, scores, best: oneSubjectPerRegion(scores, heads, regions) };
  const looks = await timed(timings, 'secondLook', () => secondLook(photo, decision, objects));
  // Each look's windows follow the regions there are: the rows from its `from` on.
  const from = looks.map((l) => regions.push(...l.windows) - l.windows.length);
  if (looks.length > 0) {
    const closer = looks.flatMap((l) => l.windows);
    const all = concatRows([scores, await headOutputs(photo, closer, 0)]);
    decision = { regions, scores: all, best: oneSubjectPerRegion(all, heads, regions) };
  }
  const { best } = decision;
  const present = best.map((b, j) => b.free && toScore(b.raw) >= heads.thresholds[j]);
  const lost = await timed(timings, 'closeCalls', () => closeCallsLost(photo, decision, present, references));
  const matches = await timed(timings, 'heads', async () =>
    heads.ids.map((id, j) => {
      const row = best[j].row;
      // A region from the concept's own second look takes its box from that closer scan, its object its own extent.
      const look = looks.find((l, k) => l.concept === j && row >= from[k] && row < from[k] + l.windows.length);
      const around =
        look?.object === regions[row]
          ? regions[row]
          : subjectBox(regions[row], look?.scan ?? scan, look ? 0 : j, image, options.boxSpread);
      const box = toRelativeBox(objectBox(around, objects, options.objects) ?? around, image);
      return { id, name: heads.names[j], score: toScore(best[j].raw), present: present[j] && !lost.has(j), box };
    }),
  );
  return matches.sort((a, b) => b.score - a.score);
}
