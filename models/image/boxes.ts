/** Pixel-box geometry shared by the adapters: validating inputs, clipping, overlap. */
import type { DecodedImage, PixelBox } from '../types.js';

/** Throws unless `image` is a well-formed RGB image. */
export function checkImage(image: DecodedImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new Error(`image data must be ${width * height * 3} RGB bytes (${width}x${height}), got ${data?.length}`);
  }
}

/** `box` cut to the image; null when nothing of it is inside. */
export function clipBox(box: PixelBox, width: number, height: number): PixelBox | null {
  const x0 = Math.max(0, box.x);
  const y0 = Math.max(0, box.y);
  const x1 = Math.min(width, box.x + box.w);
  const y1 = Math.min(height, box.y + box.h);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : null;
}

/** The region a crop covers: its box clipped to the image, or the whole image. Throws for empty boxes. */
export function cropRegion(image: DecodedImage, box?: PixelBox): PixelBox {
  if (!box) return { x: 0, y: 0, w: image.width, h: image.height };
  const { x, y, w, h } = box;
  if (![x, y, w, h].every(Number.isFinite)) throw new Error(`box has non-finite coordinates: ${JSON.stringify(box)}`);
  if (w <= 0 || h <= 0) throw new Error(`box has no area: ${JSON.stringify(box)}`);
  const clipped = clipBox(box, image.width, image.height);
  if (!clipped) throw new Error(`box ${JSON.stringify(box)} lies outside the ${image.width}x${image.height} image`);
  return clipped;
}

/** The area two boxes share. */
export function intersection(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : w * h;
}

export function iou(a: PixelBox, b: PixelBox): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / (a.w * a.h + b.w * b.h - inter);
}

/** The first `count` of `items` (best first) whose boxes overlap neither `taken` nor each other (IoU over 0.6). */
export function firstApart<T>(items: T[], boxOf: (t: T) => PixelBox, count: number, taken: PixelBox[] = []): T[] {
  const picked: T[] = [];
  const boxes = [...taken];
  for (const item of items) {
    if (picked.length >= count) break;
    const box = boxOf(item);
    if (boxes.some((b) => iou(b, box) > 0.6)) continue;
    picked.push(item);
    boxes.push(box);
  }
  return picked;
}

/** The share of the smaller box that two boxes share: 1 when one holds the other, whatever their sizes. */
export function overlapOfSmaller(a: PixelBox, b: PixelBox): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / Math.min(a.w * a.h, b.w * b.h);
}

/**
 * Greedy non-maximum suppression, best score first: a box goes when it overlaps a kept one by more than `maxIou`
 * (only one that `rival` says competes with it, when given).
 */
export function nms<T extends { box: PixelBox; score: number }>(
  candidates: T[],
  maxIou: number,
  limit: number,
  rival: (a: T, b: T) => boolean = () => true,
): T[] {
  candidates.sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const c of candidates) {
    if (kept.length >= limit) break;
    if (!kept.some((k) => rival(k, c) && iou(k.box, c.box) > maxIou)) kept.push(c);
  }
  return kept;
}
