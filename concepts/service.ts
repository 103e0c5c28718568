/** The concept service: what the API offers, in domain terms. Routes translate HTTP to these calls and nothing else. */
import { bulk } from '../models/runtime/priority.js';
import type { DecodedImage } from '../models/types.js';
import { ConceptCommits } from './commit.js';
import { ConceptPhotos } from './concept-photos.js';
import { assertNameFree, findConcept, nameKey, toConcept } from './concept-records.js';
import { DomainError } from './errors.js';
import { decodeExamples, decodeImage } from './intake/intake.js';
import { splitBank, type RegionBank } from './learning/region-bank.js';
import { KeyedLock, Slots } from './locks.js';
import { stack } from './matrix.js';
import { recognizeImage } from './recognition/recognize.js';
import { cropSet, ReferenceCells } from './recognition/reference-cells.js';
import { defaultRegionOptions } from './recognition/regions.js';
import { isPersonCategory } from './people/faces.js';
import { FACES_OFF, isFaceConcept, withoutPersons } from './people/people.js';
import { PersonConcepts } from './people/person-concepts.js';
import { DraftRefinement } from './refinement.js';
import type { ServiceModels, ServiceOptions } from './service-options.js';
import type { ConceptStore } from './storage/store.js';
import type { ConceptRecord } from './storage/store-records.js';
import type {
  Box,
  Concept,
  ConceptPatch,
  ImageInput,
  Match,
  NewConcept,
  Recognition,
  Scope,
  Timings,
} from './types.js';
import { UserCache } from './user-cache.js';

const MAX_CONCEPT_IMAGES = 20;

/** A concept's head and what the API shows of it. */
export interface ConceptHead {
  concept: Concept;
  weights: Float32Array;
  bias: number;
}

/** A person's example faces, or the asked heads and every head that scores stored vectors (storedScoring). */
export type StoredScoring =
  | { person: { concept: Concept; examples: Float32Array[] } }
  | { asked: ConceptHead[]; all: Map<string, { weights: Float32Array; bias: number }> };

/** A concept's head; a person has none: the library finds it by faces (alone), and corrections teach heads. */
function headOf(found: ConceptRecord): ConceptHead {
  if (isFaceConcept(found))
    throw new DomainError(
      'unprocessable',
      `${found.name} is a person, found by faces: ask for a person's photos alone and without text; corrections ` +
        'teach objects only',
    );
  return { concept: toConcept(found), weights: found.headWeights, bias: found.headBias };
}

export class ConceptService {
  /** One at a time: a registration's crops already run on both model threads. */
  private readonly uploads = new Slots(1);
  private readonly users: UserCache;
  private readonly commits: ConceptCommits;
  private readonly refinement: DraftRefinement;
  private readonly persons: PersonConcepts;
  private readonly photos: ConceptPhotos;
  /** Close calls' evidence; none without a region scanner. */
  private readonly references?: ReferenceCells;

  private constructor(
    private readonly store: ConceptStore,
    private readonly models: ServiceModels,
    private readonly options: ServiceOptions,
    bank: RegionBank,
    generic: Float32Array[],
  ) {
    const dim = models.encoder.dim;
    const { negatives, calibration } = splitBank(bank);
    const heads = {
      bank: stack([...generic, ...negatives], dim),
      world: { bank: calibration, scanPenalty: (options.regions ?? defaultRegionOptions).scanPenalty },
    };
    this.users = new UserCache(store, dim, options.cachedUsers);
    this.commits = new ConceptCommits(store, this.users, options.lock ?? new KeyedLock(), models, options, heads);
    this.refinement = new DraftRefinement(store, this.users, this.commits, models, options);
    this.photos = new ConceptPhotos(store, this.users, this.commits, models, options, MAX_CONCEPT_IMAGES);
    this.persons = new PersonConcepts(this.commits, options.limits, dim, MAX_CONCEPT_IMAGES, options.people);
    const scanner = models.encoder.scanner;
    const { closeCall } = options.regions ?? defaultRegionOptions;
    if (scanner) this.references = new ReferenceCells(store, scanner, closeCall.references, options.onReferenceError);
  }

  /** `regions` are photos of the open world (region-bank.ts): half train every head, half calibrate every threshold. */
  static async open(
    store: ConceptStore,
    models: ServiceModels,
    options: ServiceOptions,
    regions: RegionBank,
  ): Promise<ConceptService> {
    const dim = models.encoder.dim;
    if (regions.vectors.cols !== dim)
      throw new Error(`the region bank has ${regions.vectors.cols}-d vectors, the encoder ${dim}-d`);
    const service = new ConceptService(store, models, options, regions, await models.encoder.negativeBank());
    // Refinements cut short by a stop or crash start again, and stores calibrated before the region bank are calibrated
    // again; in several processes each may, and all but one find nothing to do.
    for (const { scope, id } of await store.conceptsToRefine()) service.refinement.queue.add({ ...scope, id });
    return service;
  }

  /** Resolves once the concept's refinement, if one is queued or running in this process, has ended. */
  whenRefined(scope: Scope, id: string): Promise<void> {
    return this.refinement.queue.whenDone({ ...scope, id });
  }

  /** Resolves once no refinement is waiting or running in this process (tests, benchmarks, evaluations). */
  refined(): Promise<void> {
    return this.refinement.queue.settled();
  }

  /**
   * Stops taking refinements and waits for the one running, unless it is still waiting to start; those left start again
   * at the next start.
   */
  close(): Promise<void> {
    return this.refinement.queue.close();
  }

  /** Changes waiting for another change of the same user to finish. */
  get pendingWrites(): number {
    return this.commits.waiting;
  }

  /** Draft concepts waiting for their refinement in this process. */
  get pendingRefinements(): number {
    return this.refinement.queue.waiting;
  }

  async list(scope: Scope): Promise<Concept[]> {
    const state = await this.users.get(scope);
    return state.concepts
      .map(toConcept)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(scope: Scope, id: string): Promise<Concept> {
    return toConcept(findConcept((await this.users.get(scope)).concepts, id));
  }

  /**
   * Registration answers with a draft head, trained on two views of each whole photo, and queues the
   * refinement (the subject found, its crops, region probes, every head retrained). Both, and new photos, are
   * bulk model work: they give their turn on the model threads to interactive requests. One at a time decodes
   * and embeds (`uploads`), so that a burst of uploads holds a bounded number of decoded photos.
   */
  async register(scope: Scope, input: NewConcept): Promise<Concept> {
    if (isPersonCategory(input.category))
      return this.uploads.run(() => bulk(() => this.persons.register(scope, input)));
    const concept = await this.refinement.queue.registration(() =>
      this.uploads.run(() => bulk(() => this.refinement.draft(scope, input))),
    );
    if (concept.status === 'refining') this.refinement.queue.add({ ...scope, id: concept.id });
    return concept;
  }

  addImages(scope: Scope, id: string, images: ImageInput[], negative: boolean): Promise<Concept> {
    return this.uploads.run(() => bulk(() => this.addPhotos(scope, id, images, negative)));
  }

  /**
   * `onlyIf`, checked under the user's lock, leaves the concept as it is when false (a background change yielding to
   * the user's).
   */
  async update(
    scope: Scope,
    id: string,
    patch: ConceptPatch,
    onlyIf?: (current: Concept) => boolean,
  ): Promise<Concept> {
    return this.commits.write(scope, async (state) => {
      const current = findConcept(state.concepts, id);
      if (patch.category !== undefined && isPersonCategory(patch.category) !== isFaceConcept(current))
        throw new DomainError('unprocessable', 'a person and an object are learned apart: register the concept anew');
      if (onlyIf && !onlyIf(toConcept(current)))
        return { concepts: state.concepts, newViews: [], crops: [], result: id, train: new Set() };
      const name = patch.name?.trim();
      if (name !== undefined && nameKey(name) !== current.nameKey) assertNameFree(state.concepts, name);
      const updated: ConceptRecord = {
        ...current,
        ...(name !== undefined && { name, nameKey: nameKey(name) }),
        ...(patch.category !== undefined && { category: patch.category.trim() }),
        ...(patch.description !== undefined && { description: patch.description.trim() }),
        updatedAt: new Date().toISOString(),
      };
      // Only the category weighs in training (same-category negatives); names and descriptions leave the heads as they
      // are.
      const train =
        patch.category !== undefined && updated.category !== current.category ? undefined : new Set<string>();
      return {
        concepts: state.concepts.map((c) => (c.id === id ? updated : c)),
        newViews: [],
        crops: [],
        result: id,
        train,
      };
    });
  }

  private async addPhotos(scope: Scope, id: string, images: ImageInput[], negative: boolean): Promise<Concept> {
    const existing = findConcept((await this.users.get(scope)).concepts, id);
    if (isFaceConcept(existing)) return this.persons.addPhotos(scope, existing, images, negative);
    return this.photos.add(scope, existing, await decodeExamples(images, this.options.limits), negative);
  }

  /**
   * Regions of one photo given by their vectors (a correction from the photo library) as a new photo of the concept,
   * an example or a negative; retrains. Answers the concept and the photo's number, which `removePhoto` takes back.
   */
  addRegions(
    scope: Scope,
    id: string,
    regions: { vector: Float32Array; box: Box }[],
    negative: boolean,
  ): Promise<{ concept: Concept; photo: number }> {
    return this.photos.addRegions(scope, id, regions, negative);
  }

  /** Takes back a photo that `addRegions` added: its views are deleted and the heads retrained. */
  removePhoto(scope: Scope, id: string, photo: number): Promise<Concept> {
    return this.photos.remove(scope, id, photo);
  }

  async remove(scope: Scope, id: string): Promise<void> {
    await this.commits.exclusive(scope, async () => {
      const state = await this.users.get(scope);
      findConcept(state.concepts, id);
      this.users.forget(scope);
      await this.store.deleteConcept(scope, id);
      this.references?.forget(scope, id);
      await this.options.people?.deleteConcept(scope, id);
      const rest = state.concepts.filter((c) => c.id !== id);
      if (rest.length > 0)
        await this.commits.retrainAndSave(
          scope,
          rest,
          state.views.filter((v) => v.conceptId !== id),
          [],
          [],
        );
    });
  }

  async removeUser(scope: Scope): Promise<void> {
    await this.commits.exclusive(scope, async () => {
      this.users.forget(scope);
      await this.store.deleteUser(scope);
      this.references?.forget(scope);
      await this.options.people?.deleteUser(scope);
    });
  }

  async recognize(scope: Scope, bytes: Uint8Array, all: boolean): Promise<Recognition> {
    const started = performance.now();
    const { image } = await decodeImage(bytes, this.options.limits);
    const timings: Timings = { decode: performance.now() - started };
    const concepts = await this.recognizeDecoded(scope, image, all, timings);
    timings.total = performance.now() - started;
    for (const k of Object.keys(timings)) timings[k] = Math.round(timings[k] * 10) / 10;
    return { concepts, timings };
  }

  /** Recognition in a photo decoded already (by a caller that needs its pixels too); adds its stages to `timings`. */
  async recognizeDecoded(scope: Scope, image: DecodedImage, all: boolean, timings: Timings): Promise<Match[]> {
    const t = performance.now();
    const state = await this.users.get(scope);
    timings.load = performance.now() - t;
    const persons = state.concepts.filter(isFaceConcept);
    const references = this.references;
    const [matches, people] = await Promise.all([
      recognizeImage(
        image,
        withoutPersons(state.heads, persons),
        this.models,
        timings,
        this.options.regions,
        references && ((id) => references.of(scope, cropSet(state, id))),
      ),
      this.options.people?.recognize(scope, image, state, timings) ?? [],
    ]);
    return [...matches, ...people].filter((m) => all || m.present);
  }

  /** A reference crop of the concept's subject, for conditioning a multimodal model. */
  async referenceCrop(scope: Scope, id: string, photo = 0): Promise<Uint8Array | undefined> {
    findConcept((await this.users.get(scope)).concepts, id);
    return this.store.readCrop(scope, id, photo);
  }

  /** One concept's head, found by id or by name (case-insensitive): what a correction teaches. */
  async head(scope: Scope, ref: string): Promise<ConceptHead> {
    return headOf(await this.findRef(scope, ref));
  }

  /**
   * How stored photos or frames are scored for `refs`, from one reading of the user: a lone person (where `byFaces`)
   * by its example faces; else the heads of `refs` (as `head` finds them) with every head that can score stored
   * vectors (persons left out), by concept id. A retrained head is a new `weights` array, so scores kept for the
   * old one are known to be stale.
   */
  async storedScoring(scope: Scope, refs: string[], byFaces: boolean): Promise<StoredScoring> {
    const state = await this.users.get(scope);
    const { concepts } = state;
    const lone = byFaces && refs.length === 1 ? findRef(concepts, refs[0]) : undefined;
    if (lone && isFaceConcept(lone)) {
      if (!this.options.people) throw new DomainError('unprocessable', FACES_OFF);
      const examples = await this.options.people.examplesOf(scope, state, lone);
      return { person: { concept: toConcept(lone), examples } };
    }
    return {
      asked: refs.map((ref) => headOf(findRef(concepts, ref))),
      all: new Map(
        concepts.filter((c) => !isFaceConcept(c)).map((c) => [c.id, { weights: c.headWeights, bias: c.headBias }]),
      ),
    };
  }

  private async findRef(scope: Scope, ref: string): Promise<ConceptRecord> {
    return findRef((await this.users.get(scope)).concepts, ref);
  }
}

/** A concept by id or by name (case-insensitive). */
function findRef(concepts: ConceptRecord[], ref: string): ConceptRecord {
  const found = concepts.find((c) => c.id === ref.toLowerCase()) ?? concepts.find((c) => c.nameKey === nameKey(ref));
  if (!found) throw new DomainError('not_found', `no concept ${ref}`);
  return found;
}
