/**
 * The decisions of person concepts, on face vectors (pure): which face of an example photo is the person, a
 * person's score on a face, the open-world threshold, and naming the faces of a photo.
 */
import type { DecodedImage, Face, FaceModel, PixelBox } from '../../models/types.js';
import { DomainError } from '../errors.js';
import { toRelativeBox } from '../intake/intake.js';
import type { Box, Quality } from '../types.js';
import { round4 } from '../rounding.js';
import { dot } from '../matrix.js';

/** Categories that name a person: these concepts are learned and recognised by their faces. */
const PERSON_CATEGORIES = new Set(['person', 'people', 'man', 'woman', 'boy', 'girl', 'child', 'kid', 'baby']);

export function isPersonCategory(category: string | undefined): boolean {
  return PERSON_CATEGORIES.has((category ?? '').trim().toLowerCase());
}

/**
 * The lowest threshold, in cosine: the 99.9th percentile of other people's scores on the bank's half of
 * `npm run eval:people -- --tune` (docs/people.md).
 */
export const FACE_FLOOR = 0.4;
/** Above the face bank's highest score: the 90th percentile of what unseen strangers add to it (the same half). */
export const FACE_MARGIN = 0.075;
/** The largest face is the person when its area is at least this many times the next one's. */
const DOMINANT = 1.5;
/** Below this many pixels across, a face says little about who it is. */
const SMALL_FACE = 40;
/** Fewer of the examples, each left out, recognised from the others than this: the photos do not agree. */
const AGREEING = 2 / 3;

const area = (b: PixelBox) => b.w * b.h;

function overlap(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? (w * h) / area(a) : 0;
}

/**
 * The person's face in example photo `photo` (numbered from 1 in messages): the face mostly inside the given box,
 * else the only face or one clearly larger than the rest. Throws an `unprocessable` DomainError saying what to do.
 */
export function exampleFace(faces: Face[], photo: number, box?: PixelBox): Face {
  if (faces.length === 0)
    throw new DomainError('unprocessable', `no face found in photo ${photo}: a person is learned from a visible face`);
  if (box) {
    const inside = faces.filter((f) => overlap(f.box, box) >= 0.5).sort((a, b) => area(b.box) - area(a.box));
    if (inside.length === 0)
      throw new DomainError('unprocessable', `no face inside the box of photo ${photo}: draw the box around the face`);
    return inside[0];
  }
  const bySize = [...faces].sort((a, b) => area(b.box) - area(a.box));
  if (bySize.length > 1 && area(bySize[0].box) < DOMINANT * area(bySize[1].box))
    throw new DomainError(
      'unprocessable',
      `photo ${photo} shows ${faces.length} faces: give a box ([x, y, w, h] fractions) around the person's face`,
    );
  return bySize[0];
}

/** A person's score on a face: the best cosine to any of its example faces, in [0, 1]. */
export function faceScore(face: Float32Array, examples: readonly Float32Array[]): number {
  let best = 0;
  for (const e of examples) best = Math.max(best, dot(face, e));
  return round4(Math.min(1, best));
}

export interface PersonCalibration {
  threshold: number;
  quality: Quality;
}

/** The threshold held above every face of the bank, and what the examples say about how well it was learned. */
export function calibratePerson(
  examples: readonly Float32Array[],
  bank: readonly Float32Array[],
  faceWidths: readonly number[],
): PersonCalibration {
  const bankMax = bank.reduce((m, f) => Math.max(m, faceScore(f, examples)), 0);
  const threshold = round4(Math.max(FACE_FLOOR, bankMax + FACE_MARGIN));
  const reasons: string[] = [];
  const n = examples.length;
  if (n === 1)
    reasons.push('learned from one photo, so no photo was left to check it on: add 2 or more photos of the person');
  const small = faceWidths.filter((w) => w < SMALL_FACE).length;
  if (small > 0) reasons.push(`the face is small in ${small} of ${n} photos: add closer photos of the person`);
  if (n > 1) {
    const missed = examples.filter(
      (e, i) =>
        faceScore(
          e,
          examples.filter((_, k) => k !== i),
        ) < threshold,
    ).length;
    if (missed > n * (1 - AGREEING))
      reasons.push(
        `the photos disagree: ${missed} of ${n} would not be recognised from the others; check that every photo ` +
          'shows the same person, or add more photos of them',
      );
  }
  return { threshold, quality: { level: reasons.length > 0 ? 'weak' : 'good', reasons } };
}

export interface PersonModel {
  id: string;
  threshold: number;
  examples: Float32Array[];
}

/** Per person: the face it names, or its best face (-1 in a photo without faces), and the score there. */
export interface PersonFace {
  face: number;
  score: number;
  present: boolean;
}

/**
 * Names the faces of one photo: each person at most once, each face at most one person, the pairs above threshold
 * taken in order of their margin over it. A person without a face of its own keeps its best score, not present.
 */
export function nameFaces(faces: readonly Float32Array[], people: readonly PersonModel[]): PersonFace[] {
  const scores = people.map((p) => faces.map((f) => faceScore(f, p.examples)));
  const pairs = people.flatMap((p, j) =>
    faces.flatMap((_, i) => (scores[j][i] >= p.threshold ? [{ j, i, margin: scores[j][i] - p.threshold }] : [])),
  );
  pairs.sort((a, b) => b.margin - a.margin);
  const [namedFace, namedPerson] = [new Set<number>(), new Map<number, number>()];
  for (const { i, j } of pairs) {
    if (namedFace.has(i) || namedPerson.has(j)) continue;
    namedFace.add(i);
    namedPerson.set(j, i);
  }
  return people.map((_, j) => {
    const named = namedPerson.get(j);
    if (named !== undefined) return { face: named, score: scores[j][named], present: true };
    const face = scores[j].reduce((b, s, i) => (s > scores[j][b] ? i : b), 0);
    return { face: faces.length > 0 ? face : -1, score: scores[j][face] ?? 0, present: false };
  });
}

/** Every face on a photo or frame that is kept for later (an indexed video or library photo): box and vector. */
export async function storedFaces(
  model: FaceModel,
  image: DecodedImage,
): Promise<{ box: Box; vector: Float32Array }[]> {
  const faces = await model.detect(image);
  const vectors = await model.embed(image, faces);
  return faces.map((f, i) => ({ box: toRelativeBox(f.box, image), vector: vectors[i] }));
}
