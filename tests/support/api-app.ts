/** The API app on a runtime of two tenants, opened around a test file, and helpers that call it in-process. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type FixtureName, makeFixtures } from '../../scripts/make-fixtures.js';
import { createApp } from '../../services/api/app.js';
import type { Api, Deps } from '../../services/api/context.js';
import type { Config } from '../../services/config.js';
import type { Runtime } from '../../services/runtime.js';
import { KEY_A, openTwoTenants, PHOTOS, type TwoTenants } from './two-tenants.js';

export const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });

export const photo = (subject: string, n: number): Promise<Buffer> => readFile(join(PHOTOS, subject, `0${n}.jpg`));
export const asFile = async (bytes: Buffer | Promise<Buffer>, name: string): Promise<File> =>
  new File([new Uint8Array(await bytes)], name, { type: 'image/jpeg' });
export const image = async (bytes: Buffer | Promise<Buffer>, box?: number[]) => ({
  data: (await bytes).toString('base64'),
  ...(box && { box }),
});

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export interface CallOptions {
  key?: string | null;
  json?: unknown;
  form?: FormData;
  body?: string;
  headers?: Record<string, string>;
  on?: Api;
}

export function expectError(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
}

export interface ApiTest {
  readonly runtime: Runtime;
  readonly config: Config;
  readonly app: Api;
  fixture(name: FixtureName): Promise<Buffer>;
  /** A request to the app (or `on`), with tenant A's key unless `key` says otherwise (null: none). */
  call(method: string, path: string, opts?: CallOptions): Promise<Answer>;
  /** Registers a concept from whole photos, expecting 201. */
  register(user: string, name: string, photos: Buffer[], key?: string, category?: string): Promise<any>;
  /** The user's concept names, sorted. */
  names(user: string, key?: string): Promise<string[]>;
}

/** Opens the app before the calling file's tests (rate limits and compaction off) and closes it after them. */
export function useApi(name: string): ApiTest {
  let tenants: TwoTenants;
  let app: Api;
  let fixturesDir: string;
  let fixtures: Record<FixtureName, string>;

  beforeAll(async () => {
    fixturesDir = await mkdtemp(join(tmpdir(), `nomen-${name}-fixtures-`));
    [tenants, fixtures] = await Promise.all([
      openTwoTenants(name, { NOMEN_RATE_LIMIT: '0', NOMEN_COMPACT_INTERVAL_S: '0' }),
      makeFixtures(fixturesDir),
    ]);
    app = createApp({ service: tenants.runtime.service, config: tenants.config, ready });
  }, 120_000);

  afterAll(async () => {
    await tenants?.close();
    if (fixturesDir) await rm(fixturesDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? KEY_A : opts.key;
    if (key) headers.Authorization = `Bearer ${key}`;
    let body: string | FormData | undefined = opts.body ?? opts.form;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    const res = await (opts.on ?? app).request(path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  return {
    get runtime() {
      return tenants.runtime;
    },
    get config() {
      return tenants.config;
    },
    get app() {
      return app;
    },
    fixture: (fixtureName) => readFile(fixtures[fixtureName]),
    call,
    async register(user, conceptName, photos, key = KEY_A, category) {
      const r = await call('POST', `/v1/users/${user}/concepts`, {
        key,
        json: { name: conceptName, category, images: await Promise.all(photos.map((p) => image(p))) },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body;
    },
    async names(user, key = KEY_A) {
      const r = await call('GET', `/v1/users/${user}/concepts`, { key });
      expect(r.status).toBe(200);
      return r.body.concepts.map((c: { name: string }) => c.name).sort();
    },
  };
}
