/** Records of a small vector size and a fresh ConceptStore per test: what the store tests share. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { ConceptStore, type ConceptRecord, type ViewRecord } from '../../concepts/storage/store.js';
import type { Scope } from '../../concepts/types.js';

export const DIM = 16;

export function seeded(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}
const rnd = seeded(42);
export const randomVector = () => Float32Array.from({ length: DIM }, rnd);

export function concept(scope: Scope, id: string, version = 1): ConceptRecord {
  return {
    ...scope,
    id,
    name: `Name ${id}`,
    nameKey: `name ${id}`,
    category: 'pet',
    description: 'a "quoted" \'thing\'',
    headWeights: randomVector(),
    headBias: -0.123456789,
    threshold: 0.61,
    nameThreshold: 0.7,
    imageCount: 3,
    negativeCount: 1,
    version,
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-02T10:00:00.000Z',
    encoder: 'mobilenet-v2',
    draftPhotos: 0,
    quality: JSON.stringify({ level: 'good', reasons: [] }),
  };
}

export function views(scope: Scope, conceptId: string, count: number, vector = randomVector): ViewRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    ...scope,
    conceptId,
    kind: i % 4 === 3 ? 'negative' : 'positive',
    vector: vector(),
    photo: i % 3,
    box: [0.1, 0.2, 0.3, 0.4 + i / 1000],
    variant: `v${i}`,
  }));
}

export const jpeg = (n: number) => Uint8Array.from([0xff, 0xd8, n, 0xff, 0xd9]);

export let dir: string;
export let store: ConceptStore;
export const alice: Scope = { tenant: 'acme', user: 'alice' };

/** A fresh store in a temp folder before each of the calling file's tests, removed after it. */
export function useStore(): void {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nomen-store-'));
    store = await ConceptStore.open(dir, DIM);
  });

  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
}

/** The crop files of the store, relative to its crops folder. */
export async function cropFiles(): Promise<string[]> {
  return (await readdir(join(dir, 'crops'), { recursive: true }).catch(() => [] as string[])).filter((p) =>
    p.endsWith('.jpg'),
  );
}
