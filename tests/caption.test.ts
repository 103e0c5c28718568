/**
 * Personalised captions, answers and the chat proxy end to end: a real runtime (models, LanceDB in a temp
 * folder) and a real OpenAI-protocol stand-in VLM on loopback that ignores the names it is given.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Describer } from '../concepts/captioning/describe.js';
import { Personalizer } from '../concepts/captioning/personalize.js';
import type { VisionLanguageModel } from '../models/types.js';
import { NoVlm } from '../models/vlm/vlm-none.js';
import { defaultOpenAiVlmOptions, OpenAiVlm } from '../models/vlm/vlm-openai.js';
import { createApp } from '../services/api/app.js';
import type { Api, Deps } from '../services/api/context.js';
import { type Config, loadConfig } from '../services/config.js';
import { openRuntime, type Runtime } from '../services/runtime.js';
import { OpenAiStandIn, requestImages, requestText, STAND_IN_MODEL } from './support/openai-server.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const PHOTOS = resolve(repoRoot, '../shared/data/dreambooth');
const KEY = 'caption-key-0123456789';
const USER = 'alice';
const TIMEOUT_MS = 1_500;

let standIn: OpenAiStandIn;
let runtime: Runtime;
let config: Config;
let app: Api;
let dataDir: string;
const ids: Record<string, string> = {};

const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });
const photo = (subject: string, n: number) => readFile(join(PHOTOS, subject, `0${n}.jpg`));
const image = async (subject: string, n: number) => ({ data: (await photo(subject, n)).toString('base64') });

/** The stand-in's answer to a request to describe a concept, so that tests can tell it from captions. */
const DESCRIPTION = 'Golden fur, floppy ears and a red collar.';
const describing = (body: { messages: unknown[] }) => /Describe how it looks/.test(requestText(body as never));
/** A VLM that sees what is there but never uses the names it is given. */
const ignoringNames = (text: string) => (body: { messages: unknown[] }) => ({
  text: describing(body) ? DESCRIPTION : text,
});

async function post(path: string, json: unknown, on: Api = app) {
  const res = await on.request(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(json),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined,
  };
}

/** An app whose captions go to `vlm` (the runtime's own concepts, store and models). */
function appWith(vlm: VisionLanguageModel): { app: Api; personal: Personalizer } {
  const personal = new Personalizer(
    runtime.service,
    vlm,
    { limits: config.limits, maxConcepts: 3 },
    new Describer(runtime.service, vlm),
  );
  return { app: createApp({ service: runtime.service, personal, config, ready }), personal };
}

const vlmAt = (url: string) =>
  new OpenAiVlm({
    ...defaultOpenAiVlmOptions,
    url,
    model: STAND_IN_MODEL,
    apiKey: '',
    timeoutMs: TIMEOUT_MS,
    backoffMs: 50,
  });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** `event: name` / `data: json` blocks of an event stream. */
function events(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
      data: JSON.parse(
        block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n'),
      ),
    }));
}

beforeAll(async () => {
  standIn = await OpenAiStandIn.start();
  standIn.reply = ignoringNames('unused');
  dataDir = await mkdtemp(join(tmpdir(), 'nomen-caption-'));
  config = loadConfig(
    {
      NOMEN_DATA: dataDir,
      NOMEN_MODELS: process.env.NOMEN_MODELS ?? resolve(repoRoot, '../shared/models'),
      NOMEN_API_KEYS: `${KEY}:tenant-a`,
      NOMEN_RATE_LIMIT: '0',
      NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
      NOMEN_VLM_URL: standIn.url,
      NOMEN_VLM_MODEL: STAND_IN_MODEL,
      NOMEN_VLM_TIMEOUT_MS: String(TIMEOUT_MS),
    },
    () => '',
  );
  runtime = await openRuntime(config);
  app = createApp({ service: runtime.service, personal: runtime.personal, config, ready });
  for (const [name, subject, category, description] of [
    ['Biscuit', 'dog', 'dog', undefined],
    ['Tom', 'cat', 'cat', 'grey tabby with a white chest'],
  ]) {
    const r = await post(`/v1/users/${USER}/concepts`, {
      name,
      category,
      description,
      images: await Promise.all([0, 1, 2].map((n) => image(subject!, n))),
    });
    expect(r.status, r.text).toBe(201);
    ids[name!] = r.body.id;
  }
  await runtime.service.refined();
  await runtime.personal.describer!.idle();
}, 180_000);

afterAll(async () => {
  await runtime?.close();
  await standIn?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => standIn.reset());

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
