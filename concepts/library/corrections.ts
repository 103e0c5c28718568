/**
 * Corrections that teach (SPEC: POST .../concepts/{id}/feedback): a wrong match becomes a negative of the concept, a
 * missed one an example, from the library photo's stored regions or a photo sent along; each is kept so it can be
 * listed and undone, and every change retrains the user's heads.
 */
import { randomUUID } from 'node:crypto';
import { iou } from '../../models/image/boxes.js';
import { boxAt } from '../recognition/places.js';
import { DomainError } from '../errors.js';
import { decodeImage } from '../intake/intake.js';
import { stack } from '../matrix.js';
import { embedRegions, type StoredRegion } from '../recognition/stored-regions.js';
import type { ConceptService } from '../service.js';
import type { ServiceModels } from '../service-options.js';
import type { Box, Scope } from '../types.js';
import type { LibraryOptions } from './library.js';
import type { FeedbackRecord } from './photo-records.js';
import type { PhotoStore } from './photo-store.js';
import { round4 } from '../rounding.js';

/** A correction of a concept on one photo (SPEC: POST .../concepts/{id}/feedback). */
export interface Correction {
  /** A photo of the library, or the bytes of one sent with the correction. */
  photo?: string;
  bytes?: Uint8Array;
  /** Where the concept is (or is not); else the region the concept scores best. */
  box?: Box;
  correct: boolean;
}

export interface Feedback {
  id: string;
  photo?: string;
  correct: boolean;
  box: Box;
  createdAt: string;
}

export class LibraryCorrections {
  constructor(
    private readonly store: PhotoStore,
    private readonly concepts: ConceptService,
    private readonly models: ServiceModels,
    private readonly options: LibraryOptions,
  ) {}

  /**
   * A correction: the photo's region (the one nearest `box`, the concept's best of those equally near; else the
   * concept's best; every region for a wrong photo without a box) becomes a negative of the concept when the match
   * was wrong, an example when it was missed; the concept's heads are retrained.
   */
  async correct(scope: Scope, conceptId: string, correction: Correction): Promise<Feedback> {
    const head = await this.concepts.head(scope, conceptId);
    const regions =
      correction.photo === undefined ? await this.embedSent(correction) : await this.stored(scope, correction.photo);
    // A wrong photo without a box: the concept is nowhere in it, so every region is a negative, as with negative
    // photos; otherwise the one region meant.
    const every = !correction.correct && !correction.box;
    const candidates = correction.box ? closestRegions(regions, correction.box) : regions;
    const region = candidates[await this.bestRegion(candidates, head.weights)];
    const taken = every ? regions : [region];
    const { photo } = await this.concepts.addRegions(scope, head.concept.id, taken, !correction.correct);
    const record: FeedbackRecord = {
      id: randomUUID(),
      conceptId: head.concept.id,
      photoId: correction.photo ?? '',
      correct: correction.correct,
      box: region.box,
      conceptPhoto: photo,
      createdAt: new Date().toISOString(),
    };
    try {
      await this.store.addFeedback(scope, record);
    } catch (err) {
      await this.concepts.removePhoto(scope, head.concept.id, photo);
      throw err;
    }
    return toFeedback(record);
  }

  /** A concept's corrections, oldest first. */
  async feedback(scope: Scope, conceptId: string): Promise<Feedback[]> {
    const { concept } = await this.concepts.head(scope, conceptId);
    return (await this.store.listFeedback(scope, concept.id)).map(toFeedback);
  }

  /** Takes a correction back: its view leaves the concept, which is retrained. */
  async undo(scope: Scope, conceptId: string, id: string): Promise<void> {
    const { concept } = await this.concepts.head(scope, conceptId);
    const [record] = await this.store.listFeedback(scope, concept.id, id);
    if (!record) throw new DomainError('not_found', `concept ${concept.id} has no correction ${id}`);
    await this.concepts.removePhoto(scope, concept.id, record.conceptPhoto);
    await this.store.removeFeedback(scope, concept.id, id);
  }

  /** Drops the record of a deleted concept's corrections (their views went with the concept). */
  async forgetConcept(scope: Scope, conceptId: string): Promise<void> {
    await this.store.removeFeedback(scope, conceptId);
  }

  private async stored(scope: Scope, photo: string): Promise<StoredRegion[]> {
    const regions = await this.store.photo(scope, photo);
    if (regions.length === 0) throw new DomainError('not_found', `no photo ${photo} in the library`);
    return regions;
  }

  private async embedSent({ bytes }: Correction): Promise<StoredRegion[]> {
    if (!bytes) throw new DomainError('invalid_request', 'send photo (a library photo id) or image');
    const { image } = await decodeImage(bytes, this.options.limits);
    const [regions] = await embedRegions([image], this.models, this.options.regions);
    return regions;
  }

  /** The region that the head scores highest; the only one without scoring it. */
  private async bestRegion(regions: StoredRegion[], weights: Float32Array): Promise<number> {
    if (regions.length === 1) return 0;
    const out = await this.models.algebra.mulTransposed(
      stack(
        regions.map((r) => r.vector),
        this.store.dim,
      ),
      { data: weights, rows: 1, cols: weights.length },
    );
    return out.data.indexOf(Math.max(...out.data));
  }
}

/**
 * The regions that overlap `box` most, by the closer of each one's box and extent: a box sent back as an answer
 * showed it (an extent that several regions may share), a box drawn by hand may frame either.
 */
export function closestRegions(regions: StoredRegion[], box: Box): StoredRegion[] {
  const target = boxAt(box, 0);
  const near = regions.map((r) => {
    const byBox = iou(boxAt(r.box, 0), target);
    return r.extent ? Math.max(byBox, iou(boxAt(r.extent, 0), target)) : byBox;
  });
  const top = Math.max(...near);
  return regions.filter((_, i) => near[i] === top);
}

function toFeedback(r: FeedbackRecord): Feedback {
  return {
    id: r.id,
    ...(r.photoId && { photo: r.photoId }),
    correct: r.correct,
    box: r.box.map(round4) as Box,
    createdAt: r.createdAt,
  };
}
