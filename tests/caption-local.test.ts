/**
 * The whole service with the local VLM: `npm start`'s server as a child process with no NOMEN_VLM_URL and a
 * models folder holding the real encoder and detector beside a generated tiny SmolVLM. Captions, answers
 * and the chat proxy come from that model: it only ever writes words of TINY_SMOLVLM_WORDS, exactly as
 * many as it may (it never ends an answer itself), and never a name, so every name in an answer is nomen's.
 */
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxTokensFor } from '../concepts/captioning/conditioning.js';
import { mentions, nameCategory } from '../concepts/captioning/naming.js';
import { DEFAULT_LOCAL_VLM } from '../models/load.js';
import { TINY_SMOLVLM_WORDS, makeTinySmolVlm } from '../scripts/make-tiny-smolvlm.js';
import { defaultDataDir, defaultModelsDir } from '../scripts/lib/dreambooth.js';
import { startServer, type ServerProcess } from '../scripts/lib/server-process.js';
import { DEFAULT_DETECTOR, DEFAULT_ENCODER } from '../services/config.js';
import { answerOf, events } from './support/answers.js';

const KEY = 'local-vlm-key-0123456789';
const USER = 'alice';
const NAME = 'Biscuit';
const CATEGORY = 'dog';
/** What the description job asks the model for (concepts/captioning/describe.ts). */
const DESCRIPTION_TOKENS = 120;
const CHAT_TOKENS = 12;

let dir: string;
let server: ServerProcess;
let conceptId: string;

const photo = (n: number) => readFile(join(defaultDataDir, 'dog', `0${n}.jpg`));
const image = async (n: number) => ({ data: (await photo(n)).toString('base64') });

async function call(method: string, path: string, json?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, ...(json !== undefined && { 'Content-Type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return answerOf(res);
}

const words = (text: string) => text.trim().split(/\s+/);
const vocabulary = new Set<string>(TINY_SMOLVLM_WORDS);
/** Every word is one the tiny model can write. */
const fromTinyModel = (text: string) => words(text).every((w) => vocabulary.has(w));
/**
 * What nomen's repair makes of the model's answer: its category phrase rewritten to the name; the stricter retry cannot
 * help, the tiny model never says a name.
 */
const repaired = (raw: string) => nameCategory(raw.trim(), CATEGORY, NAME) ?? raw.trim();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nomen-caption-local-'));
  const models = join(dir, 'models');
  await mkdir(models);
  const shared = process.env.NOMEN_MODELS ?? defaultModelsDir;
  await Promise.all([
    ...[DEFAULT_ENCODER, DEFAULT_DETECTOR].map((folder) => symlink(join(shared, folder), join(models, folder), 'dir')),
    makeTinySmolVlm(join(models, DEFAULT_LOCAL_VLM)),
  ]);
  server = await startServer({
    NOMEN_DATA: join(dir, 'data'),
    NOMEN_MODELS: models,
    NOMEN_ENCODER: DEFAULT_ENCODER,
    NOMEN_DETECTOR: DEFAULT_DETECTOR,
    NOMEN_API_KEYS: `${KEY}:tenant-a`,
    NOMEN_RATE_LIMIT: '0',
    // Empty is unset: no VLM server, so the local model.
    NOMEN_VLM_URL: '',
    NOMEN_VLM_MODEL: '',
    // Light beside the test files that run at the same time.
    NOMEN_THREADS: '2',
  });
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the service on the local VLM', () => {
  it('reports the local model loaded on /readyz', async () => {
    let vlm = '';
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(200);
      vlm = ((await res.json()) as { checks: { vlm: string } }).checks.vlm;
      if (!vlm.startsWith('loading')) break;
    }
    expect(vlm).toBe(`ok: ${DEFAULT_LOCAL_VLM} on cpu`);
  });

  it('registers a concept and has the local model describe it', async () => {
    const r = await call('POST', `/v1/users/${USER}/concepts`, {
      name: NAME,
      category: CATEGORY,
      images: await Promise.all([0, 1, 2].map(image)),
    });
    expect(r.status, r.text).toBe(201);
    conceptId = r.body.id;
    let description = '';
    for (
      const deadline = Date.now() + 15_000;
      !description && Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 100))
    ) {
      description = (await call('GET', `/v1/users/${USER}/concepts/${conceptId}`)).body.description;
    }
    expect(words(description)).toHaveLength(DESCRIPTION_TOKENS);
    expect(fromTinyModel(description)).toBe(true);
  });

  it("captions a photo of the concept with the model's words, named as nomen's repair guarantees", async () => {
    const streamed = await call('POST', '/v1/caption', { user: USER, image: await image(4), stream: true });
    expect(streamed.status, streamed.text).toBe(200);
    const all = events(streamed.text);
    const raw = all
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text as string)
      .join('');
    expect(words(raw)).toHaveLength(maxTokensFor({ kind: 'caption', style: 'short' }));
    expect(fromTinyModel(raw)).toBe(true);
    const done = all.at(-1)!;
    expect(done.event).toBe('done');

    const r = await call('POST', '/v1/caption', { user: USER, image: await image(4) });
    expect(r.status, r.text).toBe(200);
    // Greedy decoding of the same request: the answer is the streamed one, repaired the same way.
    expect(r.body.caption).toBe(repaired(raw));
    expect(done.data.caption).toBe(r.body.caption);
    expect(r.body.model).toBe(DEFAULT_LOCAL_VLM);
    expect(r.body.concepts).toEqual([
      expect.objectContaining({ id: conceptId, name: NAME, present: true, named: mentions(r.body.caption, NAME) }),
    ]);
    expect(r.body.timings.vlm).toBeGreaterThan(0);
  });

  it('answers a question, whole and streamed', async () => {
    const question = { user: USER, image: await image(4), question: `What is ${NAME} doing?` };
    const streamed = await call('POST', '/v1/ask', { ...question, stream: true });
    expect(streamed.status, streamed.text).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const all = events(streamed.text);
    const deltas = all.filter((e) => e.event === 'delta').map((e) => e.data.text as string);
    expect(deltas.length).toBeGreaterThan(2);
    const raw = deltas.join('');
    expect(words(raw)).toHaveLength(maxTokensFor({ kind: 'ask', question: '' }));
    expect(fromTinyModel(raw)).toBe(true);
    const done = all.at(-1)!;
    expect(done).toEqual({
      event: 'done',
      data: expect.objectContaining({ answer: repaired(raw), model: DEFAULT_LOCAL_VLM }),
    });

    const r = await call('POST', '/v1/ask', question);
    expect(r.status, r.text).toBe(200);
    expect(r.body.answer).toBe(done.data.answer);
    expect(r.body.concepts).toEqual([
      expect.objectContaining({ name: NAME, present: true, named: mentions(r.body.answer, NAME) }),
    ]);
  });
});

describe('POST /v1/chat/completions on the local VLM, with the official openai client', () => {
  let client: OpenAI;
  let messages: OpenAI.Chat.ChatCompletionMessageParam[];
  /** The model's own answer to `messages`, as the stream gave it. */
  let raw = '';

  beforeAll(async () => {
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const url = `data:image/jpeg;base64,${(await photo(4)).toString('base64')}`;
    messages = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is happening here?' },
          { type: 'image_url', image_url: { url } },
        ],
      },
    ];
  });

  it(
    'streams through the local model in the same protocol, the last chunk with the finish reason and the ' + 'report',
    async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        user: USER,
        messages,
        max_tokens: CHAT_TOKENS,
        stream: true,
      });
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      raw = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      // A stream is not repaired: the model's own words, cut at max_tokens.
      expect(words(raw)).toHaveLength(CHAT_TOKENS);
      expect(fromTinyModel(raw)).toBe(true);
      expect(chunks.every((c) => c.model === DEFAULT_LOCAL_VLM)).toBe(true);
      expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(chunks.at(-1)).toMatchObject({
        choices: [{ finish_reason: 'length' }],
        nomen: { concepts: [{ name: NAME, present: true, named: false }] },
      });
    },
  );

  it('answers through the local model, names repaired, with the finish reason', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      user: USER,
      messages,
      max_tokens: CHAT_TOKENS,
    });
    expect(completion.model).toBe(DEFAULT_LOCAL_VLM);
    const content = completion.choices[0].message.content!;
    expect(content).toBe(repaired(raw));
    expect(completion.choices[0].finish_reason).toBe('length');
    const { nomen } = completion as unknown as {
      nomen: { concepts: { name: string; present: boolean; named: boolean }[] };
    };
    expect(nomen.concepts).toEqual([
      expect.objectContaining({ name: NAME, present: true, named: mentions(content, NAME) }),
    ]);
  });
});
