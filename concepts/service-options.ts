/** What the concept service runs on and how it is tuned: the models, intake limits, training and refinements. */
import type { ImageEncoder, LinearAlgebra, ObjectDetector } from '../models/types.js';
import type { IntakeLimits } from './intake/intake.js';
import type { JobRef } from './job-queue.js';
import type { TrainingOptions } from './learning/training.js';
import type { Lock } from './locks.js';
import type { People } from './people/people.js';
import type { CropReadError } from './recognition/reference-cells.js';
import type { RegionOptions } from './recognition/regions.js';

export interface ServiceModels {
  encoder: ImageEncoder;
  detector?: ObjectDetector;
  algebra: LinearAlgebra;
}

export interface ServiceOptions {
  limits: IntakeLimits;
  regions?: RegionOptions;
  training?: TrainingOptions;
  /** How many users' heads and views stay in memory. */
  cachedUsers?: number;
  /** Serialises each user's writes; in this process only by default, across processes when given a shared lock. */
  lock?: Lock;
  /**
   * How long refinements wait for registrations to pause (150 ms by default, refinements.ts); `refined()` cuts the wait
   * short.
   */
  refineQuietMs?: number;
  /**
   * false: concepts keep their draft views, and every head is trained at each registration (`npm run eval --
   * --drafts` measures what the drafts alone achieve). Default true.
   */
  refine?: boolean;
  /** Hears of a refinement that failed: it runs again a minute later (three runs in all), else at the next start. */
  onRefineError?: (err: unknown, concept: JobRef) => void;
  /** Hears of a reference crop that could not be read: its concept has no say in close calls (reference-cells.ts). */
  onReferenceError?: CropReadError;
  /** Person concepts and their face vectors (concepts/people/); absent: persons are refused, as with faces off. */
  people?: People;
}
