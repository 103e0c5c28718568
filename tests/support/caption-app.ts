/**
 * A real runtime (models, LanceDB in a temp folder) whose VLM is an OpenAI-protocol stand-in on loopback that
 * ignores the names it is given; what the caption tests share. Its bindings are set before each file's tests.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { Describer } from '../../concepts/captioning/describe.js';
import { Personalizer } from '../../concepts/captioning/personalize.js';
import type { VisionLanguageModel } from '../../models/types.js';
import { defaultOpenAiVlmOptions, OpenAiVlm } from '../../models/vlm/vlm-openai.js';
import { createApp } from '../../services/api/app.js';
import type { Api, Deps } from '../../services/api/context.js';
import { type Config, loadConfig } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { answerOf } from './answers.js';
import { OpenAiStandIn, requestText, STAND_IN_MODEL } from './openai-server.js';
import { dreamboothDir, modelsDir } from './shared-data.js';

const PHOTOS = dreamboothDir;
export const KEY = 'caption-key-0123456789';
export const USER = 'alice';
export const TIMEOUT_MS = 1_500;

export let standIn: OpenAiStandIn;
export let runtime: Runtime;
export let config: Config;
export let app: Api;
let dataDir: string;
export const ids: Record<string, string> = {};

const ready: Deps['ready'] = async () => ({ ok: true, checks: {} });
export const photo = (subject: string, n: number) => readFile(join(PHOTOS, subject, `0${n}.jpg`));
export const image = async (subject: string, n: number) => ({ data: (await photo(subject, n)).toString('base64') });

/** The stand-in's answer to a request to describe a concept, so that tests can tell it from captions. */
export const DESCRIPTION = 'Golden fur, floppy ears and a red collar.';
export const describing = (body: { messages: unknown[] }) => /Describe how it looks/.test(requestText(body as never));
/** A VLM that sees what is there but never uses the names it is given. */
export const ignoringNames = (text: string) => (body: { messages: unknown[] }) => ({
  text: describing(body) ? DESCRIPTION : text,
});

export async function post(path: string, json: unknown, on: Api = app) {
  const res = await on.request(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(json),
  });
  return answerOf(res);
}

/** An app whose captions go to `vlm` (the runtime's own concepts, store and models). */
export function appWith(vlm: VisionLanguageModel): { app: Api; personal: Personalizer } {
  const personal = new Personalizer(
    runtime.service,
    vlm,
    { limits: config.limits, maxConcepts: 3 },
    new Describer(runtime.service, vlm),
  );
  return { app: createApp({ service: runtime.service, personal, config, ready }), personal };
}

export const vlmAt = (url: string) =>
  new OpenAiVlm({
    ...defaultOpenAiVlmOptions,
    url,
    model: STAND_IN_MODEL,
    apiKey: '',
    timeoutMs: TIMEOUT_MS,
    backoffMs: 50,
  });

export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Opens the runtime before the calling file's tests, with Biscuit the dog and Tom the cat, and closes it after. */
export function useCaptionApp(): void {
  beforeAll(async () => {
    standIn = await OpenAiStandIn.start();
    standIn.reply = ignoringNames('unused');
    dataDir = await mkdtemp(join(tmpdir(), 'nomen-caption-'));
    config = loadConfig(
      {
        NOMEN_DATA: dataDir,
        NOMEN_MODELS: modelsDir,
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
}
