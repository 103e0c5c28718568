/** Turns a concept's example photos into embedded views: the subject, the whole photo, flips and jittered crops, plus the region probes used for calibration. */
import type { Crop, DecodedImage, ImageEncoder, ObjectDetector, PixelBox } from '../models/types.js';
import { iou, proposeRegions, type Region, type RegionOptions } from './regions.js';
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

/** mulberry32: a seeded generator, so the same photos always give the same views and heads. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

/**
 * The photo shrunk by an integer `factor` and placed at (fx, fy) (fractions of the free space) in a frame of
 * its mean colour: the subject as it looks when it fills only part of a bigger scene, which whole photos and
 * subject crops never show the head.
 */
export function zoomOut(image: DecodedImage, factor: number, fx = 0.5, fy = 0.5): DecodedImage {
  const { width, height, data } = image;
  const mean = [0, 0, 0];
  for (let i = 0; i < data.length; i += 3) for (let c = 0; c < 3; c++) mean[c] += data[i + c];
  const pixels = width * height;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < out.length; i += 3) for (let c = 0; c < 3; c++) out[i + c] = mean[c] / pixels;
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const x0 = Math.round((width - w) * fx);
  const y0 = Math.round((height - h) * fy);
  const area = factor * factor;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sum = [0, 0, 0];
      for (let dy = 0; dy < factor; dy++)
        for (let dx = 0; dx < factor; dx++) {
          const at = ((y * factor + dy) * width + x * factor + dx) * 3;
          for (let c = 0; c < 3; c++) sum[c] += data[at + c];
        }
      const to = ((y0 + y) * width + x0 + x) * 3;
      for (let c = 0; c < 3; c++) out[to + c] = sum[c] / area;
    }
  return { data: out, width, height };
}

export interface ExamplePhoto {
  image: DecodedImage;
  box?: PixelBox;
}

const jitterCount = 2;

/** Embeds positive example photos: one batch for the region probes, one for the augmented views of the subject. */
export async function embedExamples(
  photos: ExamplePhoto[],
  category: string,
  models: ExampleModels,
  regionOptions?: RegionOptions,
): Promise<EmbeddedPhoto[]> {
  const regions = await Promise.all(photos.map((p) => proposeRegions(p.image, models.detector, regionOptions)));
  const withGiven: Region[][] = regions.map((rs, i) => {
    const box = photos[i].box;
    return box ? [...rs, { box, source: 'detector' as const, label: 'given' }] : rs;
  });
  const probeCrops = withGiven.flatMap((rs, i) => rs.map((r): Crop => ({ image: photos[i].image, box: r.box })));
  const probeVectors = await models.encoder.embed(probeCrops);
  let at = 0;
  const perPhoto = withGiven.map((rs) => {
    const vectors = probeVectors.slice(at, at + rs.length);
    at += rs.length;
    return { regions: rs, vectors };
  });
  const chosen = chooseSubjects(perPhoto, category);
  const subjects = perPhoto.map((p, i) => (photos[i].box ? p.regions.length - 1 : chosen[i]));

  const extra: { photo: number; variant: string; crop: Crop }[] = [];
  photos.forEach((p, i) => {
    const subject = perPhoto[i].regions[subjects[i]].box;
    const rnd = seeded(0x5eed + i);
    extra.push({ photo: i, variant: 'subject-flip', crop: { image: p.image, box: subject, flip: true } });
    extra.push({ photo: i, variant: 'whole-flip', crop: { image: p.image, flip: true } });
    extra.push({ photo: i, variant: 'zoom-out-2', crop: { image: zoomOut(p.image, 2) } });
    extra.push({ photo: i, variant: 'zoom-out-3', crop: { image: zoomOut(p.image, 3, rnd(), rnd()) } });
    for (let j = 0; j < jitterCount; j++) extra.push({ photo: i, variant: `jitter-${j}`, crop: { image: p.image, box: jitter(subject, p.image, rnd) } });
  });
  const extraVectors = await models.encoder.embed(extra.map((e) => e.crop));

  return photos.map((p, i) => {
    const { regions: rs, vectors } = perPhoto[i];
    const subject = rs[subjects[i]].box;
    const views: EmbeddedView[] = [];
    rs.forEach((r, j) => {
      const box = r.box;
      const isSubject = j === subjects[i];
      if (isSubject || r.source === 'whole') views.push({ kind: 'positive', variant: isSubject ? 'subject' : 'whole', photo: i, box, vector: vectors[j] });
      if (r.label !== 'given') views.push({ kind: 'probe', variant: r.source, photo: i, box, vector: vectors[j] });
      if (covered(subject, box) < 0.2 && iou(subject, box) < 0.1) views.push({ kind: 'background', variant: r.source, photo: i, box, vector: vectors[j] });
    });
    extra.forEach((e, k) => {
      if (e.photo === i) views.push({ kind: 'positive', variant: e.variant, photo: i, box: e.crop.box ?? { x: 0, y: 0, w: p.image.width, h: p.image.height }, vector: extraVectors[k] });
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
