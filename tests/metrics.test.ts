/**
 * GET /metrics: request latency by route template, model time per model, queue depth, errors by code, process metrics.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../services/api/app.js';
import type { Api } from '../services/api/context.js';
import { loadConfig } from '../services/config.js';
import { Metrics } from '../services/metrics.js';
import { openRuntime, type Runtime } from '../services/runtime.js';
import { timedVlm } from '../services/timed-models.js';
import { dreamboothDir, modelsDir } from './support/shared-data.js';

let runtime: Runtime;
let app: Api;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'nomen-metrics-'));
  const config = loadConfig(
    {
      NOMEN_DATA: dataDir,
      NOMEN_MODELS: modelsDir,
      NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
    },
    () => '',
  );
  const metrics = new Metrics();
  runtime = await openRuntime(config, metrics.timeModel);
  app = createApp({
    service: runtime.service,
    videos: runtime.videos,
    config,
    ready: async () => ({ ok: true, checks: {} }),
    metrics,
  });
}, 120_000);

afterAll(async () => {
  await runtime?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('counts requests by route template, model calls by model, errors by code', async () => {
  const photo = (await readFile(join(dreamboothDir, 'dog/00.jpg'))).toString('base64');
  const post = (path: string, json: unknown) =>
    app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(json) });
  const created = await post('/v1/users/m1/concepts', { name: 'Dog', images: [{ data: photo }] });
  expect(created.status).toBe(201);
  expect((await post('/v1/users/m1/recognize', { image: { data: photo } })).status).toBe(200);
  expect((await app.request(`/v1/users/m2/concepts/${(await created.json()).id}`)).status).toBe(404);
  expect((await post('/v1/users/m1/concepts', { name: 'Bad', images: [{ data: '!!' }] })).status).toBe(400);
  expect((await app.request('/no/such/path')).status).toBe(404);

  const r = await app.request('/metrics');
  expect(r.status).toBe(200);
  expect(r.headers.get('Content-Type')).toMatch(/^text\/plain/);
  const text = await r.text();
  const has = (line: RegExp) => expect(text).toMatch(line);
  has(
    /^nomen_http_request_duration_seconds_count\{method="POST",route="\/v1\/users\/:user\/concepts",status="201"\} 1$/m,
  );
  has(
    new RegExp(
      String.raw`^nomen_http_request_duration_seconds_count\{method="GET",route="/v1/users/:user/concepts/:id",` +
        String.raw`status="404"\} 1$`,
      'm',
    ),
  );
  has(/^nomen_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1$/m);
  has(/^nomen_model_inference_seconds_count\{model="mobilenetv2-12-int8",call="embed"\} [1-9]/m);
  has(/^nomen_model_inference_seconds_count\{model="yolox-nano",call="detect"\} [1-9]/m);
  has(/^nomen_errors_total\{code="invalid_image"\} 1$/m);
  has(/^nomen_errors_total\{code="not_found"\} 2$/m);
  has(/^nomen_queue_depth\{queue="user_writes"\} 0$/m);
  has(/^nomen_queue_depth\{queue="refinements"\} \d+$/m);
  has(/^nomen_queue_depth\{queue="video_jobs"\} 0$/m);
  has(/^nomen_process_cpu_seconds_total /m);
  // No path of a user's own naming becomes a label.
  expect(text).not.toMatch(/m1|m2|no\/such/);
}, 60_000);

it('times multimodal model calls, a streamed answer until its last piece', async () => {
  const metrics = new Metrics();
  const vlm = timedVlm(
    {
      name: 'fake-vlm',
      chat: async () => ({ text: 'a dog', model: 'fake-vlm' }) as never,
      async *stream() {
        yield 'a ';
        await new Promise((r) => setTimeout(r, 30));
        yield 'dog';
      },
      health: async () => ({ ok: true, detail: 'ok' }) as never,
      dispose: async () => undefined,
    },
    metrics.timeModel,
  );
  await vlm.chat([]);
  const pieces: string[] = [];
  for await (const piece of vlm.stream([])) pieces.push(piece);
  expect(pieces.join('')).toBe('a dog');
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^nomen_model_inference_seconds_count\{model="fake-vlm",call="chat"\} 1$/m);
  expect(text).toMatch(/^nomen_model_inference_seconds_count\{model="fake-vlm",call="stream"\} 1$/m);
  expect(
    Number(/^nomen_model_inference_seconds_sum\{model="fake-vlm",call="stream"\} (\S+)$/m.exec(text)![1]),
  ).toBeGreaterThan(0.02);
});
