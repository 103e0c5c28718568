/** The shared MobileNetV2 encoder (with its region scanner), open for one test file, and photos decoded for it. */
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll } from 'vitest';
import { openEncoder } from '../../models/load.js';
import { OnnxLinearAlgebra } from '../../models/runtime/linear-algebra.js';
import { ModelThreads } from '../../models/runtime/ort.js';
import type { DecodedImage, ImageEncoder } from '../../models/types.js';
import { dreamboothDir, modelsDir } from './shared-data.js';

export { dreamboothDir };

/**
 * Opens the encoder before the file's tests and closes it after them; call the returned function (or its `algebra`,
 * the matrix products the encoder runs on) inside a test.
 */
export function useMobileNet(): (() => ImageEncoder) & { algebra: () => OnnxLinearAlgebra } {
  const threads = new ModelThreads();
  let algebra: OnnxLinearAlgebra | undefined;
  let encoder: ImageEncoder | undefined;
  beforeAll(async () => {
    algebra = await OnnxLinearAlgebra.open(threads);
    encoder = await openEncoder(threads, modelsDir, 'mobilenetv2-12-int8', algebra);
  });
  afterAll(async () => {
    await encoder?.dispose();
    await algebra?.dispose();
  });
  return Object.assign(() => encoder!, { algebra: () => algebra! });
}

/** A photo as RGB pixels: a sharp pipeline, or a DreamBooth file by its path under the folder ("dog/00.jpg"). */
export async function decodeSharp(input: Sharp | string): Promise<DecodedImage> {
  const s = typeof input === 'string' ? sharp(path.join(dreamboothDir, input)) : input;
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
