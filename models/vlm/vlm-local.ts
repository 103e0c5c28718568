/**
 * A small VLM (SmolVLM / Idefics3 class) run in-process through @huggingface/transformers, read from its
 * folder under NOMEN_MODELS: the fallback when no VLM server is configured. One generation at a time (it
 * takes every core it gets); the timeout and the caller's abort stop generation between tokens.
 */
import path from 'node:path';
import {
  AutoModelForVision2Seq,
  AutoProcessor,
  InterruptableStoppingCriteria,
  RawImage,
  type Tensor,
  TextStreamer,
  env,
  type Message,
  type PreTrainedModel,
  type Processor,
} from '@huggingface/transformers';
import sharp from 'sharp';
import { CallLimit } from '../runtime/call-limit.js';
import type { TransformersVlmEntry } from '../catalog.js';
import { ModelCall } from '../runtime/model-call.js';
import { ModelError } from '../runtime/model-error.js';
import type { ChatAnswer, ChatMessage, ChatOptions, ModelHealth, VisionLanguageModel } from '../types.js';

export interface LocalVlmOptions {
  modelsDir: string;
  entry: TransformersVlmEntry;
  device: 'cpu' | 'cuda';
  timeoutMs: number;
  /** Callers beyond the one generating wait in line, up to this many. */
  maxQueue: number;
}

const DEFAULT_MAX_TOKENS = 256;

type FinishReason = 'stop' | 'length';

interface Loaded {
  processor: Processor;
  model: PreTrainedModel;
}

/** An image part's data URL to pixels; the local model fetches nothing. */
async function toRawImage(url: string): Promise<RawImage> {
  const match = /^data:image\/[\w.+-]+;base64,(.*)$/s.exec(url);
  if (!match) throw new ModelError('model_rejected', 'the local model reads images from data: URLs only');
  const { data, info } = await sharp(Buffer.from(match[1], 'base64'))
    .autoOrient()
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((e: Error) => {
      throw new ModelError('model_rejected', `an image could not be decoded: ${e.message}`);
    });
  return new RawImage(new Uint8ClampedArray(data), info.width, info.height, 3);
}

/** OpenAI-shaped messages to the chat template's shape, with the images pulled out in order. */
async function toPrompt(messages: ChatMessage[]): Promise<{ conversation: Message[]; images: RawImage[] }> {
  const images: RawImage[] = [];
  const conversation: Message[] = [];
  for (const m of messages) {
    if (typeof m.content === 'string') {
      conversation.push({ role: m.role, content: [{ type: 'text', text: m.content }] });
      continue;
    }
    const content: Message['content'] = [];
    for (const part of m.content) {
      if (part.type === 'text') content.push({ type: 'text', text: part.text });
      else {
        images.push(await toRawImage(part.image_url.url));
        content.push({ type: 'image' });
      }
    }
    conversation.push({ role: m.role, content });
  }
  return { conversation, images };
}

export class LocalVlm implements VisionLanguageModel {
  readonly name: string;
  private readonly limit: CallLimit;
  private readonly loading: Promise<Loaded>;
  private state: ModelHealth;

  /** Starts loading at once; until it is done (or if it fails) calls answer model_unavailable, saying why. */
  constructor(private readonly options: LocalVlmOptions) {
    this.name = options.entry.folder;
    this.limit = new CallLimit(1, options.maxQueue);
    this.state = { ok: false, detail: `loading ${this.name} on ${options.device}` };
    this.loading = this.load();
    this.loading.then(
      () => (this.state = { ok: true, detail: `ok: ${this.name} on ${options.device}` }),
      (e: Error) => (this.state = { ok: false, detail: e.message }),
    );
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatAnswer> {
    const pieces = this.stream(messages, options);
    let text = '';
    let next: IteratorResult<string, FinishReason>;
    // Not `for await`: it drops the stream's return value, the finish reason.
    while (!(next = await pieces.next()).done) text += next.value;
    return { text: text.trim(), model: this.name, finishReason: next.value };
  }

  /** Returns why generation ended, as OpenAI says it: `length` when it used the whole token budget, else `stop`. */
  async *stream(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string, FinishReason, undefined> {
    const { processor, model } = await this.ready();
    const call = new ModelCall(this.options.timeoutMs, options.signal);
    const stopping = new InterruptableStoppingCriteria();
    call.signal.addEventListener('abort', () => stopping.interrupt(), { once: true });
    let generation: Promise<unknown> | undefined;
    try {
      await call.slot(this.limit);
      const { conversation, images } = await toPrompt(messages);
      const prompt = processor.apply_chat_template(conversation, {
        add_generation_prompt: true,
        tokenize: false,
      }) as string;
      // One 512 px tile per image rather than a grid of them: several times fewer tokens on a CPU. The
      // processor fails without an image, so a text-only chat is only tokenised (what it does for the text).
      const inputs =
        images.length > 0
          ? await processor(prompt, images, { do_image_splitting: false })
          : processor.tokenizer!(prompt);
      // The streamer's callback feeds this generator through a small queue: generate() runs on its own.
      const pieces: string[] = [];
      let said = false;
      let wake = () => {};
      let finished = false;
      const streamer = new TextStreamer(processor.tokenizer!, {
        skip_prompt: true,
        skip_special_tokens: true,
        callback_function: (text: string) => {
          pieces.push(text);
          wake();
        },
      });
      const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
      generation = model
        .generate({
          ...inputs,
          max_new_tokens: maxTokens,
          do_sample: (options.temperature ?? 0) > 0,
          ...(options.temperature && { temperature: options.temperature }),
          streamer,
          stopping_criteria: stopping,
        } as Parameters<PreTrainedModel['generate']>[0])
        .finally(() => {
          finished = true;
          wake();
        });
      for (;;) {
        const raw = pieces.shift();
        if (raw !== undefined) {
          call.arm();
          // The chat template ends with "Assistant:", so the answer's first piece starts with a space.
          const piece: string = said ? raw : raw.trimStart();
          said ||= piece !== '';
          if (piece) yield piece;
        } else if (finished) break;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
      const sequences = (await generation) as Tensor;
      // An interrupted generation ends normally, with the text so far: a timeout or abort must still fail.
      call.signal.throwIfAborted();
      // Generation ends at the end token or at the budget; the sequences hold the prompt and every generated token.
      return sequences.dims[1] - inputs.input_ids.dims[1] >= maxTokens ? 'length' : 'stop';
    } catch (e) {
      if (call.timedOut)
        throw new ModelError('model_timeout', `${this.name} did not answer within ${this.options.timeoutMs} ms`);
      if (call.abandoned || e instanceof ModelError) throw e;
      throw new ModelError('model_unavailable', `${this.name} failed: ${(e as Error).message}`, 1);
    } finally {
      stopping.interrupt();
      // The slot is free only once generation has really stopped.
      await generation?.catch(() => undefined);
      call.end();
    }
  }

  async health(): Promise<ModelHealth> {
    return this.state;
  }

  async dispose(): Promise<void> {
    const loaded = await this.loading.catch(() => undefined);
    await loaded?.model.dispose();
  }

  private async ready(): Promise<Loaded> {
    return this.loading.catch((e: Error) => {
      throw new ModelError('model_unavailable', e.message, 60);
    });
  }

  private async load(): Promise<Loaded> {
    const { modelsDir, entry, device } = this.options;
    // Models come only from disk: a missing file must fail, never trigger a hub download.
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const dir = path.resolve(modelsDir, entry.folder);
    const options = { local_files_only: true } as const;
    try {
      const [processor, model] = await Promise.all([
        AutoProcessor.from_pretrained(dir, options),
        AutoModelForVision2Seq.from_pretrained(dir, { ...options, dtype: entry.dtype, device }),
      ]);
      return { processor, model };
    } catch (e) {
      throw new Error(
        `local VLM ${entry.folder} could not be loaded from ${dir} (${(e as Error).message}); install it with: npm ` +
          `run fetch-models ${entry.folder}`,
      );
    }
  }
}
