/**
 * The second look (second-look.ts): which concepts get one, on hand-made margins; the detector's object it adds, on
 * hand-made boxes; where it looks, with the real MobileNetV2 scanner on a real photo pasted small into another.
 */
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { overlapOfSmaller } from '../models/image/boxes.js';
import type { PixelBox } from '../models/types.js';
import { candidates, closerWindows, objectInRegion } from '../concepts/recognition/second-look.js';
import { defaultRegionOptions, gridWindows } from '../concepts/recognition/regions.js';
import { decodeSharp, dreamboothDir, useMobileNet } from './support/mobilenet.js';

const box = (x: number, y: number, w: number, h: number): PixelBox => ({ x, y, w, h });

describe('candidates', () => {
  const regions = [box(0, 0, 100, 100), box(0, 0, 50, 50), box(2, 2, 50, 50), box(50, 50, 50, 50)];
  const own = (row: number) => ({ row, free: true });

  it('takes concepts just under their threshold, closest first, one per place, at most `count`', () => {
    const best = [own(1), own(2), own(3), own(0), own(0)];
    // c0 and c1 look at one place (c1 closer to present); c2 elsewhere; c3 is present; c4 hopeless.
    const margins = [-0.1, -0.05, -0.15, 0.02, -0.5];
    expect(candidates(best, margins, regions, -0.2, 5)).toEqual([
      { concept: 1, region: regions[2] },
      { concept: 2, region: regions[3] },
    ]);
    expect(candidates(best, margins, regions, -0.2, 1)).toEqual([{ concept: 1, region: regions[2] }]);
  });

  it('leaves out a concept whose best region another concept claimed', () => {
    expect(candidates([{ row: 1, free: false }], [-0.05], regions, -0.2, 2)).toEqual([]);
  });
});

describe('objectInRegion', () => {
  const image = { width: 100, height: 100, data: new Uint8Array(0) };
  const fit = defaultRegionOptions.objects;
  const object = (b: PixelBox, score: number) => ({ box: b, score, label: 'bottle' });

  it("takes the detector's object in the region, in whole pixels", () => {
    const objects = [object(box(60.4, 60.6, 30.2, 20.2), 0.05), object(box(10.2, 10.4, 20.5, 30.3), 0.04)];
    expect(objectInRegion(image, box(0, 0, 50, 50), objects, fit)).toEqual(box(10, 10, 21, 31));
  });

  it('finds none where no object fits, or where one rounds to no pixel', () => {
    expect(objectInRegion(image, box(0, 0, 50, 50), [object(box(40, 40, 30, 30), 0.9)], fit)).toBeUndefined();
    expect(objectInRegion(image, box(0, 0, 2, 2), [object(box(1.1, 0, 0.3, 2), 0.9)], fit)).toBeUndefined();
  });
});

describe('closerWindows (mobilenetv2-12-int8)', () => {
  const mobileNet = useMobileNet();

  it('finds, inside a region, the window of a small subject that the head looks for', async () => {
    const encoder = mobileNet();
    // A teapot photo 170 px wide pasted into the lower right of a 400 px region of a backpack photo.
    const pasted = box(500, 470, 170, 170);
    const teapot = await sharp(path.join(dreamboothDir, 'teapot/01.jpg')).resize(pasted.w, pasted.h).toBuffer();
    const scene = await decodeSharp(
      sharp(path.join(dreamboothDir, 'backpack/00.jpg'))
        .resize(768, 768)
        .composite([{ input: teapot, left: pasted.x, top: pasted.y }]),
    );
    // The head: the teapot's other photo's vector (a prototype), as a row of one-concept weights.
    const [prototype] = await encoder.embed([
      { image: await decodeSharp(sharp(path.join(dreamboothDir, 'teapot/00.jpg'))) },
    ]);
    const weights = { data: prototype, rows: 1, cols: prototype.length };
    const region = box(300, 270, 420, 420);

    const { windows, scan } = await closerWindows(
      scene,
      { concept: 0, region },
      weights,
      encoder.scanner!,
      defaultRegionOptions.secondLook,
    );
    expect(windows).toHaveLength(defaultRegionOptions.secondLook.windows);
    // The closer scan: every window, with the head's output on it, lies in the region; the picked ones among them.
    expect(scan.outputs.rows).toBe(scan.windows.length);
    for (const w of scan.windows) expect(overlapOfSmaller(w, region)).toBe(1);
    for (const w of windows) expect(scan.windows).toContainEqual(w);
    // The head's best window lies mostly on the teapot, and it scores higher than the region as a whole.
    expect(overlapOfSmaller(windows[0], pasted)).toBeGreaterThan(0.6);
    const [closer, whole] = await encoder.embed([
      { image: scene, box: windows[0] },
      { image: scene, box: region },
    ]);
    const dot = (v: Float32Array) => v.reduce((s, x, k) => s + x * prototype[k], 0);
    expect(dot(closer)).toBeGreaterThan(dot(whole));
  });

  it("places a fractional region's windows from its crop's whole-pixel corner", async () => {
    const encoder = mobileNet();
    const scene = await decodeSharp(sharp(path.join(dreamboothDir, 'backpack/00.jpg')).resize(768, 768));
    const head = new Float32Array(1280).fill(1);
    const region = { x: 300.6, y: 270.4, w: 420.3, h: 419.8 };
    const { scan } = await closerWindows(
      scene,
      { concept: 0, region },
      { data: head, rows: 1, cols: head.length },
      encoder.scanner!,
      defaultRegionOptions.secondLook,
    );
    // The crop is pixels 301-720 x 270-689: its windows, moved to (301, 270), in the photo's whole pixels.
    const crop = { data: new Uint8Array(0), width: 420, height: 420 };
    const windows = gridWindows(crop, defaultRegionOptions.secondLook.grid);
    expect(scan.windows).toEqual(windows.map((w) => ({ ...w, x: 301 + w.x, y: 270 + w.y })));
  });
});
