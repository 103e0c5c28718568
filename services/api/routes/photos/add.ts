/**
 * POST /v1/users/{user}/photos: photos to index for the library, as multipart file parts named by photo id or JSON
 * `{photos: [{id, data}]}`; answers 202 with a job to poll.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../../../../concepts/errors.js';
import { decodeBase64Image } from '../../../../concepts/intake/intake.js';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { validBody } from '../../images.js';
import { PhotoId, UserParams } from '../../schemas.js';

const JsonBody = z.object({
  photos: z
    .array(
      z.object({ id: PhotoId, data: z.string().openapi({ description: 'base64, or a data:image/...;base64, URL' }) }),
    )
    .min(1),
});

// Each part's name is its photo id; the ids are checked by the library, which answers 400 for a bad one.
const FormBody = z
  .record(z.string(), z.unknown())
  .transform((form, ctx) =>
    Object.entries(form).flatMap(([id, value]) => {
      if (value instanceof File) return [{ id, file: value }];
      ctx.addIssue({
        code: 'custom',
        path: [id],
        message: Array.isArray(value) ? 'one part per photo id' : 'must be an image file part',
      });
      return [];
    }),
  )
  .openapi({
    type: 'object',
    additionalProperties: { type: 'string', format: 'binary' },
    description: 'one image file part per photo, named by its photo id',
  });

const Accepted = z
  .object({
    job: z.string().openapi({ format: 'uuid' }),
    accepted: z.number().int().openapi({ description: 'photos taken into the job' }),
  })
  .openapi('PhotoJobAccepted');

const route = createRoute({
  method: 'post',
  path: '/v1/users/{user}/photos',
  summary: 'Index photos for the library',
  description:
    'Stores the region vectors recognition uses, not the photos. Idempotent per photo id: a photo already indexed ' +
    'is left as it is (delete it first to replace it). Poll GET .../photo-jobs/{job}.',
  tags: ['photos'],
  request: {
    params: UserParams,
    body: { content: { 'application/json': { schema: JsonBody }, 'multipart/form-data': { schema: FormBody } } },
  },
  responses: {
    202: { description: 'Queued for indexing', content: { 'application/json': { schema: Accepted } } },
    ...errorResponses(400, 401, 413, 415),
  },
});

export function registerAddPhotos(app: Api, { library, config }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user } = c.req.valid('param');
    const body = validBody(c);
    const photos = await Promise.all(
      Array.isArray(body)
        ? body.map(async (p) => ({ id: p.id, bytes: new Uint8Array(await p.file.arrayBuffer()) }))
        : body.photos.map((p) => ({ id: p.id, bytes: decodeBase64Image(p.data, config.limits) })),
    );
    if (photos.some((p) => p.bytes.length > config.limits.maxBytes))
      throw new DomainError('too_large', `an image is over the limit of ${config.limits.maxBytes} bytes`);
    const accepted = await library.add({ tenant: c.var.tenant, user }, photos);
    return c.json(accepted, 202, { Location: `/v1/users/${user}/photo-jobs/${accepted.job}` });
  });
}
