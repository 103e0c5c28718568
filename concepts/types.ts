/** `[x, y, w, h]` in fractions of the image's width and height. */
export type Box = [number, number, number, number];

/** Whose data a call touches: every storage query is scoped by both. */
export interface Scope {
  tenant: string;
  user: string;
}

/** One string per user, or per thing of a user by its id: keys of maps and locks (the user's lock is shared). */
export const keyOf = (scope: Scope, id?: string) =>
  id === undefined ? `${scope.tenant}\u0000${scope.user}` : `${scope.tenant}\u0000${scope.user}\u0000${id}`;

export interface ImageInput {
  bytes: Uint8Array;
  box?: Box;
}

export interface NewConcept {
  name: string;
  category?: string;
  description?: string;
  images: ImageInput[];
}

export interface ConceptPatch {
  name?: string;
  category?: string;
  description?: string;
}

/** How well a concept was learned: `weak` with reasons a person can act on (quality.ts). */
export interface Quality {
  level: 'good' | 'weak';
  reasons: string[];
}

/** A concept as the API shows it (SPEC "concept"). */
export interface Concept {
  id: string;
  name: string;
  category: string;
  description: string;
  imageCount: number;
  negativeCount: number;
  threshold: number;
  /** Score at and above which captions and answers name it: stricter than `threshold` (see training.ts). */
  nameThreshold: number;
  /** `refining` while the views beyond the draft's are made in the background (refinement.ts). */
  status: 'refining' | 'ready';
  quality: Quality;
  createdAt: string;
  updatedAt: string;
}

/** SPEC "match". */
export interface Match {
  id: string;
  name: string;
  score: number;
  present: boolean;
  box: Box;
}

export type Timings = Record<string, number>;

export interface Recognition {
  concepts: Match[];
  timings: Timings;
}

/**
 * What a stored view is for: `positive` views of the subject and `negative` regions of photos without it
 * train the head; `background` regions of the concept's own photos are negatives too; `probe` regions
 * (the proposals recognition would make) calibrate the threshold.
 */
export type ViewKind = 'positive' | 'negative' | 'background' | 'probe';
