/** Between the stored records and what the service answers: concepts, views and reference crops. */
import type { DecodedImage, PixelBox } from '../models/types.js';
import { DomainError } from './errors.js';
import { encodeJpeg, toRelativeBox } from './intake/intake.js';
import type { EmbeddedView } from './learning/examples.js';
import { UNCALIBRATED } from './learning/quality.js';
import type { CropInput } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import type { Concept, NewConcept, Quality, Scope } from './types.js';

/** Names compare case-insensitively, without surrounding blanks. */
export const nameKey = (name: string) => name.trim().toLowerCase();

/** The concept of `id` among a user's; not_found when there is none. */
export function findConcept(concepts: ConceptRecord[], id: string): ConceptRecord {
  const found = concepts.find((c) => c.id === id);
  if (!found) throw new DomainError('not_found', `no concept ${id}`);
  return found;
}

/** name_taken when a concept of the user has the name already. */
export function assertNameFree(concepts: ConceptRecord[], name: string): void {
  if (concepts.some((c) => c.nameKey === nameKey(name)))
    throw new DomainError('name_taken', `a concept named "${name}" exists already`);
}

/** A new concept's row with a blank head of `dim` values (a draft's is trained at its commit; a person keeps it). */
export function newConceptRecord(
  scope: Scope,
  id: string,
  input: NewConcept,
  dim: number,
  own: Pick<ConceptRecord, 'threshold' | 'encoder' | 'draftPhotos' | 'quality'>,
): ConceptRecord {
  const name = input.name.trim();
  const now = new Date().toISOString();
  return {
    tenant: scope.tenant,
    user: scope.user,
    id,
    name,
    nameKey: nameKey(name),
    category: (input.category ?? '').trim(),
    description: (input.description ?? '').trim(),
    headWeights: new Float32Array(dim),
    headBias: 0,
    nameThreshold: own.threshold,
    imageCount: input.images.length,
    negativeCount: 0,
    version: 0,
    createdAt: now,
    updatedAt: now,
    ...own,
  };
}

export function toConcept(r: ConceptRecord): Concept {
  return {
    id: r.id,
    name: r.name,
    category: r.category,
    description: r.description,
    imageCount: r.imageCount,
    negativeCount: r.negativeCount,
    threshold: r.threshold,
    nameThreshold: r.nameThreshold,
    status: r.draftPhotos > 0 ? 'refining' : 'ready',
    quality: r.quality ? (JSON.parse(r.quality) as Quality) : UNCALIBRATED,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function viewRecord(scope: Scope, conceptId: string, v: EmbeddedView, image: DecodedImage): ViewRecord {
  return {
    tenant: scope.tenant,
    user: scope.user,
    conceptId,
    kind: v.kind,
    vector: v.vector,
    photo: v.photo,
    box: toRelativeBox(v.box, image),
    variant: v.variant,
  };
}

/** Reference crops of the subjects, for conditioning a multimodal model later. */
export function referenceCrops(
  conceptId: string,
  photos: { image: DecodedImage }[],
  embedded: { subject: PixelBox }[],
  first = 0,
): Promise<CropInput[]> {
  return Promise.all(
    embedded.map(async (p, i) => ({
      conceptId,
      photo: first + i,
      jpeg: await encodeJpeg(photos[i].image, p.subject),
    })),
  );
}
