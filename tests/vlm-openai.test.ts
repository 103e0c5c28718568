/** The OpenAI-compatible VLM client against a real HTTP server on loopback: retries, timeouts, breaker, streaming. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelError } from '../models/runtime/model-error.js';
import type { ChatMessage } from '../models/types.js';
import { defaultOpenAiVlmOptions, OpenAiVlm, type OpenAiVlmOptions } from '../models/vlm/vlm-openai.js';
import { OpenAiStandIn, STAND_IN_MODEL } from './support/openai-server.js';

let standIn: OpenAiStandIn;
const messages: ChatMessage[] = [
  { role: 'system', content: 'Describe photos.' },
  {
    role: 'user',
    content: [
      { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } },
      { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,BBBB' } },
      { type: 'text', text: 'What is this?' },
    ],
  },
];

/** Quick settings for tests: short timeout and backoff, a breaker that opens after 3 failures for 400 ms. */
const client = (options: Partial<OpenAiVlmOptions> = {}) =>
  new OpenAiVlm({
    ...defaultOpenAiVlmOptions,
    url: standIn.url,
    model: 'served-model',
    apiKey: 'sk-test',
    timeoutMs: 1_000,
    backoffMs: 20,
    breakerThreshold: 3,
    breakerCooldownMs: 400,
    ...options,
  });

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function failure(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

const collect = async (pieces: AsyncIterable<string>) => {
  let text = '';
  for await (const p of pieces) text += p;
  return text;
};

beforeAll(async () => {
  standIn = await OpenAiStandIn.start();
});
afterAll(() => standIn?.close());
beforeEach(() => standIn.reset());

describe('OpenAI-compatible VLM client', () => {
  it('sends the model, the key, the images as data-URL parts and the options; returns the text', async () => {
    standIn.reply = () => ({ text: 'A dog on a sofa.' });
    const answer = await client().chat(messages, { maxTokens: 50, temperature: 0, extra: { top_p: 0.9 } });
    expect(answer).toEqual({ text: 'A dog on a sofa.', model: 'served-model', finishReason: 'stop' });
    const [request] = standIn.requests;
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.body).toMatchObject({
      model: 'served-model',
      messages,
      stream: false,
      max_tokens: 50,
      temperature: 0,
      top_p: 0.9,
    });
  });

  it('asks the server for its model when none is configured', async () => {
    const vlm = client({ model: '' });
    await vlm.chat(messages);
    expect(standIn.requests.map((r) => r.path)).toEqual(['/v1/models', '/v1/chat/completions']);
    expect(standIn.chatRequests[0].model).toBe(STAND_IN_MODEL);
    expect(vlm.name).toBe(STAND_IN_MODEL);
  });

  it('retries 429, 500 and 503, then answers', async () => {
    const errors = [429, 500, 503];
    standIn.reply = (_, n) => (n < 3 ? { status: errors[n] } : { text: 'ok' });
    expect((await client({ retries: 3, breakerThreshold: 5 }).chat(messages)).text).toBe('ok');
    expect(standIn.chatRequests).toHaveLength(4);
  });

  it('gives up after the retries with model_unavailable and a Retry-After', async () => {
    standIn.reply = () => ({ status: 503 });
    const e = await failure(client({ retries: 2 }).chat(messages));
    expect(e.code).toBe('model_unavailable');
    expect(e.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(standIn.chatRequests).toHaveLength(3);
  });

  it("waits the server's Retry-After when the call's time allows, and passes it on when it does not", async () => {
    standIn.reply = (_, n) => (n === 0 ? { status: 429, retryAfterS: 1 } : { text: 'ok' });
    const t = Date.now();
    expect((await client({ timeoutMs: 3_000 }).chat(messages)).text).toBe('ok');
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    standIn.reset();
    standIn.reply = () => ({ status: 429, retryAfterS: 30 });
    const e = await failure(client().chat(messages));
    expect({ code: e.code, retryAfterS: e.retryAfterS }).toEqual({ code: 'model_unavailable', retryAfterS: 30 });
    expect(standIn.chatRequests).toHaveLength(1);
  });

  it('does not retry a request the server refuses (4xx): model_rejected', async () => {
    standIn.reply = () => ({ status: 400 });
    expect((await failure(client().chat(messages))).code).toBe('model_rejected');
    expect(standIn.chatRequests).toHaveLength(1);
  });

  it('answers model_unavailable for a closed port within a second, after retrying', async () => {
    const vlm = new OpenAiVlm({
      ...defaultOpenAiVlmOptions,
      url: `http://127.0.0.1:${await closedPort()}/v1`,
      model: 'm',
      apiKey: '',
      backoffMs: 50,
    });
    const t = Date.now();
    const e = await failure(vlm.chat(messages));
    expect(e.code).toBe('model_unavailable');
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/3 time/);
    expect(Date.now() - t).toBeLessThan(1_000);
  });

  it('answers model_timeout for a server that never answers, at the configured timeout', async () => {
    standIn.reply = () => ({ hang: true });
    const t = Date.now();
    expect((await failure(client({ timeoutMs: 500 }).chat(messages))).code).toBe('model_timeout');
    expect(Date.now() - t).toBeGreaterThanOrEqual(480);
    expect(Date.now() - t).toBeLessThan(1_000);
  });

  it('answers model_unavailable for a dropped connection', async () => {
    standIn.reply = () => ({ drop: true });
    expect((await failure(client({ retries: 1 }).chat(messages))).code).toBe('model_unavailable');
    expect(standIn.chatRequests).toHaveLength(2);
  });

  it(
    'opens the breaker after failures in a row, refuses at once while open, and closes after a good ' + 'probe',
    async () => {
      const vlm = client({ retries: 0, model: STAND_IN_MODEL });
      standIn.reply = () => ({ status: 500 });
      for (let i = 0; i < 3; i++) await failure(vlm.chat(messages));
      expect(standIn.chatRequests).toHaveLength(3);

      const open = await failure(vlm.chat(messages));
      expect(open.code).toBe('model_unavailable');
      expect(open.message).toMatch(/failing/);
      expect(open.retryAfterS).toBe(1);
      expect(standIn.chatRequests).toHaveLength(3);
      expect((await vlm.health()).detail).toMatch(/circuit breaker open after 3 failures/);

      await new Promise((r) => setTimeout(r, 450));
      standIn.reply = () => ({ text: 'back' });
      expect((await vlm.chat(messages)).text).toBe('back');
      expect((await vlm.health()).ok).toBe(true);
    },
  );

  it('lets one probe through when half-open; a failed probe opens it again', async () => {
    const vlm = client({ retries: 0 });
    standIn.reply = () => ({ status: 500 });
    for (let i = 0; i < 3; i++) await failure(vlm.chat(messages));
    await new Promise((r) => setTimeout(r, 450));
    standIn.reply = () => ({ status: 500, delayMs: 200 });
    const probe = failure(vlm.chat(messages));
    // A second call while the probe is out is refused without reaching the server.
    expect((await failure(vlm.chat(messages))).message).toMatch(/failing/);
    expect((await probe).message).toMatch(/HTTP 500/);
    expect((await failure(vlm.chat(messages))).message).toMatch(/failing/);
    expect(standIn.chatRequests).toHaveLength(4);
  });

  it('never has more requests in flight than its concurrency', async () => {
    standIn.reply = () => ({ text: 'ok', delayMs: 100 });
    const vlm = client({ concurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => vlm.chat(messages)));
    expect(Math.max(...standIn.requests.map((r) => r.concurrent))).toBe(2);
  });

  it('counts waiting for a slot against the timeout', async () => {
    standIn.reply = () => ({ text: 'ok', delayMs: 400 });
    const vlm = client({ concurrency: 1, timeoutMs: 600 });
    const results = await Promise.allSettled([vlm.chat(messages), vlm.chat(messages)]);
    expect(results[0].status).toBe('fulfilled');
    expect(((results[1] as PromiseRejectedResult).reason as ModelError).code).toBe('model_timeout');
  });

  it('stops when the caller aborts, without counting it against the server', async () => {
    standIn.reply = () => ({ hang: true });
    const vlm = client({ retries: 0 });
    for (let i = 0; i < 4; i++) {
      const caller = new AbortController();
      setTimeout(() => caller.abort(new Error('client went away')), 50);
      await expect(vlm.chat(messages, { signal: caller.signal })).rejects.toThrow('client went away');
    }
    standIn.reply = () => ({ text: 'still closed' });
    expect((await vlm.chat(messages)).text).toBe('still closed');
  });

  it('streams the answer piece by piece', async () => {
    standIn.reply = () => ({ text: 'Biscuit is asleep on the sofa.' });
    const pieces: string[] = [];
    for await (const p of client().stream(messages)) pieces.push(p);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe('Biscuit is asleep on the sofa.');
    expect(standIn.chatRequests[0].stream).toBe(true);
  });

  it('lets a slow stream run past the timeout as long as pieces keep coming', async () => {
    standIn.reply = () => ({ text: 'one two three four five six', delayMs: 150 });
    expect(await collect(client({ timeoutMs: 400 }).stream(messages))).toBe('one two three four five six');
  });

  it('fails a stream that stalls with model_timeout, and one that cannot start at its first piece', async () => {
    standIn.reply = () => ({ text: 'one two', delayMs: 600 });
    expect((await failure(collect(client({ timeoutMs: 300 }).stream(messages)))).code).toBe('model_timeout');
    standIn.reply = () => ({ status: 503 });
    const pieces = client({ retries: 0 }).stream(messages);
    expect((await failure(pieces.next())).code).toBe('model_unavailable');
  });

  it('reports health: ok with the model, or why not', async () => {
    expect(await client().health()).toEqual({
      ok: false,
      detail: expect.stringMatching(/does not serve served-model; it lists stand-in-vlm/),
    });
    expect(await client({ model: STAND_IN_MODEL }).health()).toEqual({
      ok: true,
      detail: `ok: ${STAND_IN_MODEL} at ${standIn.url}`,
    });
    const dead = new OpenAiVlm({
      ...defaultOpenAiVlmOptions,
      url: `http://127.0.0.1:${await closedPort()}/v1`,
      model: 'm',
      apiKey: '',
    });
    expect((await dead.health()).detail).toMatch(/unreachable: ECONNREFUSED/);
  });
});
