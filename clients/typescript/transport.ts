/**
 * The client's plumbing under the typed calls: errors as NomenError, retries on 429 and 503, upload counting,
 * server-sent events, and request bodies from bytes.
 */
import type { components } from './schema.js';

type Schemas = components['schemas'];
export type ErrorCode = Schemas['Error']['error']['code'];
/** Image bytes as the client takes them; a box marks the concept on an example photo. */
export type Bytes = Blob | Uint8Array;
export type ExampleImage = Bytes | { bytes: Bytes; box?: Schemas['Box'] };

/** An error answer of the API, with its own code and message. */
export class NomenError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'NomenError';
  }
}

const RETRIED = new Set([429, 503]);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const blob = (b: Bytes) => (b instanceof Blob ? b : new Blob([new Uint8Array(b)]));
export const base64 = async (b: Bytes) => {
  const bytes = b instanceof Blob ? new Uint8Array(await b.arrayBuffer()) : b;
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

export const sizeOf = (b: Bytes) => (b instanceof Blob ? b.size : b.byteLength);
/** A fetch that sends a request again after a 429 or 503, waiting what the answer's Retry-After says. */
export function retryingFetch(inner: typeof fetch, retries: number, maxWaitS: number): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    for (let attempt = 0; ; attempt++) {
      const res = await inner(request.clone()).catch((e: Error) => {
        const cause = e.cause instanceof Error ? e.cause.message : e.message;
        throw new NomenError(0, 'network', `cannot reach ${new URL(request.url).origin}: ${cause}`);
      });
      if (!RETRIED.has(res.status) || attempt >= retries) return res;
      const after = Number(res.headers.get('Retry-After'));
      await res.body?.cancel();
      await sleep(1000 * Math.min(maxWaitS, Number.isFinite(after) && after >= 0 ? after : 2 ** attempt));
    }
  };
}

export async function errorOf(res: Response, body?: unknown): Promise<NomenError> {
  const parsed = (body ?? (await res.json().catch(() => undefined))) as Schemas['Error'] | undefined;
  const after = res.headers.get('Retry-After');
  return new NomenError(
    res.status,
    parsed?.error?.code ?? 'internal',
    parsed?.error?.message ?? `${res.status} ${res.statusText}`,
    after === null ? undefined : Number(after),
  );
}

/**
 * A fetch that streams the request's body through a counter, for a progress bar on a long upload (Node: browsers
 * stream request bodies only over HTTP/2).
 */
export function countingFetch(inner: typeof fetch, onUpload: (sent: number, total: number) => void): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    if (!request.body) return inner(request);
    const body = await request.blob();
    let sent = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        onUpload((sent += chunk.byteLength), body.size);
        out.enqueue(chunk);
      },
    });
    const { method, headers, signal } = request;
    const stream = body.stream().pipeThrough(counter);
    return inner(new Request(request.url, { method, headers, signal, body: stream, duplex: 'half' } as RequestInit));
  };
}

/** The data of an openapi-fetch answer, or its error thrown as a NomenError. */
export async function ok<R extends { data?: unknown; error?: unknown; response: Response }>(
  p: Promise<R>,
): Promise<NonNullable<R['data']>> {
  const { data, error, response } = await p;
  if (error !== undefined || !response.ok) throw await errorOf(response, error);
  return data as NonNullable<R['data']>;
}

/** Server-sent events of a streamed answer, as {event, data} pairs. */
export async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
      yield { event: field('event')[0] ?? 'message', data: field('data').join('\n') };
    }
  }
}

/** Example photos as multipart image parts, with their boxes aligned in one `boxes` field. */
export function examples(images: ExampleImage[]): FormData {
  const form = new FormData();
  const boxes = images.map((i) => (i instanceof Blob || i instanceof Uint8Array ? null : (i.box ?? null)));
  images.forEach((i, n) => {
    form.append('images', blob(i instanceof Blob || i instanceof Uint8Array ? i : i.bytes), `example-${n}`);
  });
  if (boxes.some((b) => b)) form.set('boxes', JSON.stringify(boxes));
  return form;
}
