/** Cuts a Crop out of its DecodedImage as a new RGB image, so every encoder sees the same pixels. */
import type { Crop, DecodedImage } from './types.js';

/** The crop's box clamped to the image (rounded to whole pixels), mirrored left-right when `flip` is set. */
export function cropImage({ image, box, flip }: Crop): DecodedImage {
  const x0 = clamp(Math.round(box?.x ?? 0), 0, image.width);
  const y0 = clamp(Math.round(box?.y ?? 0), 0, image.height);
  const x1 = clamp(Math.round(box ? box.x + box.w : image.width), x0, image.width);
  const y1 = clamp(Math.round(box ? box.y + box.h : image.height), y0, image.height);
  const width = x1 - x0;
  const height = y1 - y0;
  if (width === 0 || height === 0) {
    throw new Error(`crop box ${JSON.stringify(box)} is empty inside a ${image.width}x${image.height} image`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * image.width + x0) * 3;
    const dst = y * width * 3;
    if (!flip) {
      data.set(image.data.subarray(src, src + width * 3), dst);
      continue;
    }
    for (let x = 0; x < width; x++) {
      const s = src + (width - 1 - x) * 3;
      const d = dst + x * 3;
      data[d] = image.data[s];
      data[d + 1] = image.data[s + 1];
      data[d + 2] = image.data[s + 2];
    }
  }
  return { data, width, height };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
