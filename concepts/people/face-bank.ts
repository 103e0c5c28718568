/**
 * The face bank: faces of other people (strangers to every user), embedded by the face model once at start. Every
 * person's threshold is held above all of them (faces.ts calibratePerson).
 */
import { readFile } from 'node:fs/promises';
import type { FaceModel } from '../../models/types.js';
import { decodeImage, type IntakeLimits } from '../intake/intake.js';

export interface FaceBank {
  vectors: Float32Array[];
  /** Photos the faces came from. */
  photos: number;
}

/** Every face of every photo in `files`. */
export async function buildFaceBank(model: FaceModel, files: string[], limits: IntakeLimits): Promise<FaceBank> {
  const vectors: Float32Array[] = [];
  for (const file of files) {
    const { image } = await decodeImage(await readFile(file), limits);
    vectors.push(...(await model.embed(image, await model.detect(image))));
  }
  return { vectors, photos: files.length };
}
