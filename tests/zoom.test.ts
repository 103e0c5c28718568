/** Zoomed-out views: where the region lands in its frame and the colour around it. */
import { describe, expect, it } from 'vitest';
import { cropImage, cropPixels } from '../models/image/crop-image.js';
import type { DecodedImage } from '../models/types.js';
import { meanColour, zoomDraw } from '../models/image/zoom.js';

/** 40 x 20: the left half black, the right half white. */
const halves: DecodedImage = {
  data: new Uint8Array(40 * 20 * 3).map((_, i) => (Math.floor(i / 3) % 40 < 20 ? 0 : 255)),
  width: 40,
  height: 20,
};
const pixel = (img: DecodedImage, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe('zoomed-out views', () => {
  it('shows the region at 1/factor of a frame of its own shape, on its mean colour', () => {
    // Sampled: every 7th pixel, staggered by row.
    const mean = meanColour(halves, { x: 0, y: 0, w: 40, h: 20 });
    for (const c of mean) expect(Math.abs(c - 127.5)).toBeLessThan(5);
    const grey = mean.map(Math.round);
    const frame = cropImage({ image: halves, zoom: { factor: 2, x: 0.5, y: 0.5 } });
    expect([frame.width, frame.height]).toEqual([40, 20]);
    expect(pixel(frame, 0, 0)).toEqual(grey);
    expect(pixel(frame, 9, 4)).toEqual(grey);
    expect(pixel(frame, 11, 6)).toEqual([0, 0, 0]);
    expect(pixel(frame, 28, 14)).toEqual([255, 255, 255]);
    expect(pixel(frame, 31, 16)).toEqual(grey);
  });

  it('maps through the placement, leaving out what a centre crop cuts', () => {
    const region = { x: 0, y: 0, w: 100, h: 50 };
    // Squash: the whole frame shows; the photo at half size in the middle of a 224 px input.
    const squashed = zoomDraw(
      region,
      { factor: 2, x: 0.5, y: 0.5 },
      { src: region, dst: { x: 0, y: 0, w: 224, h: 224 } },
    )!;
    expect(squashed.to).toEqual({ x: 56, y: 56, w: 112, h: 112 });
    for (const k of ['x', 'y', 'w', 'h'] as const) expect(squashed.from[k]).toBeCloseTo(region[k], 9);
    // A centred square of 0.875 of the short side shows: the photo's sides fall outside it.
    const side = 43.75;
    const draw = zoomDraw(
      region,
      { factor: 2, x: 0.5, y: 0.5 },
      { src: { x: (100 - side) / 2, y: (50 - side) / 2, w: side, h: side }, dst: { x: 0, y: 0, w: 224, h: 224 } },
    )!;
    expect(draw.to).toEqual({ x: 0, y: 48, w: 224, h: 128 });
    expect(draw.from.x).toBeCloseTo(6.25, 6);
    expect(draw.from.w).toBeCloseTo(87.5, 6);
    expect(draw.from.y).toBeCloseTo((48 / (224 / side) + 3.125 - 12.5) * 2, 6);
    // A corner placement that the crop hides entirely draws nothing.
    expect(
      zoomDraw(
        region,
        { factor: 20, x: 0, y: 0 },
        { src: { x: 28.125, y: 3.125, w: side, h: side }, dst: { x: 0, y: 0, w: 224, h: 224 } },
      ),
    ).toBeUndefined();
  });
});

describe('cropPixels', () => {
  const image: DecodedImage = { data: new Uint8Array(100 * 50 * 3), width: 100, height: 50 };
  it('rounds a box to whole pixels and keeps it inside the image, as cropImage cuts it', () => {
    expect(cropPixels(image, { x: 10.6, y: 4.4, w: 20.3, h: 9.8 })).toEqual({ x: 11, y: 4, w: 20, h: 10 });
    expect(cropPixels(image, { x: -5.2, y: 40, w: 30, h: 30 })).toEqual({ x: 0, y: 40, w: 25, h: 10 });
    expect(cropPixels(image, { x: 95, y: 0, w: 20, h: 5 })).toEqual({ x: 95, y: 0, w: 5, h: 5 });
    expect(cropPixels(image)).toEqual({ x: 0, y: 0, w: 100, h: 50 });
    const crop = cropImage({ image, box: { x: 10.6, y: 4.4, w: 20.3, h: 9.8 } });
    expect([crop.width, crop.height]).toEqual([20, 10]);
  });
});
