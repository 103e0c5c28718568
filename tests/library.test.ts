/**
 * The photo library end to end: photos of the shared DreamBooth subjects indexed through the HTTP app by the real
 * models into a real LanceDB, concepts registered afterwards from other photos, and the library asked for them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoLibrary } from '../concepts/library/library.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import { faceVectorSize } from '../concepts/people/open-people.js';
import { createApp } from '../services/api/app.js';
import type { Api, Deps } from '../services/api/context.js';
import { KEY_A, KEY_B, openTwoTenants, PHOTOS, type TwoTenants } from './support/two-tenants.js';

const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });
const photo = (subject: string, n: number) => readFileSync(join(PHOTOS, subject, `0${n}.jpg`));
const b64 = (subject: string, n: number) => photo(subject, n).toString('base64');

let tenants: TwoTenants;
let app: Api;
let dogId: string;

interface Answer {
  status: number;
  body: any;
}

async function call(method: string, path: string, opts: { json?: unknown; form?: FormData; key?: string } = {}) {
  const headers: Record<string, string> = { Authorization: `Bearer ${opts.key ?? KEY_A}` };
  let body: BodyInit | undefined = opts.form;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  }
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined } as Answer;
}

/** Polls a job until it ends; its last status. */
async function finished(job: string, user = 'alice', key = KEY_A): Promise<any> {
  for (let i = 0; i < 1200; i++) {
    const r = await call('GET', `/v1/users/${user}/photo-jobs/${job}`, { key });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.done).toBeLessThanOrEqual(r.body.total);
    if (r.body.status === 'ready' || r.body.status === 'failed') return r.body;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`job ${job} did not end in time`);
}

async function index(photos: { id: string; data: string }[], user = 'alice'): Promise<any> {
  const r = await call('POST', `/v1/users/${user}/photos`, { json: { photos } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.accepted).toBe(photos.length);
  return finished(r.body.job, user);
}

const find = async (query: string, key?: string) => call('GET', `/v1/users/alice/photos?${query}`, { key });

async function rows(table: string, where?: string): Promise<number> {
  const db = await lancedb.connect(tenants.config.dataUri);
  try {
    return await (await db.openTable(table)).countRows(where);
  } finally {
    db.close();
  }
}

const regionRows = (where?: string) => rows('photo_regions', where);

async function register(name: string, category: string): Promise<string> {
  const images = [0, 1, 2].map((n) => ({ data: b64(name, n) }));
  const r = await call('POST', '/v1/users/alice/concepts', { json: { name, category, images } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  await tenants.runtime.service.refined();
  return r.body.id;
}

beforeAll(async () => {
  tenants = await openTwoTenants('library');
  const { runtime, config } = tenants;
  app = createApp({ service: runtime.service, library: runtime.library, config, ready });
}, 180_000);

afterAll(async () => {
  await tenants?.close();
});

describe('photo library', () => {
  it('indexes photos, then finds the photos of concepts registered afterwards', async () => {
    const job = await index([
      { id: 'dog-3', data: b64('dog', 3) },
      { id: 'dog-4', data: b64('dog', 4) },
      { id: 'cat-3', data: b64('cat', 3) },
    ]);
    expect(job).toMatchObject({ status: 'ready', done: 3, total: 3, errors: [] });
    // Multipart: each part named by its photo id.
    const form = new FormData();
    form.append('cat-4', new File([photo('cat', 4)], 'cat.jpg', { type: 'image/jpeg' }));
    form.append('teapot-3', new File([photo('teapot', 3)], 'teapot.jpg', { type: 'image/jpeg' }));
    const posted = await call('POST', '/v1/users/alice/photos', { form });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    expect(await finished(posted.body.job)).toMatchObject({ status: 'ready', done: 2, total: 2 });

    dogId = await register('dog', 'dog');
    await register('cat', 'cat');
    const dogs = await find('concept=dog');
    expect(dogs.status, JSON.stringify(dogs.body)).toBe(200);
    expect(dogs.body.photos.map((p: any) => p.id).sort()).toEqual(['dog-3', 'dog-4']);
    expect(dogs.body.next).toBeNull();
    for (const p of dogs.body.photos) {
      expect(p.box).toHaveLength(4);
      expect(p.score).toBeGreaterThan(0);
    }
    const cats = await find('concept=CAT');
    expect(cats.body.photos.map((p: any) => p.id).sort()).toEqual(['cat-3', 'cat-4']);
    // Photos with both concepts: none.
    expect((await find('concept=dog&concept=cat')).body.photos).toEqual([]);

    // Every scored photo, best first, page by page.
    const seen: any[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const r = await find(`concept=dog&all=true&limit=2${cursor && `&cursor=${cursor}`}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      seen.push(...r.body.photos);
      if (!r.body.next) break;
      cursor = r.body.next;
    }
    expect(seen.map((p) => p.id).sort()).toEqual(['cat-3', 'cat-4', 'dog-3', 'dog-4', 'teapot-3']);
    expect(seen.map((p) => p.score)).toEqual([...seen.map((p) => p.score)].sort((a, b) => b - a));
    expect(
      seen
        .slice(0, 2)
        .map((p) => p.id)
        .sort(),
    ).toEqual(['dog-3', 'dog-4']);
  });

  it('is idempotent per photo id and indexes a batch photo by photo', async () => {
    const before = await regionRows("photo_id = 'dog-3'");
    expect(before).toBeGreaterThan(0);
    const job = await index([
      { id: 'dog-3', data: b64('dog', 3) },
      { id: 'broken', data: Buffer.from('not an image at all').toString('base64') },
      { id: 'dog-2', data: b64('dog', 2) },
    ]);
    expect(job.status).toBe('ready');
    expect(job.errors).toEqual([{ photo: 'broken', message: expect.any(String) }]);
    expect(await regionRows("photo_id = 'dog-3'")).toBe(before);
    expect(await regionRows("photo_id = 'broken'")).toBe(0);
    expect(await regionRows("photo_id = 'dog-2'")).toBeGreaterThan(0);
    // Indexed after the concept was registered: found as well.
    expect((await find('concept=dog')).body.photos.map((p: any) => p.id)).toContain('dog-2');
    // A batch where nothing can be indexed fails.
    const failed = await index([{ id: 'broken', data: Buffer.from('still not an image').toString('base64') }]);
    expect(failed).toMatchObject({ status: 'failed', done: 1, total: 1 });
  });

  it("keeps each photo's scores between queries, in step with the photos indexed and deleted", async () => {
    const ids = async () => (await find('concept=dog&all=true&limit=100')).body.photos.map((p: any) => p.id);
    const first = await find('concept=dog&all=true&limit=100');
    expect((await find('concept=dog&all=true&limit=100')).body).toEqual(first.body);
    await index([{ id: 'dog-1', data: b64('dog', 1) }]);
    expect(await ids()).toContain('dog-1');
    expect((await call('DELETE', '/v1/users/alice/photos/dog-1')).status).toBe(204);
    expect(await ids()).not.toContain('dog-1');
    // A photo indexed after a deletion is scored as itself, not as the photo deleted.
    await index([{ id: 'teapot-1', data: b64('teapot', 1) }]);
    expect(await ids()).toContain('teapot-1');
    expect((await find('concept=dog')).body.photos.map((p: any) => p.id)).not.toContain('teapot-1');
    expect((await call('DELETE', '/v1/users/alice/photos/teapot-1')).status).toBe(204);
  });

  it('answers bad input with clear 4xx errors', async () => {
    const bad = await call('POST', '/v1/users/alice/photos', {
      json: { photos: [{ id: 'a/b', data: b64('dog', 0) }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const form = new FormData();
    form.append('bad id!', new File([photo('dog', 0)], 'x.jpg', { type: 'image/jpeg' }));
    const badPart = await call('POST', '/v1/users/alice/photos', { form });
    expect(badPart.status, JSON.stringify(badPart.body)).toBe(400);
    expect(badPart.body.error.message).toContain('bad id!');
    const repeated = new FormData();
    for (let i = 0; i < 2; i++) repeated.append('same', new File([photo('dog', 0)], 'x.jpg', { type: 'image/jpeg' }));
    const samePart = await call('POST', '/v1/users/alice/photos', { form: repeated });
    expect(samePart.status, JSON.stringify(samePart.body)).toBe(400);
    expect(samePart.body.error.message).toContain('one part per photo id');
    const twice = await call('POST', '/v1/users/alice/photos', {
      json: {
        photos: [
          { id: 'x', data: 'AAAA' },
          { id: 'x', data: 'AAAA' },
        ],
      },
    });
    expect(twice.status).toBe(400);
    const many = Array.from({ length: tenants.runtime.library.options.maxPhotos + 1 }, (_, i) => ({
      id: `p${i}`,
      data: 'AAAA',
    }));
    const tooMany = await call('POST', '/v1/users/alice/photos', { json: { photos: many } });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('too_large');
    expect((await call('POST', '/v1/users/alice/photos', { json: { photos: [] } })).status).toBe(400);
    expect((await find('concept=nobody')).status).toBe(404);
    expect((await find('')).status).toBe(400);
    expect((await find('concept=dog&limit=0')).status).toBe(400);
    expect((await find('concept=dog&cursor=nonsense')).status).toBe(400);
    const text = await find('concept=dog&text=at%20the%20beach');
    expect(text.status).toBe(422);
    expect(text.body.error.message).toMatch(/mobilenetv2-12-int8 has no text side.*clip-vit-base-patch32/);
    expect((await call('GET', '/v1/users/alice/photo-jobs/not-a-job')).status).toBe(400);
    expect((await call('GET', `/v1/users/alice/photo-jobs/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await call('DELETE', '/v1/users/alice/photos/never-indexed')).status).toBe(404);
    const doc = await app.request('/openapi.json');
    const paths = Object.keys((await doc.json()).paths);
    for (const path of ['/v1/users/{user}/photos', '/v1/users/{user}/photo-jobs/{job}', '/v1/users/{user}/photos/{id}'])
      expect(paths).toContain(path);
  });

  it('learns from corrections and undoes them', async () => {
    const scoreOf = async (id: string) =>
      (await find('concept=dog&all=true&limit=100')).body.photos.find((p: any) => p.id === id).score as number;
    const concept = async () => (await call('GET', `/v1/users/alice/concepts/${dogId}`)).body;
    const before = await scoreOf('teapot-3');
    const negatives = (await concept()).negativeCount;
    const wrong = await call('POST', `/v1/users/alice/concepts/${dogId}/feedback`, {
      json: { photo: 'teapot-3', correct: false },
    });
    expect(wrong.status, JSON.stringify(wrong.body)).toBe(201);
    expect(wrong.body).toMatchObject({ photo: 'teapot-3', correct: false, box: expect.any(Array) });
    expect((await concept()).negativeCount).toBe(negatives + 1);
    expect(await scoreOf('teapot-3')).toBeLessThan(before);
    // A missed one, sent as an image with a box: an example of the concept.
    const images = (await concept()).imageCount;
    const missed = await call('POST', `/v1/users/alice/concepts/${dogId}/feedback`, {
      json: { image: { data: b64('dog', 1) }, box: [0, 0, 1, 1], correct: true },
    });
    expect(missed.status, JSON.stringify(missed.body)).toBe(201);
    expect(missed.body.photo).toBeUndefined();
    expect((await concept()).imageCount).toBe(images + 1);
    const listed = await call('GET', `/v1/users/alice/concepts/${dogId}/feedback`);
    expect(listed.body.feedback.map((f: any) => f.id)).toEqual([wrong.body.id, missed.body.id]);

    for (const f of [wrong.body, missed.body])
      expect((await call('DELETE', `/v1/users/alice/concepts/${dogId}/feedback/${f.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/users/alice/concepts/${dogId}/feedback`)).body.feedback).toEqual([]);
    expect(await concept()).toMatchObject({ negativeCount: negatives, imageCount: images });
    expect(await scoreOf('teapot-3')).toBeCloseTo(before, 3);

    const feedback = (json: unknown) => call('POST', `/v1/users/alice/concepts/${dogId}/feedback`, { json });
    // The user's word on a library photo holds in the answers, until it is taken back.
    const dogs = async () => (await find('concept=dog')).body.photos.map((p: any) => p.id).sort();
    const answered = await dogs();
    expect(answered).toContain('dog-4');
    const notDog = await feedback({ photo: 'dog-4', correct: false });
    const isDog = await feedback({ photo: 'cat-4', correct: true });
    expect(notDog.status).toBe(201);
    expect(await dogs()).not.toContain('dog-4');
    expect(await dogs()).toContain('cat-4');
    for (const f of [notDog.body, isDog.body])
      expect((await call('DELETE', `/v1/users/alice/concepts/${dogId}/feedback/${f.id}`)).status).toBe(204);
    expect(await dogs()).toEqual(answered);

    expect((await feedback({ photo: 'never-indexed', correct: false })).status).toBe(404);
    expect((await feedback({ photo: 'dog-3', image: { data: b64('dog', 1) }, correct: false })).status).toBe(400);
    expect((await feedback({ photo: 'dog-3' })).status).toBe(400);
    const undo = await call('DELETE', `/v1/users/alice/concepts/${dogId}/feedback/${crypto.randomUUID()}`);
    expect(undo.status).toBe(404);

    // Corrections at the same time are photos of their own: each is undone alone.
    const together = await Promise.all(['teapot-3', 'cat-3'].map((photo) => feedback({ photo, correct: false })));
    expect((await concept()).negativeCount).toBe(negatives + 2);
    for (const f of together)
      expect((await call('DELETE', `/v1/users/alice/concepts/${dogId}/feedback/${f.body.id}`)).status).toBe(204);
    expect((await concept()).negativeCount).toBe(negatives);

    // A deleted concept takes the record of its corrections with it.
    const teapot = await register('teapot', 'teapot');
    expect(
      (await call('POST', `/v1/users/alice/concepts/${teapot}/feedback`, { json: { photo: 'dog-3', correct: false } }))
        .status,
    ).toBe(201);
    expect(await rows('concept_feedback', `concept_id = '${teapot}'`)).toBe(1);
    expect((await call('DELETE', `/v1/users/alice/concepts/${teapot}`)).status).toBe(204);
    expect(await rows('concept_feedback', `concept_id = '${teapot}'`)).toBe(0);
  });

  it('answers a large library from the scores of before right after a correction, then from the new head', async () => {
    // A second library on the same data, for which every user is large enough to be answered so.
    const { service, models, library: served } = tenants.runtime;
    const store = await PhotoStore.open(tenants.config.dataUri, models.encoder.dim, faceVectorSize());
    const library = await PhotoLibrary.open(store, service, models, { ...served.options, staleFrom: 0 });
    const scope = { tenant: 'tenant-a', user: 'alice' };
    const dog = async (all: boolean) => (await library.find(scope, [dogId], { limit: 100, all })).photos;
    const scores = async () => new Map((await dog(true)).map((p) => [p.id, p.score]));
    try {
      const before = await scores();
      const wrong = await call('POST', `/v1/users/alice/concepts/${dogId}/feedback`, {
        json: { photo: 'teapot-3', correct: false },
      });
      expect(wrong.status, JSON.stringify(wrong.body)).toBe(201);
      // The scores of before, with the user's word on the corrected photo, until the retrained head's are read.
      expect(await scores()).toEqual(before);
      expect((await dog(false)).map((p) => p.id)).not.toContain('teapot-3');
      await library.settled(scope);
      const after = await scores();
      expect(after.get('teapot-3')).toBeLessThan(before.get('teapot-3')!);

      expect((await call('DELETE', `/v1/users/alice/concepts/${dogId}/feedback/${wrong.body.id}`)).status).toBe(204);
      expect(await scores()).toEqual(after);
      await library.settled(scope);
      expect((await scores()).get('teapot-3')).toBeCloseTo(before.get('teapot-3')!, 3);
    } finally {
      await library.close();
      store.close();
    }
  });

  it("keeps tenants apart and deletes a photo, and a user's library with the user", async () => {
    // Tenant B's alice is another user: none of tenant A's photos, concepts or jobs.
    const job = await call('POST', '/v1/users/alice/photos', {
      json: { photos: [{ id: 'dog-4', data: b64('dog', 4) }] },
      key: KEY_B,
    });
    expect(job.status).toBe(202);
    expect((await call('GET', `/v1/users/alice/photo-jobs/${job.body.job}`)).status).toBe(404);
    expect(await finished(job.body.job, 'alice', KEY_B)).toMatchObject({ status: 'ready', done: 1 });
    expect((await find('concept=dog', KEY_B)).status).toBe(404);

    expect((await call('DELETE', '/v1/users/alice/photos/dog-4')).status).toBe(204);
    expect((await call('DELETE', '/v1/users/alice/photos/dog-4')).status).toBe(404);
    expect((await find('concept=dog')).body.photos.map((p: any) => p.id)).not.toContain('dog-4');
    // Tenant B's photo of the same id is still there.
    expect(await regionRows("tenant = 'tenant-b' AND photo_id = 'dog-4'")).toBeGreaterThan(0);

    expect((await call('DELETE', '/v1/users/alice')).status).toBe(204);
    expect(await regionRows("tenant = 'tenant-a'")).toBe(0);
    expect(await regionRows("tenant = 'tenant-b'")).toBeGreaterThan(0);
  });
});
