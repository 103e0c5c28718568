/** Cuts a Crop out of its DecodedImage as a new RGB image, so every encoder sees the same pixels. */
import { drawRegion, fillCanvas, type TensorCanvas } from './resample.js';
import type { Crop, DecodedImage, PixelBox, Zoom } from '../types.js';
import { meanColour, zoomDraw } from './zoom.js';

/** Long side of a zoomed view's frame: encoders take 224-384 px, so more would only cost time. */
const ZOOM_SIDE = 384;

/** The region zoomed out in a frame of its own shape (models/image/zoom.ts), as an RGB image. */
function zoomed(image: DecodedImage, region: PixelBox, zoom: Zoom, flip: boolean): DecodedImage {
  const s = Math.min(1, ZOOM_SIDE / Math.max(region.w, region.h));
  const frame = { x: 0, y: 0, w: Math.max(1, Math.round(region.w * s)), h: Math.max(1, Math.round(region.h * s)) };
  const canvas: TensorCanvas = {
    data: new Float32Array(frame.w * frame.h * 3),
    offset: 0,
    width: frame.w,
    height: frame.h,
    layout: 'nhwc',
    bgr: false,
    gain: [1, 1, 1],
    bias: [0, 0, 0],
  };
  fillCanvas(canvas, meanColour(image, region));
  const draw = zoomDraw(region, zoom, { src: region, dst: frame });
  if (draw) drawRegion(image, draw.from, canvas, draw.to, flip);
  return { data: Uint8Array.from(canvas.data, (v) => Math.round(v)), width: frame.w, height: frame.h };
}

/** The pixels a crop of `box` takes: the box rounded to whole pixels, clamped to the image (all of it if no box). */
export function cropPixels(image: DecodedImage, box?: PixelBox): PixelBox {
  const x0 = clamp(Math.round(box?.x ?? 0), 0, image.width);
  const y0 = clamp(Math.round(box?.y ?? 0), 0, image.height);
  const x1 = clamp(Math.round(box ? box.x + box.w : image.width), x0, image.width);
  const y1 = clamp(Math.round(box ? box.y + box.h : image.height), y0, image.height);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** The crop's pixels (cropPixels) as an image, mirrored left-right when `flip` is set, zoomed out when `zoom` is. */
export function cropImage({ image, box, flip, zoom }: Crop): DecodedImage {
  const { x: x0, y: y0, w: width, h: height } = cropPixels(image, box);
  if (width === 0 || height === 0) {
    throw new Error(`crop box ${JSON.stringify(box)} is empty inside a ${image.width}x${image.height} image`);
  }
  if (zoom) return zoomed(image, { x: x0, y: y0, w: width, h: height }, zoom, flip ?? false);
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
