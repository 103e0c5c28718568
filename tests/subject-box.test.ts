/** A match's box: the scanned windows around its best region (subjectBox), then the object there (objectBox). */
import { describe, expect, it } from 'vitest';
import { objectBox, type Scan, subjectBox } from '../concepts/recognition/subject-box.js';
import type { DecodedImage, PixelBox } from '../models/types.js';

const image = { width: 100, height: 100, data: new Uint8Array(100 * 100 * 3) } as DecodedImage;
const box = (x: number, y: number, w: number, h: number): PixelBox => ({ x, y, w, h });

/** Windows with one head's outputs (one column). */
const scan = (windows: [PixelBox, number][]): Scan => ({
  windows: windows.map(([w]) => w),
  outputs: { data: Float32Array.from(windows.map(([, o]) => o)), rows: windows.length, cols: 1 },
});

describe('subjectBox', () => {
  it('takes the mean extent of the windows that score near the best one and overlap the region', () => {
    const windows = scan([
      [box(10, 10, 40, 40), 1.0],
      [box(20, 20, 40, 40), 0.8],
      // Too low a score, and far away: neither shapes the box.
      [box(0, 0, 50, 50), 0.5],
      [box(60, 60, 30, 30), 0.95],
    ]);
    expect(subjectBox(box(10, 10, 40, 40), windows, 0, image, 0.3)).toEqual(box(15, 15, 40, 40));
  });

  it('keeps a region over half the photo, and the region when no scan ran', () => {
    const windows = scan([[box(10, 10, 40, 40), 1.0]]);
    expect(subjectBox(box(0, 0, 80, 80), windows, 0, image, 0.3)).toEqual(box(0, 0, 80, 80));
    expect(subjectBox(box(10, 10, 30, 30), null, 0, image, 0.3)).toEqual(box(10, 10, 30, 30));
  });
});

describe('objectBox', () => {
  const fit = { inside: 0.7, minArea: 0.1 };
  const object = (b: PixelBox, score: number, label = 'dog') => ({ box: b, score, label });

  it("takes the most confident of the detector's objects inside the box, at any label", () => {
    const objects = [
      object(box(0, 0, 30, 30), 0.9), // mostly outside the box
      object(box(22, 22, 20, 20), 0.3, 'bear'),
      object(box(25, 25, 30, 30), 0.4, 'bottle'),
    ];
    expect(objectBox(box(20, 20, 40, 40), objects, fit)).toEqual(box(25, 25, 30, 30));
  });

  it('finds none where no object holds enough of the box or lies enough inside it', () => {
    const parts = [object(box(30, 30, 10, 12), 0.9), object(box(10, 10, 40, 40), 0.9)];
    expect(objectBox(box(20, 20, 40, 40), parts, fit)).toBeUndefined();
    expect(objectBox(box(20, 20, 40, 40), [], fit)).toBeUndefined();
  });
});
