/**
 * The TypeScript client (clients/typescript) against the built server on the real models, from outside as a photo
 * app calls it: every endpoint, the API's errors as NomenErrors, retries after 429 and 503, streamed captions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { fromFile, NomenClient, NomenError } from '../clients/typescript/node.js';
import { dogClip, KEY, photoPath, useNomenServer } from './support/nomen-server.js';

// A small bucket, so that a burst of calls meets 429 and the client's retries are what carry it through.
const nomen = useNomenServer('client', { NOMEN_RATE_LIMIT: '4', NOMEN_RATE_BURST: '4' });
const USER = 'alice';
const CAPTION = 'A dog sits on the grass.';
const statuses: number[] = [];
const client = () =>
  new NomenClient({
    url: nomen.url,
    key: KEY,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      statuses.push(res.status);
      return res;
    },
  });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nomen-client-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function apiError(p: Promise<unknown>): Promise<NomenError> {
  const err: unknown = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NomenError);
  return err as NomenError;
}

describe('the TypeScript client', () => {
  let biscuit: string;

  it('registers a concept from files, one with a box, and lists, gets and renames it', async () => {
    const nomenClient = client();
    const images = [
      await fromFile(photoPath('dog', 0), 'image/jpeg'),
      { bytes: readFileSync(photoPath('dog', 1)), box: [0, 0, 1, 1] },
      await fromFile(photoPath('dog', 2)),
    ];
    const created = await nomenClient.createConcept(USER, { name: 'Biscuit', category: 'dog', images });
    expect(created).toMatchObject({ name: 'Biscuit', category: 'dog', imageCount: 3 });
    biscuit = created.id;
    expect((await nomenClient.listConcepts(USER)).map((c) => c.name)).toEqual(['Biscuit']);
    expect(await nomenClient.updateConcept(USER, biscuit, { name: 'Biscuit II' })).toMatchObject({ id: biscuit });
    expect((await nomenClient.getConcept(USER, biscuit)).name).toBe('Biscuit II');
    const crop = new Uint8Array(await (await nomenClient.referenceCrop(USER, biscuit, 2)).arrayBuffer());
    expect([...crop.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect((await apiError(nomenClient.referenceCrop(USER, biscuit, 3))).code).toBe('not_found');
    expect((await apiError(nomenClient.referenceCrop('bob', biscuit))).code).toBe('not_found');
    const headers = { Authorization: `Bearer ${KEY}` };
    const bad = await fetch(`${nomen.url}/v1/users/${USER}/concepts/${biscuit}/crops/first`, { headers });
    expect({ status: bad.status, body: await bad.json() }).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
    await nomenClient.updateConcept(USER, biscuit, { name: 'Biscuit' });
  });

  it('throws the API error, in its own words, as a NomenError', async () => {
    const taken = await apiError(
      client().createConcept(USER, { name: 'biscuit', images: [readFileSync(photoPath('dog', 4))] }),
    );
    expect({ status: taken.status, code: taken.code }).toEqual({ status: 409, code: 'name_taken' });
    expect(taken.message).toMatch(/biscuit/i);
    const stranger = new NomenClient({ url: nomen.url, key: 'not-a-key' });
    expect((await apiError(stranger.listConcepts(USER))).code).toBe('unauthorized');
    expect((await apiError(client().listConcepts('no spaces'))).code).toBe('invalid_request');
  });

  it('recognises the concept in a new photo with its box, and adds a negative photo', async () => {
    const nomenClient = client();
    while ((await nomenClient.getConcept(USER, biscuit)).status === 'refining') await sleep(200);
    const { concepts } = await nomenClient.recognize(USER, readFileSync(photoPath('dog', 4)), { all: true });
    const match = concepts.find((m) => m.id === biscuit);
    expect(match?.present).toBe(true);
    expect(match?.box).toHaveLength(4);
    const all = await nomenClient.recognize(USER, readFileSync(photoPath('teapot', 0)), { all: true });
    expect(all.concepts.map((m) => m.id)).toEqual([biscuit]);
    const withNegative = await nomenClient.addImages(USER, biscuit, [readFileSync(photoPath('cat', 0))], true);
    expect(withNegative.negativeCount).toBe(1);
  });

  it('captions and answers, whole and streamed', async () => {
    const nomenClient = client();
    nomen.standIn.reply = () => ({ text: CAPTION });
    const photo = readFileSync(photoPath('dog', 4));
    const caption = await nomenClient.caption(USER, photo);
    expect(caption.caption).toContain('Biscuit');
    expect(caption.concepts.map((m) => m.name)).toContain('Biscuit');
    expect((await nomenClient.ask(USER, photo, 'Who is this?')).answer).toContain('Biscuit');
    const events = [];
    for await (const e of nomenClient.captionStream(USER, photo)) events.push(e);
    expect(events.filter((e) => e.type === 'delta').length).toBeGreaterThan(1);
    const done = events.at(-1);
    expect(done?.type === 'done' && done.caption.caption).toContain('Biscuit');
  });

  it('waits the Retry-After of a 503 and of a 429, then succeeds', async () => {
    const nomenClient = client();
    // The earlier tests' requests may have spent this second's rate limit: a 429 here would be theirs.
    await new Promise((done) => setTimeout(done, 1100));
    nomen.standIn.reset();
    nomen.standIn.reply = (_body, n) => (n === 0 ? { status: 503, retryAfterS: 1 } : { text: CAPTION });
    statuses.length = 0;
    const started = Date.now();
    expect((await nomenClient.caption(USER, readFileSync(photoPath('dog', 4)))).caption).toContain('Biscuit');
    expect(statuses).toEqual([503, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    statuses.length = 0;
    const lists = await Promise.all(Array.from({ length: 8 }, () => nomenClient.listConcepts(USER)));
    expect(lists.every((l) => l.length === 1)).toBe(true);
    expect(statuses).toContain(429);
  });

  it('indexes an uploaded video and finds the concept in it', async () => {
    const nomenClient = client();
    const clip = await dogClip(tmp);
    const sent: number[] = [];
    const onUpload = (bytes: number, total: number) => sent.push(bytes / total);
    const accepted = await nomenClient.uploadVideo(USER, await fromFile(clip, 'video/mp4'), { onUpload });
    expect(sent.at(-1)).toBe(1);
    const progress: number[] = [];
    const video = await nomenClient.waitForVideo(USER, accepted.id, (v) => progress.push(v.progress), 200);
    expect(video.status).toBe('ready');
    expect(progress.at(-1)).toBe(1);
    const moments = await nomenClient.moments(USER, accepted.id, 'Biscuit');
    expect(moments[0].start).toBeGreaterThanOrEqual(2);
    await nomenClient.deleteVideo(USER, accepted.id);
    expect((await apiError(nomenClient.video(USER, accepted.id))).status).toBe(404);
  });

  it('indexes photos, finds a concept registered afterwards in them, takes a correction and undoes it', async () => {
    const nomenClient = client();
    const user = 'bob';
    const photos = [
      ...[3, 4].map((n) => ({ id: `dog-${n}`, path: photoPath('dog', n) })),
      ...[0, 1].map((n) => ({ id: `teapot-${n}`, path: photoPath('teapot', n) })),
    ];
    const uploads = await Promise.all(photos.map(async (p) => ({ id: p.id, bytes: await fromFile(p.path) })));
    const sent: number[] = [];
    const onUpload = (bytes: number, total: number) => sent.push(bytes / total);
    const accepted = await nomenClient.addPhotos(user, uploads, { onUpload });
    expect({ accepted: accepted.accepted, sent: sent.at(-1) }).toEqual({ accepted: 4, sent: 1 });
    const progress: number[] = [];
    const job = await nomenClient.waitForPhotoJob(user, accepted.job, (j) => progress.push(j.done), 100);
    expect(job).toMatchObject({ status: 'ready', done: 4, total: 4, errors: [] });
    expect(progress.at(-1)).toBe(4);
    const bad = await apiError(nomenClient.addPhotos(user, [{ id: 'no spaces', bytes: uploads[0].bytes }]));
    expect(bad.code).toBe('invalid_request');

    const images = [0, 1, 2].map((n) => readFileSync(photoPath('dog', n)));
    const rex = await nomenClient.createConcept(user, { name: 'Rex', category: 'dog', images });
    while ((await nomenClient.getConcept(user, rex.id)).status === 'refining') await sleep(200);
    const found = await nomenClient.findPhotos(user, 'Rex');
    expect(found.photos.map((p) => p.id)).toContain('dog-4');
    expect(found.photos.every((p) => p.id.startsWith('dog-') && p.box.length === 4)).toBe(true);
    const page = await nomenClient.findPhotos(user, rex.id, { all: true, limit: 3 });
    expect(
      page.photos
        .slice(0, 2)
        .map((p) => p.id)
        .sort(),
    ).toEqual(['dog-3', 'dog-4']);
    expect(typeof page.next).toBe('string');
    const rest = await nomenClient.findPhotos(user, rex.id, { all: true, cursor: page.next ?? '' });
    expect(rest).toEqual({ photos: [expect.objectContaining({ id: expect.any(String) })], next: null });

    const wrong = await nomenClient.addFeedback(user, rex.id, { photo: 'dog-4', correct: false });
    expect(wrong).toMatchObject({ photo: 'dog-4', correct: false });
    expect((await nomenClient.findPhotos(user, 'Rex')).photos.map((p) => p.id)).not.toContain('dog-4');
    expect((await nomenClient.listFeedback(user, rex.id)).map((f) => f.id)).toEqual([wrong.id]);
    await nomenClient.deleteFeedback(user, rex.id, wrong.id);
    expect(await nomenClient.listFeedback(user, rex.id)).toEqual([]);
    expect((await nomenClient.findPhotos(user, 'Rex')).photos.map((p) => p.id)).toContain('dog-4');
    const sentAlong = await nomenClient.addFeedback(user, rex.id, {
      image: readFileSync(photoPath('cat', 0)),
      correct: false,
    });
    expect(sentAlong.photo).toBeUndefined();

    await nomenClient.deletePhoto(user, 'dog-3');
    const left = await nomenClient.findPhotos(user, 'Rex', { all: true });
    expect(left.photos.map((p) => p.id).sort()).toEqual(['dog-4', 'teapot-0', 'teapot-1']);
    expect((await apiError(nomenClient.deletePhoto(user, 'dog-3'))).status).toBe(404);
    expect((await apiError(nomenClient.findPhotos(user, 'Nobody'))).code).toBe('not_found');
    await nomenClient.deleteUser(user);
  });

  it('deletes the concept, then the user', async () => {
    const nomenClient = client();
    await nomenClient.deleteConcept(USER, biscuit);
    expect((await apiError(nomenClient.getConcept(USER, biscuit))).code).toBe('not_found');
    await nomenClient.createConcept(USER, { name: 'Tom', images: [readFileSync(photoPath('cat', 0))] });
    await nomenClient.deleteUser(USER);
    expect(await nomenClient.listConcepts(USER)).toEqual([]);
    expect(await nomenClient.ready()).toBe(true);
    expect(await nomenClient.health()).toEqual({ ok: true });
  });
});
