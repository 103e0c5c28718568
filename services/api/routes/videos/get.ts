/** GET /v1/users/{user}/videos/{id}: a video's indexing status and progress. */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { Video, VideoParams } from '../../schemas.js';

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/videos/{id}',
  summary: 'Get a video',
  tags: ['videos'],
  request: { params: VideoParams },
  responses: {
    200: { description: 'The video and how far its indexing got', content: { 'application/json': { schema: Video } } },
    ...errorResponses(400, 401, 404),
  },
});

export function registerGetVideo(app: Api, { videos }: Deps): void {
  if (!videos) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    return c.json(await videos.get({ tenant: c.var.tenant, user }, id), 200);
  });
}
