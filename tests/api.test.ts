/** The HTTP API end to end: a real runtime (models, LanceDB in a temp folder), driven through the hono app. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimits } from '../concepts/intake/intake.js';
import { type FixtureName, makeFixtures } from '../scripts/make-fixtures.js';
import { createApp } from '../services/api/app.js';
import type { Api, Deps } from '../services/api/context.js';
import type { Config } from '../services/config.js';
import type { Runtime } from '../services/runtime.js';
import { KEY_A, KEY_B, openTwoTenants, PHOTOS, type TwoTenants } from './support/two-tenants.js';

let tenants: TwoTenants;
let runtime: Runtime;
let config: Config;
let app: Api;
let fixturesDir: string;
let fixtures: Record<FixtureName, string>;

const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });

beforeAll(async () => {
  fixturesDir = await mkdtemp(join(tmpdir(), 'nomen-api-fixtures-'));
  [tenants, fixtures] = await Promise.all([
    openTwoTenants('api', { NOMEN_RATE_LIMIT: '0', NOMEN_COMPACT_INTERVAL_S: '0' }),
    makeFixtures(fixturesDir),
  ]);
  ({ runtime, config } = tenants);
  app = createApp({ service: runtime.service, config, ready });
}, 120_000);

afterAll(async () => {
  await tenants?.close();
  if (fixturesDir) await rm(fixturesDir, { recursive: true, force: true });
});

const photo = (subject: string, n: number): Promise<Buffer> => readFile(join(PHOTOS, subject, `0${n}.jpg`));
const fixture = (name: FixtureName): Promise<Buffer> => readFile(fixtures[name]);
const asFile = async (bytes: Buffer | Promise<Buffer>, name: string): Promise<File> =>
  new File([new Uint8Array(await bytes)], name, { type: 'image/jpeg' });
const image = async (bytes: Buffer | Promise<Buffer>, box?: number[]) => ({
  data: (await bytes).toString('base64'),
  ...(box && { box }),
});

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  method: string,
  path: string,
  opts: {
    key?: string | null;
    json?: unknown;
    form?: FormData;
    body?: string;
    headers?: Record<string, string>;
    on?: Api;
  } = {},
): Promise<Answer> {
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
}

function expectError(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
}

async function register(user: string, name: string, photos: Buffer[], key: string = KEY_A, category?: string) {
  const r = await call('POST', `/v1/users/${user}/concepts`, {
    key,
    json: { name, category, images: await Promise.all(photos.map((p) => image(p))) },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

const names = async (user: string, key: string = KEY_A): Promise<string[]> => {
  const r = await call('GET', `/v1/users/${user}/concepts`, { key });
  expect(r.status).toBe(200);
  return r.body.concepts.map((c: { name: string }) => c.name).sort();
};

describe('outside /v1', () => {
  it('answers /healthz, /readyz, /openapi.json and /docs without a key', async () => {
    expect(await call('GET', '/healthz', { key: null })).toMatchObject({ status: 200, body: { ok: true } });
    expect((await call('GET', '/readyz', { key: null })).status).toBe(200);
    const doc = await call('GET', '/openapi.json', { key: null });
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/users/{user}/concepts',
        '/v1/users/{user}/concepts/{id}',
        '/v1/users/{user}/concepts/{id}/images',
        '/v1/users/{user}/recognize',
        '/v1/users/{user}',
      ]),
    );
    const docs = await app.request('/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(await docs.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(await (await app.request('/docs/assets/init.js')).text()).toContain("url: '/openapi.json'");
    expect((await app.request('/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    expect((await app.request('/docs/assets/package.json')).status).toBe(404);
  });

  it('answers 503 on /readyz until ready', async () => {
    const notReady = createApp({
      service: runtime.service,
      config,
      ready: async () => ({ ok: false, checks: { models: 'loading' } }),
    });
    expect(await call('GET', '/readyz', { on: notReady })).toMatchObject({
      status: 503,
      body: { ok: false, checks: { models: 'loading' } },
    });
  });

  it('answers unknown paths with a JSON 404', async () => {
    expectError(await call('GET', '/nowhere', { key: null }), 404, 'not_found');
    expectError(await call('GET', '/v1/nowhere'), 404, 'not_found');
  });
});

describe('errors', () => {
  const user = 'errors';
  let dog: { id: string };
  let before: unknown;

  beforeAll(async () => {
    dog = await register(user, 'Dog', [await photo('dog', 0)]);
    await runtime.service.refined();
    before = (await call('GET', `/v1/users/${user}/concepts`)).body;
  }, 60_000);

  // A failed request changes nothing.
  afterEach(async () => {
    expect((await call('GET', `/v1/users/${user}/concepts`)).body).toEqual(before);
  });

  const create = (json: unknown) => call('POST', `/v1/users/${user}/concepts`, { json });

  it('401 without a key or with a wrong one, with a Bearer challenge', async () => {
    for (const key of [null, 'wrong-key', '']) {
      const r = await call('GET', `/v1/users/${user}/concepts`, { key });
      expectError(r, 401, 'unauthorized');
      expect(r.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
    }
    expectError(
      await call('POST', `/v1/users/${user}/concepts`, {
        key: null,
        json: { name: 'x', images: [await image(photo('cat', 0))] },
      }),
      401,
      'unauthorized',
    );
    expectError(
      await call('GET', `/v1/users/${user}/concepts`, { key: null, headers: { Authorization: `Basic ${KEY_A}` } }),
      401,
      'unauthorized',
    );
  });

  it('400 for malformed JSON, a missing body or fields, and unknown content types 415', async () => {
    expectError(
      await call('POST', `/v1/users/${user}/concepts`, {
        body: '{"name": "x", ',
        headers: { 'Content-Type': 'application/json' },
      }),
      400,
      'invalid_request',
    );
    expectError(await call('POST', `/v1/users/${user}/concepts`), 400, 'invalid_request');
    expectError(
      await call('POST', `/v1/users/${user}/concepts`, { body: 'name=x', headers: { 'Content-Type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    );
    expectError(await create(null), 400, 'invalid_request');
    expectError(await create([]), 400, 'invalid_request');
    const noImages = await create({ name: 'Cat' });
    expectError(noImages, 400, 'invalid_request');
    expect(noImages.body.error.message).toMatch(/images/);
    expectError(await create({ name: 'Cat', images: [] }), 400, 'invalid_request');
    const noName = await create({ images: [await image(photo('cat', 0))] });
    expectError(noName, 400, 'invalid_request');
    expect(noName.body.error.message).toMatch(/^name/);
  });

  it('400 for names, categories and descriptions out of bounds', async () => {
    const images = [await image(photo('cat', 0))];
    for (const bad of [
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'Cat', category: 'c'.repeat(101) },
      { name: 'Cat', description: 'd'.repeat(2001) },
    ]) {
      expectError(await create({ ...bad, images }), 400, 'invalid_request');
    }
  });

  it('400 for a bad box, by shape or by reaching past the image', async () => {
    for (const box of [
      [0, 0, 1],
      [0, 0, 1.5, 1],
      [-0.1, 0, 0.5, 0.5],
      ['a', 0, 1, 1],
    ]) {
      const r = await create({ name: 'Cat', images: [await image(photo('cat', 0), box as number[])] });
      expectError(r, 400, 'invalid_request');
      expect(r.body.error.message).toMatch(/images\[0\]\.box/);
    }
    expectError(
      await create({ name: 'Cat', images: [await image(photo('cat', 0), [0.5, 0.5, 0.9, 0.9])] }),
      400,
      'invalid_request',
    );
  });

  it('400 for invalid base64, empty data and urls; too many images', async () => {
    expectError(await create({ name: 'Cat', images: [{ data: '!!not base64!!' }] }), 400, 'invalid_image');
    expectError(await create({ name: 'Cat', images: [{ data: '' }] }), 400, 'invalid_image');
    expectError(
      await create({ name: 'Cat', images: [{ data: 'data:text/html;base64,AAAA' }] }),
      400,
      'invalid_request',
    );
    const url = await create({ name: 'Cat', images: [{ url: 'http://169.254.169.254/latest/meta-data' }] });
    expectError(url, 400, 'invalid_request');
    expect(url.body.error.message).toMatch(/url/);
    const tiny = await image(fixture('png'));
    const many = await create({ name: 'Cat', images: Array.from({ length: defaultLimits.maxImages + 1 }, () => tiny) });
    expectError(many, 400, 'invalid_request');
    expect(many.body.error.message).toMatch(/at most|1 to 20/);
  });

  it('400 for bad user names and concept ids; 404 for unknown ids', async () => {
    for (const path of [
      `/v1/users/..%2F..%2Fetc/concepts`,
      `/v1/users/a'b/concepts`,
      `/v1/users/${'u'.repeat(129)}/concepts`,
    ]) {
      expectError(await call('GET', path), 400, 'invalid_request');
    }
    for (const id of ['..%2F..%2Fconcepts', `x'%20OR%20'1'='1`, '%22quoted%22', 'not-a-uuid']) {
      expectError(await call('GET', `/v1/users/${user}/concepts/${id}`), 400, 'invalid_request');
      expectError(await call('DELETE', `/v1/users/${user}/concepts/${id}`), 400, 'invalid_request');
    }
    const unknown = '00000000-0000-4000-8000-000000000000';
    expectError(await call('GET', `/v1/users/${user}/concepts/${unknown}`), 404, 'not_found');
    expectError(
      await call('PATCH', `/v1/users/${user}/concepts/${unknown}`, { json: { name: 'x' } }),
      404,
      'not_found',
    );
    expectError(await call('DELETE', `/v1/users/${user}/concepts/${unknown}`), 404, 'not_found');
    expectError(
      await call('POST', `/v1/users/${user}/concepts/${unknown}/images`, {
        json: { images: [await image(photo('dog', 1))] },
      }),
      404,
      'not_found',
    );
    // Another user's id is unknown here.
    expectError(await call('GET', `/v1/users/someone-else/concepts/${dog.id}`), 404, 'not_found');
  });

  it('409 for a name taken, compared case-insensitively, on create and rename', async () => {
    expectError(await create({ name: '  dOG ', images: [await image(photo('dog', 1))] }), 409, 'name_taken');
    const cat = await register('errors-rename', 'Cat', [await photo('cat', 0)]);
    await register('errors-rename', 'Dog', [await photo('dog', 0)]);
    expectError(
      await call('PATCH', `/v1/users/errors-rename/concepts/${cat.id}`, { json: { name: 'DOG' } }),
      409,
      'name_taken',
    );
    expect(await names('errors-rename')).toEqual(['Cat', 'Dog']);
  }, 60_000);

  it('400 for an empty PATCH', async () => {
    expectError(await call('PATCH', `/v1/users/${user}/concepts/${dog.id}`, { json: {} }), 400, 'invalid_request');
    expectError(await call('PATCH', `/v1/users/${user}/concepts/${dog.id}`), 400, 'invalid_request');
  });

  it('413 for a body over the limit and for a decompression bomb', async () => {
    const small = createApp({ service: runtime.service, config: { ...config, maxBodyBytes: 20_000 }, ready });
    const r = await call('POST', `/v1/users/${user}/concepts`, {
      on: small,
      json: { name: 'Cat', images: [await image(photo('cat', 0))] },
    });
    expectError(r, 413, 'too_large');
    const declared = await call('POST', `/v1/users/${user}/concepts`, {
      on: small,
      body: '{}',
      headers: { 'Content-Type': 'application/json', 'Content-Length': '999999' },
    });
    expectError(declared, 413, 'too_large');
    expectError(await create({ name: 'Cat', images: [await image(fixture('bomb'))] }), 413, 'too_large');
  });

  it('415 for SVG and other formats; 400 for truncated or corrupt images', async () => {
    for (const name of ['svg', 'pdf', 'random', 'text'] as const) {
      expectError(await create({ name: 'Cat', images: [await image(fixture(name))] }), 415, 'unsupported_media_type');
    }
    for (const name of ['truncated', 'corrupt'] as const) {
      expectError(await create({ name: 'Cat', images: [await image(fixture(name))] }), 400, 'invalid_image');
    }
    // One bad photo among good ones registers nothing.
    expectError(
      await create({ name: 'Cat', images: [await image(photo('cat', 0)), await image(fixture('truncated'))] }),
      400,
      'invalid_image',
    );
    const recognize = await call('POST', `/v1/users/${user}/recognize`, {
      json: { image: await image(fixture('svg')) },
    });
    expectError(recognize, 415, 'unsupported_media_type');
  });

  it('answers odd bodies on every endpoint with a 4xx, never a 500', async () => {
    const bodies = [
      '[',
      '['.repeat(100_000),
      'null',
      '"text"',
      '{"__proto__": {"name": "x"}}',
      '{"name": {"$gt": ""}, "images": "x"}',
      '{"images": [null]}',
      '{"images": [{"data": 5}]}',
      '{"image": null}',
      '{"image": {"data": "AAAA"}, "all": "yes"}',
      '{"name": 5}',
      '{"images": [{"data": "AAAA"}], "negative": "yes"}',
    ];
    const targets = [
      ['POST', `/v1/users/${user}/concepts`],
      ['PATCH', `/v1/users/${user}/concepts/${dog.id}`],
      ['POST', `/v1/users/${user}/concepts/${dog.id}/images`],
      ['POST', `/v1/users/${user}/recognize`],
    ];
    for (const [method, path] of targets) {
      const requests: Parameters<typeof call>[2][] = [
        ...bodies.map((body) => ({ body, headers: { 'Content-Type': 'application/json' } })),
        { form: new FormData() },
      ];
      for (const request of requests) {
        const r = await call(method, path, request);
        expect(
          r.status,
          `${method} ${path} ${request?.body?.slice(0, 40)}: ${JSON.stringify(r.body)}`,
        ).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
      }
    }
  });

  it('400 for malformed multipart bodies', async () => {
    const post = (form: FormData) => call('POST', `/v1/users/${user}/concepts`, { form });
    const noFiles = new FormData();
    noFiles.append('name', 'Cat');
    expectError(await post(noFiles), 400, 'invalid_request');
    const textImage = new FormData();
    textImage.append('name', 'Cat');
    textImage.append('images', (await photo('cat', 0)).toString('base64'));
    expectError(await post(textImage), 400, 'invalid_request');
    const badBoxes = new FormData();
    badBoxes.append('name', 'Cat');
    badBoxes.append('images', await asFile(photo('cat', 0), 'cat.jpg'));
    badBoxes.append('boxes', '[[0, 0, 1');
    expectError(await post(badBoxes), 400, 'invalid_request');
    const broken = await call('POST', `/v1/users/${user}/concepts`, {
      body: '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nCat',
      headers: { 'Content-Type': 'multipart/form-data; boundary=x' },
    });
    expectError(broken, 400, 'invalid_request');
  });
});

describe('concepts and recognition', () => {
  const user = 'alice';
  let dog: { id: string };
  let cat: { id: string };

  it('registers a dog from JSON and a cat from multipart with a box', async () => {
    dog = await register(
      user,
      'Biscuit',
      [await photo('dog', 0), await photo('dog', 1), await photo('dog', 2)],
      KEY_A,
      'dog',
    );
    expect(dog).toMatchObject({ name: 'Biscuit', category: 'dog', description: '', imageCount: 3, negativeCount: 0 });
    expect(dog.id).toMatch(/^[0-9a-f-]{36}$/);

    const form = new FormData();
    form.append('name', '  Mochi ');
    form.append('category', 'cat');
    form.append('description', 'the grey one');
    form.append('images', await asFile(photo('cat', 0), 'a.jpg'));
    form.append('images', await asFile(photo('cat', 1), 'b.jpg'));
    form.append('boxes', JSON.stringify([[0.05, 0.05, 0.9, 0.9], null]));
    const r = await call('POST', `/v1/users/${user}/concepts`, { form });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    cat = r.body;
    expect(cat).toMatchObject({ name: 'Mochi', category: 'cat', description: 'the grey one', imageCount: 2 });
  }, 120_000);

  it('lists and gets them; PATCH renames', async () => {
    const list = await call('GET', `/v1/users/${user}/concepts`);
    expect(list.body.concepts.map((c: { id: string }) => c.id)).toEqual([dog.id, cat.id]);
    expect(list.body.concepts[0]).toEqual((await call('GET', `/v1/users/${user}/concepts/${dog.id}`)).body);
    // Ids are found whatever their case.
    expect((await call('GET', `/v1/users/${user}/concepts/${dog.id.toUpperCase()}`)).body.id).toBe(dog.id);

    const renamed = await call('PATCH', `/v1/users/${user}/concepts/${dog.id}`, {
      json: { name: 'Biscuit Jr', description: 'corgi' },
    });
    expect(renamed).toMatchObject({
      status: 200,
      body: { id: dog.id, name: 'Biscuit Jr', description: 'corgi', imageCount: 3 },
    });
    // Renaming to its own name in another case is no conflict.
    expect((await call('PATCH', `/v1/users/${user}/concepts/${dog.id}`, { json: { name: 'BISCUIT JR' } })).status).toBe(
      200,
    );
    expect(await names(user)).toEqual(['BISCUIT JR', 'Mochi']);
  }, 60_000);

  it('recognizes the dog in a held-out photo, JSON and multipart; `all` answers every concept', async () => {
    const held = await photo('dog', 4);
    const r = await call('POST', `/v1/users/${user}/recognize`, { json: { image: await image(held) } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const found = r.body.concepts.find((m: { id: string }) => m.id === dog.id);
    expect(found).toMatchObject({ name: 'BISCUIT JR', present: true });
    expect(found.box).toHaveLength(4);
    expect(found.score).toBeGreaterThanOrEqual(0);
    expect(found.score).toBeLessThanOrEqual(1);
    expect(r.body.concepts.every((m: { present: boolean }) => m.present)).toBe(true);
    expect(r.body.timings.total).toBeGreaterThan(0);

    const form = new FormData();
    form.append('image', await asFile(held, 'q.jpg'));
    form.append('all', 'true');
    const all = await call('POST', `/v1/users/${user}/recognize`, { form });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.concepts.map((m: { id: string }) => m.id).sort()).toEqual([dog.id, cat.id].sort());
  }, 60_000);

  it('adds negative and positive photos, JSON and multipart', async () => {
    const negative = await call('POST', `/v1/users/${user}/concepts/${dog.id}/images`, {
      json: { images: [await image(photo('dog3', 0))], negative: true },
    });
    expect(negative).toMatchObject({ status: 200, body: { id: dog.id, imageCount: 3, negativeCount: 1 } });
    const form = new FormData();
    form.append('images', await asFile(photo('dog', 3), 'more.jpg'));
    const positive = await call('POST', `/v1/users/${user}/concepts/${dog.id}/images`, { form });
    expect(positive).toMatchObject({ status: 200, body: { id: dog.id, imageCount: 4, negativeCount: 1 } });
  }, 120_000);

  it('deletes a concept, then the user', async () => {
    expect((await call('DELETE', `/v1/users/${user}/concepts/${cat.id}`)).status).toBe(204);
    expectError(await call('GET', `/v1/users/${user}/concepts/${cat.id}`), 404, 'not_found');
    expect(await names(user)).toEqual(['BISCUIT JR']);
    expect((await call('DELETE', `/v1/users/${user}`)).status).toBe(204);
    expect(await names(user)).toEqual([]);
    const r = await call('POST', `/v1/users/${user}/recognize`, {
      json: { image: await image(photo('dog', 4)), all: true },
    });
    expect(r.body.concepts).toEqual([]);
  }, 60_000);
});

describe('tenants', () => {
  it("never show, change or use one tenant's concepts for another", async () => {
    const user = 'same-name';
    const a = await register(user, 'Rex', [await photo('dog', 0)], KEY_A);
    expect(await names(user, KEY_B)).toEqual([]);
    // A foreign id answers exactly as an id that exists nowhere, so B cannot tell that A has it.
    const missing = '00000000-0000-4000-8000-000000000000';
    const more = { images: [await image(photo('dog', 1))] };
    const attempts: [string, string, unknown?][] = [
      ['GET', ''],
      ['PATCH', '', { name: 'Mine' }],
      ['DELETE', ''],
      ['POST', '/images', more],
      ['POST', '/images', { ...more, negative: true }],
    ];
    for (const [method, tail, json] of attempts) {
      const foreign = await call(method, `/v1/users/${user}/concepts/${a.id}${tail}`, { key: KEY_B, json });
      expectError(foreign, 404, 'not_found');
      const nowhere = await call(method, `/v1/users/${user}/concepts/${missing}${tail}`, { key: KEY_B, json });
      expect(JSON.stringify(foreign.body).replaceAll(a.id, missing)).toBe(JSON.stringify(nowhere.body));
    }
    expect((await call('GET', `/v1/users/${user}/concepts/${a.id}`)).body).toEqual(a);
    const query = await image(photo('dog', 1));
    expect(
      (await call('POST', `/v1/users/${user}/recognize`, { key: KEY_B, json: { image: query, all: true } })).body
        .concepts,
    ).toEqual([]);
    // B may use the same name; deleting B's user leaves A's data.
    await register(user, 'rex', [await photo('cat', 0)], KEY_B);
    expect((await call('DELETE', `/v1/users/${user}`, { key: KEY_B })).status).toBe(204);
    expect(await names(user, KEY_A)).toEqual(['Rex']);
    const seen = (await call('POST', `/v1/users/${user}/recognize`, { key: KEY_A, json: { image: query, all: true } }))
      .body.concepts;
    expect(seen.map((m: { id: string }) => m.id)).toEqual([a.id]);
  }, 120_000);

  it('with no keys configured, every caller is tenant "local"', async () => {
    const open = createApp({ service: runtime.service, config: { ...config, apiKeys: new Map() }, ready });
    expect((await call('GET', '/v1/users/same-name/concepts', { on: open, key: null })).body.concepts).toEqual([]);
  });
});

describe('concurrency', () => {
  it('lands 16 parallel registrations for one user', async () => {
    const subjects = [
      'backpack',
      'bear_plushie',
      'berry_bowl',
      'can',
      'candle',
      'cat',
      'colorful_sneaker',
      'dog',
      'duck_toy',
      'fancy_boot',
      'grey_sloth_plushie',
      'monster_toy',
      'pink_sunglasses',
      'rc_car',
      'red_cartoon',
      'teapot',
    ];
    const photos = await Promise.all(subjects.map((s) => photo(s, 0)));
    const results = await Promise.all(
      subjects.map((s, i) =>
        call('POST', '/v1/users/busy/concepts', {
          json: { name: s, images: [{ data: photos[i].toString('base64') }] },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(subjects.map(() => 201));
    expect(await names('busy')).toEqual([...subjects].sort());
  }, 300_000);
});

describe('the real server', () => {
  it('cuts off a chunked body over the limit with 413, and refuses a declared one before reading it', async () => {
    const small = createApp({ service: runtime.service, config: { ...config, maxBodyBytes: 64 * 1024 }, ready });
    let server!: ReturnType<typeof serve>;
    const { port } = await new Promise<AddressInfo>((done) => {
      server = serve({ fetch: small.fetch, hostname: '127.0.0.1', port: 0 }, done);
    });
    try {
      const send = (headers: Record<string, string>, chunks: number) =>
        new Promise<{ status: number; body: any }>((done, fail) => {
          const req = httpRequest({
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/users/big/concepts',
            headers: { Authorization: `Bearer ${KEY_A}`, 'Content-Type': 'application/json', ...headers },
          });
          req.on('response', (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => {
              done({ status: res.statusCode!, body: JSON.parse(text) });
              req.destroy();
            });
          });
          // The server may answer and close while this side still writes.
          req.on('error', (e: NodeJS.ErrnoException) =>
            e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : fail(e),
          );
          const chunk = Buffer.alloc(16 * 1024, 'a');
          let sent = 0;
          const pump = () => {
            while (sent < chunks && !req.destroyed) {
              sent++;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
          };
          pump();
        });
      const chunked = await send({ 'Transfer-Encoding': 'chunked' }, 16);
      expect(chunked.status).toBe(413);
      expect(chunked.body.error.code).toBe('too_large');
      // 10 MB declared, one chunk sent: the answer cannot have waited for the rest.
      const declared = await send({ 'Content-Length': String(10 * 1024 * 1024) }, 1);
      expect(declared.status).toBe(413);
    } finally {
      await new Promise((done) => server.close(done));
    }
    expect(await names('big')).toEqual([]);
  }, 30_000);
});
