/** The streaming multipart reader: bodies cut into chunks anywhere, limits, and malformed bodies. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBoundary, readMultipart } from '../services/api/multipart.js';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nomen-multipart-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The body as a stream of chunks of `size` bytes. */
function stream(body: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= body.length) return controller.close();
      controller.enqueue(body.slice(at, at + size));
      at += size;
    },
  });
}

async function encode(form: FormData): Promise<{ body: Uint8Array; boundary: string }> {
  const request = new Request('http://x/', { method: 'POST', body: form });
  return {
    body: new Uint8Array(await request.arrayBuffer()),
    boundary: multipartBoundary(request.headers.get('Content-Type')!)!,
  };
}

async function read(body: Uint8Array, boundary: string, chunk: number, maxFileBytes = 1 << 20) {
  const path = join(dir, `f${n++}`);
  const result = await readMultipart(stream(body, chunk), boundary, {
    file: 'file',
    path,
    maxFileBytes,
    fields: ['fps'],
  });
  return { ...result, bytes: new Uint8Array(await readFile(path)) };
}

describe('readMultipart', () => {
  // Bytes that look like the start of a delimiter, so a chunk edge inside one is exercised.
  const payload = new Uint8Array(5000).map((_, i) => (i % 97 === 0 ? 0x0d : i % 89 === 0 ? 0x2d : (i * 31) % 256));

  it('writes the file part and collects the fields, whatever the chunk size', async () => {
    const form = new FormData();
    form.append('fps', '2.5');
    form.append('file', new File([payload], 'clip.mp4'));
    const { body, boundary } = await encode(form);
    for (const chunk of [1, 2, 7, 64, 1000, body.length]) {
      const r = await read(body, boundary, chunk);
      expect(r.fields).toEqual({ fps: '2.5' });
      expect(r.hasFile).toBe(true);
      expect(r.fileBytes).toBe(payload.length);
      expect(Buffer.from(r.bytes).equals(Buffer.from(payload))).toBe(true);
    }
  });

  it('refuses a file over the limit, a part it does not expect, a second file and a cut body', async () => {
    const form = new FormData();
    form.append('file', new File([payload], 'clip.mp4'));
    const { body, boundary } = await encode(form);
    await expect(read(body, boundary, 100, 4000)).rejects.toMatchObject({ code: 'too_large' });
    await expect(read(body.subarray(0, body.length - 10), boundary, 100)).rejects.toMatchObject({
      code: 'invalid_request',
    });

    const extra = new FormData();
    extra.append('name', 'x');
    const unexpected = await encode(extra);
    await expect(read(unexpected.body, unexpected.boundary, 100)).rejects.toThrow(/unexpected part "name"/);
    const twice = new FormData();
    twice.append('file', new File([payload], 'a.mp4'));
    twice.append('file', new File([payload], 'b.mp4'));
    const encoded = await encode(twice);
    await expect(read(encoded.body, encoded.boundary, 100)).rejects.toThrow(/more than one file part/);
  });

  it('reads the boundary of a multipart Content-Type only', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary('multipart/form-data')).toBeUndefined();
  });
});
