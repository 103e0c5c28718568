/**
 * Personalised captions and answers: recognise the user's concepts in the photo, condition the VLM on the
 * present ones, then make sure the answer calls each by its name. Two ways in (a photo with a task, or an
 * OpenAI-style chat whose images are recognised) share one way through.
 *
 * Names that the model left out are repaired cheapest first: a faithful rewrite of the category phrase
 * ("the dog" -> "Biscuit") where only one present concept has that category, then, for any still missing,
 * one stricter request. A stream cannot take back what it sent: its final event carries the repaired text.
 */
import type { ChatAnswer, ChatMessage, ChatOptions, DecodedImage, VisionLanguageModel } from '../../models/types.js';
import {
  type ConceptCue,
  conditionChat,
  jpegDataUrl,
  maxTokensFor,
  photoRequest,
  stricterRequest,
  type Task,
} from './conditioning.js';
import type { Describer } from './describe.js';
import { DomainError } from '../errors.js';
import { decodeBase64Image, decodeImage, encodeJpeg, type IntakeLimits } from '../intake/intake.js';
import { mentions, nameByCategory } from './naming.js';
import type { ConceptService } from '../service.js';
import type { Concept, Match, Scope, Timings } from '../types.js';

export interface PersonalOptions {
  limits: IntakeLimits;
  /** Present concepts put into one request, best first. */
  maxConcepts: number;
}

export interface NamedMatch extends Match {
  /** The final answer calls this concept by its name. */
  named: boolean;
}

export interface PersonalAnswer {
  text: string;
  /** The concepts present, best first. */
  concepts: NamedMatch[];
  model: string;
  /** The model's finish reason for the text given (`stop`, `length`, ...). */
  finishReason: string;
  /** Milliseconds by stage: recognition's, conditioning, vlm (every model call), repair (the rest of naming), total. */
  timings: Timings;
}

export type PersonalEvent = { type: 'delta'; text: string } | { type: 'done'; answer: PersonalAnswer };

/** A concept present in one of the request's photos (numbered from 1), where it scored best. */
interface Present {
  match: Match;
  concept: Concept;
  photo: number;
}

/** A request ready for the model, with what is needed to check its answer. */
interface Prepared {
  request: ChatMessage[];
  options: ChatOptions;
  present: Present[];
  cues: ConceptCue[];
  timings: Timings;
  started: number;
}

const DATA_URL = /^data:image\//i;

export class Personalizer {
  constructor(
    private readonly service: ConceptService,
    readonly vlm: VisionLanguageModel,
    private readonly options: PersonalOptions,
    /** Absent when no VLM is configured: nothing could write descriptions. */
    readonly describer?: Describer,
  ) {}

  /** A caption of, or an answer about, one photo. */
  async answer(scope: Scope, photo: Uint8Array, task: Task, signal?: AbortSignal): Promise<PersonalAnswer> {
    return this.run(await this.forPhoto(scope, photo, task, signal));
  }

  /**
   * The same, streamed: text pieces, then the final answer (names repaired). Failures before any text throw from the
   * first `next()`.
   */
  async *streamAnswer(
    scope: Scope,
    photo: Uint8Array,
    task: Task,
    signal?: AbortSignal,
  ): AsyncGenerator<PersonalEvent, void, undefined> {
    yield* this.runStream(await this.forPhoto(scope, photo, task, signal), true);
  }

  /** An OpenAI-style chat, its data-URL images recognised and the chat conditioned on the concepts in them. */
  async chat(scope: Scope, messages: ChatMessage[], options: ChatOptions): Promise<PersonalAnswer> {
    return this.run(await this.forChat(scope, messages, options));
  }

  /**
   * The chat streamed as the model writes it; the final event reports the names, unrepaired (the text is the client's
   * already).
   */
  async *streamChat(
    scope: Scope,
    messages: ChatMessage[],
    options: ChatOptions,
  ): AsyncGenerator<PersonalEvent, void, undefined> {
    yield* this.runStream(await this.forChat(scope, messages, options), false);
  }

  private async forPhoto(scope: Scope, bytes: Uint8Array, task: Task, signal?: AbortSignal): Promise<Prepared> {
    const started = performance.now();
    const { image } = await decodeImage(bytes, this.options.limits);
    const timings: Timings = { decode: performance.now() - started };
    // The decoded photo, not the bytes sent: upright (servers ignore EXIF orientation), at most the working size.
    // Encoded by libvips's threads while recognition runs.
    const [present, jpeg] = await Promise.all([
      this.present(scope, [image], timings),
      encodeJpeg(image, undefined, Math.max(image.width, image.height)),
    ]);
    const t = performance.now();
    const cues = await this.cues(scope, present);
    const request = photoRequest(jpegDataUrl(jpeg), cues, task);
    timings.conditioning = performance.now() - t;
    return { request, options: { signal, maxTokens: maxTokensFor(task) }, present, cues, timings, started };
  }

  private async forChat(scope: Scope, messages: ChatMessage[], options: ChatOptions): Promise<Prepared> {
    const started = performance.now();
    // Images sent by address go to the model as they are: nomen fetches nothing, so it cannot recognise them.
    const last = messages.filter((m) => m.role === 'user').at(-1)?.content;
    const parts = Array.isArray(last) ? last : [];
    const urls = parts.flatMap((p) =>
      p.type === 'image_url' && DATA_URL.test(p.image_url.url) ? [p.image_url.url] : [],
    );
    if (urls.length > this.options.limits.maxImages) {
      throw new DomainError(
        'invalid_request',
        `send at most ${this.options.limits.maxImages} images in the last user message, got ${urls.length}`,
      );
    }
    const images = await Promise.all(
      urls.map(
        async (url) => (await decodeImage(decodeBase64Image(url, this.options.limits), this.options.limits)).image,
      ),
    );
    const timings: Timings = { decode: performance.now() - started };
    const present = await this.present(scope, images, timings);
    const t = performance.now();
    // Photo numbers only mean something when there are several photos.
    const cues = (await this.cues(scope, present)).map((c) => (images.length > 1 ? c : { ...c, photo: undefined }));
    const request = conditionChat(messages, cues);
    timings.conditioning = performance.now() - t;
    return { request, options, present, cues, timings, started };
  }

  /** The concepts present in any of the photos, best first, each once. */
  private async present(scope: Scope, images: DecodedImage[], timings: Timings): Promise<Present[]> {
    const best = new Map<string, { match: Match; photo: number }>();
    for (const [i, image] of images.entries()) {
      const stages: Timings = {};
      for (const match of await this.service.recognizeDecoded(scope, image, false, stages)) {
        if ((best.get(match.id)?.match.score ?? -1) < match.score) best.set(match.id, { match, photo: i + 1 });
      }
      for (const [stage, ms] of Object.entries(stages)) timings[stage] = (timings[stage] ?? 0) + ms;
    }
    if (best.size === 0) return [];
    const concepts = new Map((await this.service.list(scope)).map((c) => [c.id, c]));
    return [...best.values()]
      .flatMap(({ match, photo }) => {
        const concept = concepts.get(match.id);
        return concept ? [{ match, concept, photo }] : [];
      })
      .sort((a, b) => b.match.score - a.match.score);
  }

  /**
   * What the request shows of the best present concepts sure enough to be named (concept.nameThreshold); ones
   * without a description get one written for next time.
   */
  private async cues(scope: Scope, present: Present[]): Promise<ConceptCue[]> {
    const sure = present.filter(({ match, concept }) => match.score >= concept.nameThreshold);
    return Promise.all(
      sure.slice(0, this.options.maxConcepts).map(async ({ match, concept, photo }) => {
        if (!concept.description) this.describer?.schedule(scope, concept);
        const crop = await this.service.referenceCrop(scope, concept.id);
        return {
          name: concept.name,
          category: concept.category,
          description: concept.description,
          box: match.box,
          crop: crop && jpegDataUrl(crop),
          photo,
        };
      }),
    );
  }

  private async run(p: Prepared): Promise<PersonalAnswer> {
    const t = performance.now();
    const first = await this.vlm.chat(p.request, p.options);
    p.timings.vlm = performance.now() - t;
    return this.finish(p, first, true);
  }

  private async *runStream(p: Prepared, repair: boolean): AsyncGenerator<PersonalEvent, void, undefined> {
    const t = performance.now();
    let text = '';
    const pieces = this.vlm.stream(p.request, p.options);
    let next: IteratorResult<string, string | void>;
    // Not `for await`, which drops the stream's return value (the finish reason); `finally` stops the model when our
    // caller stops early, as it would.
    try {
      while (!(next = await pieces.next()).done) {
        text += next.value;
        yield { type: 'delta', text: next.value };
      }
    } finally {
      await pieces.return(undefined);
    }
    p.timings.vlm = performance.now() - t;
    yield {
      type: 'done',
      answer: await this.finish(p, { text, model: this.vlm.name, finishReason: next.value ?? 'stop' }, repair),
    };
  }

  private async finish(p: Prepared, first: ChatAnswer, repair: boolean): Promise<PersonalAnswer> {
    const t = performance.now();
    let answer = first.text.trim();
    let finishReason = first.finishReason;
    let vlmMs = 0;
    if (repair) {
      const missing = () => p.cues.filter((c) => !mentions(answer, c.name));
      answer = nameByCategory(
        answer,
        missing(),
        p.present.map((m) => m.concept),
      );
      const still = missing();
      if (still.length > 0) {
        const v = performance.now();
        const retry = await this.vlm.chat(stricterRequest(p.request, answer, still), p.options).catch((e: unknown) => {
          // The first answer stands when the repair fails; an abandoned request has nobody to answer.
          if (p.options.signal?.aborted) throw e;
          return undefined;
        });
        vlmMs = performance.now() - v;
        const candidate = retry?.text.trim() ?? '';
        const named = (s: string) => p.cues.filter((c) => mentions(s, c.name));
        // Taken only when it keeps every name the answer had and adds one.
        if (
          retry &&
          named(candidate).length > named(answer).length &&
          named(answer).every((c) => mentions(candidate, c.name))
        ) {
          answer = candidate;
          finishReason = retry.finishReason;
        }
      }
    }
    p.timings.vlm += vlmMs;
    p.timings.repair = performance.now() - t - vlmMs;
    p.timings.total = performance.now() - p.started;
    for (const k of Object.keys(p.timings)) p.timings[k] = Math.round(p.timings[k] * 10) / 10;
    const concepts = p.present.map(({ match }) => ({ ...match, named: mentions(answer, match.name) }));
    return { text: answer, concepts, model: first.model, finishReason, timings: p.timings };
  }
}
