/**
 * Images in requests, JSON (base64) or multipart (file parts), to the domain's ImageInput[]: the one way routes read
 * images.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { DomainError } from '../../concepts/errors.js';
import { decodeBase64Image, type IntakeLimits } from '../../concepts/intake/intake.js';
import type { Box as DomainBox, ImageInput } from '../../concepts/types.js';
import type { AppEnv } from './context.js';
import { Box, FilePart, type ImageSource } from './schemas.js';
import type { UrlFetcher } from './url-fetch.js';

const Boxes = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: an array with one [x, y, w, h] or null per image part' });
      return z.NEVER;
    }
  })
  .pipe(z.array(Box.nullable()))
  .openapi({
    type: 'string',
    description: 'JSON array aligned with the image parts: [x, y, w, h] or null for each',
    example: '[[0.1, 0.2, 0.5, 0.6], null]',
  });

/**
 * A multipart body: the text fields of `shape`, then every file part, whatever its field name, as an image
 * in the order sent; an optional `boxes` field gives their boxes. Outputs the shape of the JSON body.
 */
export function formWithImages<S extends z.ZodRawShape>(shape: S) {
  return (
    z
      // `images` is the documented name; parts of any other name are images too.
      .looseObject({ ...shape, boxes: Boxes.optional(), images: z.union([FilePart, z.array(FilePart)]).optional() })
      .transform((form, ctx) => {
        const fields: Record<string, unknown> = {};
        const files: File[] = [];
        for (const [key, value] of Object.entries(form)) {
          // One part of a name arrives as a value, several as an array.
          const parts: unknown[] = [value].flat();
          if (key === 'boxes') continue;
          if (key in shape) fields[key] = value;
          else if (parts.every((p) => p instanceof File)) files.push(...(parts as File[]));
          else
            ctx.addIssue({
              code: 'custom',
              path: [key],
              message: `unknown field; fields are ${Object.keys(shape).join(', ')}, boxes and image files`,
            });
        }
        // Typed by hand: the generic shape hides the `boxes` field's type from the compiler.
        const { boxes = [] } = form as { boxes?: (number[] | null)[] };
        if (boxes.length > files.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['boxes'],
            message: `${boxes.length} boxes for ${files.length} image parts`,
          });
        }
        const images: ImageSource[] = files.map((file, i) => ({ file, box: boxes[i] ?? undefined }));
        return { ...fields, images } as z.output<z.ZodObject<S>> & { images: ImageSource[] };
      })
  );
}

/**
 * The validated body of a route that takes JSON or multipart: zod-openapi validates the one the
 * Content-Type names and leaves the other empty, so the Content-Type picks the one to read.
 */
export function validBody<J, F>(c: Context<AppEnv, string, { out: { json: J; form: F } }>): J | F {
  const type = c.req.header('Content-Type') ?? '';
  if (/^(multipart\/form-data|application\/x-www-form-urlencoded)/i.test(type)) return c.req.valid('form');
  if (/^application\/([\w.-]+\+)?json/i.test(type)) return c.req.valid('json');
  throw new DomainError('invalid_request', 'send a JSON or multipart/form-data body');
}

/**
 * Base64 text, file parts or URLs to bytes, after the count check; each image's size is judged before it is
 * decoded. URLs are fetched only with a `fetcher` (the server's NOMEN_ALLOW_URL_FETCH).
 */
export async function toImageInputs(
  sources: ImageSource[],
  limits: IntakeLimits,
  fetcher?: UrlFetcher,
): Promise<ImageInput[]> {
  if (sources.length === 0 || sources.length > limits.maxImages) {
    throw new DomainError('invalid_request', `send 1 to ${limits.maxImages} images per request, got ${sources.length}`);
  }
  const bytes = async (s: ImageSource, n: number): Promise<Uint8Array> => {
    if ('file' in s) return new Uint8Array(await s.file.arrayBuffer());
    if ((s.data === undefined) === (s.url === undefined))
      throw new DomainError('invalid_request', `image ${n}: send one of data (base64) and url`);
    if (s.data !== undefined) return decodeBase64Image(s.data, limits);
    if (!fetcher)
      throw new DomainError(
        'invalid_request',
        `image ${n}: fetching images by url is off on this server; send data (base64)`,
      );
    return fetcher.fetch(s.url!);
  };
  return Promise.all(
    sources.map(async (s, i) => ({
      bytes: await bytes(s, i + 1),
      // The schema checked it holds four fractions.
      box: s.box as DomainBox | undefined,
    })),
  );
}
