/** The shared MobileNetV2 encoder (with its region scanner), open for one test file, and photos decoded for it. */
import path from 'node:path';
import type { Sharp } from 'sharp';
import { afterAll, beforeAll } from 'vitest';
import { openEncoder } from '../../models/load.js';
import { OnnxLinearAlgebra } from '../../models/runtime/linear-algebra.js';
import { ModelThreads } from '../../models/runtime/ort.js';
import type { DecodedImage, ImageEncoder } from '../../models/types.js';
import { modelsDir } from './subjects.js';

export const dreamboothDir = path.resolve(import.meta.dirname, '../../../shared/data/dreambooth');

/** Opens the encoder before the file's tests and closes it after them; call the returned function inside a test. */
export function useMobileNet(): () => ImageEncoder {
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
  return () => encoder!;
}

export async function decodeSharp(s: Sharp): Promise<DecodedImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
