/**
 * POST /v1/users/{user}/videos: a video to index, as a multipart file part (streamed to disk) or JSON base64;
 * answers 202 once it is probed and queued. Documented in the OpenAPI registry but routed by hand: the
 * validator zod-openapi would add reads a multipart body whole into memory.
 */
import { writeFile, rm } from 'node:fs/promises';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { DomainError } from '../../../../concepts/errors.js';
import { decodeBase64 } from '../../../../concepts/intake/intake.js';
import type { VideoService } from '../../../../concepts/video/videos.js';
import type { Api, AppEnv, Deps } from '../../context.js';
import { describeIssues, errorResponses } from '../../errors.js';
import { multipartBoundary, readMultipart } from '../../multipart.js';
import { FilePart, UserParams } from '../../schemas.js';

const PATH = /^\/v1\/users\/[^/]+\/videos\/?$/;
const fps = { description: 'frames sampled per second (default 2); scene changes add frames' };
const JsonBody = z.object({
  data: z.string().openapi({
    description: 'base64 of the video file, or a data:video/...;base64, URL; for clips that fit the JSON body limit',
  }),
  fps: z.number().optional().openapi(fps),
});
const FormBody = z.object({ file: FilePart, fps: z.string().optional().openapi(fps) });
const Fps = z.coerce.number().refine(Number.isFinite, 'must be a number');

const Accepted = z
  .object({ id: z.string().openapi({ format: 'uuid' }), status: z.literal('queued') })
  .openapi('VideoAccepted');

/** Multipart uploads to this route are bounded by the video size limit, not the general body limit. */
export function isVideoUpload(c: Context): boolean {
  return (
    c.req.method === 'POST' && PATH.test(c.req.path) && multipartBoundary(c.req.header('Content-Type')) !== undefined
  );
}

function valid<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new DomainError('invalid_request', describeIssues(parsed.error));
  return parsed.data;
}

/** Writes the request's video to `path`; returns the fps it asks for, if any. */
async function receive(c: Context<AppEnv>, videos: VideoService, path: string): Promise<number | undefined> {
  const type = c.req.header('Content-Type');
  const boundary = multipartBoundary(type);
  const { maxBytes } = videos.options;
  if (boundary) {
    // A declared length over the limit is refused before a byte is read (multipart framing adds a little).
    if (Number(c.req.header('Content-Length')) > maxBytes + 64 * 1024)
      throw new DomainError('too_large', `the video is over the limit of ${maxBytes} bytes`);
    const form = await readMultipart(c.req.raw.body, boundary, {
      file: 'file',
      path,
      maxFileBytes: maxBytes,
      fields: ['fps'],
    });
    if (!form.hasFile) throw new DomainError('invalid_request', 'send the video as a file part named "file"');
    return form.fields.fps === undefined ? undefined : valid(Fps, form.fields.fps);
  }
  if (/^application\/([\w.-]+\+)?json/i.test(type ?? '')) {
    const json = await c.req.json().catch(() => {
      throw new DomainError('invalid_request', 'the body is not valid JSON');
    });
    const body = valid(JsonBody, json);
    await writeFile(path, decodeBase64(body.data, maxBytes, 'video'), { flag: 'wx' });
    return body.fps;
  }
  throw new DomainError(
    'unsupported_media_type',
    'send the video as multipart/form-data (part "file") or as JSON {data}',
  );
}

export function registerUploadVideo(app: Api, { videos }: Deps): void {
  if (!videos) return;
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/v1/users/{user}/videos',
    summary: 'Upload a video to index',
    description: 'MP4, MOV, WebM or MKV. Probed before it is queued; poll GET .../videos/{id} until it is ready.',
    tags: ['videos'],
    request: {
      params: UserParams,
      body: { content: { 'multipart/form-data': { schema: FormBody }, 'application/json': { schema: JsonBody } } },
    },
    responses: {
      202: { description: 'Queued for indexing', content: { 'application/json': { schema: Accepted } } },
      ...errorResponses(400, 401, 413, 415),
    },
  });
  app.post('/v1/users/:user/videos', async (c) => {
    const { user } = valid(UserParams, { user: c.req.param('user') });
    const upload = await videos.uploadPath();
    try {
      const fps = await receive(c, videos, upload);
      const video = await videos.add({ tenant: c.var.tenant, user }, upload, fps);
      return c.json({ id: video.id, status: video.status }, 202, { Location: `/v1/users/${user}/videos/${video.id}` });
    } finally {
      // Consumed by `add` when it got that far; otherwise what was written goes.
      await rm(upload, { force: true });
    }
  });
}
