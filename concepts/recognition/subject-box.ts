/**
 * A match's box: the scanned windows around the concept's best region find where its subject is; the detector's
 * object there, when it found one, gives the subject's extent, which windows on a coarse grid cannot.
 */
import { intersection, iou } from '../../models/image/boxes.js';
import type { DecodedImage, Detection, Matrix, PixelBox } from '../../models/types.js';

/** The scanner's windows and every head's output on each (windows × concepts, bias not added). */
export interface Scan {
  windows: PixelBox[];
  outputs: Matrix;
}

/**
 * The mean extent of the scanned windows that score within `spread` of the concept's best window and overlap its
 * best region. One window cuts the subject or takes in its surroundings; their mean follows where it is. A best
 * region over half the photo is kept as it is: the subject fills the frame, the windows would cut it.
 */
export function subjectBox(
  region: PixelBox,
  scan: Scan | null,
  j: number,
  image: DecodedImage,
  spread: number,
): PixelBox {
  if (!scan || region.w * region.h > 0.5 * image.width * image.height) return region;
  const { outputs, windows } = scan;
  const output = (r: number) => outputs.data[r * outputs.cols + j];
  let top = -Infinity;
  for (let r = 0; r < windows.length; r++) top = Math.max(top, output(r));
  const near = windows.filter((w, r) => output(r) >= top - spread && iou(w, region) > 0.1);
  if (near.length === 0) return region;
  const mean = (f: (w: PixelBox) => number) => near.reduce((sum, w) => sum + f(w), 0) / near.length;
  const x = mean((w) => w.x);
  const y = mean((w) => w.y);
  return { x, y, w: mean((w) => w.x + w.w) - x, h: mean((w) => w.y + w.h) - y };
}

export interface ObjectFit {
  /** Least share of an object's box inside the subject's box. */
  inside: number;
  /** Least area of an object, as a share of the subject's box: smaller ones are parts or things beside it. */
  minArea: number;
}

/** The detector's most confident object inside `box` (by `fit`), the subject seen whole; none where none fits. */
export function objectBox(box: PixelBox, objects: Detection[], fit: ObjectFit): PixelBox | undefined {
  const area = box.w * box.h;
  let best: Detection | undefined;
  for (const o of objects) {
    const size = o.box.w * o.box.h;
    if (size < fit.minArea * area || intersection(o.box, box) < fit.inside * size) continue;
    if (!best || o.score > best.score) best = o;
  }
  return best?.box;
}
