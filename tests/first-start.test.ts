/**
 * `npm start` on a fresh machine, with an empty models folder: the server fetches the default models itself (checked
 * against the catalog's sums) and serves, or, with no network, exits with one line naming the folder to use.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_BANK_PHOTOS } from '../concepts/learning/region-bank-file.js';
import { digestFile } from '../models/install.js';
import { builtEntry, freePort } from '../scripts/lib/server-process.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const SHARED = path.resolve(repoRoot, '../shared/models');
const DISTRACTORS = path.resolve(repoRoot, '../shared/data/distractors');
const PUBLISHED = ['mobilenetv2-12-int8/mobilenetv2-12-int8.onnx', 'mobilenetv2-12-int8/imagenet-simple-labels.json'];
const ALL = [...PUBLISHED, 'mobilenetv2-12-int8/mobilenetv2-12-int8-features.onnx', 'yolox-nano/yolox_nano.onnx'];

/**
 * The network as the server sees it: a fetch that answers the files in NETWORK_FILES (by the URL's last part) and
 * fails for every other address as fetch does offline.
 */
const NETWORK = `import { readFile } from 'node:fs/promises';
const files = JSON.parse(process.env.NETWORK_FILES || '{}');
globalThis.fetch = async (url) => {
  const file = files[String(url).split('/').pop()];
  if (!file) throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND (no network)') });
  return new Response(await readFile(file));
};
`;

let dir: string;
let network: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nomen-first-start-'));
  network = path.join(dir, 'network.mjs');
  await writeFile(network, NETWORK);
  // Fetched folders differ from the shared ones (no README), so the server builds a region bank: the smallest one.
  await mkdir(path.join(dir, 'bank-photos'));
  const photos = (await readdir(DISTRACTORS)).filter((f) => f.endsWith('.jpg')).slice(0, MIN_BANK_PHOTOS);
  for (const name of photos) await copyFile(path.join(DISTRACTORS, name), path.join(dir, 'bank-photos', name));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function serverEnv(models: string, files: Record<string, string> = {}) {
  return {
    ...process.env,
    NOMEN_MODELS: models,
    NOMEN_DATA: path.join(models, '..', 'data'),
    NOMEN_BANK_DIR: path.join(dir, 'banks'),
    NOMEN_BANK_PHOTOS: path.join(dir, 'bank-photos'),
    NETWORK_FILES: JSON.stringify(files),
    HOST: '127.0.0.1',
  };
}

/** The server started with `env`, expected to exit: its exit code and stderr. */
async function startFails(env: NodeJS.ProcessEnv) {
  const run = promisify(execFile)(process.execPath, ['--import', network, builtEntry('server')], {
    cwd: repoRoot,
    env: { ...env, PORT: String(await freePort()) },
    timeout: 60_000,
  });
  return run.then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
}

describe('npm start without the models', () => {
  it('offline: exits 1 with one line that names the folder to point NOMEN_MODELS at', async () => {
    const models = path.join(dir, 'offline', 'models');
    const failed = await startFails(serverEnv(models));
    expect(failed?.code).toBe(1);
    expect(failed?.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^nomen: set NOMEN_MODELS to ${SHARED}: the models mobilenetv2-12-int8, yolox-nano are not in ${models} ` +
            'and could not be fetched \\(download failed: .*ENOTFOUND.*\\)$',
        ),
      ),
    ]);
  });

  it('online: fetches the default models, checks them, and serves', async () => {
    const models = path.join(dir, 'online', 'models');
    const files = Object.fromEntries(
      [...PUBLISHED, 'yolox-nano/yolox_nano.onnx'].map((f) => [path.basename(f), path.join(SHARED, f)]),
    );
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', network, builtEntry('server')], {
      cwd: repoRoot,
      env: { ...serverEnv(models, files), PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk));
    try {
      let ready = false;
      for (let i = 0; i < 480 && !ready && child.exitCode === null; i++) {
        await new Promise((done) => setTimeout(done, 250));
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
      }
      expect(ready, log).toBe(true);
      for (const file of ALL)
        expect(await digestFile(path.join(models, file)), file).toEqual(await digestFile(path.join(SHARED, file)));
      const lines = log.split('\n').flatMap((l) => (l ? [JSON.parse(l).msg as string] : []));
      expect(lines).toEqual(
        expect.arrayContaining([
          `mobilenetv2-12-int8, yolox-nano not in ${models}: fetching them from the catalog's sources`,
          expect.stringMatching(/^yolox-nano\/yolox_nano\.onnx: downloading https:/),
          'mobilenetv2-12-int8/mobilenetv2-12-int8-features.onnx: building',
        ]),
      );
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });

  it('without a region bank or photos to build one: exits 1 with one line that names NOMEN_BANK_PHOTOS', async () => {
    const failed = await startFails({
      ...serverEnv(SHARED),
      NOMEN_BANK_DIR: path.join(dir, 'no-banks'),
      NOMEN_BANK_PHOTOS: path.join(dir, 'no-photos'),
    });
    expect(failed?.code).toBe(1);
    expect(failed?.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^nomen: no region bank for encoder mobilenetv2-12-int8 at .* set NOMEN_BANK_PHOTOS to /),
    ]);
  });
});
