/**
 * The face bank: faces of other people (strangers to every user), embedded by the face model. Every person's
 * threshold is held above all of them (faces.ts calibratePerson). It is kept in a file beside the region bank,
 * in the region bank's format (region-bank-file.ts), built at the first start that finds none and read after.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FaceModel } from '../../models/types.js';
import { folderFingerprint } from '../../models/files.js';
import { decodeImage, type IntakeLimits } from '../intake/intake.js';
import { type BankIdentity, readBank, writeBank } from '../learning/region-bank-file.js';
import { matrixRow, stack } from '../matrix.js';

export interface FaceBank {
  vectors: Float32Array[];
  /** Each face's photo, 0..photos-1. */
  photo: number[];
  /** Photos the faces came from. */
  photos: number;
}

/** Every face of every photo in `files`. */
export async function buildFaceBank(model: FaceModel, files: string[], limits: IntakeLimits): Promise<FaceBank> {
  const bank: FaceBank = { vectors: [], photo: [], photos: files.length };
  for (const [i, file] of files.entries()) {
    const { image } = await decodeImage(await readFile(file), limits);
    const vectors = await model.embed(image, await model.detect(image));
    bank.vectors.push(...vectors);
    bank.photo.push(...vectors.map(() => i));
  }
  return bank;
}

/**
 * What a face bank was embedded with: the detector's and embedding's folders, and one digest of their files and of
 * the bank's photos (names and bytes), since scripts and operators give different photos to the same models.
 */
export async function faceBankIdentity(
  modelsDir: string,
  folders: { detector: string; embedder: string },
  files: string[],
): Promise<BankIdentity> {
  const hash = createHash('sha256');
  for (const folder of [folders.detector, folders.embedder])
    hash.update(`${folder}\0${await folderFingerprint(path.resolve(modelsDir, folder))}\0`);
  for (const file of files) hash.update(`${path.basename(file)}\0`).update(await readFile(file));
  return { encoder: folders.embedder, fingerprint: hash.digest('hex').slice(0, 16), detector: folders.detector };
}

export function faceBankFile(dir: string, identity: BankIdentity): string {
  return path.join(dir, `faces-${identity.detector}-${identity.encoder}-${identity.fingerprint}.bank`);
}

/**
 * The face bank of `identity`: read from its file in `dir`, else built from `files` and written there (an empty one
 * is not: there is nothing to keep). A corrupt or foreign file is refused, as a region bank is.
 */
export async function openFaceBank(
  dir: string,
  identity: BankIdentity,
  model: FaceModel,
  files: string[],
  limits: IntakeLimits,
  log: (message: string) => void,
): Promise<FaceBank> {
  const file = faceBankFile(dir, identity);
  if (existsSync(file)) return readFaceBank(file, identity);
  log(`building the face bank from ${files.length} photos`);
  const bank = await buildFaceBank(model, files, limits);
  if (bank.vectors.length === 0) return bank;
  const region = { vectors: stack(bank.vectors, model.dim), photo: Int32Array.from(bank.photo), photos: bank.photos };
  await writeBank(file, { ...region, scanned: new Uint8Array(bank.photo.length) }, identity);
  log(`face bank written: ${file} (${bank.vectors.length} faces of ${bank.photos} photos)`);
  return bank;
}

async function readFaceBank(file: string, identity: BankIdentity): Promise<FaceBank> {
  const { vectors, photo, photos } = await readBank(file, identity, { name: 'face bank', rebuild: '' });
  return { vectors: Array.from({ length: vectors.rows }, (_, r) => matrixRow(vectors, r)), photo: [...photo], photos };
}
