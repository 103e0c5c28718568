/** Captions when the VLM fails, and the chat proxy driven by the official openai client, end to end. */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoVlm } from '../models/vlm/vlm-none.js';
import { requestImages, requestText, STAND_IN_MODEL } from './support/openai-server.js';
import {
  app,
  appWith,
  closedPort,
  ignoringNames,
  image,
  KEY,
  photo,
  post,
  standIn,
  TIMEOUT_MS,
  USER,
  useCaptionApp,
  vlmAt,
} from './support/caption-app.js';
import { events } from './support/answers.js';

useCaptionApp();

describe('model failures', () => {
  // Each on a client of its own: the failures open its circuit breaker, which would refuse the next tests' calls.
  it('503 model_unavailable with Retry-After when the server keeps failing; never 500', async () => {
    const failing = appWith(vlmAt(standIn.url));
    standIn.reply = () => ({ status: 503 });
    const t = Date.now();
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) }, failing.app);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('model_unavailable');
    expect(Number(r.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(Date.now() - t).toBeLessThan(10_000);
    // A stream that cannot start answers with the status too, not with an event stream.
    const s = await post(
      '/v1/ask',
      { user: USER, image: await image('dog', 4), question: 'Who?', stream: true },
      failing.app,
    );
    expect(s.status).toBe(503);
    expect(s.body.error.code).toBe('model_unavailable');
  });

  it('503 within 10 s for a dead endpoint', async () => {
    const dead = appWith(vlmAt(`http://127.0.0.1:${await closedPort()}/v1`));
    const t = Date.now();
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) }, dead.app);
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/ECONNREFUSED/);
    expect(r.headers.get('Retry-After')).toBeTruthy();
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('504 model_timeout for a hung endpoint at the configured timeout, while /recognize keeps serving', async () => {
    const hung = appWith(vlmAt(standIn.url));
    standIn.reply = () => ({ hang: true });
    const t = Date.now();
    const caption = post('/v1/caption', { user: USER, image: await image('dog', 4) }, hung.app).then((r) => ({
      ...r,
      ms: Date.now() - t,
    }));
    const recognized = await post(`/v1/users/${USER}/recognize`, { image: await image('cat', 4) });
    const recognizedMs = Date.now() - t;
    const r = await caption;
    expect(recognized.status).toBe(200);
    expect(recognized.body.concepts.map((m: { name: string }) => m.name)).toEqual(['Tom']);
    expect(recognizedMs).toBeLessThan(r.ms);
    expect(r.status).toBe(504);
    expect(r.body.error.code).toBe('model_timeout');
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 3_000);
  });

  it('ends a stream that stalls after its first pieces with an error event', async () => {
    const stalling = appWith(vlmAt(standIn.url));
    standIn.reply = () => ({ text: 'A dog is lying on the grass.', stallAfterWords: 2 });
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4), stream: true }, stalling.app);
    expect(r.status).toBe(200);
    const all = events(r.text);
    expect(all.map((e) => e.event)).toEqual(['delta', 'delta', 'error']);
    expect(all[2].data.error.code).toBe('model_timeout');
  });

  it('503 with the way to get a model when none is configured', async () => {
    const none = appWith(new NoVlm('no multimodal model: NOMEN_VLM_URL is not set'));
    const r = await post('/v1/caption', { user: USER, image: await image('dog', 4) }, none.app);
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/NOMEN_VLM_URL/);
    expect(r.headers.get('Retry-After')).toBe('300');
  });

  it('answers odd bodies with a 4xx, never a 500', async () => {
    const img = await image('dog', 4);
    const bodies: [string, unknown][] = [
      ['/v1/caption', {}],
      ['/v1/caption', { user: USER }],
      ['/v1/caption', { user: 'bad user', image: img }],
      ['/v1/caption', { user: USER, image: img, style: 'long' }],
      ['/v1/caption', { user: USER, image: { data: '!!' } }],
      ['/v1/caption', { user: USER, image: { data: Buffer.from('<svg/>').toString('base64') } }],
      ['/v1/caption', { user: USER, image: img, stream: 'yes' }],
      ['/v1/ask', { user: USER, image: img }],
      ['/v1/ask', { user: USER, image: img, question: '   ' }],
      ['/v1/chat/completions', { model: 'x', messages: [{ role: 'user', content: 'hi' }] }],
      ['/v1/chat/completions', { user: USER, messages: [] }],
      ['/v1/chat/completions', { user: USER, messages: [{ role: 'tool', content: 'x' }] }],
      [
        '/v1/chat/completions',
        {
          user: USER,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,!!' } }] },
          ],
        },
      ],
      ['/v1/chat/completions', { user: USER, n: 2, messages: [{ role: 'user', content: 'hi' }] }],
    ];
    for (const [path, body] of bodies) {
      const r = await post(path, body);
      expect(r.status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${r.text.slice(0, 200)}`).toBeGreaterThanOrEqual(
        400,
      );
      expect(r.status).toBeLessThan(500);
    }
    expect(standIn.chatRequests).toHaveLength(0);
  });
});

describe('POST /v1/chat/completions with the official openai client', () => {
  let server: ReturnType<typeof serve>;
  let client: OpenAI;
  let dogUrl: string;

  beforeAll(async () => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    client = new OpenAI({
      baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      apiKey: KEY,
      maxRetries: 0,
    });
    dogUrl = `data:image/jpeg;base64,${(await photo('dog', 4)).toString('base64')}`;
  });
  afterAll(() => new Promise((r) => server?.close(r)));

  const ask = (url: string): OpenAI.Chat.ChatCompletionMessageParam[] => [
    { role: 'system', content: 'Answer in one sentence.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is happening here?' },
        { type: 'image_url', image_url: { url } },
      ],
    },
  ];

  it('recognises the user in the image parts, conditions the chat and answers with the names', async () => {
    standIn.reply = ignoringNames('A dog is lying on the grass.');
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      user: USER,
      messages: ask(dogUrl),
      temperature: 0.2,
      top_p: 0.9,
    });
    expect(completion.choices[0].message.content).toBe('Biscuit is lying on the grass.');
    expect(completion.model).toBe(STAND_IN_MODEL);
    expect(
      (completion as unknown as { nomen: { concepts: { name: string; named: boolean }[] } }).nomen.concepts,
    ).toEqual([expect.objectContaining({ name: 'Biscuit', named: true })]);

    const [upstream] = standIn.chatRequests;
    expect(upstream).toMatchObject({ model: STAND_IN_MODEL, temperature: 0.2, top_p: 0.9 });
    expect(upstream.user).toBeUndefined();
    expect(upstream.messages[0].content).toMatch(/call it by its name[\s\S]*Answer in one sentence\.$/);
    expect(requestText(upstream)).toMatch(/Name: Biscuit[\s\S]*What is happening here\?/);
    // Biscuit's reference crop, then the user's own image as sent.
    expect(requestImages(upstream)).toHaveLength(2);
    expect(requestImages(upstream)[1]).toBe(dogUrl);
  });

  it('streams in the same protocol', async () => {
    standIn.reply = ignoringNames('Biscuit is lying on the grass.');
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      user: USER,
      messages: ask(dogUrl),
      stream: true,
    });
    let text = '';
    let last: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      last = chunk;
    }
    expect(text).toBe('Biscuit is lying on the grass.');
    expect(last).toMatchObject({
      choices: [{ finish_reason: 'stop' }],
      nomen: { concepts: [{ name: 'Biscuit', named: true }] },
    });
  });

  it('forwards a chat without recognisable images unchanged', async () => {
    standIn.reply = () => ({ text: 'Hello!' });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi there' }];
    const completion = await client.chat.completions.create({ model: 'gpt-4o', user: USER, messages });
    expect(completion.choices[0].message.content).toBe('Hello!');
    expect(standIn.chatRequests[0].messages).toEqual(messages);
  });

  it("passes the model's finish reason through, answered and streamed", async () => {
    standIn.reply = () => ({ text: 'Hello there, how', finishReason: 'length' });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi there' }];
    const completion = await client.chat.completions.create({ model: 'gpt-4o', user: USER, messages, max_tokens: 3 });
    expect(completion.choices[0]).toMatchObject({ message: { content: 'Hello there, how' }, finish_reason: 'length' });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      user: USER,
      messages,
      max_tokens: 3,
      stream: true,
    });
    const reasons: (string | null)[] = [];
    for await (const chunk of stream) reasons.push(chunk.choices[0]?.finish_reason ?? null);
    expect(reasons.at(-1)).toBe('length');
    expect(reasons.slice(0, -1).every((r) => r === null)).toBe(true);
  });

  it('raises a bad request as a 400', async () => {
    const e = await client.chat.completions
      .create({ model: 'gpt-4o', messages: ask(dogUrl) })
      .catch((err: unknown) => err);
    expect(e).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  // Last: its failures count towards the shared client's breaker.
  it('raises the model failure as the client expects: status, code and message', async () => {
    standIn.reply = () => ({ status: 503 });
    const e = await client.chat.completions
      .create({ model: 'gpt-4o', user: USER, messages: ask(dogUrl) })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect(e).toMatchObject({ status: 503, code: 'model_unavailable' });
    expect((e as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBeTruthy();
  });
});
