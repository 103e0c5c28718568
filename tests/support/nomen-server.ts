/**
 * The built server (`npm start`'s entry) on a temp folder with one API key, its VLM the OpenAI-protocol stand-in,
 * opened around a test file: what the client, CLI and console tests drive from outside, as an app would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { makeVideo } from '../../scripts/lib/make-video.js';
import { type ServerProcess, startServer } from '../../scripts/lib/server-process.js';
import { OpenAiStandIn, STAND_IN_MODEL } from './openai-server.js';
import { dreamboothDir, modelsDir } from './shared-data.js';

export const PHOTOS = dreamboothDir;
export const photoPath = (subject: string, n: number) => path.join(PHOTOS, subject, `0${n}.jpg`);
export const KEY = 'outside-key-0123456789';

/** A 9 s clip in `dir`: a teapot for 3 s, then the dog (photos 3 and 4, never registered) from 3 s to the end. */
export async function dogClip(dir: string): Promise<string> {
  const clip = path.join(dir, 'clip.mp4');
  const shots = [photoPath('teapot', 4), photoPath('dog', 3), photoPath('dog', 4)].map((photo) => ({
    photo,
    seconds: 3,
  }));
  await makeVideo(shots, clip, { width: 320, height: 240, fps: 10, preset: 'ultrafast' });
  return clip;
}

export interface NomenServer {
  readonly url: string;
  readonly standIn: OpenAiStandIn;
}

/** Starts the server before the file's tests and stops it after; `env` adds to or overrides its settings. */
export function useNomenServer(name: string, env: Record<string, string> = {}): NomenServer {
  let server: ServerProcess;
  let standIn: OpenAiStandIn;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), `nomen-${name}-`));
    standIn = await OpenAiStandIn.start();
    server = await startServer({
      NOMEN_DATA: dataDir,
      NOMEN_MODELS: modelsDir,
      NOMEN_API_KEYS: `${KEY}:tenant-a`,
      NOMEN_VLM_URL: standIn.url,
      NOMEN_VLM_MODEL: STAND_IN_MODEL,
      NOMEN_VLM_RETRIES: '0',
      ...env,
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await standIn?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get url() {
      return server.url;
    },
    get standIn() {
      return standIn;
    },
  };
}
