/** How well a concept was learned, in words a person can act on (SPEC "concept".quality). */
import type { Quality } from '../types.js';

export interface QualityEvidence {
  photos: number;
  /** The found or given subject's share of each photo's area, for the photos whose subject is known. */
  subjectAreas: number[];
  /** Share of the concept's photos that, left out of training, still reach the threshold. */
  heldOutRecall: number;
  /** The threshold was set by the ordinary photos of the region bank, not by the user's other concepts. */
  boundByOpenWorld: boolean;
}

/** Below this share of the photo a subject is mostly background to the encoder. */
const SMALL_SUBJECT = 0.1;
/** Fewer of the photos, each left out, recognised from the others than this: the photos do not agree. */
const AGREEING = 2 / 3;

export function assessQuality(e: QualityEvidence): Quality {
  const reasons: string[] = [];
  if (e.photos === 1)
    reasons.push('learned from one photo, so no photo was left to check it on: add 2 or more photos of the subject');
  const small = e.subjectAreas.filter((a) => a < SMALL_SUBJECT).length;
  if (small > 0)
    reasons.push(`the subject is small in ${small} of ${e.photos} photos: add a box around it or a closer photo`);
  if (e.photos > 1 && e.heldOutRecall < AGREEING) {
    const missed = Math.round((1 - e.heldOutRecall) * e.photos);
    reasons.push(
      e.boundByOpenWorld
        ? `ordinary photos score as high as ${missed} of ${e.photos} of its photos: add closer photos, or boxes, so ` +
            `that the subject and not its background is learned`
        : `the photos disagree: ${missed} of ${e.photos} would not be recognised from the others; add photos that ` +
            `show the subject alike`,
    );
  }
  return { level: reasons.length > 0 ? 'weak' : 'good', reasons };
}

/** Concepts calibrated before thresholds were held to the open world, until the background recalibration. */
export const UNCALIBRATED: Quality = {
  level: 'weak',
  reasons: [
    "calibrated by an older version against the user's other concepts only: it is being recalibrated in the " +
      'background',
  ],
};
