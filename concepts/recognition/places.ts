/**
 * One place, one subject: a region that one concept claims is no longer open to the others. Recognition decides it
 * over every region it embeds (oneSubjectPerRegion in recognize.ts); stored photos keep only each concept's best
 * region, and decide it over those (keepsBestPlace).
 */
import { overlapOfSmaller } from '../../models/image/boxes.js';
import type { PixelBox } from '../../models/types.js';

/**
 * Two regions are one place in the photo, which shows one subject, when they share over half of the smaller one and
 * neither is more than 8 times the other: a toy in the dog's mouth is a place of its own.
 */
export function samePlace(a: PixelBox, b: PixelBox): boolean {
  const [small, large] = [Math.min(a.w * a.h, b.w * b.h), Math.max(a.w * a.h, b.w * b.h)];
  return large <= 8 * small && overlapOfSmaller(a, b) > 0.5;
}

/** Region `i` of boxes stored 4 numbers a region ([x, y, w, h]). */
export function boxAt(boxes: ArrayLike<number>, i: number): PixelBox {
  return { x: boxes[i * 4], y: boxes[i * 4 + 1], w: boxes[i * 4 + 2], h: boxes[i * 4 + 3] };
}

/** Each concept's best region in a photo and its output there, bias added, concept by concept. */
interface BestPlaces {
  count: number;
  output: (concept: number) => number;
  box: (concept: number) => PixelBox;
}

/**
 * Whether `concept` keeps its best region when the concepts scoring higher there claim theirs first, highest first.
 * With only best regions known, a concept that loses its region has no other to take: it is absent.
 */
export function keepsBestPlace(concept: number, places: BestPlaces): boolean {
  const mine = places.output(concept);
  // Ties go to the lower index, as recognition's stable sort gives them.
  const higher: number[] = [];
  for (let k = 0; k < places.count; k++) {
    const output = places.output(k);
    if (output > mine || (output === mine && k < concept)) higher.push(k);
  }
  const box = places.box(concept);
  // Only a concept that scores higher on the same place can take it; whether it does depends on those above it.
  if (!higher.some((k) => samePlace(places.box(k), box))) return true;
  higher.sort((a, b) => places.output(b) - places.output(a) || a - b);
  const claimed: PixelBox[] = [];
  for (const k of higher) {
    const at = places.box(k);
    if (!claimed.some((c) => samePlace(c, at))) claimed.push(at);
  }
  return !claimed.some((c) => samePlace(c, box));
}
