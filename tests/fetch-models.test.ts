import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../models/catalog.js';
import { DERIVED, InstallError, digestFile, installEntry, installModels } from '../models/install.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The project's read-only reference copies (see ../shared/models/README.md). */
const SHARED = path.resolve(ROOT, '../shared/models');
const FOLDERS = ['mobilenetv2-12-int8', 'yolox-nano'];
const FILES = [
  'mobilenetv2-12-int8/mobilenetv2-12-int8.onnx',
  'mobilenetv2-12-int8/imagenet-simple-labels.json',
  'mobilenetv2-12-int8/mobilenetv2-12-int8-features.onnx',
  'yolox-nano/yolox_nano.onnx',
  'yolox-nano/coco-labels.json',
];

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('fetch-models', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'nomen-fetch-'));
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('reproduces the shared models byte for byte, the derived files included', async () => {
    const modelsDir = path.join(tmp, 'models');
    await installModels(FOLDERS, { modelsDir, from: SHARED });
    for (const file of FILES) {
      expect(await digestFile(path.join(modelsDir, file)), file).toEqual(await digestFile(path.join(SHARED, file)));
    }
    expect((await digestFile(path.join(modelsDir, FILES[2]))).sha256).toBe(
      '44666d59a4ceacf5b91e0f0d095a36b570b4875ebfb81e7bc14ed37002ebb49a',
    );

    // A second run finds everything in place and rewrites nothing.
    const lines: string[] = [];
    await installModels(FOLDERS, { modelsDir, from: SHARED, log: (l) => lines.push(l) });
    expect(lines).toEqual(FILES.map((f) => `${f}: present, sha256 ok`));
  });

  it('rejects a corrupted source file and leaves no file behind', async () => {
    const mirror = path.join(tmp, 'corrupt-mirror');
    await mkdir(path.join(mirror, 'yolox-nano'), { recursive: true });
    const model = await readFile(path.join(SHARED, 'yolox-nano/yolox_nano.onnx'));
    model[1000] ^= 0xff;
    await writeFile(path.join(mirror, 'yolox-nano/yolox_nano.onnx'), model);

    const modelsDir = path.join(tmp, 'from-corrupt');
    await expect(installModels(['yolox-nano'], { modelsDir, from: mirror })).rejects.toThrow(
      /yolox-nano\/yolox_nano\.onnx .*sha256 [0-9a-f]{64}, expected 695e750a/,
    );
    expect(await exists(path.join(modelsDir, 'yolox-nano/yolox_nano.onnx'))).toBe(false);
  });

  it('replaces a present file whose sha256 is wrong', async () => {
    const modelsDir = path.join(tmp, 'stale');
    const dest = path.join(modelsDir, 'yolox-nano/coco-labels.json');
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, '["not", "coco"]\n');
    await copyFile(path.join(SHARED, 'yolox-nano/yolox_nano.onnx'), path.join(modelsDir, 'yolox-nano/yolox_nano.onnx'));
    await installModels(['yolox-nano'], { modelsDir, from: SHARED });
    expect((await digestFile(dest)).sha256).toBe(DERIVED['yolox-nano'][0].sha256);
  });

  it('streams downloads through the same checks and warns about files without a checksum', async () => {
    const body = await readFile(path.join(SHARED, 'yolox-nano/coco-labels.json'));
    const entry: CatalogEntry = {
      kind: 'transformers-clip',
      folder: 'web',
      description: 'test',
      license: 'none',
      repo: 'test/web',
      dtype: 'fp32',
      files: [
        { path: 'good.json', bytes: body.length, sha256: DERIVED['yolox-nano'][0].sha256, url: 'https://x.test/good' },
        { path: 'sub/unverified.json', url: 'https://x.test/unverified' },
      ],
    };
    const fakeFetch = async () => new Response(body);
    const lines: string[] = [];
    const modelsDir = path.join(tmp, 'web');
    await installEntry(entry, { modelsDir, fetch: fakeFetch as typeof fetch, log: (l) => lines.push(l) });
    expect(await readFile(path.join(modelsDir, 'web/good.json'))).toEqual(body);
    expect(await readFile(path.join(modelsDir, 'web/sub/unverified.json'))).toEqual(body);
    expect(lines.some((l) => /WARNING web\/sub\/unverified\.json: NOT VERIFIED/.test(l))).toBe(true);

    const notFound = async () => new Response('gone', { status: 404, statusText: 'Not Found' });
    const offline = async () => {
      throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND x.test') });
    };
    const fresh = path.join(tmp, 'web-fail');
    await expect(installEntry(entry, { modelsDir: fresh, fetch: notFound as typeof fetch })).rejects.toThrow(
      /download failed: https:\/\/x\.test\/good: HTTP 404 Not Found/,
    );
    await expect(installEntry(entry, { modelsDir: fresh, fetch: offline as typeof fetch })).rejects.toThrow(
      /download failed: https:\/\/x\.test\/good: fetch failed \(getaddrinfo ENOTFOUND x\.test\)/,
    );
    const cutOff = async () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            controller.enqueue(body.subarray(0, 100));
            controller.error(new Error('connection reset'));
          },
        }),
      );
    await expect(installEntry(entry, { modelsDir: fresh, fetch: cutOff as typeof fetch })).rejects.toThrow(
      /web\/good\.json from https:\/\/x\.test\/good: transfer failed: connection reset/,
    );
    expect(await exists(path.join(fresh, 'web/good.json'))).toBe(false);
  });

  it('refuses unknown model names', async () => {
    await expect(installModels(['nope'], { modelsDir: tmp })).rejects.toThrow(InstallError);
  });

  it('CLI exits non-zero with the reason', async () => {
    const mirror = path.join(tmp, 'corrupt-mirror');
    const run = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts/fetch-models.ts'), '--from', mirror, 'yolox-nano'],
      { env: { ...process.env, NOMEN_MODELS: path.join(tmp, 'cli') } },
    );
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/fetch-models: .*sha256/) });
  });
});
