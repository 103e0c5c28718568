/** Close calls between look-alikes, settled by the region seen at twice the detail (real MobileNetV2 scanner). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { settleCloseCalls } from '../concepts/recognition/close-calls.js';
import { cropImage } from '../models/image/crop-image.js';
import { openEncoder } from '../models/load.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { DecodedImage, ImageEncoder } from '../models/types.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const MODELS = process.env.NOMEN_MODELS ?? path.resolve(repoRoot, '../shared/models');
const PHOTOS = path.resolve(repoRoot, '../shared/data/dreambooth');

const threads = new ModelThreads();
let algebra: OnnxLinearAlgebra;
let encoder: ImageEncoder;
beforeAll(async () => {
  algebra = await OnnxLinearAlgebra.open(threads);
  encoder = await openEncoder(threads, MODELS, 'mobilenetv2-12-int8', algebra);
});
afterAll(async () => {
  await encoder?.dispose();
  await algebra?.dispose();
});

it('takes the place from a concept whose rival the closer look scores higher, and only then', async () => {
  const { data, info } = await sharp(path.join(PHOTOS, 'can/00.jpg'))
    .resize(640)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const image: DecodedImage = { data: new Uint8Array(data), width: info.width, height: info.height };
  const region = { x: 100.4, y: 60, w: 300, h: 320 };
  // What the closer look sees: the region scanned whole at 448 px.
  const inside = cropImage({ image, box: region });
  const { data: seen } = await encoder.scanner!.scan(inside, [{ x: 0, y: 0, w: inside.width, h: inside.height }], 448);
  // Three heads alike but for a nudge along what the closer look sees: concept 1 above concept 0, concept 2 below.
  const [base] = await encoder.embed([{ image: cropImage({ image, box: { x: 0, y: 0, w: 200, h: 200 } }) }]);
  const row = (nudge: number) => base.map((v, k) => v + nudge * seen[k]);
  const weights = { data: Float32Array.from([...row(0), ...row(0.05), ...row(-0.05)]), rows: 3, cols: base.length };
  const bias = new Float32Array(3);
  const calls = [
    { concept: 0, region, rivals: [2] },
    { concept: 1, region, rivals: [0, 2] },
    { concept: 2, region, rivals: [0] },
  ];
  const lost = await settleCloseCalls(image, calls, weights, bias, encoder.scanner!, 448);
  expect([...lost]).toEqual([2]);
  // A bias that lifts concept 2 over the others settles its call the other way.
  const lifted = await settleCloseCalls(image, calls, weights, Float32Array.from([0, 0, 0.2]), encoder.scanner!, 448);
  expect([...lifted].sort()).toEqual([0, 1]);
});
