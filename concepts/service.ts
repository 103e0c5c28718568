/** The concept service: what the API offers, in domain terms. Routes translate HTTP to these calls and nothing else. */
import { randomUUID } from 'node:crypto';
import { cropRegion } from '../models/image/boxes.js';
import type { DecodedImage, ImageEncoder, PixelBox, LinearAlgebra, Matrix, ObjectDetector } from '../models/types.js';
import { DomainError } from './errors.js';
import { bulk } from '../models/runtime/priority.js';
import { embedDraft, embedExamples, embedNegatives, embedRefinement, type EmbeddedView } from './learning/examples.js';
import type { JobRef } from './job-queue.js';
import { Refinements } from './learning/refinements.js';
import { decodeImage, encodeJpeg, toPixelBox, toRelativeBox, type IntakeLimits } from './intake/intake.js';
import { KeyedLock, Slots, type Lock } from './locks.js';
import { stack } from './matrix.js';
import { recognizeImage, toScore } from './recognition/recognize.js';
import type { RegionOptions } from './recognition/regions.js';
import type { ConceptStore, CropInput, OriginalInput } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import { UserCache, type UserState } from './user-cache.js';
import { splitBank, type RegionBank } from './learning/region-bank.js';
import { defaultRegionOptions } from './recognition/regions.js';
import { defaultTrainingOptions, trainHeads, type OpenWorld, type TrainingOptions } from './learning/training.js';
import { assessQuality, UNCALIBRATED } from './learning/quality.js';
import type {
  Box,
  Concept,
  ConceptPatch,
  ImageInput,
  Match,
  NewConcept,
  Quality,
  Recognition,
  Scope,
  Timings,
} from './types.js';

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
}

const MAX_CONCEPT_IMAGES = 20;

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

/** One change of a user: its concepts after the change, what it adds, and whose heads to retrain (all by default). */
interface Change {
  concepts: ConceptRecord[];
  newViews: ViewRecord[];
  crops: CropInput[];
  originals?: OriginalInput[];
  result: string;
  train?: ReadonlySet<string>;
}

const nameKey = (name: string) => name.trim().toLowerCase();

/** The number a concept's next photo takes: after every photo it has, also those that corrections added. */
function nextPhoto(state: UserState, c: ConceptRecord): number {
  const used = state.views.filter((v) => v.conceptId === c.id).map((v) => v.photo + 1);
  return Math.max(c.imageCount + c.negativeCount, ...used);
}

export class ConceptService {
  private readonly locks: Lock;
  /**
   * One at a time: a registration's crops already run on both model threads. `npm run load` (8 clients, every
   * 5th request a registration): the same 1.1 registrations/s with one slot as with two, recognize p99
   * 1074-1156 -> 936 ms, peak RSS 623 -> 606 MB.
   */
  private readonly uploads = new Slots(1);
  private readonly users: UserCache;
  /** Concepts whose draft views await their refinement, one at a time in the background. */
  private readonly refinements: Refinements;

  private constructor(
    private readonly store: ConceptStore,
    private readonly models: ServiceModels,
    private readonly options: ServiceOptions,
    private readonly bank: Matrix,
    private readonly world: OpenWorld,
  ) {
    this.locks = options.lock ?? new KeyedLock();
    this.users = new UserCache(store, models.encoder.dim, options.cachedUsers);
    this.refinements = new Refinements((job) => bulk(() => this.refine(job)), {
      quietMs: options.refineQuietMs,
      onError: options.onRefineError,
    });
  }

  /** `regions` are photos of the open world (region-bank.ts): half train every head, half calibrate every threshold. */
  static async create(
    store: ConceptStore,
    models: ServiceModels,
    options: ServiceOptions,
    regions: RegionBank,
  ): Promise<ConceptService> {
    const dim = models.encoder.dim;
    if (regions.vectors.cols !== dim)
      throw new Error(`the region bank has ${regions.vectors.cols}-d vectors, the encoder ${dim}-d`);
    const { negatives, calibration } = splitBank(regions);
    const generic = await models.encoder.negativeBank();
    const bank = stack(
      [
        ...generic,
        ...Array.from({ length: negatives.rows }, (_, r) => negatives.data.subarray(r * dim, (r + 1) * dim)),
      ],
      dim,
    );
    const world = { bank: calibration, scanPenalty: (options.regions ?? defaultRegionOptions).scanPenalty };
    const service = new ConceptService(store, models, options, bank, world);
    // Refinements cut short by a stop or crash start again; in several processes each may, and all but one find nothing
    // to do.
    for (const { scope, id } of await store.draftConcepts()) service.refinements.add({ ...scope, id });
    return service;
  }

  /** Resolves once the concept's refinement, if one is queued or running in this process, has ended. */
  whenRefined(scope: Scope, id: string): Promise<void> {
    return this.refinements.whenDone({ ...scope, id });
  }

  /** Resolves once no refinement is waiting or running in this process (tests, benchmarks, evaluations). */
  refined(): Promise<void> {
    return this.refinements.settled();
  }

  /**
   * Stops taking refinements and waits for the one running, unless it is still waiting to start; those left start again
   * at the next start.
   */
  close(): Promise<void> {
    return this.refinements.close();
  }

  /** Changes waiting for another change of the same user to finish. */
  get pendingWrites(): number {
    return this.locks.waiting;
  }

  /** Draft concepts waiting for their refinement in this process. */
  get pendingRefinements(): number {
    return this.refinements.waiting;
  }

  async list(scope: Scope): Promise<Concept[]> {
    const state = await this.users.get(scope);
    return state.concepts
      .map(toConcept)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(scope: Scope, id: string): Promise<Concept> {
    return toConcept(this.find(await this.users.get(scope), id));
  }

  /**
   * Registration answers with a draft head, trained on two views of each whole photo, and queues the
   * refinement (the subject found, its crops, region probes, every head retrained). Both, and new photos, are
   * bulk model work: they give their turn on the model threads to interactive requests. One at a time decodes
   * and embeds (`uploads`), so that a burst of uploads holds a bounded number of decoded photos.
   */
  async create(scope: Scope, input: NewConcept): Promise<Concept> {
    const concept = await this.refinements.registration(() =>
      this.uploads.run(() => bulk(() => this.register(scope, input))),
    );
    if (concept.status === 'refining') this.refinements.add({ ...scope, id: concept.id });
    return concept;
  }

  addImages(scope: Scope, id: string, images: ImageInput[], negative: boolean): Promise<Concept> {
    return this.uploads.run(() => bulk(() => this.addPhotos(scope, id, images, negative)));
  }

  private async register(scope: Scope, input: NewConcept): Promise<Concept> {
    const name = input.name.trim();
    const category = (input.category ?? '').trim();
    const photos = await this.decodeAll(input.images);
    const id = randomUUID();
    // A draft's subjects are the given boxes or the whole photos: their crops are drawn while the photos are embedded.
    const cropping = this.crops(
      id,
      photos,
      photos.map((p) => ({ subject: cropRegion(p.image, p.box) })),
    );
    cropping.catch(() => undefined); // a rejection surfaces at its await below, not as an unhandled one
    const embedded = await embedDraft(photos, this.models);
    const now = new Date().toISOString();
    const views = embedded.flatMap((p, i) => p.views.map((v) => this.viewRecord(scope, id, v, photos[i].image)));
    const crops = await cropping;
    const refine = this.options.refine ?? true;
    const originals = refine ? input.images.map((image, photo) => ({ conceptId: id, photo, bytes: image.bytes })) : [];
    return this.write(scope, async (state) => {
      this.assertNameFree(state, name);
      const record: ConceptRecord = {
        tenant: scope.tenant,
        user: scope.user,
        id,
        name,
        nameKey: nameKey(name),
        category,
        description: (input.description ?? '').trim(),
        headWeights: new Float32Array(this.models.encoder.dim),
        headBias: 0,
        threshold: 0.5,
        nameThreshold: 0.5,
        imageCount: photos.length,
        negativeCount: 0,
        version: 0,
        createdAt: now,
        updatedAt: now,
        encoder: this.models.encoder.name,
        draftPhotos: refine ? photos.length : 0,
        quality: '',
      };
      // The other heads learn of the new concept at its refinement.
      return {
        concepts: [...state.concepts, record],
        newViews: views,
        crops,
        originals,
        result: id,
        train: refine ? new Set([id]) : undefined,
      };
    });
  }

  /**
   * Refines every draft concept of the job's user at once (the jobs of the others then find nothing to do):
   * embeds the rest of the views of their draft photos, from the uploaded originals the store keeps until then,
   * and retrains every head of the user with them in one write. A concept deleted or refined meanwhile is left alone.
   */
  private async refine({ tenant, user }: JobRef): Promise<void> {
    const scope = { tenant, user };
    // Before each step: a pause in registrations, and nothing more once closing (the drafts stay for the next start).
    const proceed = async () => {
      await this.refinements.pause();
      return !this.refinements.closed;
    };
    if (!(await proceed())) return;
    const state = await this.users.get(scope);
    const refined: { id: string; count: number; views: ViewRecord[]; crops: CropInput[] }[] = [];
    for (const concept of state.concepts.filter((c) => c.draftPhotos > 0)) {
      if (!(await proceed())) return;
      refined.push({
        id: concept.id,
        count: concept.draftPhotos,
        ...(await this.refinedViews(scope, concept, state.views)),
      });
    }
    if (refined.length === 0 || !(await proceed())) return;
    await this.write(scope, async (state) => {
      const due = refined.filter((r) => state.concepts.find((c) => c.id === r.id)?.draftPhotos === r.count);
      if (due.length === 0) return undefined;
      const now = new Date().toISOString();
      const concepts = state.concepts.map((c) =>
        due.some((r) => r.id === c.id) ? { ...c, draftPhotos: 0, updatedAt: now } : c,
      );
      return { concepts, newViews: due.flatMap((r) => r.views), crops: due.flatMap((r) => r.crops), result: due[0].id };
    });
    for (const r of refined) await this.store.dropOriginals(scope, r.id, r.count);
  }

  /**
   * The views a draft concept's photos lack, with their subjects' reference crops; none when its originals are gone.
   */
  private async refinedViews(
    scope: Scope,
    concept: ConceptRecord,
    views: ViewRecord[],
  ): Promise<{ views: ViewRecord[]; crops: CropInput[] }> {
    const { id, draftPhotos: count } = concept;
    const originals = await Promise.all(
      Array.from({ length: count }, (_, photo) => this.store.readOriginal(scope, id, photo)),
    );
    if (originals.some((o) => o === undefined)) return { views: [], crops: [] };
    const decoded = await Promise.all(
      originals.map(async (bytes) => (await decodeImage(bytes!, this.options.limits)).image),
    );
    const draft = decoded.map((_, photo) => views.filter((v) => v.conceptId === id && v.photo === photo));
    // A box given at registration is the draft's subject view.
    const examples = decoded.map((image, photo) => {
      const given = draft[photo].find((v) => v.kind === 'positive' && v.variant === 'subject');
      return { image, box: given && toPixelBox(given.box, image) };
    });
    const rest = await embedRefinement(examples, concept.category, this.models, draft, this.options.regions);
    return {
      views: rest.flatMap((p, photo) => p.views.map((v) => this.viewRecord(scope, id, v, decoded[photo]))),
      crops: await this.crops(id, examples, rest),
    };
  }

  /** Reference crops of the subjects, for conditioning a multimodal model later. */
  private crops(
    conceptId: string,
    photos: { image: DecodedImage }[],
    embedded: { subject: PixelBox }[],
  ): Promise<CropInput[]> {
    return Promise.all(
      embedded.map(async (p, i) => ({
        conceptId,
        photo: i,
        jpeg: await encodeJpeg(photos[i].image, p.subject),
      })),
    );
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
    return this.write(scope, async (state) => {
      const current = this.find(state, id);
      if (onlyIf && !onlyIf(toConcept(current)))
        return { concepts: state.concepts, newViews: [], crops: [], result: id, train: new Set() };
      const name = patch.name?.trim();
      if (name !== undefined && nameKey(name) !== current.nameKey) this.assertNameFree(state, name);
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
    const existing = this.find(await this.users.get(scope), id);
    const photos = await this.decodeAll(images);
    // Numbered from 0 here; `addGroups` moves them after every photo the concept has, so each stays its own group.
    let views: ViewRecord[];
    let crops: CropInput[] = [];
    if (negative) {
      const embedded = await embedNegatives(
        photos.map((p) => p.image),
        this.models,
        this.options.regions,
      );
      views = embedded.flatMap((vs, i) =>
        vs.map((v) => this.viewRecord(scope, id, { ...v, photo: i }, photos[i].image)),
      );
    } else {
      const embedded = await embedExamples(photos, existing.category, this.models, this.options.regions);
      views = embedded.flatMap((p, i) =>
        p.views.map((v) => this.viewRecord(scope, id, { ...v, photo: i }, photos[i].image)),
      );
      crops = await this.crops(id, photos, embedded);
    }
    return (await this.addGroups(scope, id, views, crops, photos.length, negative)).concept;
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
    const concept = await this.write(scope, async (state) => {
      const current = this.find(state, id);
      if (!negative && current.imageCount + count > MAX_CONCEPT_IMAGES) {
        throw new DomainError(
          'unprocessable',
          `a concept holds at most ${MAX_CONCEPT_IMAGES} photos; it has ${current.imageCount}`,
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

  /**
   * Regions of one photo given by their vectors (a correction from the photo library) as a new photo of the concept,
   * an example or a negative; retrains. Answers the concept and the photo's number, which `removePhoto` takes back.
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
  async removePhoto(scope: Scope, id: string, photo: number): Promise<Concept> {
    return this.locks.run(this.key(scope), async () => {
      const state = await this.users.get(scope);
      const current = this.find(state, id);
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
      const saved = await this.retrainAndSave(scope, concepts, views, [], []);
      return toConcept(saved.find((c) => c.id === id)!);
    });
  }

  async remove(scope: Scope, id: string): Promise<void> {
    await this.locks.run(this.key(scope), async () => {
      const state = await this.users.get(scope);
      this.find(state, id);
      this.users.forget(scope);
      await this.store.deleteConcept(scope, id);
      const rest = state.concepts.filter((c) => c.id !== id);
      if (rest.length > 0)
        await this.retrainAndSave(
          scope,
          rest,
          state.views.filter((v) => v.conceptId !== id),
          [],
          [],
        );
    });
  }

  async removeUser(scope: Scope): Promise<void> {
    await this.locks.run(this.key(scope), async () => {
      this.users.forget(scope);
      await this.store.deleteUser(scope);
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
    const matches = await recognizeImage(image, state.heads, this.models, timings, this.options.regions);
    return all ? matches : matches.filter((m) => m.present);
  }

  /** A reference crop of the concept's subject, for conditioning a multimodal model. */
  async referenceCrop(scope: Scope, id: string, photo = 0): Promise<Uint8Array | undefined> {
    this.find(await this.users.get(scope), id);
    return this.store.readCrop(scope, id, photo);
  }

  /**
   * One concept's head, found by id or by name (case-insensitive): for scoring vectors stored elsewhere, e.g. video
   * frames.
   */
  async head(scope: Scope, ref: string): Promise<{ concept: Concept; weights: Float32Array; bias: number }> {
    const { concepts } = await this.users.get(scope);
    const found = concepts.find((c) => c.id === ref.toLowerCase()) ?? concepts.find((c) => c.nameKey === nameKey(ref));
    if (!found) throw new DomainError('not_found', `no concept ${ref}`);
    return { concept: toConcept(found), weights: found.headWeights, bias: found.headBias };
  }

  private key(scope: Scope): string {
    return `${scope.tenant}\u0000${scope.user}`;
  }

  private find(state: UserState, id: string): ConceptRecord {
    const found = state.concepts.find((c) => c.id === id);
    if (!found) throw new DomainError('not_found', `no concept ${id}`);
    return found;
  }

  private assertNameFree(state: UserState, name: string): void {
    if (state.concepts.some((c) => c.nameKey === nameKey(name)))
      throw new DomainError('name_taken', `a concept named "${name}" exists already`);
  }

  private async decodeAll(images: ImageInput[]): Promise<{ image: DecodedImage; box?: PixelBox }[]> {
    return Promise.all(
      images.map(async (input) => {
        const { image } = await decodeImage(input.bytes, this.options.limits);
        return { image, box: input.box ? toPixelBox(input.box, image) : undefined };
      }),
    );
  }

  private viewRecord(scope: Scope, conceptId: string, v: EmbeddedView, image: DecodedImage): ViewRecord {
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

  /**
   * Runs one change of a user under the user's lock: the change, then its heads retrained, then one commit.
   * A change that finds nothing to do (`undefined`) writes nothing.
   */
  private async write(scope: Scope, change: (state: UserState) => Promise<Change>): Promise<Concept>;
  private async write(
    scope: Scope,
    change: (state: UserState) => Promise<Change | undefined>,
  ): Promise<Concept | undefined>;
  private async write(
    scope: Scope,
    change: (state: UserState) => Promise<Change | undefined>,
  ): Promise<Concept | undefined> {
    return this.locks.run(this.key(scope), async () => {
      const state = await this.users.get(scope);
      const changed = await change(state);
      if (!changed) return undefined;
      const { concepts, newViews, crops, originals, result, train } = changed;
      const saved = await this.retrainAndSave(
        scope,
        concepts,
        [...state.views, ...newViews],
        newViews,
        crops,
        originals,
        train,
      );
      return toConcept(saved.find((c) => c.id === result)!);
    });
  }

  private async retrainAndSave(
    scope: Scope,
    concepts: ConceptRecord[],
    views: ViewRecord[],
    newViews: ViewRecord[],
    crops: CropInput[],
    originals: OriginalInput[] = [],
    train?: ReadonlySet<string>,
  ): Promise<ConceptRecord[]> {
    this.users.forget(scope);
    const trained = await trainHeads(
      concepts.map((c) => ({ id: c.id, category: c.category, views: views.filter((v) => v.conceptId === c.id) })),
      this.bank,
      this.models.algebra,
      this.models.encoder.dim,
      this.options.training ?? defaultTrainingOptions,
      train,
      this.world,
    );
    const records = concepts.map((c) => {
      const t = trained.get(c.id);
      if (!t) return { ...c, version: c.version + 1 };
      const quality = assessQuality({
        photos: c.imageCount,
        subjectAreas: views
          .filter((v) => v.conceptId === c.id && v.kind === 'positive' && v.variant === 'subject')
          .map((v) => v.box[2] * v.box[3]),
        heldOutRecall: t.heldOutRecall,
        boundByOpenWorld: t.cut === t.openCut,
      });
      const { weights: headWeights, bias: headBias } = t.head;
      return {
        ...c,
        headWeights,
        headBias,
        threshold: toScore(t.cut),
        nameThreshold: toScore(t.nameCut),
        quality: JSON.stringify(quality),
        version: c.version + 1,
      };
    });
    await this.store.saveConcepts(scope, records, newViews, crops, originals);
    this.users.remember(scope, { concepts: records, views });
    return records;
  }
}
