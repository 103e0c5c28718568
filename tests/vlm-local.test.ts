/** The local VLM really generating: a tiny generated SmolVLM-format model, opened the way the service opens it. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConceptCue, photoRequest } from '../concepts/captioning/conditioning.js';
import { type TransformersVlmEntry, catalogEntry } from '../models/catalog.js';
import { DEFAULT_LOCAL_VLM, openVlm } from '../models/load.js';
import type { ChatMessage, ModelHealth, VisionLanguageModel } from '../models/types.js';
import { LocalVlm } from '../models/vlm/vlm-local.js';
import { TINY_SMOLVLM_WORDS, makeTinySmolVlm } from '../scripts/make-tiny-smolvlm.js';
import { patternImage } from './support/pattern-image.js';

const entry = catalogEntry(DEFAULT_LOCAL_VLM) as TransformersVlmEntry;

/** patternImage as a data URL. */
async function picture(seed: number, width: number, height: number, format: 'jpeg' | 'png'): Promise<string> {
  const { data } = patternImage(width, height, seed);
  const encoded = await sharp(data, { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
  return `data:image/${format};base64,${encoded.toString('base64')}`;
}

const ask = (text: string, ...images: string[]): ChatMessage[] => [
  {
    role: 'user',
    content: [
      ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
      { type: 'text' as const, text },
    ],
  },
];

/** A stream's pieces and its return value, the finish reason. */
async function collect(
  stream: AsyncGenerator<string, string | void>,
): Promise<{ pieces: string[]; finishReason: string | void }> {
  const pieces: string[] = [];
  for (let next = await stream.next(); ; next = await stream.next()) {
    if (next.done) return { pieces, finishReason: next.value };
    pieces.push(next.value);
  }
}

describe('LocalVlm on a generated tiny SmolVLM', () => {
  let modelsDir: string;
  let vlm: VisionLanguageModel;
  let whileLoading: ModelHealth;
  let photo: string;
  let otherPhoto: string;
  let crop: string;
  const words = (text: string) => text.split(' ');

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), 'nomen-vlm-local-'));
    await makeTinySmolVlm(path.join(modelsDir, entry.folder));
    [photo, otherPhoto, crop] = await Promise.all([
      picture(1, 64, 48, 'jpeg'),
      picture(2, 64, 48, 'jpeg'),
      picture(3, 40, 56, 'png'),
    ]);
    vlm = await openVlm({
      modelsDir,
      url: '',
      model: '',
      apiKey: '',
      timeoutMs: 30_000,
      retries: 0,
      concurrency: 1,
      device: 'cpu',
    });
    whileLoading = await vlm.health();
  });

  afterAll(async () => {
    await vlm?.dispose();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('writes every file the catalog entry lists, and opens it as the default local VLM', async () => {
    for (const file of entry.files)
      expect(existsSync(path.join(modelsDir, entry.folder, file.path)), file.path).toBe(true);
    expect(vlm).toBeInstanceOf(LocalVlm);
    expect(vlm.name).toBe('smolvlm-256m-instruct');
    expect(whileLoading).toEqual({ ok: false, detail: 'loading smolvlm-256m-instruct on cpu' });
    await vlm.chat(ask('Hello', photo), { maxTokens: 1 });
    expect(await vlm.health()).toEqual({ ok: true, detail: 'ok: smolvlm-256m-instruct on cpu' });
  });

  it('answers a text and image question with maxTokens generated words, the same each time', async () => {
    const answer = await vlm.chat(ask('Describe the photo.', photo), { maxTokens: 8 });
    expect(answer.model).toBe('smolvlm-256m-instruct');
    // Cut at the limit rather than ended by the model: what OpenAI calls `length`.
    expect(answer.finishReason).toBe('length');
    // The tiny model only ever generates whole words (never its end token): one word per token.
    expect(words(answer.text)).toHaveLength(8);
    for (const word of words(answer.text)) expect(TINY_SMOLVLM_WORDS).toContain(word);
    expect((await vlm.chat(ask('Describe the photo.', photo), { maxTokens: 8 })).text).toBe(answer.text);
    // Greedy decoding: a shorter limit stops the same answer earlier.
    expect((await vlm.chat(ask('Describe the photo.', photo), { maxTokens: 3 })).text).toBe(
      words(answer.text).slice(0, 3).join(' '),
    );
  });

  it('answers from the image and the prompt it is given', async () => {
    const answer = (messages: ChatMessage[]) => vlm.chat(messages, { maxTokens: 8 }).then((a) => a.text);
    const base = await answer(ask('Describe the photo.', photo));
    expect(await answer(ask('Describe the photo.', otherPhoto))).not.toBe(base);
    expect(await answer(ask('What is in it?', photo))).not.toBe(base);
  });

  it("takes the conditioning's request: a reference crop and the photo, with a system message", async () => {
    const biscuit: ConceptCue = {
      name: 'Biscuit',
      category: 'dog',
      description: 'golden fur, red collar',
      box: [0.05, 0.05, 0.3, 0.3],
      crop,
    };
    const caption = (cue: ConceptCue, query: string) =>
      vlm.chat(photoRequest(query, [cue], { kind: 'caption', style: 'short' }), { maxTokens: 8 }).then((a) => a.text);
    const base = await caption(biscuit, photo);
    expect(words(base)).toHaveLength(8);
    // Both images reach the model: changing either changes the answer.
    expect(await caption({ ...biscuit, crop: otherPhoto }, photo)).not.toBe(base);
    expect(await caption(biscuit, otherPhoto)).not.toBe(base);
  });

  it('answers a text-only chat', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You describe photos accurately and concisely.' },
      { role: 'user', content: 'What is a good name for a dog?' },
    ];
    const answer = await vlm.chat(messages, { maxTokens: 5 });
    expect(words(answer.text)).toHaveLength(5);
    expect(answer.finishReason).toBe('length');
    expect((await vlm.chat(messages, { maxTokens: 5 })).text).toBe(answer.text);
  });

  it("streams pieces that add up to the chat's answer, and returns the finish reason", async () => {
    const messages = ask('Describe the photo.', photo);
    const { pieces, finishReason } = await collect(vlm.stream(messages, { maxTokens: 8 }));
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces[0]).not.toMatch(/^\s/);
    expect(pieces.join('')).toBe((await vlm.chat(messages, { maxTokens: 8 })).text);
    expect(finishReason).toBe('length');
  });

  it('stops when the caller aborts, with the abort, and frees its slot', async () => {
    const controller = new AbortController();
    const pieces: string[] = [];
    const streaming = (async () => {
      for await (const piece of vlm.stream(ask('Describe the photo.', photo), {
        maxTokens: 2_000,
        signal: controller.signal,
      })) {
        pieces.push(piece);
        if (pieces.length === 1) controller.abort();
      }
    })();
    await expect(streaming).rejects.toMatchObject({ name: 'AbortError' });
    // Generation stopped at the next token, not after 2000.
    expect(pieces.length).toBeLessThan(10);
    expect(words((await vlm.chat(ask('Describe the photo.', photo), { maxTokens: 2 })).text)).toHaveLength(2);
  });

  it('fails with model_timeout when the answer does not come in time, and stops generating', async () => {
    // 1 ms: the timer fires during the first forward pass, whose sessions each yield to the event loop.
    const slow = new LocalVlm({ modelsDir, entry, device: 'cpu', timeoutMs: 1, maxQueue: 1 });
    const pieces: string[] = [];
    try {
      const streaming = (async () => {
        for await (const piece of slow.stream(ask('Describe the photo.', photo), { maxTokens: 2_000 }))
          pieces.push(piece);
      })();
      await expect(streaming).rejects.toMatchObject({
        name: 'ModelError',
        code: 'model_timeout',
        message: 'smolvlm-256m-instruct did not answer within 1 ms',
      });
      expect(pieces.length).toBeLessThan(10);
    } finally {
      await slow.dispose();
    }
  });
});
