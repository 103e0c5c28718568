/** GET /v1/users/{user}/videos/{id}/moments?concept=: where a concept is on screen, best first. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { Moment, VideoParams } from '../../schemas.js';

const Query = z.object({
  concept: z
    .string()
    .trim()
    .min(1, 'required: a concept id or name')
    .max(128)
    .openapi({ param: { name: 'concept', in: 'query' }, description: 'concept id or name', example: 'Biscuit' }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/videos/{id}/moments',
  summary: 'Find the moments a concept is on screen',
  description: 'Works for concepts registered after the video was indexed. 422 while the video is not ready.',
  tags: ['videos'],
  request: { params: VideoParams, query: Query },
  responses: {
    200: {
      description: 'Moments in seconds, best first',
      content: { 'application/json': { schema: z.object({ moments: z.array(Moment) }) } },
    },
    ...errorResponses(400, 401, 404, 422),
  },
});

export function registerVideoMoments(app: Api, { videos }: Deps): void {
  if (!videos) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    const moments = await videos.moments({ tenant: c.var.tenant, user }, id, c.req.valid('query').concept);
    return c.json({ moments }, 200);
  });
}
