/**
 * Each user's concepts, views and stacked heads in memory, the least recently used dropped past a limit. Other
 * processes sharing the data may change a user, so a copy is checked against the store before each use.
 */
import { LRUCache } from 'lru-cache';
import type { UserHeads } from './recognition/recognize.js';
import type { ConceptStore } from './storage/store.js';
import type { ConceptRecord, ViewRecord } from './storage/store-records.js';
import { keyOf, type Scope } from './types.js';

export interface UserState {
  concepts: ConceptRecord[];
  views: ViewRecord[];
  heads: UserHeads;
  /** Example faces of the user's person concepts by concept id, once read (people.ts); a new copy reads them anew. */
  faces?: Map<string, Float32Array[]>;
  /** The concepts table's version at which this copy was last known to match the store. */
  checkedAt?: number;
}

export class UserCache {
  private readonly users: LRUCache<string, UserState>;

  constructor(
    private readonly store: ConceptStore,
    private readonly dim: number,
    limit = 1000,
  ) {
    this.users = new LRUCache({ max: limit });
  }

  /**
   * The user's state: from memory while no change reached the store since, else read anew. The concepts table's
   * version is checked first; when it moved (a change of any user), the user's own concept versions decide.
   */
  async get(scope: Scope): Promise<UserState> {
    const tableVersion = await this.store.conceptsVersion();
    const cached = this.users.get(keyOf(scope));
    if (cached && (cached.checkedAt === tableVersion || (await this.unchanged(scope, cached)))) {
      cached.checkedAt = tableVersion;
      return cached;
    }
    return this.remember(scope, await this.store.loadUser(scope), tableVersion);
  }

  /** `checkedAt` absent: the copy is checked against the store's concept versions at its next use. */
  remember(scope: Scope, data: { concepts: ConceptRecord[]; views: ViewRecord[] }, checkedAt?: number): UserState {
    const weights = new Float32Array(data.concepts.length * this.dim);
    data.concepts.forEach((c, i) => weights.set(c.headWeights, i * this.dim));
    const state: UserState = {
      ...data,
      checkedAt,
      heads: {
        ids: data.concepts.map((c) => c.id),
        names: data.concepts.map((c) => c.name),
        weights: { data: weights, rows: data.concepts.length, cols: this.dim },
        bias: Float32Array.from(data.concepts, (c) => c.headBias),
        thresholds: Float64Array.from(data.concepts, (c) => c.threshold),
      },
    };
    this.users.set(keyOf(scope), state);
    return state;
  }

  forget(scope: Scope): void {
    this.users.delete(keyOf(scope));
  }

  /** Every write bumps the version of each concept of the user, so equal versions mean the same user. */
  private async unchanged(scope: Scope, cached: UserState): Promise<boolean> {
    const stored = await this.store.conceptVersions(scope);
    return stored.size === cached.concepts.length && cached.concepts.every((c) => stored.get(c.id) === c.version);
  }
}
