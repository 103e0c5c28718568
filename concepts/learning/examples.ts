/**
 * Turns a concept's example photos into embedded views: the subject, the whole photo, flips and jittered crops, plus
 * the region probes used for calibration.
 */
import { cropRegion, iou } from '../../models/image/boxes.js';
import type { Crop, DecodedImage, ImageEncoder, ObjectDetector, PixelBox } from '../../models/types.js';
import {
  defaultRegionOptions,
  detectedRegions,
  detectObjects,
  gridRegions,
  proposeRegions,
  type RegionOptions,
} from '../recognition/regions.js';
import { seeded } from '../random.js';
import { chooseSubjects } from './subject.js';
import type { ViewKind } from '../types.js';

export interface EmbeddedView {
  kind: ViewKind;
  variant: string;
  photo: number;
  box: PixelBox;
  vector: Float32Array;
}

export interface EmbeddedPhoto {
  subject: PixelBox;
  views: EmbeddedView[];
}

export interface ExampleModels {
  encoder: ImageEncoder;
  detector?: ObjectDetector;
}

/** A random crop that keeps most of the subject: scale 0.75-1.25 of its box, shifted by up to 15%. */
function jitter(subject: PixelBox, image: DecodedImage, rnd: () => number): PixelBox {
  const s = 0.75 + rnd() * 0.5;
  const w = Math.min(image.width, Math.max(8, subject.w * s));
  const h = Math.min(image.height, Math.max(8, subject.h * s));
  const cx = subject.x + subject.w / 2 + (rnd() - 0.5) * 0.3 * subject.w;
  const cy = subject.y + subject.h / 2 + (rnd() - 0.5) * 0.3 * subject.h;
  const x = Math.round(Math.min(Math.max(0, cx - w / 2), image.width - w));
  const y = Math.round(Math.min(Math.max(0, cy - h / 2), image.height - h));
  return { x, y, w: Math.round(w), h: Math.round(h) };
}

function covered(subject: PixelBox, box: PixelBox): number {
  const w = Math.max(0, Math.min(subject.x + subject.w, box.x + box.w) - Math.max(subject.x, box.x));
  const h = Math.max(0, Math.min(subject.y + subject.h, box.y + box.h) - Math.max(subject.y, box.y));
  return (w * h) / (subject.w * subject.h);
}

export interface ExamplePhoto {
  image: DecodedImage;
  box?: PixelBox;
}

/**
 * Jittered crops per photo. One does as well as two (npm run eval scene F1 0.931 / 0.897 with one, 0.928 / 0.893
 * with two, seeds 1 / 2; single photos 1.000 either way) for 5 fewer crops per 5-photo registration; none
 * loses (0.924 / 0.893, one more unregistered look-alike named).
 */
const jitterCount = 1;

/**
 * The views a head can start from at once, two crops per photo and no detector: the whole photo (a positive
 * and a region probe), the photo zoomed out to half size, and the given box as the subject when there is one.
 * Every one of them is also a view of the full set, so the refinement only adds views.
 */
export async function embedDraft(photos: ExamplePhoto[], models: ExampleModels): Promise<EmbeddedPhoto[]> {
  const given = photos.flatMap((p, i) => (p.box ? [{ photo: i, box: p.box }] : []));
  const vectors = await models.encoder.embed([
    ...photos.map((p): Crop => ({ image: p.image })),
    ...given.map((g): Crop => ({ image: photos[g.photo].image, box: g.box })),
    ...photos.map((p): Crop => ({ image: p.image, zoom: { factor: 2, x: 0.5, y: 0.5 } })),
  ]);
  const n = photos.length;
  return photos.map((p, i) => {
    const whole = cropRegion(p.image);
    const views: EmbeddedView[] = [
      { kind: 'positive', variant: 'whole', photo: i, box: whole, vector: vectors[i] },
      { kind: 'probe', variant: 'whole', photo: i, box: whole, vector: vectors[i] },
    ];
    const g = given.findIndex((x) => x.photo === i);
    if (g >= 0)
      views.push({ kind: 'positive', variant: 'subject', photo: i, box: given[g].box, vector: vectors[n + g] });
    views.push({
      kind: 'positive',
      variant: 'zoom-out-2',
      photo: i,
      box: whole,
      vector: vectors[n + given.length + i],
    });
    return { subject: cropRegion(p.image, p.box), views };
  });
}

/** What the refinement reads of each photo's draft views (embedDraft's, or the stored ones). */
export type DraftView = Pick<EmbeddedView, 'kind' | 'variant' | 'vector'>;

/**
 * The rest of the full set of views, given the draft's: the subject (found among detector boxes when no box
 * was given), its flip and a jittered crop, the zoomed-out photo at a third, and the region probes and
 * backgrounds. What needs no subject (the fixed regions, the zoomed-out photo) is embedded while the detector,
 * in a thread of its own, looks for objects; then the detected regions, and last the views of the subject.
 */
export async function embedRefinement(
  photos: ExamplePhoto[],
  category: string,
  models: ExampleModels,
  draft: DraftView[][],
  regionOptions: RegionOptions = defaultRegionOptions,
): Promise<EmbeddedPhoto[]> {
  const rnds = photos.map((_, i) => seeded(0x5eed + i));
  const draftVector = (i: number, variant: string) =>
    draft[i].find((v) => v.kind === 'positive' && v.variant === variant)!.vector;
  const grids = photos.map((p) => gridRegions(p.image, regionOptions.grid));
  const detector = models.detector;
  const detected = Promise.all(
    photos.map(async (p, i) =>
      detectedRegions(p.image, await detectObjects(p.image, detector, regionOptions), regionOptions, grids[i]),
    ),
  );
  // The photo zoomed out to a third, at a random place; then the fixed regions but the whole photo (each grid's first),
  // a draft view already.
  const zooms = photos.map((p, i): Crop => ({ image: p.image, zoom: { factor: 3, x: rnds[i](), y: rnds[i]() } }));
  const fixed = grids.flatMap((rs, i) => rs.slice(1).map((r): Crop => ({ image: photos[i].image, box: r.box })));
  const withoutSubject = models.encoder.embed([...zooms, ...fixed]);
  // Every promise gets a handler now: one that fails early must not count as unhandled while others run.
  for (const p of [detected, withoutSubject]) p.catch(() => undefined);

  const found = await detected;
  const foundVectors = await models.encoder.embed(
    found.flatMap((rs, i) => rs.map((r): Crop => ({ image: photos[i].image, box: r.box }))),
  );
  const zoomed = await withoutSubject;
  const fixedVectors = zoomed.splice(zooms.length);
  let atFixed = 0;
  let atFound = 0;
  const perPhoto = photos.map((p, i) => {
    const box = p.box;
    const regions = [...grids[i], ...found[i], ...(box ? [{ box, source: 'given' as const }] : [])];
    const vectors = [
      draftVector(i, 'whole'),
      ...fixedVectors.slice(atFixed, (atFixed += grids[i].length - 1)),
      ...foundVectors.slice(atFound, (atFound += found[i].length)),
      ...(box ? [draftVector(i, 'subject')] : []),
    ];
    return { regions, vectors };
  });
  const chosen = chooseSubjects(perPhoto, category);
  const subjects = perPhoto.map((p, i) => (photos[i].box ? p.regions.length - 1 : chosen[i]));

  const extra: { photo: number; variant: string; crop: Crop }[] = [];
  photos.forEach((p, i) => {
    const subject = perPhoto[i].regions[subjects[i]].box;
    extra.push({ photo: i, variant: 'subject-flip', crop: { image: p.image, box: subject, flip: true } });
    for (let j = 0; j < jitterCount; j++)
      extra.push({
        photo: i,
        variant: `jitter-${j}`,
        crop: { image: p.image, box: jitter(subject, p.image, rnds[i]) },
      });
  });
  const extraVectors = await models.encoder.embed(extra.map((e) => e.crop));

  return photos.map((p, i) => {
    const { regions: rs, vectors } = perPhoto[i];
    const subject = rs[subjects[i]].box;
    const views: EmbeddedView[] = [];
    rs.forEach((r, j) => {
      const box = r.box;
      // The whole photo and a given box are draft views already.
      const fresh = r.source === 'grid' || r.source === 'detector';
      if (fresh && j === subjects[i])
        views.push({ kind: 'positive', variant: 'subject', photo: i, box, vector: vectors[j] });
      if (fresh) views.push({ kind: 'probe', variant: r.source, photo: i, box, vector: vectors[j] });
      if (covered(subject, box) < 0.2 && iou(subject, box) < 0.1)
        views.push({ kind: 'background', variant: r.source, photo: i, box, vector: vectors[j] });
    });
    extra.forEach((e, k) => {
      if (e.photo === i)
        views.push({ kind: 'positive', variant: e.variant, photo: i, box: e.crop.box!, vector: extraVectors[k] });
    });
    views.push({ kind: 'positive', variant: 'zoom-out-3', photo: i, box: cropRegion(p.image), vector: zoomed[i] });
    return { subject, views };
  });
}

/** The full set of views of positive example photos: the draft's and the refinement's. */
export async function embedExamples(
  photos: ExamplePhoto[],
  category: string,
  models: ExampleModels,
  regionOptions: RegionOptions = defaultRegionOptions,
): Promise<EmbeddedPhoto[]> {
  const draft = await embedDraft(photos, models);
  const rest = await embedRefinement(
    photos,
    category,
    models,
    draft.map((d) => d.views),
    regionOptions,
  );
  return rest.map((r, i) => ({ subject: r.subject, views: [...draft[i].views, ...r.views] }));
}

/**
 * Embeds photos in which the concept is absent: every region is a negative, and the set of regions calibrates the
 * threshold.
 */
export async function embedNegatives(
  images: DecodedImage[],
  models: ExampleModels,
  regionOptions?: RegionOptions,
): Promise<EmbeddedView[][]> {
  const regions = await Promise.all(images.map((image) => proposeRegions(image, models.detector, regionOptions)));
  const crops = regions.flatMap((rs, i) => rs.map((r): Crop => ({ image: images[i], box: r.box })));
  const vectors = await models.encoder.embed(crops);
  let at = 0;
  return regions.map((rs, i) =>
    rs.map((r) => ({ kind: 'negative' as const, variant: r.source, photo: i, box: r.box, vector: vectors[at++] })),
  );
}
