/**
 * Registration answers with a draft (two views of each whole photo, its own head only) and refines it in the
 * background: real photos, real models, a real LanceDB. Refinements wait here for a long quiet moment (up to
 * MAX_DEFER_MS, 10 s) unless `refined()` is called, so that the tests can look at drafts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedExamples } from '../concepts/learning/examples.js';
import { decodeImage, toPixelBox } from '../concepts/intake/intake.js';
import type { ViewRecord } from '../concepts/storage/store.js';
import type { Box } from '../concepts/types.js';
import { openRuntime, type Runtime } from '../services/runtime.js';
import { testConfig } from './support/subjects.js';
import { dreamboothDir } from './support/shared-data.js';

const photos = dreamboothDir;
const photo = (subject: string, n: number) => readFileSync(path.join(photos, subject, `0${n}.jpg`));
const scope = { tenant: 'test', user: 'drafts' };

const DRAFT_VARIANTS = ['whole', 'zoom-out-2'];
const config = () => testConfig(dir);
let dir: string;
const signature = (v: { photo: number; kind: string; variant: string }) => `${v.photo} ${v.kind} ${v.variant}`;

describe('registration drafts and their refinement', () => {
  let runtime: Runtime;
  const failures: unknown[] = [];
  const views = async (id: string): Promise<ViewRecord[]> =>
    (await runtime.store.loadUser(scope)).views.filter((v) => v.conceptId === id);
  const register = (name: string, category: string, boxes: (Box | undefined)[] = []) =>
    runtime.service.register(scope, {
      name,
      category,
      images: [0, 1, 2].map((n) => ({ bytes: photo(name, n), box: boxes[n] })),
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nomen-refinement-'));
    runtime = await openRuntime({ ...config(), refineQuietMs: 60_000 }, undefined, {
      info: () => undefined,
      error: (details) => failures.push(details),
    });
    await register('dog', 'dog');
    await register('cat', 'cat');
    await runtime.service.refined();
  });

  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with a draft that recognises already, then refines it into the full set of views', async () => {
    const before = await runtime.store.loadUser(scope);
    const teapot = await register('teapot', 'teapot');
    expect(teapot.status).toBe('refining');
    // The draft: whole photos and their half-size copies, the uploaded originals kept, the other heads untouched.
    const draft = await views(teapot.id);
    expect(new Set(draft.map((v) => v.variant))).toEqual(new Set(DRAFT_VARIANTS));
    expect(draft.map(signature).sort()).toEqual(
      [0, 1, 2].flatMap((p) => [`${p} positive whole`, `${p} probe whole`, `${p} positive zoom-out-2`]).sort(),
    );
    for (const p of [0, 1, 2])
      expect(await runtime.store.readOriginal(scope, teapot.id, p)).toEqual(new Uint8Array(photo('teapot', p)));
    const draftState = await runtime.store.loadUser(scope);
    for (const c of before.concepts)
      expect(draftState.concepts.find((d) => d.id === c.id)!.headWeights).toEqual(c.headWeights);
    const draftCrops = await Promise.all([0, 1, 2].map((p) => runtime.store.readCrop(scope, teapot.id, p)));
    const seen = await runtime.service.recognize(scope, photo('teapot', 4), false);
    expect(seen.concepts.map((m) => m.name)).toEqual(['teapot']);
    expect((await runtime.service.recognize(scope, photo('dog', 3), false)).concepts.map((m) => m.name)).toEqual([
      'dog',
    ]);
    expect((await runtime.service.get(scope, teapot.id)).status).toBe('refining');

    await runtime.service.refined();
    expect(failures).toEqual([]);
    const ready = await runtime.service.get(scope, teapot.id);
    expect(ready.status).toBe('ready');
    // Draft and refinement together are the views that embedding the photos in one go gives.
    const decoded = await Promise.all(
      [0, 1, 2].map(async (n) => ({ image: (await decodeImage(photo('teapot', n))).image })),
    );
    const whole = (await embedExamples(decoded, 'teapot', runtime.models)).flatMap((p) => p.views);
    const refined = await views(teapot.id);
    expect(refined.map(signature).sort()).toEqual(whole.map(signature).sort());
    for (const v of refined) {
      const box = toPixelBox(v.box, decoded[v.photo].image);
      const off = (w: (typeof whole)[number]) =>
        Math.abs(w.box.x - box.x) + Math.abs(w.box.y - box.y) + Math.abs(w.box.w - box.w) + Math.abs(w.box.h - box.h);
      const twin = whole.filter((w) => signature(w) === signature(v)).sort((a, b) => off(a) - off(b))[0];
      expect(v.vector.reduce((s, x, k) => s + x * twin.vector[k], 0)).toBeGreaterThan(0.9999);
    }
    // Every head retrained with the new concept among its negatives; a detected subject's crop replaced the whole
    // photo's.
    const after = await runtime.store.loadUser(scope);
    for (const c of before.concepts)
      expect(after.concepts.find((d) => d.id === c.id)!.headWeights).not.toEqual(c.headWeights);
    const detected = [...new Set(refined.filter((v) => v.variant === 'subject').map((v) => v.photo))];
    expect(detected.length).toBeGreaterThan(0);
    for (const p of detected) expect(await runtime.store.readCrop(scope, teapot.id, p)).not.toEqual(draftCrops[p]);
    for (const p of [0, 1, 2]) expect(await runtime.store.readOriginal(scope, teapot.id, p)).toBeUndefined();
    expect((await runtime.service.recognize(scope, photo('teapot', 4), false)).concepts.map((m) => m.name)).toEqual([
      'teapot',
    ]);
  });

  it('keeps a given box as the subject from the draft on, once', async () => {
    const box: Box = [0.1, 0.2, 0.5, 0.6];
    const duck = await register('duck_toy', 'toy', [box, undefined, undefined]);
    const subject = (vs: ViewRecord[]) => vs.filter((v) => v.variant === 'subject');
    const near = (got: ViewRecord[]) => {
      expect(got).toHaveLength(1);
      got[0].box.forEach((x, k) => expect(x).toBeCloseTo(box[k], 2));
    };
    near(subject(await views(duck.id)));
    await runtime.service.refined();
    const refined = subject(await views(duck.id));
    near(refined.filter((v) => v.photo === 0));
  });

  it('refines every draft of a user in one write, and leaves a concept deleted meanwhile alone', async () => {
    const can = await register('can', 'can');
    const candle = await register('candle', 'candle');
    const gone = await register('backpack', 'backpack');
    await runtime.service.remove(scope, gone.id);
    const version = await runtime.store.conceptsVersion();
    await runtime.service.refined();
    expect(failures).toEqual([]);
    // One commit of the concept rows: both refined together.
    expect(await runtime.store.conceptsVersion()).toBe(version + 1);
    for (const id of [can.id, candle.id]) expect((await runtime.service.get(scope, id)).status).toBe('ready');
    expect(await views(gone.id)).toEqual([]);
    expect(await runtime.store.readOriginal(scope, gone.id, 0)).toBeUndefined();
    expect(await runtime.store.conceptsToRefine()).toEqual([]);
  });

  it('leaves the heads as they are on a rename, and retrains them when a category changes', async () => {
    await runtime.service.refined();
    const heads = async () =>
      new Map((await runtime.store.loadUser(scope)).concepts.map((c) => [c.name, c.headWeights]));
    const before = await heads();
    const cat = (await runtime.service.list(scope)).find((c) => c.name === 'cat')!;
    await runtime.service.update(scope, cat.id, { name: 'Tom', description: 'grey tabby' });
    const renamed = await heads();
    expect(renamed.get('Tom')).toEqual(before.get('cat'));
    expect(renamed.get('dog')).toEqual(before.get('dog'));
    // Same-category negatives weigh double: the dog's head sees the cat as a dog now.
    await runtime.service.update(scope, cat.id, { category: 'dog' });
    expect((await heads()).get('dog')).not.toEqual(before.get('dog'));
  });

  it('stops without starting a refinement, and refines at the next start what it left as a draft', async () => {
    const rc = await register('rc_car', 'toy');
    await runtime.close();
    runtime = await openRuntime(config());
    expect((await runtime.service.get(scope, rc.id)).status).toBe('refining');
    await runtime.service.refined();
    expect((await runtime.service.get(scope, rc.id)).status).toBe('ready');
    expect((await views(rc.id)).filter((v) => v.variant === 'subject-flip')).toHaveLength(3);
  });
});
