/**
 * The draft-and-refine workflow: a registration commits draft views at once; later, in the background, the
 * refinement embeds the rest of the views from the kept uploads and retrains every head of the user.
 */
import { randomUUID } from 'node:crypto';
import { cropRegion } from '../models/image/boxes.js';
import { bulk } from '../models/runtime/priority.js';
import type { ConceptCommits } from './commit.js';
import { assertNameFree, newConceptRecord, referenceCrops, viewRecord } from './concept-records.js';
import { decodeExamples, decodeImage, toPixelBox } from './intake/intake.js';
import type { JobRef } from './job-queue.js';
import { embedDraft, embedRefinement } from './learning/examples.js';
import { Refinements } from './learning/refinements.js';
import type { ServiceModels, ServiceOptions } from './service-options.js';
import type { ConceptStore, CropInput } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import type { Concept, NewConcept, Scope } from './types.js';
import type { UserCache } from './user-cache.js';

export class DraftRefinement {
  /** Concepts whose draft views await their refinement, one at a time in the background. */
  readonly queue: Refinements;

  constructor(
    private readonly store: ConceptStore,
    private readonly users: UserCache,
    private readonly commits: ConceptCommits,
    private readonly models: ServiceModels,
    private readonly options: ServiceOptions,
  ) {
    this.queue = new Refinements((job) => bulk(() => this.refine(job)), {
      quietMs: options.refineQuietMs,
      onError: options.onRefineError,
    });
  }

  /**
   * Registration's half: decodes and embeds two views of each whole photo (and a given box), commits the concept
   * with its head trained on them, and keeps the uploads for the refinement.
   */
  async draft(scope: Scope, input: NewConcept): Promise<Concept> {
    const name = input.name.trim();
    const photos = await decodeExamples(input.images, this.options.limits);
    const id = randomUUID();
    // A draft's subjects are the given boxes or the whole photos: their crops are drawn while the photos are embedded.
    const cropping = referenceCrops(
      id,
      photos,
      photos.map((p) => ({ subject: cropRegion(p.image, p.box) })),
    );
    cropping.catch(() => undefined); // a rejection surfaces at its await below, not as an unhandled one
    const embedded = await embedDraft(photos, this.models);
    const views = embedded.flatMap((p, i) => p.views.map((v) => viewRecord(scope, id, v, photos[i].image)));
    const crops = await cropping;
    const refine = this.options.refine ?? true;
    const originals = refine ? input.images.map((image, photo) => ({ conceptId: id, photo, bytes: image.bytes })) : [];
    return this.commits.write(scope, async (state) => {
      assertNameFree(state.concepts, name);
      const record = newConceptRecord(scope, id, input, this.models.encoder.dim, {
        threshold: 0.5,
        encoder: this.models.encoder.name,
        draftPhotos: refine ? photos.length : 0,
        quality: '',
      });
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
      await this.queue.pause();
      return !this.queue.closed;
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
    if (!(await proceed())) return;
    if (refined.length === 0) {
      await this.recalibrate(scope);
      return;
    }
    await this.commits.write(scope, async (state) => {
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
   * Retrains every head of a user whose store was written before the region bank (a concept without quality): their
   * thresholds were set against the user's other concepts only.
   */
  private recalibrate(scope: Scope): Promise<Concept | undefined> {
    return this.commits.write(scope, async (state) => {
      const stale = state.concepts.find((c) => c.quality === '' && c.draftPhotos === 0);
      return stale && { concepts: state.concepts, newViews: [], crops: [], result: stale.id };
    });
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
      views: rest.flatMap((p, photo) => p.views.map((v) => viewRecord(scope, id, v, decoded[photo]))),
      crops: await referenceCrops(id, examples, rest),
    };
  }
}
