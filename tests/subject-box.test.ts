/** A match's box from the scanned windows around its best region (subjectBox), on hand-made head outputs. */
import { describe, expect, it } from 'vitest';
import { subjectBox, type Scan } from '../concepts/recognition/recognize.js';
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
