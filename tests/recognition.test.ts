/** The learning and recognition core end to end on real photos, real models and a real LanceDB: no HTTP. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, defaultLimits } from '../concepts/intake/intake.js';
import { bankFile, bankIdentity, readBank } from '../concepts/learning/region-bank-file.js';
import { recognizeImage } from '../concepts/recognition/recognize.js';
import { defaultRegionOptions } from '../concepts/recognition/regions.js';
import { ConceptService } from '../concepts/service.js';
import type { Box } from '../concepts/types.js';
import { cropPixels } from '../models/image/crop-image.js';
import type { Crop, Detection, ObjectDetector } from '../models/types.js';
import type { Runtime } from '../services/runtime.js';
import { boxIou, SubjectBoxes } from '../scripts/lib/subject-boxes.js';
import { dreamboothDir } from './support/shared-data.js';
import { modelsDir, openTestRuntime, photo, registerSubjects } from './support/subjects.js';

const scope = { tenant: 'test', user: 'alice' };

/** `b` lies mostly inside `rect`: the box points at that pasted photo. */
const inside = (b: Box, rect: Box) => {
  const w = Math.max(0, Math.min(b[0] + b[2], rect[0] + rect[2]) - Math.max(b[0], rect[0]));
  const h = Math.max(0, Math.min(b[1] + b[3], rect[1] + rect[3]) - Math.max(b[1], rect[1]));
  return (w * h) / (b[2] * b[3]) >= 0.6;
};

describe('learning and recognition', () => {
  let runtime: Runtime;
  let dir: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nomen-recognition-'));
    runtime = await openTestRuntime(dir);
    // The refined heads are under test here; drafts have tests of their own (refinement.test.ts).
    Object.assign(
      ids,
      await registerSubjects(runtime, scope, [
        ['dog', 'dog'],
        ['cat', 'cat'],
        ['teapot', 'teapot'],
        ['duck_toy', 'toy'],
      ]),
    );
  });

  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('calibrates a threshold in (0, 1) for every concept', async () => {
    for (const c of await runtime.service.list(scope)) {
      expect(c.threshold).toBeGreaterThan(0);
      expect(c.threshold).toBeLessThan(1);
      expect(c.imageCount).toBe(3);
    }
  });

  it('recognises each subject in a photo it has not seen, and nothing else', async () => {
    // teapot/03 shows the pot small on a dark table: open-world thresholds leave it out (its concept is "weak").
    for (const [name, n] of [
      ['dog', 3],
      ['cat', 3],
      ['teapot', 4],
      ['duck_toy', 3],
    ] as const) {
      const { concepts } = await runtime.service.recognize(scope, photo(name, n), false);
      expect(concepts.map((m) => m.id)).toEqual([ids[name]]);
    }
  });

  it('scores every concept with all, each score consistent with its threshold', async () => {
    const { concepts, timings } = await runtime.service.recognize(scope, photo('dog', 4), true);
    expect(concepts).toHaveLength(4);
    const list = await runtime.service.list(scope);
    for (const m of concepts) expect(m.present).toBe(m.score >= list.find((c) => c.id === m.id)!.threshold);
    expect(concepts[0].id).toBe(ids.dog);
    expect(timings.total).toBeGreaterThan(0);
  });

  it('finds two subjects pasted into a photo of a third, with boxes tight on them', async () => {
    const bg = await sharp(photo('cat', 4)).resize(768, 768).toBuffer();
    const dogRect: Box = [0.05, 0.05, 0.4, 0.4];
    const duckRect: Box = [0.55, 0.5, 0.4, 0.4];
    const paste = async (bytes: Buffer, r: Box) => ({
      input: await sharp(bytes).resize(307, 307).toBuffer(),
      left: Math.round(r[0] * 768),
      top: Math.round(r[1] * 768),
    });
    const scene = await sharp(bg)
      .composite([await paste(photo('dog', 3), dogRect), await paste(photo('duck_toy', 3), duckRect)])
      .jpeg()
      .toBuffer();
    const { concepts } = await runtime.service.recognize(scope, scene, false);
    const dog = concepts.find((m) => m.id === ids.dog);
    const duck = concepts.find((m) => m.id === ids.duck_toy);
    expect(dog && inside(dog.box, dogRect)).toBe(true);
    expect(duck && inside(duck.box, duckRect)).toBe(true);
    expect(concepts.some((m) => m.id === ids.teapot)).toBe(false);
    // Tight on the subjects, not on their photos: each box is the detector's object, measured against a drawn box.
    const drawn = SubjectBoxes.load(path.dirname(dreamboothDir));
    const dogBox = drawn.inside(path.join(dreamboothDir, 'dog', '03.jpg'), dogRect)!;
    const duckBox = drawn.inside(path.join(dreamboothDir, 'duck_toy', '03.jpg'), duckRect)!;
    expect(boxIou(dog!.box, dogBox)).toBeGreaterThan(0.8);
    expect(boxIou(duck!.box, duckBox)).toBeGreaterThan(0.8);
  });

  /** The real models, observed: what the encoder embeds, batch by batch, and what the detector finds. */
  const observedModels = () => {
    const { encoder, detector } = runtime.models;
    const seen = { crops: [] as Crop[][], objects: [] as Detection[][] };
    const models = {
      ...runtime.models,
      encoder: Object.assign(Object.create(encoder) as typeof encoder, {
        embed: (c: Crop[]) => (seen.crops.push(c), encoder.embed(c)),
      }),
      detector: Object.assign(Object.create(detector!) as ObjectDetector, {
        detect: async (...args: Parameters<ObjectDetector['detect']>) => {
          const found = await detector!.detect(...args);
          seen.objects.push(found);
          return found;
        },
      }),
    };
    return { models, seen };
  };

  it('embeds a scanned window only while its scanner margin reaches the floor', async () => {
    // Without the second look, which the floor gates too (tests/second-look.test.ts).
    const noSecondLook = { ...defaultRegionOptions.secondLook, regions: 0 };
    const identity = await bankIdentity(modelsDir, 'mobilenetv2-12-int8', 'yolox-nano');
    const bank = await readBank(bankFile(process.env.NOMEN_BANK_DIR!, identity), identity);
    const recognize = async (scanFloor: number) => {
      const { models, seen } = observedModels();
      const regions = { ...defaultRegionOptions, scanFloor, secondLook: noSecondLook };
      const service = await ConceptService.open(runtime.store, models, { limits: defaultLimits, regions }, bank);
      const { concepts } = await service.recognize(scope, photo('dog', 4), true);
      return { crops: seen.crops.flat().length, concepts };
    };
    const [none, floor, all] = [
      await recognize(Infinity),
      await recognize(defaultRegionOptions.scanFloor),
      await recognize(-Infinity),
    ];
    // Four concepts: each one's best window (fewer where windows coincide) on top of the fixed proposals.
    expect(all.crops - none.crops).toBeGreaterThan(0);
    expect(all.crops - none.crops).toBeLessThanOrEqual(4);
    // Only the dog is near present here: the other concepts' best windows are left out.
    expect(floor.crops).toBeLessThan(all.crops);
    expect(floor.crops).toBeGreaterThan(none.crops);
    const decisions = (ms: { id: string; present: boolean }[]) => ms.map((m) => [m.id, m.present]).sort();
    expect(decisions(floor.concepts)).toEqual(decisions(all.concepts));
  });

  it("embeds the detector's object whole in the region a second look looks at", async () => {
    const { models, seen } = observedModels();
    const dog = await runtime.service.head(scope, ids.dog);
    // The dog's real head with a threshold out of reach (scores lie in [0, 1]): its best region, on the dog, gets a
    // second look.
    const heads = {
      ids: [ids.dog],
      names: ['dog'],
      weights: { data: dog.weights, rows: 1, cols: dog.weights.length },
      bias: Float32Array.of(dog.bias),
      thresholds: Float64Array.of(2),
    };
    const { image } = await decodeImage(photo('dog', 4));
    const options = { ...defaultRegionOptions, scanFloor: -Infinity };
    const [match] = await recognizeImage(image, heads, models, {}, options);
    expect(match.present).toBe(false);
    // The first pass, then the second look's windows.
    expect(seen.crops).toHaveLength(2);
    const [first, closer] = seen.crops;
    const objects = seen.objects.flat().map((o) => JSON.stringify(cropPixels(image, o.box)));
    const isObject = (c: Crop) => objects.includes(JSON.stringify(c.box));
    expect(closer.filter(isObject)).toHaveLength(1);
    // The first pass embeds objects padded with their surroundings, never alone.
    expect(first.filter(isObject)).toHaveLength(0);
  });

  it('learns from negative photos and retrains when a concept goes', async () => {
    const before = await runtime.service.get(scope, ids.teapot);
    const after = await runtime.service.addImages(
      scope,
      ids.teapot,
      [{ bytes: photo('candle', 0) }, { bytes: photo('can', 0) }],
      true,
    );
    expect(after.negativeCount).toBe(2);
    expect(after.imageCount).toBe(before.imageCount);
    await runtime.service.remove(scope, ids.duck_toy);
    const left = await runtime.service.list(scope);
    expect(left.map((c) => c.name).sort()).toEqual(['cat', 'dog', 'teapot']);
    const { concepts } = await runtime.service.recognize(scope, photo('teapot', 4), false);
    expect(concepts.map((m) => m.id)).toEqual([ids.teapot]);
  });

  it('keeps users apart', async () => {
    const { concepts } = await runtime.service.recognize({ tenant: 'test', user: 'bob' }, photo('dog', 3), true);
    expect(concepts).toEqual([]);
    await expect(runtime.service.get({ tenant: 'other', user: 'alice' }, ids.dog)).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
