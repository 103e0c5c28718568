import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip } from '../models/vision/clip.js';
import { GENERIC_CATEGORIES } from '../models/vision/generic-categories.js';
import type { ImageEncoder, TextEncoder } from '../models/types.js';
import { type Family, TINY_CLIP, makeTinyClip } from '../scripts/make-tiny-clip.js';
import { patternImage } from './support/pattern-image.js';
import { tinyClipEntry } from './support/tiny-clip.js';

const entry = tinyClipEntry;

const norm = (v: Float32Array) => Math.hypot(...v);
const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

describe.each<Family>(['clip', 'siglip'])('openClip on a generated tiny %s model', (family) => {
  let dir: string;
  let clip: ImageEncoder & TextEncoder;
  const a = patternImage(64, 48, 1);
  const b = patternImage(50, 70, 2);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nomen-clip-'));
    await makeTinyClip(path.join(dir, entry.folder), family);
    clip = await openClip(dir, entry);
  });

  afterAll(async () => {
    await clip?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('takes its dim from the config', () => {
    expect(clip.dim).toBe(TINY_CLIP.dim);
    expect(clip.name).toBe('tiny-clip');
  });

  it('returns one unit vector per crop', async () => {
    const vs = await clip.embed([{ image: a }, { image: b }, { image: a, box: { x: 10, y: 5, w: 30, h: 30 } }]);
    expect(vs).toHaveLength(3);
    for (const v of vs) {
      expect(v).toHaveLength(TINY_CLIP.dim);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it('gives the same vector in a batch as alone', async () => {
    const crops = [{ image: a }, { image: b, box: { x: 3, y: 4, w: 40, h: 50 } }, { image: b, flip: true }];
    const batch = await clip.embed(crops);
    for (let i = 0; i < crops.length; i++) {
      const [single] = await clip.embed([crops[i]]);
      expect(maxDiff(batch[i], single)).toBeLessThan(1e-5);
    }
  });

  it('tells different images, regions and mirror images apart', async () => {
    const [va, vb, vbox, vflip] = await clip.embed([
      { image: a },
      { image: b },
      { image: a, box: { x: 0, y: 0, w: 32, h: 32 } },
      { image: a, flip: true },
    ]);
    expect(maxDiff(va, vb)).toBeGreaterThan(1e-3);
    expect(maxDiff(va, vbox)).toBeGreaterThan(1e-3);
    expect(maxDiff(va, vflip)).toBeGreaterThan(1e-3);
  });

  it('embeds text deterministically into unit vectors', async () => {
    const texts = ['a photo of the cat', 'a dog', 'A   PHOTO of the CAT'];
    const first = await clip.embedText(texts);
    const again = await clip.embedText(texts);
    expect(first).toHaveLength(3);
    for (let i = 0; i < texts.length; i++) {
      expect(first[i]).toHaveLength(TINY_CLIP.dim);
      expect(norm(first[i])).toBeCloseTo(1, 5);
      expect(maxDiff(first[i], again[i])).toBe(0);
    }
    expect(maxDiff(first[0], first[1])).toBeGreaterThan(1e-3);
    // The tokenizer lowercases and collapses whitespace, like CLIP's.
    expect(maxDiff(first[0], first[2])).toBeLessThan(1e-6);
    expect(await clip.embedText([])).toEqual([]);
  });

  it('gives the same text vector in a batch as alone', async () => {
    const texts = ['a cat', 'a photo of the living room at night'];
    const batch = await clip.embedText(texts);
    for (let i = 0; i < texts.length; i++) {
      const [single] = await clip.embedText([texts[i]]);
      expect(maxDiff(batch[i], single)).toBeLessThan(1e-5);
    }
  });

  it('builds a generic negative bank from category prompts', async () => {
    const bank = await clip.negativeBank();
    expect(bank).toHaveLength(GENERIC_CATEGORIES.length);
    expect(bank.length).toBeGreaterThanOrEqual(100);
    for (const v of bank) {
      expect(v).toHaveLength(TINY_CLIP.dim);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(await clip.negativeBank()).toBe(bank);
  });

  it('rejects an empty crop box', async () => {
    await expect(clip.embed([{ image: a, box: { x: 70, y: 0, w: 10, h: 10 } }])).rejects.toThrow(/empty/);
  });
});

describe('openClip without the model', () => {
  it('says how to install it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nomen-clip-missing-'));
    try {
      await expect(openClip(dir, entry)).rejects.toThrow(/npm run fetch-models tiny-clip/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
