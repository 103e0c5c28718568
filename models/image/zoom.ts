/**
 * Zoomed-out views (Crop.zoom): a region shown at 1/factor of its own frame, at (x, y) fractions of the free
 * space, on its mean colour — the subject as it looks when it fills only part of a bigger scene. As plain
 * draws, so that the model threads draw them into the input like any crop.
 */
import type { DecodedImage, PixelBox, Zoom } from '../types.js';

/** The region's mean colour, from every 7th pixel of its rows: plenty for a background. */
export function meanColour(image: DecodedImage, region: PixelBox): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  const [x0, y0] = [Math.floor(region.x), Math.floor(region.y)];
  const [x1, y1] = [
    Math.min(image.width, Math.ceil(region.x + region.w)),
    Math.min(image.height, Math.ceil(region.y + region.h)),
  ];
  for (let y = y0; y < y1; y++)
    for (let x = x0 + (y % 7); x < x1; x += 7) {
      const o = (y * image.width + x) * 3;
      for (let c = 0; c < 3; c++) sum[c] += image.data[o + c];
      n++;
    }
  return n === 0 ? [0, 0, 0] : [sum[0] / n, sum[1] / n, sum[2] / n];
}

/**
 * Drawing a zoomed region where a placement maps its frame (the region's own rectangle, `placement.src` being the
 * part of it that shows) onto `placement.dst`: which pixels of the image (`from`) go to which whole pixels of
 * the canvas (`to`); undefined when none show. Everything else of `placement.dst` is the region's mean colour.
 */
export function zoomDraw(
  region: PixelBox,
  zoom: Zoom,
  placement: { src: PixelBox; dst: PixelBox },
): { from: PixelBox; to: PixelBox } | undefined {
  const { src, dst } = placement;
  const f = zoom.factor;
  const shown = {
    x: region.x + (region.w - region.w / f) * zoom.x,
    y: region.y + (region.h - region.h / f) * zoom.y,
    w: region.w / f,
    h: region.h / f,
  };
  const sx = dst.w / src.w;
  const sy = dst.h / src.h;
  const x0 = Math.round(dst.x + (Math.max(shown.x, src.x) - src.x) * sx);
  const y0 = Math.round(dst.y + (Math.max(shown.y, src.y) - src.y) * sy);
  const x1 = Math.round(dst.x + (Math.min(shown.x + shown.w, src.x + src.w) - src.x) * sx);
  const y1 = Math.round(dst.y + (Math.min(shown.y + shown.h, src.y + src.h) - src.y) * sy);
  if (x1 <= x0 || y1 <= y0) return undefined;
  // Back from the whole canvas pixels to the frame, then to the image: the shown rectangle is the region at 1/f.
  const frameX = src.x + (x0 - dst.x) / sx;
  const frameY = src.y + (y0 - dst.y) / sy;
  return {
    from: {
      x: region.x + (frameX - shown.x) * f,
      y: region.y + (frameY - shown.y) * f,
      w: ((x1 - x0) / sx) * f,
      h: ((y1 - y0) / sy) * f,
    },
    to: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 },
  };
}
