/**
 * The region bank on disk: one file per encoder, detector and region layout, in a cache folder, built from folders
 * of ordinary photos when missing. A file made by another model, or one that is corrupt, is refused with a message
 * that says how to rebuild it; there is no falling back to thresholds the open world never checked.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { folderFingerprint } from '../../models/files.js';
import { decodeImage } from '../intake/intake.js';
import type { ExampleModels } from './examples.js';
import { BANK_WINDOWS, embedBankPhoto, joinBank, type RegionBank } from './region-bank.js';
import { defaultRegionOptions, type RegionOptions } from '../recognition/regions.js';

const MAGIC = 'nomen-region-bank-1';

/** What a bank was embedded with: a bank only serves the same encoder weights, detector and region layout. */
export interface BankIdentity {
  encoder: string;
  /** Digest of the encoder's model folder (folderFingerprint). */
  fingerprint: string;
  detector: string;
}

export interface BankSource {
  /** Folder the bank file lives in. */
  dir: string;
  /** Folders (or single files) of ordinary photos, none of any user's subjects, to build it from when it is missing. */
  photos: string[];
}

export async function bankIdentity(modelsDir: string, encoder: string, detector: string): Promise<BankIdentity> {
  return { encoder, fingerprint: await folderFingerprint(path.resolve(modelsDir, encoder)), detector };
}

const layoutDigest = (options: RegionOptions) =>
  createHash('sha256')
    .update(
      JSON.stringify([
        options.grid,
        options.scanGrid,
        options.maxDetections,
        options.minDetectionScore,
        options.padding,
        BANK_WINDOWS,
      ]),
    )
    .digest('hex')
    .slice(0, 8);

export function bankFile(dir: string, identity: BankIdentity, options: RegionOptions = defaultRegionOptions): string {
  const detector = identity.detector || 'no-detector';
  return path.join(dir, `${identity.encoder}-${identity.fingerprint}-${detector}-${layoutDigest(options)}.bank`);
}

/** A JPEG, PNG or WebP file, by its name. */
export const isPhotoFile = (name: string) => /\.(jpe?g|png|webp)$/i.test(name);

/** Every JPEG, PNG or WebP under the folders (or the file itself, for a file), sorted. */
export async function photoFiles(folders: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const folder of folders) {
    if ((await stat(folder)).isFile()) {
      files.push(folder);
      continue;
    }
    const names = await readdir(folder, { recursive: true });
    files.push(
      ...names
        .filter(isPhotoFile)
        .sort()
        .map((f) => path.join(folder, f)),
    );
  }
  return files;
}

export async function buildBank(
  files: string[],
  models: ExampleModels,
  onPhoto?: (done: number, total: number) => void,
): Promise<RegionBank> {
  const photos = [];
  for (const [i, file] of files.entries()) {
    const { image } = await decodeImage(await readFile(file));
    photos.push(await embedBankPhoto(image, models));
    onPhoto?.(i + 1, files.length);
  }
  return joinBank(photos, models.encoder.dim);
}

interface Header {
  magic: string;
  identity: BankIdentity;
  dim: number;
  rows: number;
  photos: number;
  createdAt: string;
}

/** Writes the bank next to its final name, then renames it: a reader never sees half a file. */
export async function writeBank(file: string, bank: RegionBank, identity: BankIdentity): Promise<void> {
  const header: Header = {
    magic: MAGIC,
    identity,
    dim: bank.vectors.cols,
    rows: bank.vectors.rows,
    photos: bank.photos,
    createdAt: new Date().toISOString(),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  const pad = Buffer.alloc((4 - ((4 + json.length) % 4)) % 4, 0x20);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  // Piece by piece: one buffer of it all would be another copy of the bank.
  await writeFile(tmp, [length, json, pad, bytes(bank.vectors.data), bytes(bank.photo), bytes(bank.scanned)]);
  await rename(tmp, file);
}

/** A bank that cannot serve the active models (missing, corrupt, foreign): the message says what to do. */
export class BankError extends Error {}

/** How a bank file's errors name it and its remedy: the face bank has no command of its own to rebuild it. */
export interface BankKind {
  name: string;
  rebuild: string;
}

const REGION_BANK: BankKind = { name: 'region bank', rebuild: ', or rebuild it with npm run bank' };

export async function readBank(file: string, identity: BankIdentity, kind = REGION_BANK): Promise<RegionBank> {
  const rebuild = `delete ${file} and restart${kind.rebuild}`;
  const buf = await readFile(file);
  const corrupt = (why: string) => new BankError(`${kind.name} ${file} is corrupt (${why}): ${rebuild}`);
  if (buf.length < 4) throw corrupt('too short');
  const n = buf.readUInt32LE(0);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as Header;
  } catch {
    throw corrupt('unreadable header');
  }
  if (header.magic !== MAGIC) throw corrupt('not a region bank');
  const theirs = header.identity;
  if (
    theirs.encoder !== identity.encoder ||
    theirs.fingerprint !== identity.fingerprint ||
    theirs.detector !== identity.detector
  ) {
    throw new BankError(
      `${kind.name} ${file} was built with encoder ${theirs.encoder} (${theirs.fingerprint}) and detector ` +
        `${theirs.detector || 'none'}, ` +
        `not the active ${identity.encoder} (${identity.fingerprint}) and ${identity.detector || 'none'}: ${rebuild}`,
    );
  }
  const start = 4 + n + ((4 - ((4 + n) % 4)) % 4);
  const { rows, dim, photos } = header;
  if (!(rows > 0 && dim > 0 && photos > 0) || buf.length !== start + rows * dim * 4 + rows * 4 + rows)
    throw corrupt('wrong size');
  // Views on the file's bytes where they are aligned (a large read is its own buffer): a bank is tens of MB.
  const body = (buf.byteOffset + start) % 4 === 0 ? buf : Buffer.from(buf);
  const at = body.byteOffset + start;
  const vectors = new Float32Array(body.buffer, at, rows * dim);
  const photo = new Int32Array(body.buffer, at + rows * dim * 4, rows);
  const scanned = new Uint8Array(body.buffer, at + rows * dim * 4 + rows * 4, rows);
  if (!vectors.every(Number.isFinite) || photo.some((p) => p < 0 || p >= photos)) throw corrupt('bad values');
  return { vectors: { data: vectors, rows, cols: dim }, photo, scanned, photos };
}

/**
 * The bank of the active models: read from its file, else built from the source's photos and written there.
 * Without either, the error names what is missing.
 */
export async function openBank(
  source: BankSource,
  identity: BankIdentity,
  models: ExampleModels,
  log?: (message: string) => void,
  rebuild = false,
): Promise<RegionBank> {
  const file = bankFile(source.dir, identity);
  if (existsSync(file) && !rebuild) return readBank(file, identity);
  const folders = source.photos.filter((f) => existsSync(f));
  const files = await photoFiles(folders);
  if (files.length < MIN_BANK_PHOTOS) {
    const found = folders.length
      ? `only ${files.length} photos in ${folders.join(', ')}`
      : 'no photo folder to build one from';
    throw new BankError(
      `no region bank for encoder ${identity.encoder} at ${file}, and ${found}: ` +
        `set NOMEN_BANK_PHOTOS to folders holding at least ${MIN_BANK_PHOTOS} ordinary photos (pets, rooms, streets, ` +
        `shop shelves; none of your users' subjects), ` +
        `or build it with npm run bank -- DIR`,
    );
  }
  log?.(`building the region bank for ${identity.encoder} from ${files.length} photos`);
  const bank = await buildBank(
    files,
    models,
    (done, total) => done % 20 === 0 && log?.(`region bank: ${done}/${total} photos`),
  );
  await writeBank(file, bank, identity);
  log?.(`region bank written: ${file} (${bank.vectors.rows} regions of ${bank.photos} photos)`);
  return bank;
}

/** Fewer photos than this cannot bound how often a concept fires on ordinary photos. */
export const MIN_BANK_PHOTOS = 20;
