/** Which VLM the configuration gets: a server when a URL is set, else the local model only when its folder exists. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVlm, type VlmSettings } from '../models/load.js';
import { ModelError } from '../models/runtime/model-error.js';
import { LocalVlm } from '../models/vlm/vlm-local.js';
import { NoVlm } from '../models/vlm/vlm-none.js';
import { OpenAiVlm } from '../models/vlm/vlm-openai.js';

let modelsDir: string;
const settings = (s: Partial<VlmSettings>): VlmSettings => ({
  modelsDir,
  url: '',
  model: '',
  apiKey: '',
  timeoutMs: 1_000,
  retries: 0,
  concurrency: 1,
  device: 'cpu',
  ...s,
});

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'nomen-vlm-'));
});
afterAll(() => rm(modelsDir, { recursive: true, force: true }));

describe('openVlm', () => {
  it('takes the server when a URL is set, whatever is installed', async () => {
    const vlm = await openVlm(settings({ url: 'http://127.0.0.1:1/v1', model: 'Qwen/Qwen2.5-VL-7B-Instruct' }));
    expect(vlm).toBeInstanceOf(OpenAiVlm);
    expect(vlm.name).toBe('Qwen/Qwen2.5-VL-7B-Instruct');
  });

  it('without a URL or a local model folder: none, and every call says how to get one', async () => {
    const vlm = await openVlm(settings({}));
    expect(vlm).toBeInstanceOf(NoVlm);
    const e = await vlm.chat([]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelError);
    expect(e).toMatchObject({ code: 'model_unavailable', retryAfterS: 300 });
    expect((e as Error).message).toMatch(
      /NOMEN_VLM_URL is not set and .*smolvlm-256m-instruct does not exist \(npm run fetch-models smolvlm-256m-inst/,
    );
    expect(await vlm.health()).toEqual({ ok: false, detail: (e as Error).message });
  });

  it('takes the local model when its folder exists, and reports clearly that its files are missing', async () => {
    await mkdir(path.join(modelsDir, 'smolvlm-500m-instruct'));
    const vlm = await openVlm(settings({ model: 'smolvlm-500m-instruct' }));
    expect(vlm).toBeInstanceOf(LocalVlm);
    const e = await vlm.chat([{ role: 'user', content: 'hello' }]).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'model_unavailable' });
    expect((e as Error).message).toMatch(
      /local VLM smolvlm-500m-instruct could not be loaded from .*install it with: npm run fetch-models smolvlm-500m/,
    );
    expect(await vlm.health()).toEqual({ ok: false, detail: (e as Error).message });
    await vlm.dispose();
  });

  it('refuses a model name that is no local VLM when no URL is set', async () => {
    await expect(openVlm(settings({ model: 'mobilenetv2-12-int8' }))).rejects.toThrow(
      /not a local VLM of the catalog \(smolvlm-256m-instruct, smolvlm-500m-instruct\); for a VLM server set NOMEN_VLM/,
    );
  });
});
