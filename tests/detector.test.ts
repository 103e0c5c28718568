/** YoloxDetector on the real shared YOLOX-Nano and real photos. */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSharp as decode, dreamboothDir } from './support/mobilenet.js';
import { modelsDir } from './support/subjects.js';
import { iou } from '../models/image/boxes.js';
import { openDetector } from '../models/load.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { DecodedImage, ObjectDetector, PixelBox } from '../models/types.js';

const threads = new ModelThreads();

/** The dog in dog/00.jpg (768 x 768) as found by the independent reference decode (_verify/yolox.js). */
const DOG: PixelBox = { x: 32, y: 156, w: 696, h: 605 };

const inside = (b: PixelBox, img: DecodedImage) =>
  b.x >= 0 && b.y >= 0 && b.x + b.w <= img.width && b.y + b.h <= img.height && b.w > 0 && b.h > 0;

describe('YoloxDetector (yolox-nano)', () => {
  let det: ObjectDetector;
  let dog: DecodedImage;

  beforeAll(async () => {
    det = await openDetector(threads, modelsDir, 'yolox-nano');
    dog = await decode('dog/00.jpg');
  });
  afterAll(() => det?.dispose());

  it('finds the dog in dog/00.jpg with a box on the dog', async () => {
    const found = await det.detect(dog);
    expect(found[0].label).toBe('dog');
    expect(found[0].score).toBeGreaterThan(0.6);
    expect(iou(found[0].box, DOG)).toBeGreaterThan(0.9);
  });

  it('maps boxes back through the letterbox on non-square photos', async () => {
    // The same photo with 400 grey pixels added at the right: the dog must not move.
    const wide = await decode(
      sharp(path.join(dreamboothDir, 'dog/00.jpg')).extend({ right: 400, background: '#808080' }),
    );
    expect(wide.width).toBe(1168);
    const [best] = await det.detect(wide);
    expect(best.label).toBe('dog');
    expect(iou(best.box, DOG)).toBeGreaterThan(0.85);
  });

  it('clips boxes of objects cut by the frame to the image', async () => {
    // Keep the left half: the dog runs off the right edge.
    const half = await decode(
      sharp(path.join(dreamboothDir, 'dog/00.jpg')).extract({ left: 0, top: 0, width: 384, height: 768 }),
    );
    const found = await det.detect(half, { minScore: 0.05, maxDetections: 100 });
    expect(found.length).toBeGreaterThan(0);
    for (const d of found) expect(inside(d.box, half)).toBe(true);
    expect(found.some((d) => d.box.x + d.box.w === half.width)).toBe(true);
  });

  it('honours minScore and maxDetections, best first, labels from COCO', async () => {
    for (const f of ['cat/00.jpg', 'backpack_dog/00.jpg', 'teapot/00.jpg']) {
      const img = await decode(f);
      const found = await det.detect(img, { minScore: 0.02, maxDetections: 7 });
      expect(found.length).toBeLessThanOrEqual(7);
      for (const [i, d] of found.entries()) {
        expect(d.score).toBeGreaterThanOrEqual(0.02);
        if (i > 0) expect(d.score).toBeLessThanOrEqual(found[i - 1].score);
        expect(inside(d.box, img)).toBe(true);
        expect(typeof d.label).toBe('string');
      }
    }
    expect(await det.detect(dog, { minScore: 0.99 })).toEqual([]);
    expect(await det.detect(dog, { maxDetections: 0 })).toEqual([]);
  });

  it('suppresses duplicates of one class but keeps overlapping boxes of different classes', async () => {
    const found = await det.detect(await decode('backpack_dog/00.jpg'), { minScore: 0.02, maxDetections: 100 });
    let crossClass = 0;
    for (const a of found) {
      for (const b of found) {
        if (a === b) continue;
        if (a.label === b.label) expect(iou(a.box, b.box)).toBeLessThanOrEqual(0.45);
        else if (iou(a.box, b.box) > 0.45) crossClass++;
      }
    }
    // The dog also scores low as cat, vase and teddy bear, on nearly the same box.
    expect(crossClass).toBeGreaterThan(0);
  });

  it('rejects malformed images and options', async () => {
    await expect(det.detect({ data: new Uint8Array(5), width: 2, height: 2 })).rejects.toThrow(/RGB bytes/);
    await expect(det.detect(dog, { minScore: 2 })).rejects.toThrow(/minScore/);
    await expect(det.detect(dog, { maxDetections: 1.5 })).rejects.toThrow(/maxDetections/);
  });
});

describe('openDetector', () => {
  it('refuses models that are not detectors and names missing folders', async () => {
    await expect(openDetector(threads, modelsDir, 'mobilenetv2-12-int8')).rejects.toThrow(/not an object detector/);
    await expect(openDetector(threads, '/nonexistent/models', 'yolox-nano')).rejects.toThrow(
      /model folder not found: \/nonexistent\/models\/yolox-nano/,
    );
  });
});
