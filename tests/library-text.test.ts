/**
 * Photos ranked by text within a concept's photos: a library on the generated tiny CLIP model (which has a text
 * tower), a real LanceDB and the concept service; the order must be the text tower's similarity to each photo's
 * best stored region.
 */
import { faceVectorSize } from '../concepts/people/open-people.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultLimits, decodeImage } from '../concepts/intake/intake.js';
import { defaultLibraryOptions, PhotoLibrary } from '../concepts/library/library.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import { embedBankPhoto, joinBank } from '../concepts/learning/region-bank.js';
import { ConceptService } from '../concepts/service.js';
import { ConceptStore } from '../concepts/storage/store.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { ImageEncoder, TextEncoder } from '../models/types.js';
import { openClip } from '../models/vision/clip.js';
import { makeTinyClip } from '../scripts/make-tiny-clip.js';
import { photo } from './support/subjects.js';
import { tinyClipEntry } from './support/tiny-clip.js';

const entry = tinyClipEntry;
const scope = { tenant: 't', user: 'u' };
const PHOTOS = [
  ['dog', 3],
  ['dog', 4],
  ['cat', 3],
  ['teapot', 3],
  ['backpack', 3],
] as const;

let dir: string;
let clip: ImageEncoder & TextEncoder;
let algebra: OnnxLinearAlgebra;
let stores: { close(): void }[] = [];
let library: PhotoLibrary;
let photoStore: PhotoStore;
let concept: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nomen-library-text-'));
  await makeTinyClip(path.join(dir, entry.folder), 'clip');
  clip = await openClip(dir, entry);
  algebra = await OnnxLinearAlgebra.open(new ModelThreads());
  const models = { encoder: clip, algebra };
  // A small open world for the thresholds: other subjects' photos.
  const bankPhotos = ['bear_plushie', 'can', 'candle', 'duck_toy'].flatMap((s) => [0, 1].map((n) => photo(s, n)));
  const bank = joinBank(
    await Promise.all(
      bankPhotos.map(async (bytes) => embedBankPhoto((await decodeImage(bytes, defaultLimits)).image, models)),
    ),
    clip.dim,
  );
  const conceptStore = await ConceptStore.open(path.join(dir, 'data'), clip.dim);
  photoStore = await PhotoStore.open(path.join(dir, 'data'), clip.dim, faceVectorSize());
  stores = [conceptStore, photoStore];
  const service = await ConceptService.open(conceptStore, models, { limits: defaultLimits, refine: false }, bank);
  library = await PhotoLibrary.open(photoStore, service, models, defaultLibraryOptions(defaultLimits));
  const { job } = await library.add(
    scope,
    PHOTOS.map(([s, n]) => ({ id: `${s}-${n}`, bytes: photo(s, n) })),
  );
  for (let i = 0; i < 600 && (await library.job(scope, job)).status !== 'ready'; i++)
    await new Promise((done) => setTimeout(done, 50));
  expect(await library.job(scope, job)).toMatchObject({ status: 'ready', done: PHOTOS.length, errors: [] });
  const images = [0, 1, 2].map((n) => ({ bytes: photo('dog', n) }));
  concept = (await service.register(scope, { name: 'dog', category: 'dog', images })).id;
}, 180_000);

afterAll(async () => {
  await library?.close();
  for (const s of stores) s.close();
  await Promise.all([clip?.dispose(), algebra?.dispose()]);
  await rm(dir, { recursive: true, force: true });
});

it("ranks a concept's photos by the text tower, keeping their scores", async () => {
  const plain = await library.find(scope, [concept], { limit: 10, all: true });
  for (const text of ['a photo of a dog on grass', 'a red backpack']) {
    const ranked = await library.find(scope, [concept], { limit: 10, all: true, text });
    const [t] = await clip.embedText([text]);
    const similarity = async (id: string) => {
      const regions = await photoStore.photo(scope, id);
      return Math.max(...regions.map((r) => r.vector.reduce((sum, v, k) => sum + v * t[k], 0)));
    };
    const expected = await Promise.all(ranked.photos.map((p) => similarity(p.id)));
    expect(ranked.photos).toHaveLength(PHOTOS.length);
    expect(expected).toEqual([...expected].sort((a, b) => b - a));
    for (const p of ranked.photos) expect(p.score).toBe(plain.photos.find((q) => q.id === p.id)!.score);
  }
  // Paged: the same order.
  const first = await library.find(scope, [concept], { limit: 2, all: true, text: 'a red backpack' });
  const rest = await library.find(scope, [concept], {
    limit: 10,
    all: true,
    text: 'a red backpack',
    cursor: first.next,
  });
  const whole = await library.find(scope, [concept], { limit: 10, all: true, text: 'a red backpack' });
  expect([...first.photos, ...rest.photos].map((p) => p.id)).toEqual(whole.photos.map((p) => p.id));
});
