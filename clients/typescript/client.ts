/**
 * The nomen client: every endpoint of the API, typed by schema.ts (generated from /openapi.json), over openapi-fetch.
 * Runs in Node 20 and browsers alike; `node.ts` adds reading photos from files.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';
import {
  base64,
  blob,
  type Bytes,
  countingFetch,
  errorOf,
  events,
  type ExampleImage,
  examples,
  NomenError,
  ok,
  retryingFetch,
  sizeOf,
  sleep,
} from './transport.js';

export { type Bytes, type ErrorCode, type ExampleImage, NomenError, retryingFetch } from './transport.js';

type Schemas = components['schemas'];
export type Concept = Schemas['Concept'];
export type Match = Schemas['Match'];
export type Recognition = Schemas['Recognition'];
export type Caption = Schemas['Caption'];
export type Answer = Schemas['Answer'];
export type Video = Schemas['Video'];
export type Moment = Schemas['Moment'];
export type Box = Schemas['Box'];
export type PhotoJob = Schemas['PhotoJob'];
export type PhotoJobAccepted = Schemas['PhotoJobAccepted'];
export type LibraryPhoto = Schemas['LibraryPhoto'];
export type Feedback = Schemas['Feedback'];

/** A photo for the library: its id (1-128 characters of A-Z a-z 0-9 . _ @ -) and its bytes. */
export type LibraryUpload = { id: string; bytes: Bytes };
/** A correction of a concept on a library photo (`photo`) or on a photo sent along (`image`). */
export type Correction = { correct: boolean; box?: Box } & ({ photo: string } | { image: Bytes });

export interface ClientOptions {
  /** Where nomen listens, e.g. http://127.0.0.1:8787. */
  url: string;
  /** An API key; none for a server without keys (loopback only). */
  key?: string;
  /** Retries of a 429 or 503 answer, each after its Retry-After (default 3). */
  retries?: number;
  /** The longest wait for one retry, in seconds, whatever Retry-After says (default 30). */
  maxRetryAfterS?: number;
  fetch?: typeof fetch;
}

export type CaptionEvent = { type: 'delta'; text: string } | { type: 'done'; caption: Caption };
export type AnswerEvent = { type: 'delta'; text: string } | { type: 'done'; answer: Answer };

/** The most photos one `POST .../photos` takes. */
const PHOTOS_PER_REQUEST = 100;

/** A file's photo id for the library: its name without folder or extension, characters outside [A-Za-z0-9._@-] as _. */
export function photoIdOf(fileName: string): string {
  const id = (fileName.split(/[\\/]/).pop() ?? '').replace(/(.)\.[^.]*$/, '$1').replace(/[^A-Za-z0-9._@-]/g, '_');
  return id.slice(0, 128) || '_';
}

export class NomenClient {
  /** The typed openapi-fetch client underneath, for calls this class does not wrap. */
  readonly api: Client<paths>;

  /** The caller's fetch wrapped in the retries; `counted` also reports the bytes sent. */
  private readonly fetch: (counted?: (sent: number, total: number) => void) => typeof fetch;

  constructor(options: ClientOptions) {
    const base = options.fetch ?? globalThis.fetch.bind(globalThis);
    const retry = (f: typeof fetch) => retryingFetch(f, options.retries ?? 3, options.maxRetryAfterS ?? 30);
    this.fetch = (counted) => retry(counted ? countingFetch(base, counted) : base);
    this.api = createClient<paths>({
      baseUrl: options.url.replace(/\/+$/, ''),
      headers: options.key ? { Authorization: `Bearer ${options.key}` } : {},
      fetch: this.fetch(),
    });
  }

  health() {
    return ok(this.api.GET('/healthz'));
  }

  async ready(): Promise<boolean> {
    return (await this.api.GET('/readyz')).response.ok;
  }

  /** Registers a concept from 1 to 20 example photos, sent as multipart parts. */
  createConcept(
    user: string,
    concept: { name: string; category?: string; description?: string; images: ExampleImage[] },
  ): Promise<Concept> {
    const form = examples(concept.images);
    form.set('name', concept.name);
    if (concept.category) form.set('category', concept.category);
    if (concept.description) form.set('description', concept.description);
    return ok(this.api.POST('/v1/users/{user}/concepts', { params: { path: { user } }, body: form as never }));
  }

  async listConcepts(user: string): Promise<Concept[]> {
    return (await ok(this.api.GET('/v1/users/{user}/concepts', { params: { path: { user } } }))).concepts;
  }

  getConcept(user: string, id: string): Promise<Concept> {
    return ok(this.api.GET('/v1/users/{user}/concepts/{id}', { params: { path: { user, id } } }));
  }

  updateConcept(user: string, id: string, change: { name?: string; category?: string; description?: string }) {
    return ok(this.api.PATCH('/v1/users/{user}/concepts/{id}', { params: { path: { user, id } }, body: change }));
  }

  async deleteConcept(user: string, id: string): Promise<void> {
    await ok(this.api.DELETE('/v1/users/{user}/concepts/{id}', { params: { path: { user, id } } }));
  }

  /** The subject as cropped from example photo `n` (from 0): a JPEG. */
  referenceCrop(user: string, id: string, n = 0): Promise<Blob> {
    const params = { path: { user, id, n } };
    return ok(this.api.GET('/v1/users/{user}/concepts/{id}/crops/{n}', { params, parseAs: 'blob' }));
  }

  /** Adds example photos to a concept (with `negative`, photos in which it is not) and retrains it. */
  addImages(user: string, id: string, images: ExampleImage[], negative = false): Promise<Concept> {
    const form = examples(images);
    if (negative) form.set('negative', 'true');
    return ok(
      this.api.POST('/v1/users/{user}/concepts/{id}/images', { params: { path: { user, id } }, body: form as never }),
    );
  }

  /** The user's concepts present in a photo (with `all`, a match for every concept). */
  recognize(user: string, image: Bytes, options: { all?: boolean } = {}): Promise<Recognition> {
    const form = new FormData();
    form.set('image', blob(image), 'photo');
    if (options.all) form.set('all', 'true');
    return ok(this.api.POST('/v1/users/{user}/recognize', { params: { path: { user } }, body: form as never }));
  }

  async caption(user: string, image: Bytes, style?: 'short' | 'detailed'): Promise<Caption> {
    const body = { user, image: { data: await base64(image) }, style };
    // Without `stream` the answer is JSON, never the event-stream text the document also allows.
    return (await ok(this.api.POST('/v1/caption', { body }))) as Caption;
  }

  async ask(user: string, image: Bytes, question: string): Promise<Answer> {
    const body = { user, image: { data: await base64(image) }, question };
    return (await ok(this.api.POST('/v1/ask', { body }))) as Answer;
  }

  /** A caption as it is written: `delta` events with pieces of text, then the whole caption. */
  async *captionStream(user: string, image: Bytes, style?: 'short' | 'detailed'): AsyncGenerator<CaptionEvent> {
    const body = { user, image: { data: await base64(image) }, style, stream: true };
    for await (const e of this.stream(this.api.POST('/v1/caption', { body, parseAs: 'stream' })))
      yield e.type === 'delta' ? e : { type: 'done', caption: e.value as Caption };
  }

  /** An answer as it is written: `delta` events with pieces of text, then the whole answer. */
  async *askStream(user: string, image: Bytes, question: string): AsyncGenerator<AnswerEvent> {
    const body = { user, image: { data: await base64(image) }, question, stream: true };
    for await (const e of this.stream(this.api.POST('/v1/ask', { body, parseAs: 'stream' })))
      yield e.type === 'delta' ? e : { type: 'done', answer: e.value as Answer };
  }

  private async *stream(
    call: Promise<{ data?: unknown; error?: unknown; response: Response }>,
  ): AsyncGenerator<{ type: 'delta'; text: string } | { type: 'done'; value: unknown }> {
    const { response } = await call;
    if (!response.ok || !response.body) throw await errorOf(response);
    for await (const { event, data } of events(response.body)) {
      const value = JSON.parse(data);
      if (event === 'delta') yield { type: 'delta', text: value.text };
      else if (event === 'done') yield { type: 'done', value };
      else if (event === 'error') throw new NomenError(response.status, value.error.code, value.error.message);
    }
  }

  /** An OpenAI-style chat completion in which the user's concepts are named (`user` names whose). */
  chatCompletion(body: Schemas['ChatCompletionRequest']) {
    return ok(this.api.POST('/v1/chat/completions', { body }));
  }

  /** Deletes every concept, video and stored image of a user. */
  async deleteUser(user: string): Promise<void> {
    await ok(this.api.DELETE('/v1/users/{user}', { params: { path: { user } } }));
  }

  /** Uploads a video for indexing; poll `video` (or `waitForVideo`) until it is ready. */
  uploadVideo(
    user: string,
    file: Bytes,
    options: { fps?: number; name?: string; onUpload?: (sent: number, total: number) => void } = {},
  ) {
    const form = new FormData();
    form.set('file', blob(file), options.name ?? 'video');
    if (options.fps !== undefined) form.set('fps', String(options.fps));
    const fetch = options.onUpload && this.fetch(options.onUpload);
    return ok(this.api.POST('/v1/users/{user}/videos', { params: { path: { user } }, body: form as never, fetch }));
  }

  video(user: string, id: string): Promise<Video> {
    return ok(this.api.GET('/v1/users/{user}/videos/{id}', { params: { path: { user, id } } }));
  }

  /** Polls a video until it is ready (or failed, which throws), reporting its progress on the way. */
  async waitForVideo(user: string, id: string, onProgress?: (v: Video) => void, everyMs = 500): Promise<Video> {
    for (;;) {
      const v = await this.video(user, id);
      onProgress?.(v);
      if (v.status === 'ready') return v;
      if (v.status === 'failed') throw new NomenError(422, 'invalid_video', v.error ?? 'video indexing failed');
      await sleep(everyMs);
    }
  }

  async deleteVideo(user: string, id: string): Promise<void> {
    await ok(this.api.DELETE('/v1/users/{user}/videos/{id}', { params: { path: { user, id } } }));
  }

  /** Sends up to 100 photos for the library, as multipart parts named by their ids; follow `waitForPhotoJob`. */
  addPhotos(
    user: string,
    photos: LibraryUpload[],
    options: { onUpload?: (sent: number, total: number) => void } = {},
  ): Promise<PhotoJobAccepted> {
    const form = new FormData();
    for (const p of photos) form.append(p.id, blob(p.bytes), p.id);
    const fetch = options.onUpload && this.fetch(options.onUpload);
    return ok(this.api.POST('/v1/users/{user}/photos', { params: { path: { user } }, body: form as never, fetch }));
  }

  /**
   * Indexes any number of photos: requests of at most 100, then each job awaited in turn. `onUpload` counts the
   * photos' bytes sent of all, `onProgress` the photos indexed of all; answers the finished jobs.
   */
  async indexPhotos(
    user: string,
    photos: LibraryUpload[],
    options: {
      onUpload?: (sent: number, total: number) => void;
      onProgress?: (done: number, total: number) => void;
    } = {},
  ): Promise<PhotoJob[]> {
    const bytes = (batch: LibraryUpload[]) => batch.reduce((n, p) => n + sizeOf(p.bytes), 0);
    const total = bytes(photos);
    const jobs: string[] = [];
    for (let start = 0; start < photos.length; start += PHOTOS_PER_REQUEST) {
      const batch = photos.slice(start, start + PHOTOS_PER_REQUEST);
      const before = bytes(photos.slice(0, start));
      const { onUpload } = options;
      // A batch's share of the bar is its photos' bytes; its multipart body is a little more than they are.
      const counted =
        onUpload && ((sent: number, all: number) => onUpload(before + (sent / all) * bytes(batch), total));
      jobs.push((await this.addPhotos(user, batch, { onUpload: counted })).job);
    }
    const finished: PhotoJob[] = [];
    for (const job of jobs) {
      const done = finished.reduce((n, j) => n + j.done, 0);
      finished.push(await this.waitForPhotoJob(user, job, (j) => options.onProgress?.(done + j.done, photos.length)));
    }
    return finished;
  }

  photoJob(user: string, job: string): Promise<PhotoJob> {
    return ok(this.api.GET('/v1/users/{user}/photo-jobs/{job}', { params: { path: { user, job } } }));
  }

  /** Polls a photo job until it is ready (or failed, which throws), reporting its progress on the way. */
  async waitForPhotoJob(user: string, job: string, onProgress?: (j: PhotoJob) => void, everyMs = 500) {
    for (;;) {
      const j = await this.photoJob(user, job);
      onProgress?.(j);
      if (j.status === 'ready') return j;
      const why = j.errors.map((e) => `${e.photo}: ${e.message}`).join('; ');
      if (j.status === 'failed') throw new NomenError(422, 'invalid_image', why || 'photo indexing failed');
      await sleep(everyMs);
    }
  }

  /** The library's photos of a concept (id or name; several: photos with all of them), best first, a page. */
  findPhotos(
    user: string,
    concept: string | string[],
    options: { limit?: number; cursor?: string; all?: boolean; text?: string } = {},
  ): Promise<{ photos: LibraryPhoto[]; next: string | null }> {
    const { all, ...rest } = options;
    const query = { concept: [concept].flat(), ...rest, ...(all ? { all: 'true' } : {}) };
    return ok(this.api.GET('/v1/users/{user}/photos', { params: { path: { user }, query } }));
  }

  async deletePhoto(user: string, id: string): Promise<void> {
    await ok(this.api.DELETE('/v1/users/{user}/photos/{id}', { params: { path: { user, id } } }));
  }

  /** Says a concept (its id: the API takes no name here) is (`correct: true`) or is not on a photo; retrains it. */
  async addFeedback(user: string, concept: string, correction: Correction): Promise<Feedback> {
    const { correct, box } = correction;
    const photo =
      'photo' in correction ? { photo: correction.photo } : { image: { data: await base64(correction.image) } };
    const params = { path: { user, id: concept } };
    return ok(this.api.POST('/v1/users/{user}/concepts/{id}/feedback', { params, body: { correct, box, ...photo } }));
  }

  async listFeedback(user: string, concept: string): Promise<Feedback[]> {
    const params = { path: { user, id: concept } };
    return (await ok(this.api.GET('/v1/users/{user}/concepts/{id}/feedback', { params }))).feedback;
  }

  /** Undoes a correction; the concept is retrained as before it. */
  async deleteFeedback(user: string, concept: string, feedback: string): Promise<void> {
    const params = { path: { user, id: concept, feedback } };
    await ok(this.api.DELETE('/v1/users/{user}/concepts/{id}/feedback/{feedback}', { params }));
  }

  /** The moments of a video in which a concept (id or name) appears, best first. */
  async moments(user: string, id: string, concept: string): Promise<Moment[]> {
    const params = { path: { user, id }, query: { concept } };
    return (await ok(this.api.GET('/v1/users/{user}/videos/{id}/moments', { params }))).moments;
  }
}
