import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedImage } from '../models/types.js';
import { DomainError, type ErrorCode } from '../concepts/errors.js';
import {
  decodeBase64Image,
  decodeImage,
  defaultLimits,
  encodeJpeg,
  limitsFromEnv,
  toPixelBox,
  toRelativeBox,
} from '../concepts/intake/intake.js';
import { type FixtureName, makeFixtures } from '../scripts/make-fixtures.js';

let dir: string;
let paths: Record<FixtureName, string>;
const read = (name: FixtureName): Promise<Buffer> => readFile(paths[name]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nomen-intake-'));
  paths = await makeFixtures(dir);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<DomainError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('expected a DomainError, got a result');
}

const pixel = (img: DecodedImage, x: number, y: number): number[] =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

function meanAbsDiff(a: DecodedImage, b: DecodedImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

function expectColour(img: DecodedImage, x: number, y: number, rgb: number[], tolerance = 12): void {
  pixel(img, x, y).forEach((v, i) =>
    expect(Math.abs(v - rgb[i]), `pixel (${x},${y}) = ${pixel(img, x, y)}`).toBeLessThanOrEqual(tolerance),
  );
}

describe('decodeImage: refused files', () => {
  const cases: [FixtureName, ErrorCode][] = [
    ['truncated', 'invalid_image'],
    ['corrupt', 'invalid_image'],
    ['empty', 'invalid_image'],
    ['random', 'unsupported_media_type'],
    ['text', 'unsupported_media_type'],
    ['svg', 'unsupported_media_type'],
    ['pdf', 'unsupported_media_type'],
    ['heic', 'unsupported_media_type'],
    ['bomb', 'too_large'],
  ];
  it.each(cases)('%s answers %s', async (name, code) => {
    const err = await rejection(decodeImage(await read(name)));
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(5);
  });

  it('rejects the 900-megapixel bomb from its header, without allocating', async () => {
    const bytes = await read('bomb');
    expect(bytes.length).toBeLessThan(300_000);
    const rss = process.memoryUsage().rss;
    const err = await rejection(decodeImage(bytes));
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
    expect(err.code).toBe('too_large');
    expect(err.message).toContain('30000x30000');
  });

  it('enforces the byte and pixel limits', async () => {
    const photo = await read('photo');
    expect((await rejection(decodeImage(photo, { ...defaultLimits, maxBytes: 1000 }))).code).toBe('too_large');
    expect((await rejection(decodeImage(photo, { ...defaultLimits, maxPixels: 500_000 }))).code).toBe('too_large');
  });

  it('refuses images too small to hold anything, as unprocessable', async () => {
    for (const [width, height] of [
      [1, 1],
      [8, 400],
      [400, 15],
    ]) {
      const tiny = await sharp({ create: { width, height, channels: 3, background: '#c83232' } })
        .png()
        .toBuffer();
      expect((await rejection(decodeImage(tiny))).code).toBe('unprocessable');
    }
    const smallest = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c83232' } })
      .png()
      .toBuffer();
    expect((await decodeImage(smallest)).image.width).toBe(16);
  });

  it('answers only DomainErrors for damaged copies of real files', async () => {
    const sources = await Promise.all((['photo', 'png', 'webp', 'avif', 'gif', 'tiff'] as const).map(read));
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (const src of sources) {
      for (let i = 0; i < 8; i++) {
        const damaged = Buffer.from(src.subarray(0, 1 + rand(src.length)));
        for (let k = 0; k < 4; k++) damaged[rand(damaged.length)] ^= 1 + rand(255);
        await decodeImage(damaged).catch((e) => expect(e).toBeInstanceOf(DomainError));
      }
    }
  });
});

describe('decodeImage: accepted files', () => {
  const cases: [FixtureName, string][] = [
    ['png', 'png'],
    ['webp', 'webp'],
    ['avif', 'avif'],
    ['tiff', 'tiff'],
    ['gif', 'gif'],
    ['gray', 'jpeg'],
    ['cmyk', 'jpeg'],
    ['png16', 'png'],
    ['trailingJunk', 'jpeg'],
  ];
  it.each(cases)('%s decodes to 8-bit RGB', async (name, format) => {
    const { image, original } = await decodeImage(await read(name));
    expect(original.format).toBe(format);
    expect(image.data.length).toBe(image.width * image.height * 3);
    expect([image.width, image.height]).toEqual([original.width, original.height]);
  });

  it('applies EXIF orientation', async () => {
    const rotated = await decodeImage(await read('exifRotated'));
    const upright = await decodeImage(await read('upright'));
    expect(rotated.original).toEqual({ width: 384, height: 256, format: 'jpeg' });
    expect(meanAbsDiff(rotated.image, upright.image)).toBeLessThan(4);
  });

  it('takes the first frame of an animated GIF', async () => {
    const bytes = await read('gif');
    expect((await sharp(bytes).metadata()).pages).toBe(2);
    const { image } = await decodeImage(bytes);
    expectColour(image, 0, 0, [255, 0, 0]);
    expectColour(image, 31, 31, [255, 0, 0]);
  });

  it('flattens alpha on white', async () => {
    const { image } = await decodeImage(await read('alpha'));
    expectColour(image, 5, 5, [255, 255, 255], 0);
    expectColour(image, 50, 5, [255, 0, 0], 0);
  });

  it('converts embedded colour profiles and CMYK to sRGB', async () => {
    expectColour((await decodeImage(await read('p3'))).image, 16, 16, [255, 0, 0], 8);
    const cmyk = (await decodeImage(await read('cmyk'))).image;
    expect(pixel(cmyk, 16, 16)[0]).toBeGreaterThan(200);
    expect(Math.max(...pixel(cmyk, 16, 16).slice(1))).toBeLessThan(40);
  });

  it('turns grey into three equal channels', async () => {
    const [r, g, b] = pixel((await decodeImage(await read('gray'))).image, 30, 30);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });

  it('downscales a 12 MP JPEG to the working resolution', async () => {
    const bytes = await read('photo12mp');
    const big = await decodeImage(bytes);
    expect(big.original).toEqual({ width: 4000, height: 3000, format: 'jpeg' });
    expect([big.image.width, big.image.height]).toEqual([1024, 768]);
    const small = await decodeImage(bytes, { ...defaultLimits, maxSide: 768 });
    expect([small.image.width, small.image.height]).toEqual([768, 576]);
  });

  it('never enlarges', async () => {
    const { image } = await decodeImage(await read('png'));
    expect([image.width, image.height]).toEqual([32, 24]);
  });
});

describe('decodeBase64Image', () => {
  it('accepts raw base64, a data URL, line breaks and the URL-safe alphabet', async () => {
    const bytes = await read('png');
    const b64 = bytes.toString('base64');
    for (const s of [
      b64,
      `data:image/png;base64,${b64}`,
      `DATA:image/jpeg;charset=binary;base64,${b64}`,
      b64.replace(/.{76}/g, '$&\r\n'),
      bytes.toString('base64url'),
    ]) {
      expect(Buffer.from(decodeBase64Image(s)).equals(bytes)).toBe(true);
    }
  });

  it('refuses what is not base64 of an image', async () => {
    const cases: [string, ErrorCode][] = [
      ['', 'invalid_image'],
      ['   \n', 'invalid_image'],
      ['data:image/png;base64,', 'invalid_image'],
      ['not base64!', 'invalid_image'],
      ['QUJD\u00e9', 'invalid_image'],
      ['QUJDR', 'invalid_image'], // length 1 mod 4 cannot be base64
      ['QQ=', 'invalid_image'], // padding without a full quantum
      ['data:text/plain;base64,QUJD', 'invalid_request'],
      ['data:image/png,QUJD', 'invalid_request'],
    ];
    for (const [s, code] of cases)
      expect((await rejection(() => decodeBase64Image(s))).code, JSON.stringify(s)).toBe(code);
  });

  it('judges the size from the string length before decoding', async () => {
    const limits = { ...defaultLimits, maxBytes: 1000 };
    // Not even valid base64: the size verdict must come first.
    expect((await rejection(() => decodeBase64Image('!'.repeat(1400), limits))).code).toBe('too_large');
    expect(decodeBase64Image('A'.repeat(1332), limits).length).toBe(999);
  });
});

describe('boxes', () => {
  const image: DecodedImage = { data: new Uint8Array(100 * 80 * 3), width: 100, height: 80 };

  it('converts fractions to pixels', () => {
    expect(toPixelBox([0, 0, 1, 1], image)).toEqual({ x: 0, y: 0, w: 100, h: 80 });
    expect(toPixelBox([0.25, 0.5, 0.5, 0.25], image)).toEqual({ x: 25, y: 40, w: 50, h: 20 });
  });

  it('keeps at least one pixel and stays inside', () => {
    expect(toPixelBox([0.5, 0.5, 0.0001, 0.0001], image)).toEqual({ x: 50, y: 40, w: 1, h: 1 });
    expect(toPixelBox([0.9999, 0.9999, 0.0001, 0.0001], image)).toEqual({ x: 99, y: 79, w: 1, h: 1 });
    expect(toPixelBox([0.5, 0.5, 0.5005, 0.5005], image)).toEqual({ x: 50, y: 40, w: 50, h: 40 });
  });

  it('refuses malformed boxes', async () => {
    const bad = [
      [0, 0, 0, 0.5],
      [0, 0, 0.5, -0.1],
      [-0.1, 0, 0.5, 0.5],
      [0, 1.2, 0.5, 0.5],
      [0.6, 0, 0.5, 0.5],
      [0, 0.6, 0.5, 0.5],
      [Number.NaN, 0, 0.5, 0.5],
      [0, 0, 0.5],
      '0,0,1,1',
    ];
    for (const box of bad) {
      const err = await rejection(() => toPixelBox(box as never, image));
      expect(err.code, JSON.stringify(box)).toBe('invalid_request');
    }
  });

  it('converts pixels back to 4-decimal fractions', () => {
    const odd: DecodedImage = { data: new Uint8Array(3 * 7 * 3), width: 3, height: 7 };
    expect(toRelativeBox({ x: 1, y: 0, w: 1, h: 3 }, odd)).toEqual([0.3333, 0, 0.3333, 0.4286]);
    expect(toRelativeBox(toPixelBox([0.25, 0.5, 0.5, 0.25], image), image)).toEqual([0.25, 0.5, 0.5, 0.25]);
  });
});

describe('encodeJpeg', () => {
  it('encodes a small JPEG of the whole image or of a crop', async () => {
    const { image } = await decodeImage(await read('photo12mp'));
    const whole = await sharp(await encodeJpeg(image)).metadata();
    expect([whole.format, whole.width, whole.height]).toEqual(['jpeg', 384, 288]);

    const alpha = (await decodeImage(await read('alpha'))).image;
    const crop = await encodeJpeg(alpha, { x: 32, y: 0, w: 32, h: 32 });
    const { data, info } = await sharp(crop).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([32, 32]);
    expectColour({ data, width: 32, height: 32 }, 16, 16, [255, 0, 0], 20);
  });

  it('refuses a crop outside the image', async () => {
    const { image } = await decodeImage(await read('png'));
    const err = await rejection(encodeJpeg(image, { x: 20, y: 0, w: 20, h: 10 }));
    expect(err.code).toBe('invalid_request');
  });
});

describe('limitsFromEnv', () => {
  it('reads the three variables and keeps defaults for the rest', () => {
    expect(limitsFromEnv({})).toEqual(defaultLimits);
    expect(
      limitsFromEnv({ NOMEN_MAX_IMAGE_BYTES: '1000', NOMEN_MAX_IMAGE_PIXELS: ' 2000 ', NOMEN_MAX_IMAGES: '3' }),
    ).toEqual({
      ...defaultLimits,
      maxBytes: 1000,
      maxPixels: 2000,
      maxImages: 3,
    });
  });

  it('refuses nonsense instead of guessing', () => {
    for (const v of ['0', '-1', '1.5', 'lots'])
      expect(() => limitsFromEnv({ NOMEN_MAX_IMAGES: v })).toThrow(/NOMEN_MAX_IMAGES/);
  });
});
