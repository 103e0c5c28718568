/** Personalised captions and answers end to end: the API document, descriptions, POST /v1/caption and /v1/ask. */
import { describe, expect, it } from 'vitest';
import { requestImages, requestText, STAND_IN_MODEL } from './support/openai-server.js';
import {
  app,
  appWith,
  closedPort,
  DESCRIPTION,
  ids,
  ignoringNames,
  image,
  KEY,
  post,
  runtime,
  standIn,
  USER,
  useCaptionApp,
  vlmAt,
} from './support/caption-app.js';
import { events } from './support/answers.js';

useCaptionApp();

describe('the API document', () => {
  it('lists the caption, ask and chat routes', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/caption', '/v1/ask', '/v1/chat/completions']));
  });
});

describe('descriptions', () => {
  it(
    'are written by the VLM from the example photos when a registration gives none, and kept when it gives ' + 'one',
    async () => {
      const res = await app.request(`/v1/users/${USER}/concepts`, { headers: { Authorization: `Bearer ${KEY}` } });
      const concepts = (await res.json()) as { concepts: { name: string; description: string }[] };
      expect(Object.fromEntries(concepts.concepts.map((c) => [c.name, c.description]))).toEqual({
        Biscuit: DESCRIPTION,
        Tom: 'grey tabby with a white chest',
      });
    },
  );

  it('do not hold up or fail a registration while the VLM is down', async () => {
    const dead = appWith(vlmAt(`http://127.0.0.1:${await closedPort()}/v1`));
    const t = Date.now();
    const r = await post(
      `/v1/users/describe-down/concepts`,
      { name: 'Rex', category: 'dog', images: [await image('dog', 0)] },
      dead.app,
    );
    expect(r.status).toBe(201);
    expect(r.body.description).toBe('');
    await dead.personal.describer!.idle();
    expect(Date.now() - t).toBeLessThan(10_000);
    expect((await runtime.service.get({ tenant: 'tenant-a', user: 'describe-down' }, r.body.id)).description).toBe('');
  });
});

describe('POST /v1/caption', () => {
  it('names the concept present even when the model ignores names', async () => {
    standIn.reply = ignoringNames('A dog is lying on the grass.');
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) });
    expect(r.status, r.text).toBe(200);
    expect(r.body.caption).toBe('Biscuit is lying on the grass.');
    expect(r.body.model).toBe(STAND_IN_MODEL);
    expect(r.body.concepts).toEqual([
      expect.objectContaining({ id: ids.Biscuit, name: 'Biscuit', present: true, named: true }),
    ]);
    expect(Object.keys(r.body.timings)).toEqual(
      expect.arrayContaining(['decode', 'embed', 'heads', 'conditioning', 'vlm', 'repair', 'total']),
    );

    // One request (the category rewrite sufficed): instruction, Biscuit's crop and details, the photo, the task.
    const [request] = standIn.chatRequests;
    expect(standIn.chatRequests).toHaveLength(1);
    const text = requestText(request);
    expect(text).toMatch(/call it by its name/);
    expect(text).toContain(`Name: Biscuit\nCategory: dog\nDescription: ${DESCRIPTION}\nWhere:`);
    expect(text).not.toContain('Tom');
    expect(text).toMatch(/one-sentence caption[\s\S]*use the name\.$/);
    expect(requestImages(request)).toHaveLength(2);
    expect(requestImages(request).every((u) => u.startsWith('data:image/jpeg;base64,'))).toBe(true);
    expect(request.max_tokens).toBe(100);
  });

  it('sends a photo with no concept as an ordinary request and puts no name in the caption', async () => {
    standIn.reply = ignoringNames('A white teapot on a table.');
    const r = await post('/v1/caption', { user: USER, image: await image('teapot', 0), style: 'detailed' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ caption: 'A white teapot on a table.', concepts: [] });
    const text = requestText(standIn.chatRequests[0]);
    expect(text).not.toMatch(/Biscuit|Tom|name/i);
    expect(text).toMatch(/in detail/);
    expect(requestImages(standIn.chatRequests[0])).toHaveLength(1);
  });

  it('sends one stricter request when no category phrase can be rewritten', async () => {
    standIn.reply = (_, n) => ({ text: n === 0 ? 'Something furry lies on the grass.' : 'Biscuit lies on the grass.' });
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) });
    expect(r.body.caption).toBe('Biscuit lies on the grass.');
    expect(r.body.concepts[0].named).toBe(true);
    const [, retry] = standIn.chatRequests;
    expect(retry.messages.at(-2)).toEqual({ role: 'assistant', content: 'Something furry lies on the grass.' });
    expect(retry.messages.at(-1)!.content).toMatch(/does not call Biscuit by name/);
  });

  it('keeps the answer and reports the concept unnamed when no repair works', async () => {
    standIn.reply = () => ({ text: 'Something furry lies on the grass.' });
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) });
    expect(r.body.caption).toBe('Something furry lies on the grass.');
    expect(r.body.concepts).toEqual([expect.objectContaining({ name: 'Biscuit', named: false })]);
  });

  it('leaves out of the request a concept present but below its naming threshold, and reports it unnamed', async () => {
    const scope = { tenant: 'tenant-a', user: USER };
    const { concepts } = await runtime.store.loadUser(scope);
    const biscuit = concepts.find((c) => c.id === ids.Biscuit)!;
    // Stored as training would leave a concept whose held-out photos never scored this high.
    await runtime.store.saveConcepts(scope, [{ ...biscuit, nameThreshold: 1.01, version: biscuit.version + 1 }], []);
    try {
      standIn.reply = ignoringNames('A dog is lying on the grass.');
      const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) });
      expect(r.status, r.text).toBe(200);
      expect(r.body.caption).toBe('A dog is lying on the grass.');
      expect(r.body.concepts).toEqual([expect.objectContaining({ name: 'Biscuit', present: true, named: false })]);
      expect(requestText(standIn.chatRequests[0])).not.toMatch(/Biscuit|Name:/);
      expect(standIn.chatRequests).toHaveLength(1);
    } finally {
      await runtime.store.saveConcepts(scope, [{ ...biscuit, version: biscuit.version + 2 }], []);
    }
  });

  it('streams delta events, then a done event with the repaired caption', async () => {
    standIn.reply = ignoringNames('A dog is lying on the grass.');
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4), stream: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const all = events(r.text);
    const deltas = all.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((e) => e.data.text).join('')).toBe('A dog is lying on the grass.');
    expect(all.at(-1)).toEqual({
      event: 'done',
      data: expect.objectContaining({ caption: 'Biscuit is lying on the grass.', model: STAND_IN_MODEL }),
    });
    expect(all.at(-1)!.data.concepts[0]).toMatchObject({ name: 'Biscuit', named: true });
  });
});

describe('POST /v1/ask', () => {
  it("answers the user's question with the names of the concepts in the photo", async () => {
    standIn.reply = ignoringNames('The cat is sitting on a windowsill.');
    const r = await post('/v1/ask', { user: USER, image: await image('cat', 3), question: 'Where is my cat?' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      answer: 'Tom is sitting on a windowsill.',
      concepts: [expect.objectContaining({ name: 'Tom', named: true })],
    });
    expect(requestText(standIn.chatRequests[0])).toMatch(
      /Description: grey tabby[\s\S]*Where is my cat\?\nWhenever you mention Tom, use the name\.$/,
    );
  });

  it("uses no other user's concepts", async () => {
    standIn.reply = ignoringNames('A dog is lying on the grass.');
    const r = await post('/v1/ask', { user: 'bob', image: await image('dog', 4), question: 'Who is this?' });
    expect(r.body).toMatchObject({ answer: 'A dog is lying on the grass.', concepts: [] });
  });
});
