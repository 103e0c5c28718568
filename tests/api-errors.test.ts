/** The HTTP API's answers outside /v1 and to bad requests, end to end on a real runtime through the hono app. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimits } from '../concepts/intake/intake.js';
import { createApp } from '../services/api/app.js';
import { asFile, expectError, image, photo, ready, useApi } from './support/api-app.js';
import { KEY_A } from './support/two-tenants.js';

const api = useApi('api-errors');
const { call, register, names, fixture } = api;

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
    const docs = await api.app.request('/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(await docs.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(await (await api.app.request('/docs/assets/init.js')).text()).toContain("url: '/openapi.json'");
    expect((await api.app.request('/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    expect((await api.app.request('/docs/assets/package.json')).status).toBe(404);
  });

  it('answers 503 on /readyz until ready', async () => {
    const notReady = createApp({
      service: api.runtime.service,
      config: api.config,
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
    await api.runtime.service.refined();
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
    const small = createApp({ service: api.runtime.service, config: { ...api.config, maxBodyBytes: 20_000 }, ready });
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
