/**
 * Generates real image files, valid, edge-case and malformed, for the intake tests and benchmarks.
 *   npx tsx scripts/make-fixtures.ts [dir]   (default tests/fixtures/generated, gitignored)
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32, createDeflate } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';

export const DEFAULT_DIR = 'tests/fixtures/generated';
/** A real photo beside the checkout; a synthetic texture stands in where it is missing. */
export const DEFAULT_PHOTO = fileURLToPath(new URL('../../shared/data/dreambooth/dog/00.jpg', import.meta.url));

export const BOMB_SIDE = 30_000;

export const FIXTURES = {
  photo: 'photo.jpg',
  upright: 'upright.jpg',
  exifRotated: 'exif-orientation-6.jpg',
  truncated: 'truncated.jpg',
  corrupt: 'garbage-after-header.jpg',
  trailingJunk: 'trailing-junk.jpg',
  random: 'random.bin',
  empty: 'empty.bin',
  text: 'text.txt',
  svg: 'image.svg',
  pdf: 'document.pdf',
  heic: 'fake.heic',
  png: 'tiny.png',
  webp: 'tiny.webp',
  avif: 'tiny.avif',
  tiff: 'tiny.tiff',
  gif: 'animated.gif',
  alpha: 'alpha.png',
  png16: 'deep-16bit.png',
  gray: 'gray.jpg',
  cmyk: 'cmyk.jpg',
  p3: 'display-p3.jpg',
  bomb: 'bomb.png',
  photo12mp: 'photo-12mp.jpg',
} as const;

export type FixtureName = keyof typeof FIXTURES;

/** Deterministic noise so every run writes the same files. */
function noise(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

async function sourcePhoto(path: string): Promise<Buffer> {
  if (existsSync(path)) return readFile(path);
  return sharp({
    create: {
      width: 768,
      height: 768,
      channels: 3,
      background: '#7a6a55',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .blur(3)
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Offset just past the JPEG start-of-scan header, where the entropy-coded pixels begin. */
function endOfJpegHeader(jpeg: Buffer): number {
  let i = 2;
  while (i + 4 <= jpeg.length) {
    if (jpeg[i] !== 0xff) throw new Error('not a well-formed JPEG');
    const marker = jpeg[i + 1];
    const length = jpeg.readUInt16BE(i + 2);
    if (marker === 0xda) return i + 2 + length;
    i += 2 + length;
  }
  throw new Error('JPEG has no start-of-scan');
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}

/**
 * A side x side one-bit grey PNG, every pixel black: ~110 kB on the wire, 900 MP when decoded.
 * The zero rows are streamed through deflate one at a time, so writing it never allocates them all.
 */
export async function pngBomb(side = BOMB_SIDE): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, adaptive filter, no interlace
  const row = Buffer.alloc(1 + Math.ceil(side / 8)); // filter byte "none" + packed pixels
  const rows = Readable.from(
    (function* () {
      for (let y = 0; y < side; y++) yield row;
    })(),
  );
  const idat: Buffer[] = [];
  for await (const chunk of rows.pipe(createDeflate({ level: 9 }))) idat.push(chunk as Buffer);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.concat(idat)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function solid(width: number, height: number, background: string): Sharp {
  return sharp({ create: { width, height, channels: 3, background } });
}

/** Writes every fixture into `dir` and answers each one's path by name. */
export async function makeFixtures(dir = DEFAULT_DIR, photoPath = DEFAULT_PHOTO): Promise<Record<FixtureName, string>> {
  await mkdir(dir, { recursive: true });
  const photo = await sourcePhoto(photoPath);
  const upright = await sharp(photo).resize(384, 256, { fit: 'cover' }).jpeg({ quality: 95 }).toBuffer();
  const tiny = sharp(photo).resize(32, 24, { fit: 'cover' });
  // Red then blue: the first frame is the one that must come out.
  const frames = await Promise.all(['#ff0000', '#0000ff'].map((c) => solid(32, 32, c).png().toBuffer()));
  // Left half transparent black (must flatten to white), right half opaque red.
  const alphaPixels = Buffer.alloc(64 * 32 * 4);
  for (let i = 0; i < 64 * 32; i++) if (i % 64 >= 32) alphaPixels.set([255, 0, 0, 255], i * 4);
  const header = endOfJpegHeader(photo);

  const files: Record<FixtureName, Buffer | Promise<Buffer>> = {
    photo,
    upright,
    // Stored lying on its side; EXIF orientation 6 says "turn 90 degrees clockwise to view".
    exifRotated: sharp(upright).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer(),
    truncated: photo.subarray(0, photo.length >> 1),
    corrupt: Buffer.concat([photo.subarray(0, header), noise(photo.length - header), Buffer.from([0xff, 0xd9])]),
    trailingJunk: Buffer.concat([photo, Buffer.from('appended by a careless uploader')]),
    random: noise(4096),
    empty: Buffer.alloc(0),
    text: Buffer.from('hello, this is not an image\n'),
    svg: Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" ' +
        'fill="red"/></svg>\n',
    ),
    pdf: Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'),
    heic: Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), noise(256)]),
    png: tiny.clone().png().toBuffer(),
    webp: tiny.clone().webp().toBuffer(),
    avif: tiny.clone().avif().toBuffer(),
    tiff: tiny.clone().tiff().toBuffer(),
    gif: sharp(frames, { join: { animated: true } })
      .gif({ delay: [100, 100] })
      .toBuffer(),
    alpha: sharp(alphaPixels, { raw: { width: 64, height: 32, channels: 4 } })
      .png()
      .toBuffer(),
    png16: sharp(photo).resize(48, 32).toColourspace('rgb16').png().toBuffer(),
    gray: sharp(photo).resize(64, 64).toColourspace('b-w').jpeg().toBuffer(),
    cmyk: solid(32, 32, '#ff0000').toColourspace('cmyk').jpeg().toBuffer(),
    // Pure sRGB red re-expressed in Display P3 numbers, profile embedded.
    p3: solid(32, 32, '#ff0000').withIccProfile('p3').jpeg({ quality: 95 }).toBuffer(),
    bomb: pngBomb(),
    photo12mp: sharp(photo).resize(4000, 3000, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer(),
  };

  const paths = {} as Record<FixtureName, string>;
  for (const name of Object.keys(files) as FixtureName[]) {
    paths[name] = join(dir, FIXTURES[name]);
    await writeFile(paths[name], await files[name]);
  }
  return paths;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2] ?? DEFAULT_DIR;
  const paths = await makeFixtures(dir);
  console.log(`wrote ${Object.keys(paths).length} fixtures to ${dir}`);
}
