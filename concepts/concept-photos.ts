/**
 * A concept's photos after registration: more examples or negatives, regions given by their vectors (corrections from
 * the photo library), and taking such a photo back. New photos are numbered under the user's lock after every photo
 * the concept has, also those that corrections added, so that each stays its own group in training.
 */
import type { DecodedImage, PixelBox } from '../models/types.js';
import type { ConceptCommits } from './commit.js';
import { findConcept, referenceCrops, toConcept, viewRecord } from './concept-records.js';
import { DomainError } from './errors.js';
import { embedExamples, embedNegatives } from './learning/examples.js';
import type { ServiceModels, ServiceOptions } from './service-options.js';
import type { ConceptStore, CropInput } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import type { Box, Concept, Scope } from './types.js';
import type { UserCache, UserState } from './user-cache.js';

/** The number a concept's next photo takes: after every photo it has, also those that corrections added. */
function nextPhoto(state: UserState, c: ConceptRecord): number {
  const used = state.views.filter((v) => v.conceptId === c.id).map((v) => v.photo + 1);
  return Math.max(c.imageCount + c.negativeCount, ...used);
}

export class ConceptPhotos {
  constructor(
    private readonly store: ConceptStore,
    private readonly users: UserCache,
    private readonly commits: ConceptCommits,
    private readonly models: ServiceModels,
    private readonly options: ServiceOptions,
    private readonly maxImages: number,
  ) {}

  /** Decoded photos of the concept (examples, or negatives: photos without it), embedded and added; retrains. */
  async add(
    scope: Scope,
    concept: ConceptRecord,
    photos: { image: DecodedImage; box?: PixelBox }[],
    negative: boolean,
  ): Promise<Concept> {
    const { id } = concept;
    // Numbered from 0 here; `addGroups` moves them after every photo the concept has.
    let views: ViewRecord[];
    let crops: CropInput[] = [];
    if (negative) {
      const embedded = await embedNegatives(
        photos.map((p) => p.image),
        this.models,
        this.options.regions,
      );
      views = embedded.flatMap((vs, i) => vs.map((v) => viewRecord(scope, id, { ...v, photo: i }, photos[i].image)));
    } else {
      const embedded = await embedExamples(photos, concept.category, this.models, this.options.regions);
      views = embedded.flatMap((p, i) =>
        p.views.map((v) => viewRecord(scope, id, { ...v, photo: i }, photos[i].image)),
      );
      crops = await referenceCrops(id, photos, embedded);
    }
    return (await this.addGroups(scope, id, views, crops, photos.length, negative)).concept;
  }

  /**
   * Regions of one photo given by their vectors (a correction from the photo library) as a new photo of the concept,
   * an example or a negative; retrains. Answers the concept and the photo's number, which `remove` takes back.
   */
  async addRegions(
    scope: Scope,
    id: string,
    regions: { vector: Float32Array; box: Box }[],
    negative: boolean,
  ): Promise<{ concept: Concept; photo: number }> {
    const views = regions.map(
      (r): ViewRecord => ({
        tenant: scope.tenant,
        user: scope.user,
        conceptId: id,
        kind: negative ? 'negative' : 'positive',
        vector: r.vector,
        photo: 0,
        box: r.box,
        variant: 'correction',
      }),
    );
    const { concept, first } = await this.addGroups(scope, id, views, [], 1, negative);
    return { concept, photo: first };
  }

  /** Takes back a photo that `addRegions` added: its views are deleted and the heads retrained. */
  async remove(scope: Scope, id: string, photo: number): Promise<Concept> {
    return this.commits.exclusive(scope, async () => {
      const state = await this.users.get(scope);
      const current = findConcept(state.concepts, id);
      const gone = state.views.filter((v) => v.conceptId === id && v.photo === photo);
      if (gone.length === 0) throw new DomainError('not_found', `concept ${id} has no photo ${photo}`);
      const negative = gone[0].kind === 'negative';
      this.users.forget(scope);
      await this.store.deleteViews(scope, id, photo);
      const updated: ConceptRecord = {
        ...current,
        imageCount: current.imageCount - (negative ? 0 : 1),
        negativeCount: current.negativeCount - (negative ? 1 : 0),
        updatedAt: new Date().toISOString(),
      };
      const concepts = state.concepts.map((c) => (c.id === id ? updated : c));
      const views = state.views.filter((v) => !gone.includes(v));
      const saved = await this.commits.retrainAndSave(scope, concepts, views, [], []);
      return toConcept(saved.find((c) => c.id === id)!);
    });
  }

  /**
   * Adds photos' views and crops (`count` photos numbered from 0, negative or not) to a concept and retrains; under
   * the user's lock they are numbered after every photo the concept has. Answers the first photo's number.
   */
  private async addGroups(
    scope: Scope,
    id: string,
    views: ViewRecord[],
    crops: CropInput[],
    count: number,
    negative: boolean,
  ): Promise<{ concept: Concept; first: number }> {
    let first = 0;
    const concept = await this.commits.write(scope, async (state) => {
      const current = findConcept(state.concepts, id);
      if (!negative && current.imageCount + count > this.maxImages) {
        throw new DomainError(
          'unprocessable',
          `a concept holds at most ${this.maxImages} photos; it has ${current.imageCount}`,
        );
      }
      first = nextPhoto(state, current);
      const updated: ConceptRecord = {
        ...current,
        imageCount: current.imageCount + (negative ? 0 : count),
        negativeCount: current.negativeCount + (negative ? count : 0),
        updatedAt: new Date().toISOString(),
      };
      return {
        concepts: state.concepts.map((c) => (c.id === id ? updated : c)),
        newViews: views.map((v) => ({ ...v, photo: first + v.photo })),
        crops: crops.map((c) => ({ ...c, photo: first + c.photo })),
        result: id,
      };
    });
    return { concept, first };
  }
}
