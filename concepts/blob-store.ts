/**
 * Small binary files (reference crops) under '/'-separated keys. The store only needs put, get and delete
 * (of one key or of everything under a prefix), so object storage can implement it later with no listing.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** `undefined` when the key does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes every key that starts with `prefix/`. */
  deletePrefix(prefix: string): Promise<void>;
}

/** Keys are made by the store from hashes and validated ids; this keeps any other key off the disk. */
function checkKey(key: string): string {
  const parts = key.split('/');
  if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p === '.' || p === '..')) throw new Error(`bad blob key: ${key}`);
  return join(...parts);
}

export class LocalBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.root, checkKey(key));
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a reader never sees half a file.
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.root, checkKey(key))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.root, checkKey(key)), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(join(this.root, checkKey(prefix)), { recursive: true, force: true });
  }
}

/** The blob store that sits beside the tables of a LanceDB URI, under `folder`. */
export function blobStoreBeside(uri: string, folder: string): BlobStore {
  if (uri.startsWith('file://')) return new LocalBlobStore(join(fileURLToPath(uri), folder));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new Error(`files beside ${uri}: only local folders are implemented so far`);
  return new LocalBlobStore(join(uri, folder));
}
