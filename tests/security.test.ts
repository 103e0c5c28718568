/** Rate limits, CORS and what reaches the logs, through the hono app on a real runtime. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../services/api/app.js';
import type { Deps } from '../services/api/context.js';
import { TokenBuckets } from '../services/api/rate-limit.js';
import type { Config } from '../services/config.js';
import type { Runtime } from '../services/runtime.js';
import { KEY_A, KEY_B, openTwoTenants, PHOTOS, type TwoTenants } from './support/two-tenants.js';

let tenants: TwoTenants;
let runtime: Runtime;
let config: Config;
const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });

beforeAll(async () => {
  tenants = await openTwoTenants('security');
  ({ runtime, config } = tenants);
}, 120_000);

afterAll(async () => {
  await tenants?.close();
});

const app = (changes: Partial<Config>, log?: Deps['log']) =>
  createApp({ service: runtime.service, config: { ...config, ...changes }, ready, log });
const get = (on: ReturnType<typeof app>, path: string, headers: Record<string, string> = {}, key = KEY_A) =>
  on.request(path, { headers: { Authorization: `Bearer ${key}`, ...headers } });

describe('rate limits', () => {
  it('token buckets refill at the rate, up to the burst', () => {
    let now = 0;
    const buckets = new TokenBuckets(2, 3, () => now);
    expect([buckets.take('k'), buckets.take('k'), buckets.take('k')]).toEqual([0, 0, 0]);
    expect(buckets.take('k')).toBeCloseTo(0.5);
    expect(buckets.take('other')).toBe(0);
    now = 0.5;
    expect(buckets.take('k')).toBe(0);
    now = 100;
    expect([0, 1, 2, 3].map(() => buckets.take('k'))).toEqual([0, 0, 0, 0.5]);
  });

  it(
    'answers 429 rate_limited with Retry-After once a key spent its burst; other keys and /healthz go ' + 'on',
    async () => {
      const limited = app({ rateLimit: { perSecond: 0.5, burst: 2 } });
      expect((await get(limited, '/v1/users/u/concepts')).status).toBe(200);
      expect((await get(limited, '/v1/users/u/concepts')).status).toBe(200);
      const refused = await get(limited, '/v1/users/u/concepts');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('Retry-After')).toBe('2');
      expect((await refused.json()).error.code).toBe('rate_limited');
      expect((await get(limited, '/v1/users/u/concepts', {}, KEY_B)).status).toBe(200);
      expect((await limited.request('/healthz')).status).toBe(200);
      // An unknown key is refused by auth, and spends nobody's tokens.
      expect((await get(limited, '/v1/users/u/concepts', {}, 'unknown')).status).toBe(401);
    },
  );

  it('are in the OpenAPI document of every /v1 route', async () => {
    const doc = await (await app({}).request('/openapi.json')).json();
    for (const [path, methods] of Object.entries<Record<string, { responses: Record<string, unknown> }>>(doc.paths)) {
      for (const operation of Object.values(methods))
        expect(Object.keys(operation.responses).includes('429'), path).toBe(path.startsWith('/v1/'));
    }
  });
});

describe('CORS', () => {
  const preflight = {
    Origin: 'https://photos.example',
    'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'authorization,content-type',
  };

  it('is off by default', async () => {
    const r = await app({}).request('/v1/users/u/concepts', { method: 'OPTIONS', headers: preflight });
    expect(r.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });

  it('answers preflights and names allowed origins only', async () => {
    const open = app({ corsOrigins: ['https://photos.example'] });
    const r = await open.request('/v1/users/u/concepts', { method: 'OPTIONS', headers: preflight });
    expect(r.status).toBe(204);
    expect(r.headers.get('Access-Control-Allow-Origin')).toBe('https://photos.example');
    expect(r.headers.get('Access-Control-Allow-Headers')).toMatch(/Authorization/i);
    expect(
      (await get(open, '/v1/users/u/concepts', { Origin: 'https://photos.example' })).headers.get(
        'Access-Control-Allow-Origin',
      ),
    ).toBe('https://photos.example');
    expect(
      (await get(open, '/v1/users/u/concepts', { Origin: 'https://evil.example' })).headers.get(
        'Access-Control-Allow-Origin',
      ),
    ).toBeNull();
  });
});

describe('logs', () => {
  it('carry request ids, never API keys or image data', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logged = app({}, pino({ level: 'trace' }, sink));
    const photo = (await readFile(join(PHOTOS, 'dog', '00.jpg'))).toString('base64');
    const post = (path: string, json: unknown, key = KEY_A) =>
      logged.request(path, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(json),
      });

    expect((await post('/v1/users/logs/concepts', { name: 'Dog', images: [{ data: photo }] })).status).toBe(201);
    expect((await post('/v1/users/logs/recognize', { image: { data: photo } })).status).toBe(200);
    expect(
      (await post('/v1/users/logs/concepts', { name: 'Bad', images: [{ data: photo.slice(0, 4000) }] })).status,
    ).toBe(400);
    expect(
      (await post('/v1/users/logs/concepts', { name: 'Dog', images: [{ data: photo }] }, 'not-a-key-7c1d9e')).status,
    ).toBe(401);
    expect((await post('/v1/users/logs/concepts', { name: 'x'.repeat(500), images: [{ data: photo }] })).status).toBe(
      400,
    );

    const text = lines.join('');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) expect(JSON.parse(line).reqId).toMatch(/^[0-9a-f-]{36}$/);
    for (const secret of [KEY_A, KEY_B, 'not-a-key-7c1d9e']) expect(text).not.toContain(secret);
    // No run of image data: any 32 characters from anywhere in the photo's base64.
    for (let at = 0; at < photo.length - 32; at += Math.floor(photo.length / 50))
      expect(text).not.toContain(photo.slice(at, at + 32));
  }, 60_000);
});
