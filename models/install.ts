/**
 * Installing catalog models into NOMEN_MODELS: download (or copy from a local mirror), check size and
 * sha256, and only then move the file into place, so a model folder never holds a partial or wrong file.
 * Files that are not published anywhere (a derived ONNX graph, a hand-written label list) are rebuilt
 * here and checked against the sums of the reference copies.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CatalogEntry, catalog } from './catalog.js';
import { COCO_LABELS } from './vision/coco-labels.js';
import { addFeaturesOutput } from './vision/mobilenet-features.js';

export class InstallError extends Error {
  override name = 'InstallError';
}

export interface InstallOptions {
  /** NOMEN_MODELS: one sub-folder per catalog entry. */
  modelsDir: string;
  /** A folder laid out like NOMEN_MODELS to copy from instead of downloading (offline installs). */
  from?: string;
  /** Where progress and warnings go. */
  log?: (line: string) => void;
  /** The fetch used for downloads (tests pass a fake one). */
  fetch?: typeof globalThis.fetch;
}

/** A file built from other files of its folder (or from nothing), with the sums of the reference copy. */
export interface DerivedFile {
  path: string;
  bytes: number;
  sha256: string;
  make(folderDir: string): Promise<Uint8Array>;
}

export const DERIVED: Record<string, DerivedFile[]> = {
  'mobilenetv2-12-int8': [
    {
      path: 'mobilenetv2-12-int8-features.onnx',
      bytes: 3655192,
      sha256: '44666d59a4ceacf5b91e0f0d095a36b570b4875ebfb81e7bc14ed37002ebb49a',
      make: async (dir) => addFeaturesOutput(await readFile(path.join(dir, 'mobilenetv2-12-int8.onnx'))),
    },
  ],
  'yolox-nano': [
    {
      path: 'coco-labels.json',
      bytes: 783,
      sha256: '650792d0d284bc1a8f543759a17092315f47168692fddb7d2f933930db6887f7',
      make: async () => Buffer.from(`${JSON.stringify(COCO_LABELS)}\n`),
    },
  ],
};

export interface Digest {
  bytes: number;
  sha256: string;
}

export async function digestFile(file: string): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Throws when a digest disagrees with the expected size or sum (either may be unknown). */
function checkDigest(name: string, got: Digest, want: { bytes?: number; sha256?: string }): void {
  if (want.bytes !== undefined && got.bytes !== want.bytes) {
    throw new InstallError(`${name}: got ${got.bytes} bytes, expected ${want.bytes}`);
  }
  if (want.sha256 !== undefined && got.sha256 !== want.sha256) {
    throw new InstallError(`${name}: sha256 ${got.sha256}, expected ${want.sha256}`);
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Streams `source` into `dest` through a temp file in the same folder, and renames it into place only
 * when size and sha256 match `want`: an interrupted or wrong transfer never leaves a file at `dest`.
 */
async function writeChecked(
  source: AsyncIterable<Uint8Array>,
  dest: string,
  name: string,
  want: { bytes?: number; sha256?: string },
): Promise<Digest> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${process.pid}`;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(tmp),
    ).catch((e: Error) => {
      throw new InstallError(`${name}: transfer failed: ${e.message}`);
    });
    const digest = { bytes, sha256: hash.digest('hex') };
    checkDigest(name, digest, want);
    await rename(tmp, dest);
    return digest;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function download(url: string, fetchFn: typeof globalThis.fetch): Promise<AsyncIterable<Uint8Array>> {
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause;
    throw new InstallError(`download failed: ${url}: ${(e as Error).message}${cause ? ` (${cause.message})` : ''}`);
  }
  if (!res.ok || !res.body) throw new InstallError(`download failed: ${url}: HTTP ${res.status} ${res.statusText}`);
  // Read lazily by the pipeline: converting to a Node stream up front could emit an error before anyone listens.
  return res.body;
}

async function localSource(file: string): Promise<AsyncIterable<Uint8Array>> {
  if (!(await exists(file))) throw new InstallError(`source file not found: ${file}`);
  // A generator opens the file only when the pipeline reads it, so open errors reach the pipeline.
  return (async function* () {
    yield* createReadStream(file);
  })();
}

/** Installs one catalog entry: its published files, then the files derived from them. */
export async function installEntry(entry: CatalogEntry, options: InstallOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const folderDir = path.join(options.modelsDir, entry.folder);

  for (const file of entry.files) {
    const name = `${entry.folder}/${file.path}`;
    const dest = path.join(folderDir, file.path);
    if (await exists(dest)) {
      if (file.sha256 === undefined) {
        log(`${name}: present (no checksum in the catalog, kept as is)`);
        continue;
      }
      const digest = await digestFile(dest);
      if (digest.sha256 === file.sha256) {
        log(`${name}: present, sha256 ok`);
        continue;
      }
      log(`${name}: present but sha256 differs, replacing`);
    }
    const origin = options.from ? path.join(options.from, entry.folder, file.path) : file.url;
    log(`${name}: ${options.from ? 'copying' : 'downloading'} ${origin}`);
    const source = options.from
      ? await localSource(origin)
      : await download(file.url, options.fetch ?? globalThis.fetch);
    const digest = await writeChecked(source, dest, `${name} from ${origin}`, file);
    if (file.sha256 === undefined) {
      log(
        `WARNING ${name}: NOT VERIFIED, the catalog has no checksum for it; ` +
          `got ${digest.bytes} bytes, sha256 ${digest.sha256}`,
      );
    }
  }

  for (const file of DERIVED[entry.folder] ?? []) {
    const name = `${entry.folder}/${file.path}`;
    const dest = path.join(folderDir, file.path);
    if ((await exists(dest)) && (await digestFile(dest)).sha256 === file.sha256) {
      log(`${name}: present, sha256 ok`);
      continue;
    }
    log(`${name}: building`);
    const data = await file.make(folderDir);
    await writeChecked(Readable.from([data]), dest, `${name} (built)`, file);
  }
}

/** Installs the named catalog folders (all of them when none are named). */
export async function installModels(folders: string[], options: InstallOptions): Promise<void> {
  const unknown = folders.filter((f) => !catalog.some((e) => e.folder === f));
  if (unknown.length > 0) {
    const known = catalog.map((e) => e.folder).join(', ');
    throw new InstallError(`unknown model ${unknown.join(', ')}; the catalog has: ${known}`);
  }
  const entries = folders.length > 0 ? catalog.filter((e) => folders.includes(e.folder)) : catalog;
  for (const entry of entries) await installEntry(entry, options);
}

/** The named catalog folders that lack one of their files (published or derived) in `modelsDir`. */
export async function missingModels(modelsDir: string, folders: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const entry of catalog.filter((e) => folders.includes(e.folder))) {
    const files = [...entry.files, ...(DERIVED[entry.folder] ?? [])].map((f) =>
      path.join(modelsDir, entry.folder, f.path),
    );
    if (!(await Promise.all(files.map(exists))).every(Boolean)) missing.push(entry.folder);
  }
  return missing;
}
