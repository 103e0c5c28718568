/**
 * A multipart/form-data body read as it streams: one named file part goes straight to a file, small text
 * fields are collected. Nothing is held in memory beyond a chunk and a boundary's length, so an upload of
 * gigabytes costs what one of kilobytes does (hono's own parser buffers the whole body).
 */
import { open } from 'node:fs/promises';
import { DomainError } from '../../concepts/errors.js';

export interface MultipartOptions {
  /** The field name of the file part. */
  file: string;
  /** Where the file part is written; the caller removes it on failure. */
  path: string;
  maxFileBytes: number;
  /** The text fields accepted, besides the file. */
  fields: string[];
}

export interface Multipart {
  fields: Record<string, string>;
  fileBytes: number;
  /** Whether the body held the file part. */
  hasFile: boolean;
}

const MAX_HEADER_BYTES = 8 * 1024;
const MAX_FIELD_BYTES = 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

/** The boundary of a multipart/form-data Content-Type, or undefined for any other type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!/^multipart\/form-data\s*;/i.test(contentType ?? '')) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType!);
  return m?.[1] ?? m?.[2];
}

const bad = (message: string) => new DomainError('invalid_request', `malformed multipart body: ${message}`);

function partName(headers: string): { name: string; filename?: string } {
  const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers)?.[1];
  const name = disposition && /\bname="([^"]*)"/i.exec(disposition)?.[1];
  if (name === undefined || name === null) throw bad('a part has no form-data name');
  const filename = /\bfilename="([^"]*)"/i.exec(disposition!)?.[1];
  return { name, filename };
}

export async function readMultipart(
  body: ReadableStream<Uint8Array> | null,
  boundary: string,
  options: MultipartOptions,
): Promise<Multipart> {
  if (!body) throw bad('the body is empty');
  // Every delimiter after the first is preceded by CRLF; a CRLF put in front makes the first look the same.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const result: Multipart = { fields: {}, fileBytes: 0, hasFile: false };
  const file = await open(options.path, 'wx');
  let buffer: Buffer = Buffer.from('\r\n');
  // Asserted, not annotated: closures change it, which narrowing at the declaration would hide.
  let state = 'preamble' as 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';
  let part: { name: string; isFile: boolean; text: Buffer[]; textBytes: number } | undefined;

  const emit = async (bytes: Buffer) => {
    if (!part || bytes.length === 0) return;
    if (part.isFile) {
      result.fileBytes += bytes.length;
      if (result.fileBytes > options.maxFileBytes)
        throw new DomainError('too_large', `the file is over the limit of ${options.maxFileBytes} bytes`);
      await file.write(bytes);
    } else {
      part.textBytes += bytes.length;
      if (part.textBytes > MAX_FIELD_BYTES) throw bad(`field ${part.name} is over ${MAX_FIELD_BYTES} bytes`);
      part.text.push(bytes);
    }
  };
  const endPart = () => {
    if (part && !part.isFile) result.fields[part.name] = Buffer.concat(part.text).toString('utf8');
    part = undefined;
  };

  /** Consumes what it can of `buffer`; false when it needs more bytes. */
  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble': {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          buffer = buffer.subarray(Math.max(0, buffer.length - delimiter.length + 1));
          return false;
        }
        buffer = buffer.subarray(at + delimiter.length);
        state = 'after-delimiter';
        return true;
      }
      case 'after-delimiter': {
        if (buffer.length < 2) return false;
        const next = buffer.subarray(0, 2).toString('latin1');
        buffer = buffer.subarray(2);
        if (next === '--') state = 'done';
        else if (next === '\r\n') state = 'headers';
        else throw bad('a boundary is followed by neither CRLF nor --');
        return true;
      }
      case 'headers': {
        const at = buffer.indexOf(CRLF2);
        if (at < 0) {
          if (buffer.length > MAX_HEADER_BYTES) throw bad('part headers are too long');
          return false;
        }
        const { name, filename } = partName(buffer.subarray(0, at).toString('utf8'));
        buffer = buffer.subarray(at + CRLF2.length);
        const isFile = name === options.file;
        if (isFile && result.hasFile) throw bad(`more than one ${options.file} part`);
        if (!isFile && (filename !== undefined || !options.fields.includes(name))) {
          throw bad(
            `unexpected part "${name}"; send the video as part ` +
              `"${options.file}"${options.fields.length ? ` and optionally ${options.fields.join(', ')}` : ''}`,
          );
        }
        result.hasFile ||= isFile;
        part = { name, isFile, text: [], textBytes: 0 };
        state = 'body';
        return true;
      }
      case 'body': {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          // Keep what could be the start of a delimiter split across chunks.
          const keep = Math.min(buffer.length, delimiter.length - 1);
          await emit(buffer.subarray(0, buffer.length - keep));
          buffer = buffer.subarray(buffer.length - keep);
          return false;
        }
        await emit(buffer.subarray(0, at));
        endPart();
        buffer = buffer.subarray(at + delimiter.length);
        state = 'after-delimiter';
        return true;
      }
      case 'done':
        return false;
    }
  };

  const reader = body.getReader();
  try {
    for (;;) {
      while (await step());
      if (state === 'done') break;
      const { done, value } = await reader.read();
      if (done) throw bad('the body ended before the closing boundary');
      // Copies the small remainder only: in the body state it is shorter than a delimiter.
      buffer =
        buffer.length > 0
          ? Buffer.concat([buffer, value])
          : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
    return result;
  } finally {
    await reader.cancel().catch(() => undefined);
    await file.close();
  }
}
