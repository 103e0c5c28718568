/** The per-user cache over a stand-in store that counts its reads: what is read again, and when. */
import { describe, expect, it } from 'vitest';
import type { ConceptStore } from '../concepts/storage/store.js';
import type { ConceptRecord } from '../concepts/storage/store-records.js';
import { UserCache } from '../concepts/user-cache.js';

const alice = { tenant: 't', user: 'alice' };
const bob = { tenant: 't', user: 'bob' };
const carol = { tenant: 't', user: 'carol' };

/** Concept rows of two dimensions, each user's at its own version. */
function standIn() {
  const state = {
    table: 1,
    versions: new Map([
      ['alice', 1],
      ['bob', 1],
      ['carol', 1],
    ]),
    loads: 0,
  };
  const row = (user: string): ConceptRecord =>
    ({
      id: `${user}-c`,
      name: 'c',
      headWeights: Float32Array.from([1, 2]),
      headBias: 0.5,
      threshold: 0.6,
      version: state.versions.get(user)!,
    }) as ConceptRecord;
  const store = {
    conceptsVersion: async () => state.table,
    loadUser: async (scope: { user: string }) => {
      state.loads++;
      return { concepts: [row(scope.user)], views: [] };
    },
    conceptVersions: async (scope: { user: string }) => new Map([[`${scope.user}-c`, state.versions.get(scope.user)!]]),
  } as unknown as ConceptStore;
  return { state, store };
}

describe('UserCache', () => {
  it('reads a user once, then again only when that user changed in the store', async () => {
    const { state, store } = standIn();
    const cache = new UserCache(store, 2);
    const first = await cache.get(alice);
    expect(first.heads.ids).toEqual(['alice-c']);
    expect(Array.from(first.heads.weights.data)).toEqual([1, 2]);
    expect(await cache.get(alice)).toBe(first);
    // Another user's write moves the table's version; alice's own versions say she is the same.
    state.table = 2;
    state.versions.set('bob', 2);
    expect(await cache.get(alice)).toBe(first);
    expect(state.loads).toBe(1);
    // Another process changes alice.
    state.table = 3;
    state.versions.set('alice', 2);
    const second = await cache.get(alice);
    expect(second).not.toBe(first);
    expect(second.concepts[0].version).toBe(2);
    expect(state.loads).toBe(2);
  });

  it('forgets on request, and drops the least recently used user past its limit', async () => {
    const { state, store } = standIn();
    const cache = new UserCache(store, 2, 2);
    await cache.get(alice);
    await cache.get(bob);
    await cache.get(alice);
    expect(state.loads).toBe(2);
    // Carol pushes bob out: alice's use left him the least recent.
    await cache.get(carol);
    await cache.get(alice);
    expect(state.loads).toBe(3);
    await cache.get(bob);
    expect(state.loads).toBe(4);
    cache.forget(alice);
    await cache.get(alice);
    expect(state.loads).toBe(5);
  });
});
