/** GET /v1/users/{user}/photo-jobs/{job}: how far an indexing job is. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { UserId, UuidParam } from '../../schemas.js';

const Params = z.object({ user: UserId, job: UuidParam('job', 'a job id') });

const PhotoJob = z
  .object({
    job: z.string().openapi({ format: 'uuid' }),
    status: z.enum(['queued', 'processing', 'ready', 'failed']),
    done: z.number().int().openapi({ description: 'photos handled so far, indexed or not' }),
    total: z.number().int(),
    errors: z
      .array(z.object({ photo: z.string(), message: z.string() }))
      .openapi({ description: 'photos that could not be indexed, and why' }),
  })
  .openapi('PhotoJob');

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/photo-jobs/{job}',
  summary: 'Follow a photo indexing job',
  description: 'Finished jobs are kept an hour.',
  tags: ['photos'],
  request: { params: Params },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: PhotoJob } } },
    ...errorResponses(400, 401, 404),
  },
});

export function registerGetPhotoJob(app: Api, { library }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user, job } = c.req.valid('param');
    return c.json(await library.job({ tenant: c.var.tenant, user }, job), 200);
  });
}
