/**
 * Person concepts' use cases: registered and added to through their faces, kept in the face store, written ahead of
 * the concept row that makes them visible; no head, no refinement.
 */
import { randomUUID } from 'node:crypto';
import type { ConceptCommits } from '../commit.js';
import { assertNameFree, findConcept, newConceptRecord } from '../concept-records.js';
import { DomainError } from '../errors.js';
import { decodeExamples, type IntakeLimits } from '../intake/intake.js';
import type { ConceptRecord } from '../storage/store-records.js';
import type { Concept, ImageInput, NewConcept, Scope } from '../types.js';
import type { UserState } from '../user-cache.js';
import { FACES_OFF, type People, type PhotoFace } from './people.js';

export class PersonConcepts {
  constructor(
    private readonly commits: ConceptCommits,
    private readonly limits: IntakeLimits,
    /** The encoder's dimension: a person's row keeps a blank head of it. */
    private readonly dim: number,
    private readonly maxImages: number,
    private readonly people?: People,
  ) {}

  /** A person from the face of each example photo (422 without one). */
  async register(scope: Scope, input: NewConcept): Promise<Concept> {
    const people = this.allowed(scope);
    const faces = await people.photoFaces(await decodeExamples(input.images, this.limits), false);
    const { threshold, quality } = people.calibrate(faces);
    const id = randomUUID();
    const record = newConceptRecord(scope, id, input, this.dim, {
      threshold,
      encoder: people.encoder,
      draftPhotos: 0,
      quality: JSON.stringify(quality),
    });
    return this.write(scope, id, faces, async (state) => {
      assertNameFree(state.concepts, record.name);
      return [...state.concepts, record];
    });
  }

  /** More photos of a person, or photos without them (whose faces its threshold is then held above too). */
  async addPhotos(scope: Scope, person: ConceptRecord, images: ImageInput[], negative: boolean): Promise<Concept> {
    const people = this.allowed(scope);
    const first = person.imageCount + person.negativeCount;
    const faces = await people.photoFaces(await decodeExamples(images, this.limits), negative, first);
    return this.write(scope, person.id, faces, async (state) => {
      const current = findConcept(state.concepts, person.id);
      if (!negative && current.imageCount + images.length > this.maxImages)
        throw new DomainError('unprocessable', `a concept holds at most ${this.maxImages} photos`);
      const { threshold, quality } = people.calibrate([
        ...(await people.stored(scope, current.id, current.version)),
        ...faces,
      ]);
      const updated: ConceptRecord = {
        ...current,
        threshold,
        nameThreshold: threshold,
        quality: JSON.stringify(quality),
        imageCount: current.imageCount + (negative ? 0 : images.length),
        negativeCount: current.negativeCount + (negative ? images.length : 0),
        updatedAt: new Date().toISOString(),
      };
      return state.concepts.map((c) => (c.id === person.id ? updated : c));
    });
  }

  /** The face path, when faces are on for the scope's tenant; else the 422 that says how to turn them on. */
  private allowed(scope: Scope): People {
    if (!this.people) throw new DomainError('unprocessable', FACES_OFF);
    this.people.assertAllowed(scope.tenant);
    return this.people;
  }

  /**
   * A change of person `id` that adds `faces`: they are written ahead of the concept row that makes them visible
   * (saved one version up, as retrainAndSave counts), and removed again if that commit fails.
   */
  private async write(
    scope: Scope,
    id: string,
    faces: PhotoFace[],
    concepts: (state: UserState) => Promise<ConceptRecord[]>,
  ): Promise<Concept> {
    const people = this.allowed(scope);
    let version = 0;
    try {
      return await this.commits.write(scope, async (state) => {
        const changed = await concepts(state);
        version = changed.find((c) => c.id === id)!.version + 1;
        await people.store.add(
          scope,
          version,
          faces.map((f) => ({ ...f, conceptId: id })),
        );
        return { concepts: changed, newViews: [], crops: [], result: id, train: new Set() };
      });
    } catch (err) {
      if (version > 0) await people.store.deleteWritten(scope, id, version).catch(() => undefined);
      throw err;
    }
  }
}
