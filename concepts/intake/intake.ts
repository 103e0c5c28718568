/**
 * Image intake: untrusted bytes in, a bounded sRGB RGB image out, or a DomainError.
 * Everything costly is guarded by a cheaper check first: string length before base64
 * decoding, magic bytes and header before pixels, pixel count before allocation.
 */
import sharp, { type SharpOptions } from 'sharp';
import type { DecodedImage, PixelBox } from '../../models/types.js';
import { DomainError } from '../errors.js';
import { type ImageFormat, sniffFormat } from './image-format.js';
import type { Box, ImageInput } from '../types.js';
import { round4 } from '../rounding.js';

export interface IntakeLimits {
  maxBytes: number;
  maxPixels: number;
  maxImages: number;
  /** Long side of the working resolution that images are decoded to. */
  maxSide: number;
}

export const defaultLimits: Readonly<IntakeLimits> = {
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxImages: 20,
  maxSide: 1024,
};

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): IntakeLimits {
  return {
    ...defaultLimits,
    maxBytes: positiveInt(env, 'NOMEN_MAX_IMAGE_BYTES', defaultLimits.maxBytes),
    maxPixels: positiveInt(env, 'NOMEN_MAX_IMAGE_PIXELS', defaultLimits.maxPixels),
    maxImages: positiveInt(env, 'NOMEN_MAX_IMAGES', defaultLimits.maxImages),
  };
}

/** A misconfiguration must stop the start, not silently fall back to the default. */
function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

const ACCEPTED = 'JPEG, PNG, WebP, AVIF, GIF or TIFF';
// Standard and URL-safe alphabets: Buffer decodes both; anything else it would silently skip.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const megabytes = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** Raw base64 or a `data:image/...;base64,` URL to bytes; the size is judged before decoding. */
export function decodeBase64Image(s: string, limits: IntakeLimits = defaultLimits): Uint8Array {
  return decodeBase64(s, limits.maxBytes, 'image');
}

/**
 * Raw base64 or a `data:<kind>/...;base64,` URL of an image or a video to bytes; the size is judged before decoding.
 */
export function decodeBase64(s: string, maxBytes: number, kind: 'image' | 'video'): Uint8Array {
  const invalid = kind === 'image' ? 'invalid_image' : 'invalid_video';
  if (typeof s !== 'string') throw new DomainError('invalid_request', `${kind} data must be a base64 string`);
  let payload = s;
  if (/^data:/i.test(s)) {
    const prefix = new RegExp(`^data:${kind}/[a-z0-9.+-]+(?:;[a-z0-9._+-]+=[a-z0-9._+-]+)*;base64,`, 'i').exec(
      s.slice(0, 200),
    );
    if (!prefix)
      throw new DomainError('invalid_request', `a data URL must look like data:${kind}/<type>;base64,<data>`);
    payload = s.slice(prefix[0].length);
  }
  // MIME-style line breaks are legal in base64 text.
  if (/\s/.test(payload)) payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) throw new DomainError(invalid, `${kind} data is empty`);

  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const estimated = Math.floor(((payload.length - padding) * 3) / 4);
  if (estimated > maxBytes) {
    throw new DomainError('too_large', `${kind} is ${megabytes(estimated)}, the limit is ${megabytes(maxBytes)}`);
  }
  const unpadded = payload.length - padding;
  if (!BASE64.test(payload) || unpadded % 4 === 1 || (padding > 0 && payload.length % 4 !== 0)) {
    throw new DomainError(invalid, `${kind} data is not valid base64`);
  }
  return Buffer.from(payload, 'base64');
}

export interface Intake {
  image: DecodedImage;
  /** The photo as sent, after EXIF orientation. */
  original: { width: number; height: number; format: ImageFormat };
}

/** Bytes of an accepted format to RGB at working resolution, upright, alpha flattened on white, sRGB. */
export async function decodeImage(bytes: Uint8Array, limits: IntakeLimits = defaultLimits): Promise<Intake> {
  if (bytes.length === 0) throw new DomainError('invalid_image', 'image is empty');
  if (bytes.length > limits.maxBytes) {
    throw new DomainError(
      'too_large',
      `image is ${megabytes(bytes.length)}, the limit is ${megabytes(limits.maxBytes)}`,
    );
  }
  const sniffed = sniffFormat(bytes);
  if (!sniffed) throw new DomainError('unsupported_media_type', `not a ${ACCEPTED} image`);
  if ('refused' in sniffed) {
    throw new DomainError('unsupported_media_type', `${sniffed.refused} is not supported; send ${ACCEPTED}`);
  }

  // failOn 'warning' (sharp's advice for untrusted input) refuses truncated files and corrupt
  // entropy data instead of returning half-grey pixels; limitInputPixels backs up our own count.
  const options: SharpOptions = { failOn: 'warning', limitInputPixels: limits.maxPixels };
  // The header alone is safe to read at any size; counting pixels ourselves gives a clearer message.
  const meta = await sharp(bytes, { ...options, limitInputPixels: false })
    .metadata()
    .catch(rethrow);
  const { width, height } = meta.autoOrient;
  if (!(width > 0 && height > 0)) throw new DomainError('invalid_image', 'image has no pixels');
  if (Math.min(width, height) < MIN_SIDE)
    throw new DomainError('unprocessable', `image is ${width}x${height}; both sides must be at least ${MIN_SIDE} px`);
  if (width * height > limits.maxPixels) {
    throw new DomainError(
      'too_large',
      `image is ${width}x${height} (${((width * height) / 1e6).toFixed(1)} MP), the limit is ` +
        `${limits.maxPixels / 1e6} MP`,
    );
  }
  if (sniffed.format === 'avif' && meta.compression !== 'av1') {
    throw new DomainError('unsupported_media_type', `HEIF with ${meta.compression} compression is not supported`);
  }

  // resize before decode lets libjpeg/libwebp shrink on load: a 12 MP JPEG never exists at full size.
  const { data, info } = await sharp(bytes, options)
    .autoOrient()
    .resize({ width: limits.maxSide, height: limits.maxSide, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch(rethrow);
  if (info.channels !== 3) throw new DomainError('invalid_image', `image decoded to ${info.channels} channels`);
  return {
    image: { data, width: info.width, height: info.height },
    original: { width, height, format: sniffed.format },
  };
}

/** sharp/libvips errors are plain Errors; callers only ever see a DomainError. */
function rethrow(e: unknown): never {
  const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  if (/pixel limit/i.test(message)) throw new DomainError('too_large', 'image has too many pixels');
  if (/unsupported image format/i.test(message))
    throw new DomainError('unsupported_media_type', `not a ${ACCEPTED} image`);
  throw new DomainError('invalid_image', `image could not be decoded: ${message}`);
}

/** Below this there is nothing to recognise, and region grids would round to empty boxes. */
const MIN_SIDE = 16;

// Boxes drawn on a downscaled preview round a little past the edge.
const EDGE_SLACK = 1e-3;

/** Example photos decoded, each with its given box (if any) in pixels. */
export function decodeExamples(
  images: ImageInput[],
  limits: IntakeLimits,
): Promise<{ image: DecodedImage; box?: PixelBox }[]> {
  return Promise.all(
    images.map(async (input) => {
      const { image } = await decodeImage(input.bytes, limits);
      return { image, box: input.box ? toPixelBox(input.box, image) : undefined };
    }),
  );
}

/** A relative `[x, y, w, h]` (fractions) to whole pixels of `image`, at least 1 px each way. */
export function toPixelBox(box: Box, image: DecodedImage): PixelBox {
  if (!Array.isArray(box) || box.length !== 4 || !box.every(Number.isFinite)) {
    throw new DomainError('invalid_request', 'box must be [x, y, w, h], four numbers');
  }
  const [x, y, w, h] = box;
  if (box.some((v) => v < 0 || v > 1)) {
    throw new DomainError('invalid_request', `box [${box.join(', ')}] must hold fractions in [0, 1]`);
  }
  if (w <= 0 || h <= 0) throw new DomainError('invalid_request', 'box width and height must be greater than 0');
  if (x + w > 1 + EDGE_SLACK || y + h > 1 + EDGE_SLACK) {
    throw new DomainError(
      'invalid_request',
      `box [${box.join(', ')}] reaches past the image (x + w and y + h must be at most 1)`,
    );
  }
  // Round the edges, not the size, so adjacent boxes tile without gaps.
  const left = clamp(Math.round(x * image.width), 0, image.width - 1);
  const top = clamp(Math.round(y * image.height), 0, image.height - 1);
  const right = clamp(Math.round((x + w) * image.width), left + 1, image.width);
  const bottom = clamp(Math.round((y + h) * image.height), top + 1, image.height);
  return { x: left, y: top, w: right - left, h: bottom - top };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Pixels of `image` back to fractions, 4 decimals (what the API shows). */
export function toRelativeBox(p: PixelBox, image: DecodedImage): Box {
  return [p.x / image.width, p.y / image.height, p.w / image.width, p.h / image.height].map(round4) as Box;
}

/** A small JPEG of `box` (whole image without one): reference crops kept for VLM conditioning. */
export async function encodeJpeg(image: DecodedImage, box?: PixelBox, maxSide = 384): Promise<Uint8Array> {
  const area = box ?? { x: 0, y: 0, w: image.width, h: image.height };
  const inside =
    Number.isInteger(area.x) &&
    Number.isInteger(area.y) &&
    Number.isInteger(area.w) &&
    Number.isInteger(area.h) &&
    area.x >= 0 &&
    area.y >= 0 &&
    area.w > 0 &&
    area.h > 0 &&
    area.x + area.w <= image.width &&
    area.y + area.h <= image.height;
  if (!inside)
    throw new DomainError(
      'invalid_request',
      `crop ${JSON.stringify(area)} lies outside the ${image.width}x${image.height} image`,
    );
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left: area.x, top: area.y, width: area.w, height: area.h })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 85 })
    .toBuffer();
}
