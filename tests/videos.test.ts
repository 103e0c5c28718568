/**
 * Videos end to end: real clips made by ffmpeg from the shared photos, uploaded through the HTTP app, indexed by
 * the real models into a real LanceDB, and searched for concepts registered from other photos of the subjects.
 */
import { copyFile, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeVideo } from '../concepts/video/video-probe.js';
import { defaultVideoOptions } from '../concepts/video/video-options.js';
import { corruptMiddleFrame, makeVideo } from '../scripts/lib/make-video.js';
import {
  alice,
  call,
  clip,
  copied,
  dir,
  expectAt,
  form,
  FORMAT,
  frameRows,
  ids,
  moments,
  OTHER_KEY,
  otherService,
  photo,
  ready,
  register,
  storedFiles,
  upload,
  useVideoApp,
  videoRows,
} from './support/video-app.js';

useVideoApp();

/** The main clip's video id, once uploaded. */
let video: string;

describe('videos', () => {
  it('indexes a multipart upload and finds each subject where it is on screen', async () => {
    const r = await upload(clip);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' });
    expect(r.headers.get('Location')).toBe(`/v1/users/alice/videos/${r.body.id}`);
    video = r.body.id;
    // Not ready yet: moments wait for the index.
    const early = await call('GET', `/v1/users/alice/videos/${video}/moments?concept=dog`);
    expect(early.status).toBe(422);

    const done = await ready(video);
    expect(done).toMatchObject({ id: video, status: 'ready', progress: 1, fps: 2 });
    expect(done.durationS).toBeCloseTo(12, 0);
    expect(done.frames).toBeGreaterThanOrEqual(24);
    expect(done.error).toBeUndefined();

    expectAt(await moments(video, ids.dog), [
      [0, 3],
      [9, 12],
    ]);
    expectAt(await moments(video, ids.cat), [[6, 9]]);
    // By name, in any case; the best moment first, its peak inside it.
    const cat = await moments(video, 'CAT');
    expect(cat).toEqual(await moments(video, ids.cat));
    const [best] = await moments(video, 'dog');
    expect(best.peak).toBeGreaterThanOrEqual(best.start);
    expect(best.peak).toBeLessThanOrEqual(best.end);
    expect(best.score).toBeGreaterThan(0);
    expect(best.score).toBeLessThanOrEqual(1);
  }, 60_000);

  it('scores a concept registered after the video was indexed, without decoding it again', async () => {
    await register('teapot', 'teapot');
    expectAt(await moments(video, 'teapot'), [[3, 6]]);
  }, 60_000);

  it('answers 404 for unknown videos and concepts, and to other tenants', async () => {
    expect((await call('GET', `/v1/users/alice/videos/${video}/moments?concept=nobody`)).status).toBe(404);
    expect((await call('GET', `/v1/users/alice/videos/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    expect((await call('GET', `/v1/users/alice/videos/${video}`, { key: OTHER_KEY })).status).toBe(404);
    expect((await call('GET', `/v1/users/carol/videos/${video}`)).status).toBe(404);
    expect((await call('GET', `/v1/users/alice/videos/${video}/moments?concept=dog`, { key: OTHER_KEY })).status).toBe(
      404,
    );
    expect((await call('DELETE', `/v1/users/alice/videos/${video}`, { key: OTHER_KEY })).status).toBe(404);
    expect((await call('GET', `/v1/users/alice/videos/not-a-uuid`)).status).toBe(400);
    expect((await call('GET', `/v1/users/alice/videos/${video}/moments`)).status).toBe(400);
  });

  it('documents the video routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/users/{user}/videos',
        '/v1/users/{user}/videos/{id}',
        '/v1/users/{user}/videos/{id}/moments',
      ]),
    );
    expect(Object.keys(doc.body.paths['/v1/users/{user}/videos/{id}'])).toEqual(
      expect.arrayContaining(['get', 'delete']),
    );
    expect(doc.body.paths['/v1/users/{user}/videos'].post.requestBody.content['multipart/form-data']).toBeDefined();
  });

  it('refuses corrupt, truncated, empty and non-video uploads with a 4xx, storing nothing', async () => {
    const rows = await videoRows();
    const truncated = join(dir, 'truncated.mkv');
    await makeVideo([{ photo: photo('cat', 4), seconds: 4 }], truncated, FORMAT);
    await truncate(truncated, Math.floor((await stat(truncated)).size * 0.6));
    const cases: [string, Uint8Array, number, string][] = [
      ['empty', new Uint8Array(0), 400, 'invalid_video'],
      ['truncated', new Uint8Array(await readFile(truncated)), 400, 'invalid_video'],
      ['header only', new Uint8Array((await readFile(clip)).subarray(0, 2000)), 400, 'invalid_video'],
      ['random', new Uint8Array(4096).map((_, i) => (i * 7919) % 251), 415, 'unsupported_media_type'],
      ['photo', new Uint8Array(await readFile(photo('dog', 0))), 415, 'unsupported_media_type'],
      ['text', new TextEncoder().encode('hello, not a video'), 415, 'unsupported_media_type'],
    ];
    for (const [what, bytes, status, code] of cases) {
      const r = await call('POST', '/v1/users/alice/videos', { form: await form(bytes) });
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status, code });
      const json = await call('POST', '/v1/users/alice/videos', {
        json: { data: Buffer.from(bytes).toString('base64') },
      });
      // Empty base64 is refused before it becomes a file.
      expect({ what, status: json.status }).toEqual({ what, status });
    }
    expect(await videoRows()).toBe(rows);
    expect(await storedFiles()).toEqual([]);
  }, 60_000);

  it('refuses malformed requests with 400 or 415', async () => {
    const noFile = new FormData();
    noFile.append('fps', '2');
    expect((await call('POST', '/v1/users/alice/videos', { form: noFile })).body.error.code).toBe('invalid_request');
    for (const fps of ['0', '-1', 'abc', '100']) expect((await upload(clip, { fps })).status, fps).toBe(400);
    expect((await call('POST', '/v1/users/alice/videos', { form: await form(clip, {}, 'video') })).status).toBe(400);
    expect((await call('POST', '/v1/users/alice/videos', { form: await form(clip, { other: 'x' }) })).status).toBe(400);
    expect((await call('POST', '/v1/users/alice/videos', { body: 'x', type: 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/v1/users/alice/videos', { body: '{"data": ', type: 'application/json' })).status).toBe(
      400,
    );
    expect((await call('POST', '/v1/users/alice/videos', { json: { data: 'AAAA', fps: 'fast' } })).status).toBe(400);
    const cut = `--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n${'a'.repeat(100)}`;
    expect(
      (await call('POST', '/v1/users/alice/videos', { body: cut, type: 'multipart/form-data; boundary=x' })).status,
    ).toBe(400);
    expect((await call('POST', "/v1/users/a'b/videos", { form: await form(clip) })).status).toBe(400);
    expect(await storedFiles()).toEqual([]);
  });

  it('accepts JSON base64 and other containers, at the rate asked for', async () => {
    const webm = join(dir, 'clip.webm');
    await makeVideo(
      [photo('cat', 3), photo('dog', 4)].map((p) => ({ photo: p, seconds: 2 })),
      webm,
      FORMAT,
    );
    const r = await call('POST', '/v1/users/alice/videos', {
      json: { data: `data:video/webm;base64,${(await readFile(webm)).toString('base64')}`, fps: 1 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const done = await ready(r.body.id);
    expect(done).toMatchObject({ status: 'ready', fps: 1 });
    expectAt(await moments(r.body.id, 'cat'), [[0, 2]]);
    for (const ext of ['mkv', 'mov']) {
      const other = join(dir, `clip.${ext}`);
      await makeVideo([{ photo: photo('cat', 4), seconds: 1 }], other, FORMAT);
      expect((await probeVideo(other, 60)).durationS).toBeCloseTo(1, 0);
    }
  }, 60_000);

  it('fails a video whose decoding breaks midway, with the reason, keeping none of its frames', async () => {
    const broken = join(dir, 'broken.mp4');
    await copyFile(clip, broken);
    await corruptMiddleFrame(broken);
    const r = await upload(broken);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const done = await ready(r.body.id);
    expect(done).toMatchObject({ status: 'failed', frames: 0, progress: 0 });
    expect(done.error).toMatch(/decod/);
    expect(await frameRows(r.body.id)).toBe(0);
    expect((await call('GET', `/v1/users/alice/videos/${r.body.id}/moments?concept=dog`)).status).toBe(422);
    // Its file went with it; a failed video can still be deleted.
    expect((await call('DELETE', `/v1/users/alice/videos/${r.body.id}`)).status).toBe(204);
  }, 60_000);
});

describe('video jobs', () => {
  it('refuses uploads over the size or duration limit with 413', async () => {
    const small = await otherService({ maxBytes: 10_000 }, 'small');
    const short = await otherService({ maxDurationS: 5 }, 'short');
    try {
      expect((await upload(clip, {}, small.app)).body.error.code).toBe('too_large');
      const long = await upload(clip, {}, short.app);
      expect(long.status).toBe(413);
      expect(long.body.error.message).toMatch(/12\.0 s, the limit is 5 s/);
    } finally {
      await Promise.all([small.videos.close(), short.videos.close()]);
      small.store.close();
      short.store.close();
    }
  });

  it('resumes an interrupted job after a restart, after its last stored frame', async () => {
    const options = { index: { ...defaultVideoOptions.index, framesPerWrite: 4, cropsPerEmbed: 10 } };
    const first = await otherService(options, 'resume');
    const added = await first.videos.add(alice, await copied(clip), 10);
    for (let i = 0; i < 2000 && (await first.videos.get(alice, added.id)).frames === 0; i++)
      await new Promise((done) => setTimeout(done, 5));
    await first.videos.close();
    const interrupted = await first.store.get(alice, added.id);
    expect(interrupted?.status).toBe('processing');
    const stored = await first.store.lastFrame(alice, added.id);
    expect(stored?.frame).toBeGreaterThan(0);
    first.store.close();

    const second = await otherService(options, 'resume');
    try {
      let v = await second.videos.get(alice, added.id);
      for (let i = 0; i < 2000 && v.status !== 'ready'; i++, v = await second.videos.get(alice, added.id))
        await new Promise((done) => setTimeout(done, 20));
      expect(v.status).toBe('ready');
      // Every frame once: at 10 fps, 12 s gives about 120, whatever the restart.
      expect(v.frames).toBeGreaterThanOrEqual(115);
      expect(v.frames).toBeLessThanOrEqual(125);
      expect((await second.store.get(alice, added.id))?.attempts).toBe(2);
      expectAt(await second.videos.moments(alice, added.id, 'dog'), [
        [0, 3],
        [9, 12],
      ]);
    } finally {
      await second.videos.close();
      second.store.close();
    }
  }, 60_000);
});

describe('deletion', () => {
  it('deletes a video with its frames and file; deleting the user removes every video', async () => {
    expect(await frameRows(video)).toBeGreaterThan(0);
    expect((await call('DELETE', `/v1/users/alice/videos/${video}`)).status).toBe(204);
    expect((await call('GET', `/v1/users/alice/videos/${video}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/users/alice/videos/${video}`)).status).toBe(404);
    expect(await frameRows(video)).toBe(0);

    // One indexed, one still in the queue or running: both go.
    const a = (await upload(clip)).body.id;
    await ready(a);
    const b = (await upload(clip, { fps: '5' })).body.id;
    expect((await call('DELETE', '/v1/users/alice')).status).toBe(204);
    for (const id of [a, b]) expect((await call('GET', `/v1/users/alice/videos/${id}`)).status).toBe(404);
    expect(await frameRows()).toBe(0);
    expect(await videoRows()).toBe(0);
    expect(await storedFiles()).toEqual([]);
    expect((await call('GET', '/v1/users/alice/concepts')).body.concepts).toEqual([]);
  }, 60_000);
});
