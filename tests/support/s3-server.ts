/**
 * A local S3-compatible server for tests: s3rver on loopback over a temporary folder, the same wire protocol
 * as MinIO or S3. It gains two things that S3 and MinIO guarantee, s3rver does not, and LanceDB's commits
 * rely on: a PUT becomes visible whole or not at all, and `If-None-Match: *` on PUT (create only if absent),
 * so that two processes committing the same table version cannot both win.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ObjectStorage } from '../../concepts/storage/object-storage.js';

/** The part of s3rver (a Koa app, untyped) used here. */
interface S3rver {
  middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void>)[];
  store: {
    existsObject(bucket: string, key: string): Promise<boolean>;
    getResourcePath(bucket: string, key: string, resource: string): string;
    putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
    putObject(object: {
      bucket: string;
      key: string;
      metadata: unknown;
      content: Buffer | Readable;
    }): Promise<{ size: number; md5: string }>;
  };
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
interface KoaContext {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rver;

export interface S3TestServer {
  bucket: string;
  storage: ObjectStorage;
  /** The same settings as the environment of a server process. */
  env: Record<string, string>;
  close(): Promise<void>;
}

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the ' +
  'pre-conditions you specified did not hold</Message></Error>';

export async function startS3Server(bucket = 'nomen'): Promise<S3TestServer> {
  const S3rverClass = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const directory = await mkdtemp(join(tmpdir(), 'nomen-s3-'));
  const server = new S3rverClass({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(directory, 'data'),
    configureBuckets: [{ name: bucket }],
  });
  // s3rver streams into the object's file, so a reader may see half of it: write aside, then rename.
  const { store } = server;
  store.putObject = async (object) => {
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    const content = Buffer.isBuffer(object.content) ? object.content : Buffer.concat(await object.content.toArray());
    const aside = join(directory, 'incoming', randomUUID());
    await mkdir(dirname(aside), { recursive: true });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(aside, content);
    await rename(aside, path);
    const md5 = createHash('md5').update(content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
  // Conditional PUTs of one key run one at a time, so that the existence check and the write are one step.
  const tails = new Map<string, Promise<void>>();
  server.middleware.unshift(async (ctx, next) => {
    if (ctx.method !== 'PUT' || ctx.headers['if-none-match'] !== '*') return next();
    const previous = tails.get(ctx.path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    tails.set(ctx.path, tail);
    await previous;
    try {
      const [, name, ...key] = ctx.path.split('/');
      if (await store.existsObject(name, decodeURIComponent(key.join('/')))) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = PRECONDITION_FAILED;
        return;
      }
      await next();
    } finally {
      release();
      if (tails.get(ctx.path) === tail) tails.delete(ctx.path);
    }
  });
  const { port } = await server.run();
  const storage = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
  return {
    bucket,
    storage,
    // LanceDB reads AWS_ALLOW_HTTP itself, for the connections it opens beside the configured one.
    env: {
      AWS_ALLOW_HTTP: 'true',
      AWS_ENDPOINT_URL: storage.endpoint,
      AWS_REGION: storage.region,
      AWS_ACCESS_KEY_ID: storage.accessKeyId,
      AWS_SECRET_ACCESS_KEY: storage.secretAccessKey,
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
