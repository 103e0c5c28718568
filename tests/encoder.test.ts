/** OnnxImageEncoder and the resampler on the real shared MobileNetV2 and real photos. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSharp as decode, dreamboothDir } from './support/mobilenet.js';
import { modelsDir } from './support/subjects.js';
import { catalogEntry, type OnnxEncoderEntry } from '../models/catalog.js';
import { cropImage } from '../models/image/crop-image.js';
import { OnnxImageEncoder } from '../models/vision/encoder.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { openEncoder } from '../models/load.js';
import { ModelThreads } from '../models/runtime/ort.js';
import {
  cutRegion,
  drawRegion,
  drawSource,
  readRect,
  regionSource,
  type TensorCanvas,
} from '../models/image/resample.js';
import type { DecodedImage } from '../models/types.js';

const ENTRY = catalogEntry('mobilenetv2-12-int8') as OnnxEncoderEntry;

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** The region scanner's matrix products. */
const threads = new ModelThreads();
let algebra: OnnxLinearAlgebra;
beforeAll(async () => {
  algebra = await OnnxLinearAlgebra.open(threads);
});
afterAll(() => algebra?.dispose());

describe('OnnxImageEncoder (mobilenetv2-12-int8)', () => {
  let enc: OnnxImageEncoder;
  let dog0: DecodedImage;
  let dog1: DecodedImage;
  let teapot: DecodedImage;

  beforeAll(async () => {
    enc = (await openEncoder(threads, modelsDir, 'mobilenetv2-12-int8', algebra)) as OnnxImageEncoder;
    [dog0, dog1, teapot] = await Promise.all(['dog/00.jpg', 'dog/01.jpg', 'teapot/00.jpg'].map((f) => decode(f)));
  });
  afterAll(() => enc?.dispose());

  it('gives unit vectors of the catalog dimension', async () => {
    expect(enc).toBeInstanceOf(OnnxImageEncoder);
    expect(enc.dim).toBe(1280);
    const [v] = await enc.embed([{ image: dog0 }]);
    expect(v).toHaveLength(1280);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
  });

  it('puts two photos of the same dog closer together than the dog and a teapot', async () => {
    const [a, b, t] = await enc.embed([{ image: dog0 }, { image: dog1 }, { image: teapot }]);
    expect(cos(a, b)).toBeGreaterThan(cos(a, t) + 0.15);
    expect(cos(a, b)).toBeGreaterThan(cos(b, t) + 0.15);
  });

  it(
    'returns the same vectors batched as one by one, across batch splits, with batches in flight ' + 'together',
    async () => {
      const crops = Array.from({ length: 35 }, (_, i) => ({
        image: i % 2 ? dog0 : teapot,
        box: { x: 10 * i, y: 5 * i, w: 300 + 3 * i, h: 250 + 2 * i },
        flip: i % 3 === 0,
      }));
      const batched = await enc.embed(crops);
      expect(batched).toHaveLength(35);
      for (const i of [0, 1, 17, 33, 34]) {
        const [single] = await enc.embed([crops[i]]);
        expect(cos(batched[i], single)).toBeGreaterThan(0.9999);
      }
    },
  );

  it('changes the vector slightly, not wholesale, when a crop is flipped', async () => {
    const [plain, flipped] = await enc.embed([{ image: dog0 }, { image: dog0, flip: true }]);
    expect(cos(plain, flipped)).toBeLessThan(0.9999);
    expect(cos(plain, flipped)).toBeGreaterThan(0.9);
  });

  it(
    'draws a zoomed-out crop in the model thread as the generic path draws its frame, and the zoom ' + 'matters',
    async () => {
      const zoom = { factor: 3, x: 0.2, y: 0.9 };
      const [direct, plain] = await enc.embed([{ image: dog0, zoom }, { image: dog0 }]);
      const [viaFrame] = await enc.embed([{ image: cropImage({ image: dog0, zoom }) }]);
      // 0.981 on every x86-64 CPU (int8 as u8u8 where there is no VNNI); u8s8 on AVX2 alone gave 0.973.
      expect(cos(direct, viaFrame)).toBeGreaterThan(0.975);
      expect(cos(direct, plain)).toBeLessThan(0.9);
    },
  );

  it('agrees on a 768 px photo and the same photo upscaled to 4000 px', async () => {
    const big = await decode(sharp(path.join(dreamboothDir, 'dog/00.jpg')).resize(4000, 4000, { kernel: 'lanczos3' }));
    const box = { x: 150, y: 150, w: 450, h: 450 };
    const s = 4000 / 768;
    const [small, large, smallBox, largeBox] = await enc.embed([
      { image: dog0 },
      { image: big },
      { image: dog0, box },
      { image: big, box: { x: box.x * s, y: box.y * s, w: box.w * s, h: box.h * s } },
    ]);
    expect(cos(small, large)).toBeGreaterThan(0.97);
    expect(cos(smallBox, largeBox)).toBeGreaterThan(0.97);
  }, 30_000);

  it('clips boxes that run past the image, and rejects empty ones', async () => {
    const [over, inside] = await enc.embed([
      { image: dog0, box: { x: 400, y: -100, w: 1000, h: 600 } },
      { image: dog0, box: { x: 400, y: 0, w: 368, h: 500 } },
    ]);
    expect(cos(over, inside)).toBeGreaterThan(0.9999);
    await expect(enc.embed([{ image: dog0, box: { x: 10, y: 10, w: 0, h: 50 } }])).rejects.toThrow(/no area/);
    await expect(enc.embed([{ image: dog0, box: { x: 800, y: 10, w: 50, h: 50 } }])).rejects.toThrow(/outside/);
    await expect(enc.embed([{ image: dog0, box: { x: NaN, y: 10, w: 50, h: 50 } }])).rejects.toThrow(/non-finite/);
    await expect(enc.embed([{ image: { data: new Uint8Array(10), width: 4, height: 4 } }])).rejects.toThrow(
      /RGB bytes/,
    );
  });

  it('returns nothing for no crops', async () => {
    expect(await enc.embed([])).toEqual([]);
  });

  it('follows the resize policy: letterbox equals squash on a square photo, centre crop differs', async () => {
    const squash = await OnnxImageEncoder.open(threads, modelsDir, { ...ENTRY, resize: 'squash' }, algebra);
    const letterbox = await OnnxImageEncoder.open(threads, modelsDir, { ...ENTRY, resize: 'letterbox' }, algebra);
    try {
      const [s] = await squash.embed([{ image: dog0 }]);
      const [l] = await letterbox.embed([{ image: dog0 }]);
      const [c] = await enc.embed([{ image: dog0 }]);
      expect(cos(s, l)).toBeGreaterThan(0.99999);
      expect(cos(s, c)).toBeLessThan(0.999);
      // A wide box: letterbox pads, squash stretches.
      const box = { x: 0, y: 200, w: 768, h: 300 };
      const [sw] = await squash.embed([{ image: dog0, box }]);
      const [lw] = await letterbox.embed([{ image: dog0, box }]);
      expect(cos(sw, lw)).toBeLessThan(0.99);
    } finally {
      await Promise.all([squash.dispose(), letterbox.dispose()]);
    }
  });

  it('names the ImageNet class of a photo', async () => {
    const [dog, pot] = await enc.classify([{ image: dog0 }, { image: teapot }]);
    expect(dog.label).toBe('Pembroke Welsh Corgi');
    expect(dog.score).toBeGreaterThan(0.5);
    expect(pot.label).not.toBe(dog.label);
  });

  it('builds a negative bank from the classifier weights that matches photos of each class', async () => {
    const bank = await enc.negativeBank();
    expect(bank).toHaveLength(1000);
    for (const row of [bank[0], bank[999]]) {
      expect(row).toHaveLength(1280);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    }
    expect(await enc.negativeBank()).toBe(bank); // cached

    // A photo sits closer to the row of the class it is predicted as than to most other rows.
    const labels = JSON.parse(
      await readFile(path.join(modelsDir, ENTRY.folder, 'imagenet-simple-labels.json'), 'utf8'),
    ) as string[];
    const crops = [{ image: dog0 }, { image: dog1 }, { image: teapot }];
    const [vectors, classes] = await Promise.all([enc.embed(crops), enc.classify(crops)]);
    vectors.forEach((v, i) => {
      const sims = bank.map((row) => cos(v, row));
      const own = sims[labels.indexOf(classes[i].label)];
      expect(sims.filter((s) => s > own).length).toBeLessThan(5);
    });
  });

  it('scans windows into unit rows that find the dog, the same alone as with scans in flight together', async () => {
    const scanner = enc.scanner!;
    const halves = (img: DecodedImage) => [
      { x: 0, y: 0, w: img.width, h: img.height },
      { x: 0, y: 0, w: img.width >> 1, h: img.height },
      { x: 0, y: img.height >> 1, w: img.width, h: img.height - (img.height >> 1) },
    ];
    const alone = [await scanner.scan(dog0, halves(dog0)), await scanner.scan(teapot, halves(teapot))];
    const together = await Promise.all([scanner.scan(dog0, halves(dog0)), scanner.scan(teapot, halves(teapot))]);
    expect(together.map((m) => Array.from(m.data))).toEqual(alone.map((m) => Array.from(m.data)));
    // A photo of another shape in between (a feature map of another size) leaves nothing behind.
    const tall = await decode(sharp(path.join(dreamboothDir, 'dog/01.jpg')).resize(384, 768, { fit: 'fill' }));
    await scanner.scan(tall, halves(tall));
    expect(Array.from((await scanner.scan(dog0, halves(dog0))).data)).toEqual(Array.from(alone[0].data));
    const row = (m: { data: Float32Array; cols: number }, r: number) => m.data.subarray(r * m.cols, (r + 1) * m.cols);
    for (const m of alone) {
      expect([m.rows, m.cols]).toEqual([3, 1280]);
      for (let r = 0; r < m.rows; r++) expect(cos(row(m, r), row(m, r))).toBeCloseTo(1, 4);
    }
    // The whole-photo window of the dog is nearer the dog's own embedding than the teapot's window is.
    const [dogVector] = await enc.embed([{ image: dog1 }]);
    expect(cos(row(alone[0], 0), dogVector)).toBeGreaterThan(cos(row(alone[1], 0), dogVector) + 0.1);
  });
});

describe('openEncoder', () => {
  it('says which model, folder or file is missing', async () => {
    await expect(openEncoder(threads, modelsDir, 'no-such-model', algebra)).rejects.toThrow(
      /unknown model "no-such-model".*mobilenetv2-12-int8/,
    );
    await expect(openEncoder(threads, '/nonexistent/models', 'mobilenetv2-12-int8', algebra)).rejects.toThrow(
      /model folder not found: \/nonexistent\/models\/mobilenetv2-12-int8/,
    );
    await expect(
      OnnxImageEncoder.open(threads, modelsDir, { ...ENTRY, model: 'missing.onnx' }, algebra),
    ).rejects.toThrow(/model file not found: .*missing\.onnx/);
    await expect(openEncoder(threads, modelsDir, 'yolox-nano', algebra)).rejects.toThrow(/not an image encoder/);
  });
});

describe('drawRegion', () => {
  const canvas = (size: number, layout: 'nchw' | 'nhwc' = 'nhwc'): TensorCanvas => ({
    data: new Float32Array(size * size * 3),
    offset: 0,
    width: size,
    height: size,
    layout,
    bgr: false,
    gain: [1, 1, 1],
    bias: [0, 0, 0],
  });
  // Fine vertical stripes 1 px wide, black and white: any averaging downscale turns them grey.
  const stripes: DecodedImage = {
    data: new Uint8Array(64 * 64 * 3).map((_, i) => (Math.floor(i / 3) % 2 ? 255 : 0)),
    width: 64,
    height: 64,
  };

  it('averages the covered area when shrinking, at any factor', () => {
    for (const size of [32, 21, 8, 5]) {
      const c = canvas(size);
      drawRegion(stripes, { x: 0, y: 0, w: 64, h: 64 }, c, { x: 0, y: 0, w: size, h: size });
      // Within the rounding of the 8-bit pyramid levels.
      for (const v of c.data) expect(Math.abs(v - 127.5)).toBeLessThanOrEqual(0.5);
    }
  });

  it('interpolates linearly when enlarging', () => {
    const ramp: DecodedImage = { data: new Uint8Array([0, 0, 0, 100, 100, 100]), width: 2, height: 1 };
    const c = canvas(4);
    drawRegion(ramp, { x: 0, y: 0, w: 2, h: 1 }, c, { x: 0, y: 0, w: 4, h: 4 });
    expect(Array.from(c.data.slice(0, 12)).filter((_, i) => i % 3 === 0)).toEqual([0, 25, 75, 100]);
  });

  it('draws the same values from the cut of pixels a region reads as from the whole photo', () => {
    const img: DecodedImage = {
      data: new Uint8Array(90 * 70 * 3).map((_, i) => (i * 37) % 251),
      width: 90,
      height: 70,
    };
    const dst = { x: 0, y: 0, w: 16, h: 16 };
    // Shrinking by 1.3 to 5 (pyramid levels), enlarging, fractional edges, regions touching the borders.
    for (const src of [
      { x: 2.5, y: 1, w: 25, h: 17 },
      { x: 0, y: 0, w: 90, h: 70 },
      { x: 70.25, y: 60.5, w: 19.75, h: 9.5 },
      { x: 10, y: 5, w: 8, h: 6 },
    ]) {
      const source = regionSource(img, src, dst);
      const { x0, y0, x1, y1 } = readRect(source);
      const out = new Uint8Array(7 + (x1 - x0) * (y1 - y0) * 3);
      const whole = canvas(16);
      const cut = canvas(16);
      drawSource(source, whole, dst, true);
      drawSource(cutRegion(source, out, 7), cut, dst, true);
      expect(cut.data).toEqual(whole.data);
    }
  });

  it('mirrors exactly when flipped, and writes planar channels in the asked order', () => {
    const img: DecodedImage = {
      data: new Uint8Array(30 * 20 * 3).map((_, i) => (i * 37) % 251),
      width: 30,
      height: 20,
    };
    const plain = canvas(16, 'nchw');
    const flipped = canvas(16, 'nchw');
    const bgr = { ...canvas(16, 'nchw'), bgr: true };
    const src = { x: 2.5, y: 1, w: 25, h: 17 };
    drawRegion(img, src, plain, { x: 0, y: 0, w: 16, h: 16 });
    drawRegion(img, src, flipped, { x: 0, y: 0, w: 16, h: 16 }, true);
    drawRegion(img, src, bgr, { x: 0, y: 0, w: 16, h: 16 });
    expect(plain.data).not.toEqual(flipped.data);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const at = (ch: number, xx: number) => ch * 256 + y * 16 + xx;
          expect(flipped.data[at(c, 15 - x)]).toBe(plain.data[at(c, x)]);
          expect(bgr.data[at(2 - c, x)]).toBe(plain.data[at(c, x)]);
        }
      }
    }
  });
});
