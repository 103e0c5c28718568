/**
 * People as concepts through the real HTTP API: real models (faces on), LanceDB in a temp folder, a real server on a
 * port. Photos of the shared LFW people, group photos and DreamBooth's dog.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { faceVectorSize } from '../concepts/people/open-people.js';
import type { Box } from '../concepts/types.js';
import { VideoStore } from '../concepts/video/video-store.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import { makeVideo } from '../scripts/lib/make-video.js';
import { createApp } from '../services/api/app.js';
import type { Deps } from '../services/api/context.js';
import { OpenAiStandIn, requestText } from './support/openai-server.js';
import { KEY_A, openTwoTenants, PHOTOS, type TwoTenants } from './support/two-tenants.js';

const FACES = resolve(import.meta.dirname, '../../shared/data/faces');
const lfw = (name: string, n: number) => readFileSync(join(FACES, 'people', name, `${String(n).padStart(2, '0')}.jpg`));
const image = (bytes: Buffer, box?: number[]) => ({ data: bytes.toString('base64'), ...(box && { box }) });
const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });

/** A server on a free port for a runtime; `call` speaks JSON to it as tenant A. */
async function serveRuntime(tenants: TwoTenants) {
  const { service, personal } = tenants.runtime;
  const app = createApp({ service, personal, config: tenants.config, ready });
  let server!: ReturnType<typeof serve>;
  const { port } = await new Promise<AddressInfo>((done) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, done);
  });
  const call = async (method: string, path: string, json?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { Authorization: `Bearer ${KEY_A}`, 'Content-Type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { call, close: () => new Promise<void>((done) => server.close(() => done())) };
}

describe('people with faces on', () => {
  let tenants: TwoTenants;
  let api: Awaited<ReturnType<typeof serveRuntime>>;
  let vlm: OpenAiStandIn;
  const scope = { tenant: 'tenant-a', user: 'mia' };
  let bush: { id: string; threshold: number };

  beforeAll(async () => {
    vlm = await OpenAiStandIn.start();
    tenants = await openTwoTenants('people', { NOMEN_FACES: 'on', NOMEN_RATE_LIMIT: '0', NOMEN_VLM_URL: vlm.url });
    api = await serveRuntime(tenants);
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await tenants?.close();
    await vlm?.close();
  });

  it('registers a person from the faces of its photos, and keeps one face vector per photo', async () => {
    const res = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'George',
      category: 'person',
      images: [1, 2, 3].map((n) => image(lfw('george_w_bush', n))),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'George', category: 'person', imageCount: 3, status: 'ready' });
    expect(res.body.threshold).toBeGreaterThanOrEqual(0.4);
    bush = res.body;
    expect(await tenants.runtime.people.store.count(scope)).toBe(3);
  });

  it('answers 422 for a photo without a face, and for several faces alike without a box', async () => {
    const dog = readFileSync(join(PHOTOS, 'dog', '00.jpg'));
    const none = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'Nobody',
      category: 'person',
      images: [image(lfw('laura_bush', 1)), image(dog)],
    });
    expect(none.status).toBe(422);
    expect(none.body.error).toMatchObject({
      code: 'unprocessable',
      message: expect.stringMatching(/no face .* photo 2/),
    });
    const alike = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'Condoleezza',
      category: 'person',
      images: [image(lfw('condoleezza_rice', 5))],
    });
    expect(alike.status).toBe(422);
    expect(alike.body.error.message).toMatch(/give a box/);
    const boxed = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'Condoleezza',
      category: 'person',
      images: [image(lfw('condoleezza_rice', 5), [0.3, 0.3, 0.4, 0.4]), image(lfw('condoleezza_rice', 1))],
    });
    expect(boxed.status).toBe(201);
    // Nothing of the refused registrations was kept.
    expect(await tenants.runtime.people.store.count(scope)).toBe(5);
  });

  it('learns more photos of a person, and holds it above the faces of photos without them', async () => {
    const more = await api.call('POST', `/v1/users/mia/concepts/${bush.id}/images`, {
      images: [image(lfw('george_w_bush', 4))],
    });
    expect(more.status).toBe(200);
    expect(more.body.imageCount).toBe(4);
    const group = readFileSync(join(FACES, 'groups', 'dlib_voc_2008_002470.jpg'));
    const without = await api.call('POST', `/v1/users/mia/concepts/${bush.id}/images`, {
      images: [image(group)],
      negative: true,
    });
    expect(without.status).toBe(200);
    expect(without.body).toMatchObject({ imageCount: 4, negativeCount: 1 });
    expect(without.body.threshold).toBeGreaterThanOrEqual(more.body.threshold);
    // One face more, and the 6 strangers' faces of the group photo.
    expect(await tenants.runtime.people.store.count(scope)).toBe(12);
    bush = without.body;
  });

  it("keeps a user's example faces in memory, and reads them again after a write of the user", async () => {
    const { service, people } = tenants.runtime;
    const noah = { tenant: 'tenant-a', user: 'noah' };
    const tony = await service.register(noah, {
      name: 'Tony',
      category: 'person',
      images: [3, 4].map((n) => ({ bytes: lfw('tony_blair', n) })),
    });
    // Observed, not replaced: the real face store answers every read.
    const reads = vi.spyOn(people.store, 'load');
    try {
      const examples = async () => {
        const scoring = await service.storedScoring(noah, ['Tony'], true);
        return 'person' in scoring ? scoring.person.examples : undefined;
      };
      const first = await examples();
      expect(first).toHaveLength(2);
      await service.recognize(noah, lfw('tony_blair', 6), false);
      expect(await examples()).toBe(first);
      expect(reads).toHaveBeenCalledTimes(1);
      await service.addImages(noah, tony.id, [{ bytes: lfw('tony_blair', 5) }], false);
      expect(await examples()).toHaveLength(3);
      const named = await service.recognize(noah, lfw('tony_blair', 6), false);
      expect(named.concepts.map((m) => m.name)).toEqual(['Tony']);
      // Reads by adding the photo (its threshold over every stored face) and by the next query, then none.
      expect(reads).toHaveBeenCalledTimes(3);
      await service.removeUser(noah);
      await expect(examples()).rejects.toThrow(/no concept Tony/);
    } finally {
      reads.mockRestore();
    }
  });

  it('recognises the person face by face, with the face box, and names nobody in strangers', async () => {
    const res = await api.call('POST', '/v1/users/mia/recognize', { image: image(lfw('george_w_bush', 8)) });
    expect(res.status).toBe(200);
    const george = res.body.concepts.find((m: { id: string }) => m.id === bush.id);
    expect(george).toMatchObject({ name: 'George', present: true });
    const [x, y, w, h] = george.box;
    expect(Math.abs(x + w / 2 - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(y + h / 2 - 0.5)).toBeLessThan(0.15);
    expect(res.body.timings.faces).toBeGreaterThan(0);
    for (const file of ['distractors/lfw_Sidney_Poitier.jpg', 'groups/vh_solvay1927.jpg']) {
      const stranger = await api.call('POST', '/v1/users/mia/recognize', {
        image: image(readFileSync(join(FACES, file))),
      });
      expect(stranger.body.concepts).toEqual([]);
    }
    // Recognised photos leave no face vectors behind.
    expect(await tenants.runtime.people.store.count(scope)).toBe(12);
  });

  it('captions with the names of the people present', async () => {
    // A VLM that names whom the request names: the caption shows what nomen told it.
    vlm.reply = (body) => ({ text: /George/.test(requestText(body)) ? 'George at a podium.' : 'A man at a podium.' });
    const res = await api.call('POST', '/v1/caption', { user: 'mia', image: image(lfw('george_w_bush', 10)) });
    expect(res.status).toBe(200);
    expect(res.body.caption).toBe('George at a podium.');
    expect(res.body.concepts.map((m: { name: string }) => m.name)).toEqual(['George']);
  });

  it('answers a person and a pet in one photo, each with its own box', async () => {
    const dog = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'Biscuit',
      category: 'dog',
      images: [0, 1, 2].map((n) => image(readFileSync(join(PHOTOS, 'dog', `0${n}.jpg`)))),
    });
    expect(dog.status).toBe(201);
    const tile = (b: Buffer) => sharp(b).resize(384, 384, { fit: 'cover' }).toBuffer();
    const both = await sharp({ create: { width: 768, height: 384, channels: 3, background: '#888' } })
      .composite([
        { input: await tile(readFileSync(join(PHOTOS, 'dog', '04.jpg'))), left: 0, top: 0 },
        { input: await tile(lfw('george_w_bush', 9)), left: 384, top: 0 },
      ])
      .jpeg()
      .toBuffer();
    const res = await api.call('POST', '/v1/users/mia/recognize', { image: image(both) });
    const names = res.body.concepts.map((m: { name: string }) => m.name).sort();
    expect(names).toEqual(['Biscuit', 'George']);
    const george = res.body.concepts.find((m: { name: string }) => m.name === 'George');
    expect(george.box[0]).toBeGreaterThan(0.5);
  });

  it("finds a person's moments in a video by the faces of its frames, and drops them with the video", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nomen-people-video-'));
    const still = async (name: string, n: number) => {
      const file = join(dir, `${name}-${n}.jpg`);
      await writeFile(file, lfw(name, n));
      return file;
    };
    const { videos } = tenants.runtime;
    const upload = await videos.uploadPath();
    const shots = [await still('tony_blair', 1), await still('george_w_bush', 5), await still('hans_blix', 1)];
    await makeVideo(
      shots.map((photo) => ({ photo, seconds: 3 })),
      `${upload}.mp4`,
      { width: 250, height: 250, fps: 10 },
    );
    await rename(`${upload}.mp4`, upload);
    const added = await videos.add(scope, upload, 2);
    for (let i = 0; i < 600 && (await videos.get(scope, added.id)).status !== 'ready'; i++)
      await new Promise((done) => setTimeout(done, 100));
    const moments = await videos.moments(scope, added.id, 'George');
    expect(moments).toHaveLength(1);
    expect(moments[0].start).toBeGreaterThanOrEqual(2.5);
    expect(moments[0].end).toBeLessThanOrEqual(6.5);
    // Library photos keep no faces: there a person is refused rather than scored by a blank head.
    await expect(tenants.runtime.service.head(scope, 'George')).rejects.toThrow(/is a person/);
    await videos.remove(scope, added.id);
    const store = await VideoStore.open(tenants.config.dataUri, tenants.runtime.models.encoder.dim, faceVectorSize());
    const left = [];
    for await (const batch of store.faceBatches(scope, added.id)) left.push(batch);
    store.close();
    expect(left).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it("finds a person's photos in the library by their faces, alone, and forgets them with the user", async () => {
    const { library } = tenants.runtime;
    const shots: [string, number][] = [
      ['george_w_bush', 6],
      ['george_w_bush', 7],
      ['tony_blair', 2],
      ['hans_blix', 2],
      ['laura_bush', 2],
    ];
    const { job } = await library.add(
      scope,
      shots.map(([name, n]) => ({ id: `${name}-${n}`, bytes: lfw(name, n) })),
    );
    for (let i = 0; i < 600 && (await library.job(scope, job)).status !== 'ready'; i++)
      await new Promise((done) => setTimeout(done, 100));
    expect((await library.job(scope, job)).status).toBe('ready');
    const found = await library.find(scope, ['George'], { limit: 10, all: false });
    expect(found.photos.map((p) => p.id).sort()).toEqual(['george_w_bush-6', 'george_w_bush-7']);
    expect((await library.find(scope, ['George'], { limit: 10, all: true })).photos).toHaveLength(5);
    await expect(library.find(scope, ['George', 'Biscuit'], { limit: 10, all: false })).rejects.toThrow(/is a person/);
    await expect(library.find(scope, ['George'], { text: 'podium', limit: 10, all: false })).rejects.toThrow(
      /is a person/,
    );
    await library.removeUser(scope);
    const store = await PhotoStore.open(tenants.config.dataUri, tenants.runtime.models.encoder.dim, faceVectorSize());
    const left = [];
    for await (const batch of store.faceBatches(scope)) left.push(batch);
    store.close();
    expect(left).toEqual([]);
  });

  it('refuses to turn a person into an object, and deleting it removes every face vector', async () => {
    const patch = await api.call('PATCH', `/v1/users/mia/concepts/${bush.id}`, { category: 'dog' });
    expect(patch.status).toBe(422);
    const del = await api.call('DELETE', `/v1/users/mia/concepts/${bush.id}`);
    expect(del.status).toBe(204);
    expect(await tenants.runtime.people.store.count(scope)).toBe(2);
    expect((await api.call('DELETE', '/v1/users/mia')).status).toBe(204);
    expect(await tenants.runtime.people.store.count(scope)).toBe(0);
  });

  it('sweeps face vectors that a save left without their concept row', async () => {
    const lost = { tenant: 'tenant-a', user: 'crashed' };
    const vector = new Float32Array(128).fill(1 / Math.sqrt(128));
    const face = { conceptId: 'gone', negative: false, photo: 0, box: [0, 0, 1, 1] as Box, width: 50, vector };
    await tenants.runtime.people.store.add(lost, 1, [face]);
    expect(await tenants.runtime.people.store.sweepOrphans(60_000)).toBe(0);
    expect(await tenants.runtime.people.store.sweepOrphans(0)).toBe(1);
    expect(await tenants.runtime.people.store.count(lost)).toBe(0);
  });
});

describe('people with faces off (the default)', () => {
  let tenants: TwoTenants;
  let api: Awaited<ReturnType<typeof serveRuntime>>;
  beforeAll(async () => {
    tenants = await openTwoTenants('people-off', { NOMEN_RATE_LIMIT: '0' });
    api = await serveRuntime(tenants);
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await tenants?.close();
  });

  it('answers a person concept with a 422 that says how to turn faces on', async () => {
    const res = await api.call('POST', '/v1/users/mia/concepts', {
      name: 'George',
      category: 'Person',
      images: [image(lfw('george_w_bush', 1))],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/NOMEN_FACES=on/);
  });
});
