/**
 * Videos end to end, what their tests share: real clips made by ffmpeg from the shared photos, a runtime on the real
 * models and a real LanceDB in a temp folder, the HTTP app, and concepts registered from other photos of the subjects.
 */
import { faceVectorSize } from '../../concepts/people/open-people.js';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, beforeAll, expect } from 'vitest';
import { defaultLimits } from '../../concepts/intake/intake.js';
import { VideoStore } from '../../concepts/video/video-store.js';
import { defaultVideoOptions, type VideoOptions } from '../../concepts/video/video-options.js';
import { VideoService } from '../../concepts/video/videos.js';
import { makeVideo } from '../../scripts/lib/make-video.js';
import { createApp } from '../../services/api/app.js';
import type { Api } from '../../services/api/context.js';
import { loadConfig } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { dreamboothDir, modelsDir } from './shared-data.js';

export const PHOTOS = dreamboothDir;
export const photo = (subject: string, n: number) => join(PHOTOS, subject, `0${n}.jpg`);
export const KEY = 'video-key-0123456789';
export const OTHER_KEY = 'video-key-other-0000';
export const alice = { tenant: 'tenant-a', user: 'alice' };
export const FORMAT = { width: 320, height: 240, fps: 10, preset: 'ultrafast' };
/** A moment may start or end up to one sampled frame (0.5 s at 2 fps) away from a cut. */
export const SLACK = 0.6;

export let runtime: Runtime;
export let app: Api;
export let dir: string;
export let dataDir: string;
export const ids: Record<string, string> = {};
/** dog 0-3 s, teapot 3-6 s, cat 6-9 s, dog again 9-12 s. */
export let clip: string;

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(
  method: string,
  path: string,
  opts: { json?: unknown; form?: FormData; body?: BodyInit; type?: string; key?: string; on?: Api } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Authorization: `Bearer ${opts.key ?? KEY}` };
  let body = opts.body ?? opts.form;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  }
  if (opts.type) headers['Content-Type'] = opts.type;
  const res = await (opts.on ?? app).request(path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export const form = async (file: string | Uint8Array, fields: Record<string, string> = {}, part = 'file') => {
  const f = new FormData();
  f.append(
    part,
    new File([new Uint8Array(typeof file === 'string' ? await readFile(file) : file)], 'video.mp4', {
      type: 'video/mp4',
    }),
  );
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
};

export const upload = async (file: string, fields?: Record<string, string>, on?: Api) =>
  call('POST', '/v1/users/alice/videos', { form: await form(file, fields), on });

export async function ready(id: string, user = 'alice'): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const r = await call('GET', `/v1/users/${user}/videos/${id}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.status === 'ready' || r.body.status === 'failed') return r.body;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`video ${id} not indexed in time`);
}

export const moments = async (id: string, concept: string) => {
  const r = await call('GET', `/v1/users/alice/videos/${id}/moments?concept=${encodeURIComponent(concept)}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.moments as { start: number; end: number; score: number; peak: number }[];
};

/** The moments, in time order, cover exactly the given stretches (to within SLACK). */
export function expectAt(found: { start: number; end: number }[], expected: [number, number][]): void {
  const sorted = [...found].sort((a, b) => a.start - b.start);
  expect(
    sorted.map((m) => [m.start, m.end]),
    JSON.stringify(found),
  ).toHaveLength(expected.length);
  sorted.forEach((m, i) => {
    expect(Math.abs(m.start - expected[i][0]), JSON.stringify(found)).toBeLessThanOrEqual(SLACK);
    expect(Math.abs(m.end - expected[i][1]), JSON.stringify(found)).toBeLessThanOrEqual(SLACK);
  });
}

export async function frameRows(videoId?: string): Promise<number> {
  const db = await lancedb.connect(dataDir);
  try {
    return await (await db.openTable('frames')).countRows(videoId ? `video_id = '${videoId}'` : undefined);
  } finally {
    db.close();
  }
}

export async function videoRows(): Promise<number> {
  const db = await lancedb.connect(dataDir);
  try {
    return await (await db.openTable('videos')).countRows();
  } finally {
    db.close();
  }
}

/** Files under the video folder, uploads in progress included. */
export async function storedFiles(): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'videos'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

export async function register(name: string, category: string): Promise<void> {
  const images = await Promise.all(
    [0, 1, 2].map(async (n) => ({ bytes: new Uint8Array(await readFile(photo(name, n))) })),
  );
  ids[name] = (await runtime.service.register(alice, { name, category, images })).id;
  await runtime.service.refined();
}

/** Another video service on the same models, with its own store and options. */
export async function otherService(
  options: Partial<VideoOptions>,
  folder: string,
): Promise<{ videos: VideoService; store: VideoStore; app: Api }> {
  const store = await VideoStore.open(join(dir, folder), runtime.models.encoder.dim, faceVectorSize());
  const videos = await VideoService.open(store, runtime.service, runtime.models, {
    ...defaultVideoOptions,
    ...options,
  });
  const config = loadConfig({ NOMEN_API_KEYS: `${KEY}:tenant-a` }, () => '');
  return {
    videos,
    store,
    app: createApp({ service: runtime.service, videos, config, ready: async () => ({ ok: true, checks: {} }) }),
  };
}

/** Opens the runtime and app before the calling file's tests, with the clip made and dog and cat registered. */
export function useVideoApp(): void {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nomen-videos-'));
    dataDir = join(dir, 'data');
    clip = join(dir, 'clip.mp4');
    const config = loadConfig(
      {
        NOMEN_DATA: dataDir,
        NOMEN_API_KEYS: `${KEY}:tenant-a,${OTHER_KEY}:tenant-b`,
        NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
      },
      () => '',
    );
    const shots = [photo('dog', 3), photo('teapot', 4), photo('cat', 3), photo('dog', 4)].map((p) => ({
      photo: p,
      seconds: 3,
    }));
    [runtime] = await Promise.all([
      openRuntime({
        ...config,
        limits: defaultLimits,
        modelsDir,
        encoder: 'mobilenetv2-12-int8',
        detector: 'yolox-nano',
      }),
      makeVideo(shots, clip, FORMAT),
    ]);
    app = createApp({
      service: runtime.service,
      videos: runtime.videos,
      config,
      ready: async () => ({ ok: true, checks: {} }),
    });
    await register('dog', 'dog');
    await register('cat', 'cat');
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

/** A copy of `file` that `add` may consume. */
export async function copied(file: string): Promise<string> {
  const path = join(dir, `upload-${Math.random().toString(36).slice(2)}`);
  await writeFile(path, await readFile(file));
  return path;
}
