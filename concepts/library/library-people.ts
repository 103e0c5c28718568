/**
 * People in the library: while faces are on for the tenant, the faces of every indexed photo are kept (table
 * `photo_faces`), and a person's photos are those where a face scores at the person's threshold or above.
 */
import type { DecodedImage } from '../../models/types.js';
import { faceScore, storedFaces } from '../people/faces.js';
import type { People } from '../people/people.js';
import type { Box, Concept, Scope } from '../types.js';
import type { FindOptions } from './library.js';
import { type LibraryPhoto, Page } from './pages.js';
import type { IndexedPhoto } from './photo-records.js';
import type { PhotoStore } from './photo-store.js';
import { round4 } from '../rounding.js';

export class LibraryPeople {
  constructor(
    private readonly store: PhotoStore,
    private readonly people?: People,
  ) {}

  /** Each photo's faces when faces are on for the scope's tenant; else none are kept. */
  async facesOf(scope: Scope, photos: { id: string; image: DecodedImage }[]): Promise<IndexedPhoto[]> {
    const model = this.people?.allows(scope.tenant) ? this.people.model : undefined;
    if (!model) return [];
    const found: IndexedPhoto[] = [];
    for (const { id, image } of photos) found.push({ id, regions: await storedFaces(model, image) });
    return found;
  }

  /** A person's photos, by each photo's best face: present at the person's threshold; `all`, every photo with faces. */
  async find(
    scope: Scope,
    person: { concept: Concept; examples: Float32Array[] },
    options: FindOptions,
  ): Promise<{ photos: LibraryPhoto[]; next?: string }> {
    const best = new Map<string, { score: number; box: Box }>();
    for await (const batch of this.store.faceBatches(scope)) {
      const dim = this.store.faceDim;
      for (let i = 0; i < batch.rows; i++) {
        const score = faceScore(batch.vectors.subarray(i * dim, (i + 1) * dim), person.examples);
        const id = batch.photo[i];
        if (score > (best.get(id)?.score ?? -1))
          best.set(id, { score, box: [...batch.boxes.subarray(i * 4, i * 4 + 4)].map(round4) as Box });
      }
    }
    const page = new Page(options.limit, options.cursor);
    for (const [id, { score, box }] of best)
      if (options.all || score >= person.concept.threshold) page.offer(id, score, score, () => box);
    return page.answer();
  }
}
