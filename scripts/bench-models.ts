/**
 * Model-adapter benchmark on a real photo: resampling into the tensor per crop, encoder per crop at batch 1
 * and 32, detector per image. Prints the best of several blocks (wall and CPU ms): on a shared box the
 * best block is the one least disturbed by other processes.
 *
 *   NOMEN_MODELS=../shared/models NOMEN_THREADS=2 npx tsx scripts/bench-models.ts [photo.jpg]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { openDetector, openEncoder } from '../models/load.js';
import { ModelThreads } from '../models/runtime/ort.js';
import { drawRegion, type TensorCanvas } from '../models/image/resample.js';
import type { Crop, DecodedImage, PixelBox } from '../models/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const modelsDir = process.env.NOMEN_MODELS ?? path.resolve(root, '../shared/models');
const photo = process.argv[2] ?? path.resolve(root, '../shared/data/dreambooth/dog/00.jpg');

async function decode(s: Sharp): Promise<DecodedImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Best per-call ms over `blocks` blocks of `reps` calls, after a warm-up. */
async function time(label: string, fn: () => unknown, reps = 10, blocks = 10, per = 1): Promise<void> {
  for (let i = 0; i < 3; i++) await fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let b = 0; b < blocks; b++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / reps / per);
    cpu = Math.min(cpu, (c.user + c.system) / 1000 / reps / per);
  }
  console.log(`${label.padEnd(44)} ${wall.toFixed(2).padStart(7)} ms wall ${cpu.toFixed(2).padStart(7)} ms cpu`);
}

const image = await decode(sharp(photo));
const big = await decode(sharp(photo).resize(4000, Math.round((4000 * image.height) / image.width)));
console.log(`${path.basename(photo)} ${image.width}x${image.height}, threads ${process.env.NOMEN_THREADS ?? 'all'}`);

const canvas: TensorCanvas = {
  data: new Float32Array(3 * 224 * 224),
  offset: 0,
  width: 224,
  height: 224,
  layout: 'nchw',
  bgr: false,
  gain: [1, 1, 1],
  bias: [0, 0, 0],
};
const full = { x: 0, y: 0, w: 224, h: 224 };
const centre = (img: DecodedImage): PixelBox => {
  const side = Math.min(img.width, img.height) * 0.875;
  return { x: (img.width - side) / 2, y: (img.height - side) / 2, w: side, h: side };
};
await time('resample: whole photo centre crop -> 224', () => drawRegion(image, centre(image), canvas, full));
await time('resample: 300 px box -> 224', () =>
  drawRegion(image, { x: 100.5, y: 60.25, w: 300, h: 300 }, canvas, full),
);
await time('resample: 150 px box -> 224 (enlarge)', () =>
  drawRegion(image, { x: 100, y: 60, w: 150, h: 150 }, canvas, full),
);
await time('resample: 4000 px photo centre crop -> 224', () => drawRegion(big, centre(big), canvas, full));
await time(
  'resample: 4000 px incl. building its pyramid',
  () => drawRegion({ ...big, data: big.data.slice() }, centre(big), canvas, full),
  2,
  5,
);

const threads = new ModelThreads();
const algebra = await OnnxLinearAlgebra.open(threads);
const encoder = await openEncoder(threads, modelsDir, 'mobilenetv2-12-int8', algebra);
const boxes: Crop[] = Array.from({ length: 32 }, (_, i) => ({
  image,
  box: { x: (i % 4) * 100, y: Math.floor(i / 4) * 40, w: 250 + (i % 4) * 50, h: 250 + (i % 3) * 60 },
  flip: i % 2 === 1,
}));
await time('encoder: batch 1 (whole photo), per crop', () => encoder.embed([{ image }]), 10, 5);
await time('encoder: batch 32 (boxes and flips), per crop', () => encoder.embed(boxes), 1, 5, 32);
await Promise.all([encoder.dispose(), algebra.dispose()]);

const detector = await openDetector(threads, modelsDir, 'yolox-nano');
await time('detector: per photo', () => detector.detect(image), 5, 5);
await detector.dispose();
