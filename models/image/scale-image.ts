/** Whole-image scaling into a model's input through libvips: far quicker than resample.ts for a whole photo. */
import sharp from 'sharp';
import { fillCanvas, type TensorCanvas, writer } from './resample.js';
import type { DecodedImage, PixelBox } from '../types.js';

/**
 * The whole image scaled onto the rectangle `dst` of the canvas. libvips does the scaling: for a whole
 * photo into a detector's or scanner's input it takes ~3 ms where drawRegion takes ~12 ms. Its linear
 * kernel, not the default lanczos3: sharpening put 3 more wrong names into `npm run eval:caption` requests.
 */
export async function drawScaled(image: DecodedImage, canvas: TensorCanvas, dst: PixelBox): Promise<void> {
  const px = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(dst.w, dst.h, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const { out, dx, oR, oG, oB, gR, gG, gB, bR, bG, bB } = writer(canvas);
  for (let y = 0, i = 0; y < dst.h; y++) {
    let o = canvas.offset + ((dst.y + y) * canvas.width + dst.x) * dx;
    for (let x = 0; x < dst.w; x++, i += 3, o += dx) {
      out[o + oR] = px[i] * gR + bR;
      out[o + oG] = px[i + 1] * gG + bG;
      out[o + oB] = px[i + 2] * gB + bB;
    }
  }
}

/**
 * A detector's square NCHW input of raw 0-255 values: the image scaled to fit, top-left, `pad` elsewhere. Returns the
 * scaled size too (rounding makes the scale differ slightly between x and y).
 */
export async function letterbox(
  image: DecodedImage,
  data: Float32Array,
  size: number,
  pad: number,
  bgr: boolean,
): Promise<{ data: Float32Array; w: number; h: number }> {
  const r = Math.min(size / image.width, size / image.height);
  const w = Math.max(1, Math.round(image.width * r));
  const h = Math.max(1, Math.round(image.height * r));
  const canvas: TensorCanvas = {
    data,
    offset: 0,
    width: size,
    height: size,
    layout: 'nchw',
    bgr,
    gain: [1, 1, 1],
    bias: [0, 0, 0],
  };
  fillCanvas(canvas, [pad, pad, pad]);
  await drawScaled(image, canvas, { x: 0, y: 0, w, h });
  return { data, w, h };
}
