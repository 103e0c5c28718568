/**
 * Boxes drawn by hand around the subject of each query photo of the shared data (`subject-boxes.json`, keyed by the
 * photo's path in the data folder, `[x0, y0, x1, y1]` as fractions of the photo), so that a scene's box is measured
 * against the subject it pasted and not against the rest of that subject's photo.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Box } from '../../concepts/types.js';
import { iou } from '../../models/image/boxes.js';
import { boxAt } from '../../concepts/recognition/places.js';
import { sharedData } from './open-world.js';

const corners = z.tuple([z.number(), z.number(), z.number(), z.number()]).refine(([x0, y0, x1, y1]) => {
  return 0 <= x0 && x0 < x1 && x1 <= 1 && 0 <= y0 && y0 < y1 && y1 <= 1;
}, 'a box is [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1');
const boxFile = z.record(z.string(), corners);

const sharedSubjectBoxes = path.join(import.meta.dirname, 'subject-boxes.json');

export class SubjectBoxes {
  private constructor(
    private readonly data: string,
    private readonly boxes: Map<string, [number, number, number, number]>,
  ) {}

  /** The boxes of `file` (JSON as above) for photos of `data`; none for another folder than the shared one. */
  static load(data: string, file = path.resolve(data) === sharedData ? sharedSubjectBoxes : undefined): SubjectBoxes {
    if (!file || !existsSync(file)) return new SubjectBoxes(data, new Map());
    return new SubjectBoxes(data, new Map(Object.entries(boxFile.parse(JSON.parse(readFileSync(file, 'utf8'))))));
  }

  /** The IoU of `box` (in `photo`'s fractions) with the subject's box of `photo`; undefined where it has none. */
  iouIn(photo: string, box: Box): number | undefined {
    const subject = this.inside(photo, [0, 0, 1, 1]);
    return subject && boxIou(box, subject);
  }

  /** The subject's box of `photo` where that photo lies at `rect` of a scene, in the scene's fractions. */
  inside(photo: string, [left, top, w, h]: Box): Box | undefined {
    const corners = this.boxes.get(path.relative(this.data, photo).split(path.sep).join('/'));
    if (!corners) return undefined;
    const [x0, y0, x1, y1] = corners;
    return [left + x0 * w, top + y0 * h, (x1 - x0) * w, (y1 - y0) * h];
  }
}

/** The IoU of two boxes in the same fractions. */
export function boxIou(a: Box, b: Box): number {
  return iou(boxAt(a, 0), boxAt(b, 0));
}
