/**
 * The commit path: one change of a user under the user's lock, then the user's heads retrained and calibrated,
 * then one store commit, after which the user cache holds the result.
 */
import type { Matrix } from '../models/types.js';
import { toConcept } from './concept-records.js';
import { assessQuality } from './learning/quality.js';
import { defaultTrainingOptions, trainHeads, type OpenWorld } from './learning/training.js';
import type { Lock } from './locks.js';
import { isFaceConcept } from './people/people.js';
import { toScore } from './recognition/recognize.js';
import type { ServiceModels, ServiceOptions } from './service-options.js';
import type { ConceptStore, CropInput, OriginalInput } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import { type Concept, keyOf, type Scope } from './types.js';
import type { UserCache, UserState } from './user-cache.js';

/** One change of a user: its concepts after the change, what it adds, and whose heads to retrain (all by default). */
export interface Change {
  concepts: ConceptRecord[];
  newViews: ViewRecord[];
  crops: CropInput[];
  originals?: OriginalInput[];
  result: string;
  train?: ReadonlySet<string>;
}

/** What every head is trained against: the generic negatives and the open world that calibrates its threshold. */
export interface HeadContext {
  bank: Matrix;
  world: OpenWorld;
}

export class ConceptCommits {
  constructor(
    private readonly store: ConceptStore,
    private readonly users: UserCache,
    private readonly locks: Lock,
    private readonly models: ServiceModels,
    private readonly options: Pick<ServiceOptions, 'training'>,
    private readonly heads: HeadContext,
  ) {}

  /** Changes waiting for another change of the same user to finish. */
  get waiting(): number {
    return this.locks.waiting;
  }

  /** Runs `task` under the user's lock, alone among the user's changes. */
  exclusive<T>(scope: Scope, task: () => Promise<T>): Promise<T> {
    return this.locks.run(keyOf(scope), task);
  }

  /**
   * Runs one change of a user under the user's lock: the change, then its heads retrained, then one commit.
   * A change that finds nothing to do (`undefined`) writes nothing.
   */
  write(scope: Scope, change: (state: UserState) => Promise<Change>): Promise<Concept>;
  write(scope: Scope, change: (state: UserState) => Promise<Change | undefined>): Promise<Concept | undefined>;
  write(scope: Scope, change: (state: UserState) => Promise<Change | undefined>): Promise<Concept | undefined> {
    return this.exclusive(scope, async () => {
      const state = await this.users.get(scope);
      const changed = await change(state);
      if (!changed) return undefined;
      const { concepts, newViews, crops, originals, result, train } = changed;
      const views = [...state.views, ...newViews];
      const saved = await this.retrainAndSave(scope, concepts, views, newViews, crops, originals, train);
      return toConcept(saved.find((c) => c.id === result)!);
    });
  }

  /** Retrains the heads of `concepts` (those in `train`, all by default) on `views` and commits them. */
  async retrainAndSave(
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
      concepts
        .filter((c) => !isFaceConcept(c))
        .map((c) => ({ id: c.id, category: c.category, views: views.filter((v) => v.conceptId === c.id) })),
      this.heads.bank,
      this.models.algebra,
      this.models.encoder.dim,
      this.options.training ?? defaultTrainingOptions,
      train,
      this.heads.world,
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
