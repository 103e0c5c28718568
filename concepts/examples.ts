/** Turns a concept's example photos into embedded views: the subject, the whole photo, flips and jittered crops, plus the region probes used for calibration. */
import sharp from 'sharp';
import { iou } from '../models/boxes.js';
import type { Crop, DecodedImage, ImageEncoder, ObjectDetector, PixelBox } from '../models/types.js';
import { defaultRegionOptions, detectedRegions, gridRegions, proposeRegions, type Region, type RegionOptions } from './regions.js';
import { seeded } from './random.js';
import { chooseSubjects } from './subject.js';
import type { ViewKind } from './types.js';


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

/** Long side of zoomed-out views: the encoder sees 224 px, so more would only cost time. */
const ZOOM_SIDE = 320;

/**
 * The photo shrunk to 1/`factor` of the frame and placed at (fx, fy) (fractions of the free space) in a frame
 * of its mean colour: the subject as it looks when it fills only part of a bigger scene, which whole photos
 * and subject crops never show the head.
 */
export async function zoomOut(image: DecodedImage, factor: number, fx = 0.5, fy = 0.5): Promise<DecodedImage> {
  const { width, height, data } = image;
  const mean = [0, 0, 0];
  const step = 3 * 7; // every 7th pixel is plenty for a mean colour
  for (let i = 0; i < data.length; i += step) for (let c = 0; c < 3; c++) mean[c] += data[i + c];
  const samples = Math.ceil(data.length / step);
  const scale = Math.min(1, ZOOM_SIDE / Math.max(width, height));
  const fw = Math.max(1, Math.round(width * scale));
  const fh = Math.max(1, Math.round(height * scale));
  const w = Math.max(1, Math.round(fw / factor));
  const h = Math.max(1, Math.round(fh / factor));
  const left = Math.round((fw - w) * fx);
  const top = Math.round((fh - h) * fy);
  const out = await sharp(data, { raw: { width, height, channels: 3 } })
    .resize(w, h, { fit: 'fill' })
    .extend({ left, top, right: fw - w - left, bottom: fh - h - top, background: { r: mean[0] / samples, g: mean[1] / samples, b: mean[2] / samples } })
    .raw()
    .toBuffer();
  return { data: out, width: fw, height: fh };
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
 * Embeds positive example photos. What needs no subject (the fixed regions, the zoomed-out photos) is
 * embedded while the detector, in a thread of its own, looks for objects; then the detected regions, and
 * last the views of the subject chosen among them.
 */
export async function embedExamples(
  photos: ExamplePhoto[],
  category: string,
  models: ExampleModels,
  regionOptions: RegionOptions = defaultRegionOptions,
): Promise<EmbeddedPhoto[]> {
  const rnds = photos.map((_, i) => seeded(0x5eed + i));
  const grids = photos.map((p) => gridRegions(p.image, regionOptions.grid));
  const detector = models.detector;
  const detected = Promise.all(photos.map((p, i) => (detector ? detectedRegions(p.image, detector, regionOptions, grids[i]) : [])));
  const gridVectors = models.encoder.embed(grids.flatMap((rs, i) => rs.map((r): Crop => ({ image: photos[i].image, box: r.box }))));
  const zooms = photos.flatMap((p, i) => [
    { photo: i, variant: 'zoom-out-2', image: zoomOut(p.image, 2) },
    { photo: i, variant: 'zoom-out-3', image: zoomOut(p.image, 3, rnds[i](), rnds[i]()) },
  ]);
  const zoomVectors = Promise.all(zooms.map((z) => z.image)).then((images) => models.encoder.embed(images.map((image) => ({ image }))));
  // Every promise gets a handler now: one that fails early must not count as unhandled while others run.
  for (const p of [detected, gridVectors, zoomVectors]) p.catch(() => undefined);

  const found = await detected;
  const withGiven: Region[][] = found.map((rs, i) => {
    const box = photos[i].box;
    return box ? [...rs, { box, source: 'given' as const }] : rs;
  });
  const foundVectors = await models.encoder.embed(withGiven.flatMap((rs, i) => rs.map((r): Crop => ({ image: photos[i].image, box: r.box }))));
  const fixedVectors = await gridVectors;
  let atFixed = 0;
  let atFound = 0;
  const perPhoto = photos.map((_, i) => {
    const regions = [...grids[i], ...withGiven[i]];
    const vectors = [...fixedVectors.slice(atFixed, (atFixed += grids[i].length)), ...foundVectors.slice(atFound, (atFound += withGiven[i].length))];
    return { regions, vectors };
  });
  const chosen = chooseSubjects(perPhoto, category);
  const subjects = perPhoto.map((p, i) => (photos[i].box ? p.regions.length - 1 : chosen[i]));

  const extra: { photo: number; variant: string; crop: Crop }[] = [];
  photos.forEach((p, i) => {
    const subject = perPhoto[i].regions[subjects[i]].box;
    extra.push({ photo: i, variant: 'subject-flip', crop: { image: p.image, box: subject, flip: true } });
    for (let j = 0; j < jitterCount; j++) extra.push({ photo: i, variant: `jitter-${j}`, crop: { image: p.image, box: jitter(subject, p.image, rnds[i]) } });
  });
  const extraVectors = await models.encoder.embed(extra.map((e) => e.crop));
  const zoomed = await zoomVectors;

  return photos.map((p, i) => {
    const { regions: rs, vectors } = perPhoto[i];
    const subject = rs[subjects[i]].box;
    const views: EmbeddedView[] = [];
    rs.forEach((r, j) => {
      const box = r.box;
      const isSubject = j === subjects[i];
      if (isSubject || r.source === 'whole') views.push({ kind: 'positive', variant: isSubject ? 'subject' : 'whole', photo: i, box, vector: vectors[j] });
      if (r.source !== 'given') views.push({ kind: 'probe', variant: r.source, photo: i, box, vector: vectors[j] });
      if (covered(subject, box) < 0.2 && iou(subject, box) < 0.1) views.push({ kind: 'background', variant: r.source, photo: i, box, vector: vectors[j] });
    });
    extra.forEach((e, k) => {
      if (e.photo === i) views.push({ kind: 'positive', variant: e.variant, photo: i, box: e.crop.box!, vector: extraVectors[k] });
    });
    zooms.forEach((z, k) => {
      if (z.photo === i) views.push({ kind: 'positive', variant: z.variant, photo: i, box: { x: 0, y: 0, w: p.image.width, h: p.image.height }, vector: zoomed[k] });
    });
    return { subject, views };
  });
}

/** Embeds photos in which the concept is absent: every region is a negative, and the set of regions calibrates the threshold. */
export async function embedNegatives(images: DecodedImage[], models: ExampleModels, regionOptions?: RegionOptions): Promise<EmbeddedView[][]> {
  const regions = await Promise.all(images.map((image) => proposeRegions(image, models.detector, regionOptions)));
  const crops = regions.flatMap((rs, i) => rs.map((r): Crop => ({ image: images[i], box: r.box })));
  const vectors = await models.encoder.embed(crops);
  let at = 0;
  return regions.map((rs, i) => rs.map((r) => ({ kind: 'negative' as const, variant: r.source, photo: i, box: r.box, vector: vectors[at++] })));
}
