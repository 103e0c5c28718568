/**
 * Files under '/'-separated keys (reference crops, uploaded videos, queued photos): put, get and delete (of one
 * key or of everything under a prefix), in a local folder or in an S3-compatible bucket. Large files go from and
 * to local files without passing through memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { type ObjectStorage, parseS3Uri } from './object-storage.js';

export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** `undefined` when the key does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Whether `key` exists, without reading it. */
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Deletes every key that starts with `prefix/`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Stores the file at `path` under `key`; the file may be moved away. */
  putFile(key: string, path: string): Promise<void>;
  /** The object at `key` as a local file, until `release`. */
  openFile(key: string): Promise<{ path: string; release(): Promise<void> }>;
  /** Lets go of connections; the store is not used after. */
  close(): void;
}

/** Keys are made by the store from hashes and validated ids; this keeps any other key off the disk. */
function checkKey(key: string): string {
  const parts = key.split('/');
  if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p === '.' || p === '..'))
    throw new Error(`bad blob key: ${key}`);
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

  async has(key: string): Promise<boolean> {
    return stat(join(this.root, checkKey(key))).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.root, checkKey(key)), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(join(this.root, checkKey(prefix)), { recursive: true, force: true });
  }

  async putFile(key: string, path: string): Promise<void> {
    const target = join(this.root, checkKey(key));
    await mkdir(dirname(target), { recursive: true });
    await rename(path, target);
  }

  async openFile(key: string): Promise<{ path: string; release(): Promise<void> }> {
    return { path: join(this.root, checkKey(key)), release: async () => undefined };
  }

  close(): void {}
}

/**
 * The local folder `folder` beside the tables of a LanceDB URI. Tables in object storage have no folder beside
 * them: files that must be local (videos for ffmpeg) then stay on this machine, under the temporary folder.
 */
export function folderBeside(uri: string, folder: string): string {
  if (uri.startsWith('file://')) return join(fileURLToPath(uri), folder);
  if (parseS3Uri(uri))
    return join(tmpdir(), `nomen-${createHash('sha256').update(uri).digest('hex').slice(0, 16)}`, folder);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new Error(`files beside ${uri}: only local folders and s3:// are implemented`);
  return join(uri, folder);
}

/** Objects under `prefix/` of one bucket. A PUT replaces an object whole, so readers never see half of one. */
export class S3BlobStore implements BlobStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  private name(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.name(key), Body: bytes }));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.name(key) }));
      return await object.Body!.transformToByteArray();
    } catch (err) {
      if (err instanceof NoSuchKey) return undefined;
      throw err;
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.name(key) }));
      return true;
    } catch (err) {
      // A HEAD answer has no body, so a missing key is only its status.
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.name(key) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const under = `${this.name(prefix)}/`;
    // A listing page holds at most 1000 keys, as many as one DeleteObjects takes.
    for (;;) {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: under }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) return;
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
      if (!page.IsTruncated) return;
    }
  }

  async putFile(key: string, path: string): Promise<void> {
    const { size } = await stat(path);
    // One PUT takes up to 5 GB, above the largest video upload.
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.name(key),
        Body: createReadStream(path),
        ContentLength: size,
      }),
    );
  }

  /** Downloaded into the temporary folder; `release` removes the copy. */
  async openFile(key: string): Promise<{ path: string; release(): Promise<void> }> {
    const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.name(key) }));
    const path = join(tmpdir(), `nomen-object-${randomUUID()}`);
    const release = () => rm(path, { force: true });
    try {
      await pipeline(object.Body as Readable, createWriteStream(path));
    } catch (err) {
      await release();
      throw err;
    }
    return { path, release };
  }

  close(): void {
    this.client.destroy();
  }
}

export function s3Client(storage: ObjectStorage): S3Client {
  const credentials =
    storage.accessKeyId && storage.secretAccessKey
      ? { accessKeyId: storage.accessKeyId, secretAccessKey: storage.secretAccessKey }
      : undefined;
  return new S3Client({
    endpoint: storage.endpoint,
    region: storage.region ?? 'us-east-1',
    credentials,
    // Path-style requests: S3-compatible servers (MinIO) are rarely set up for bucket subdomains.
    forcePathStyle: Boolean(storage.endpoint),
    // Checksums only where S3 requires them: streamed uploads then go as plain bodies, not aws-chunked
    // framing, which not every S3-compatible server reads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The blob store that sits beside the tables of a LanceDB URI, under `folder`. */
export function blobStoreBeside(uri: string, folder: string, storage: ObjectStorage = {}): BlobStore {
  const s3 = parseS3Uri(uri);
  if (s3) return new S3BlobStore(s3Client(storage), s3.bucket, s3.prefix ? `${s3.prefix}/${folder}` : folder);
  return new LocalBlobStore(folderBeside(uri, folder));
}
