/** The HTTP API's concepts, recognition, tenants and concurrency, end to end on a real runtime through hono. */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { createApp } from '../services/api/app.js';
import { asFile, expectError, image, photo, ready, useApi } from './support/api-app.js';
import { KEY_A, KEY_B } from './support/two-tenants.js';

const api = useApi('api-concepts');
const { call, register, names } = api;

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
    const open = createApp({ service: api.runtime.service, config: { ...api.config, apiKeys: new Map() }, ready });
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
    const small = createApp({
      service: api.runtime.service,
      config: { ...api.config, maxBodyBytes: 64 * 1024 },
      ready,
    });
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
