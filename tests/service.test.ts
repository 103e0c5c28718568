/**
 * The concept service's use cases and its draft-and-refine workflow on the fake encoder and a real store in a temp
 * folder: what is registered, listed, recognised, refined and deleted, with no model.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultLimits } from '../concepts/intake/intake.js';
import { UNCALIBRATED } from '../concepts/learning/quality.js';
import { ConceptService } from '../concepts/service.js';
import type { ServiceOptions } from '../concepts/service-options.js';
import { ConceptStore } from '../concepts/storage/store.js';
import type { Scope } from '../concepts/types.js';
import { FakeEncoder, fakeRegionBank, JsAlgebra } from './support/fake-models.js';

const alice: Scope = { tenant: 't', user: 'alice' };
const bob: Scope = { tenant: 't', user: 'bob' };

type Rgb = [number, number, number];

/** A PNG of a `mark`-coloured square on a `ground`-coloured photo; `at` moves the square a little. */
async function photo(ground: Rgb, mark: Rgb, at = 0): Promise<{ bytes: Uint8Array }> {
  const [w, h] = [160, 120];
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const inside = x >= 40 + at && x < 100 + at && y >= 30 + at && y < 90 + at;
      data.set(inside ? mark : ground, (y * w + x) * 3);
    }
  const png = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
  return { bytes: new Uint8Array(png) };
}

const red = (at = 0) => photo([200, 200, 200], [220, 20, 20], at);
const blue = (at = 0) => photo([30, 120, 30], [20, 20, 220], at);

let dir: string;
let store: ConceptStore;
let encoder: FakeEncoder;
let service: ConceptService;

async function open(options: Partial<ServiceOptions> = {}): Promise<ConceptService> {
  encoder = new FakeEncoder();
  const models = { encoder, algebra: new JsAlgebra() };
  return ConceptService.open(
    store,
    models,
    { limits: defaultLimits, refineQuietMs: 0, ...options },
    fakeRegionBank(48),
  );
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nomen-service-'));
  store = await ConceptStore.open(dir, new FakeEncoder().dim);
  service = await open();
});

afterEach(async () => {
  await service.close();
  store.close();
  await rm(dir, { recursive: true, force: true });
});

const register = async (scope: Scope, name: string, photos: Promise<{ bytes: Uint8Array }>[]) =>
  service.register(scope, { name, category: 'thing', images: await Promise.all(photos) });

describe('ConceptService use cases', () => {
  it('registers, lists in order of creation, gets and renames; names are unique per user, case aside', async () => {
    const mug = await register(alice, 'Mug', [red(0), red(4)]);
    const hat = await register(alice, 'Hat', [blue(0)]);
    expect(mug).toMatchObject({ name: 'Mug', category: 'thing', imageCount: 2, negativeCount: 0 });
    expect((await service.list(alice)).map((c) => c.name)).toEqual(['Mug', 'Hat']);
    expect(await service.list(bob)).toEqual([]);
    await expect(register(alice, ' mug ', [red(2)])).rejects.toMatchObject({ code: 'name_taken' });
    expect((await register(bob, 'Mug', [red(2)])).name).toBe('Mug');
    await expect(service.update(alice, hat.id, { name: 'MUG' })).rejects.toMatchObject({ code: 'name_taken' });
    expect((await service.update(alice, hat.id, { name: 'Cap' })).name).toBe('Cap');
    expect((await service.get(alice, hat.id)).name).toBe('Cap');
    await expect(service.get(bob, hat.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('recognises each concept in a new photo of it and not in the other', async () => {
    const mug = await register(alice, 'Mug', [red(0), red(6), red(12)]);
    const hat = await register(alice, 'Hat', [blue(0), blue(6), blue(12)]);
    await service.refined();
    const present = async (p: Promise<{ bytes: Uint8Array }>) =>
      (await service.recognize(alice, (await p).bytes, false)).concepts.map((m) => m.id);
    expect(await present(red(3))).toEqual([mug.id]);
    expect(await present(blue(9))).toEqual([hat.id]);
    expect((await service.recognize(bob, (await red(3)).bytes, true)).concepts).toEqual([]);
  });

  it('deletes a concept and retrains the rest; deleting the user leaves nothing of it', async () => {
    const mug = await register(alice, 'Mug', [red(0), red(6)]);
    const hat = await register(alice, 'Hat', [blue(0), blue(6)]);
    await register(bob, 'Mug', [red(0)]);
    await service.refined();
    const before = (await service.get(alice, hat.id)).updatedAt;
    const version = async () => (await store.loadUser(alice)).concepts.find((c) => c.id === hat.id)?.version;
    const hatVersion = await version();
    await service.remove(alice, mug.id);
    await expect(service.get(alice, mug.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(service.remove(alice, mug.id)).rejects.toMatchObject({ code: 'not_found' });
    const left = await service.recognize(alice, (await red(3)).bytes, true);
    expect(left.concepts.map((m) => m.id)).toEqual([hat.id]);
    // The other heads no longer learn from the deleted concept's views: retrained, saved at a new version.
    expect(await version()).toBe(hatVersion! + 1);
    expect((await service.get(alice, hat.id)).updatedAt).toBe(before);
    await service.removeUser(alice);
    expect(await service.list(alice)).toEqual([]);
    expect((await store.loadUser(alice)).views).toEqual([]);
    expect((await service.list(bob)).map((c) => c.name)).toEqual(['Mug']);
  });

  it('adds photos up to 20 a concept, negatives beyond', async () => {
    const mug = await register(alice, 'Mug', [red(0)]);
    await service.refined();
    const more = await Promise.all(Array.from({ length: 19 }, (_, i) => red(i % 8)));
    expect((await service.addImages(alice, mug.id, more, false)).imageCount).toBe(20);
    await expect(service.addImages(alice, mug.id, [await red(1)], false)).rejects.toMatchObject({
      code: 'unprocessable',
    });
    expect(await service.addImages(alice, mug.id, [await blue(0)], true)).toMatchObject({
      imageCount: 20,
      negativeCount: 1,
    });
  });
});

describe('draft and refinement', () => {
  it('answers with a draft, then refines it in the background into more views, dropping the upload', async () => {
    const mug = await register(alice, 'Mug', [red(0), red(6)]);
    expect(mug.status).toBe('refining');
    const draft = (await store.loadUser(alice)).views.length;
    expect(await store.readOriginal(alice, mug.id, 1)).toBeDefined();
    await service.whenRefined(alice, mug.id);
    expect((await service.get(alice, mug.id)).status).toBe('ready');
    expect((await store.loadUser(alice)).views.length).toBeGreaterThan(draft);
    expect(await store.readOriginal(alice, mug.id, 1)).toBeUndefined();
    expect(service.pendingRefinements).toBe(0);
  });

  it('with refine off, a concept is ready at once from its draft views and keeps no upload', async () => {
    await service.close();
    service = await open({ refine: false });
    const mug = await register(alice, 'Mug', [red(0), red(6)]);
    expect(mug.status).toBe('ready');
    const views = (await store.loadUser(alice)).views.length;
    await service.refined();
    expect((await store.loadUser(alice)).views.length).toBe(views);
    expect(await store.readOriginal(alice, mug.id, 0)).toBeUndefined();
  });

  it('refines at the next open what a closed service left as a draft', async () => {
    await service.close();
    service = await open({ refineQuietMs: 60_000 });
    const mug = await register(alice, 'Mug', [red(0)]);
    await service.close();
    expect((await service.get(alice, mug.id)).status).toBe('refining');
    service = await open();
    await service.refined();
    expect((await service.get(alice, mug.id)).status).toBe('ready');
  });

  it('calibrates again at the next open a store written before the region bank', async () => {
    await register(alice, 'Mug', [red(0), red(6), red(12)]);
    await register(alice, 'Hat', [blue(0), blue(6), blue(12)]);
    await service.refined();
    await service.close();
    // What an older version left: no quality, and thresholds set against the user's other concepts only.
    const { concepts } = await store.loadUser(alice);
    const old = concepts.map((c) => ({ ...c, quality: '', threshold: 0.01, version: c.version + 1 }));
    await store.saveConcepts(alice, old, []);
    service = await open();
    await service.refined();
    for (const c of await service.list(alice)) {
      expect(c.quality).not.toEqual(UNCALIBRATED);
      expect(c.threshold).toBeGreaterThan(0.01);
    }
  });
});
