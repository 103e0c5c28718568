import type { DecodedImage } from '../../models/types.js';

/** A deterministic picture: smooth gradients plus a seed-dependent pattern, not left-right symmetric. */
export function patternImage(width: number, height: number, seed: number): DecodedImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (Math.sin((x + 2 * y) * 0.3 * seed) * 0.5 + 0.5) * 255;
    }
  return { data, width, height };
}
