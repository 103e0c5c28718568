/** DELETE /v1/users/{user}/videos/{id}: the video with its indexing job, frame vectors and file. */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { VideoParams } from '../../schemas.js';

const route = createRoute({
  method: 'delete',
  path: '/v1/users/{user}/videos/{id}',
  summary: 'Delete a video',
  tags: ['videos'],
  request: { params: VideoParams },
  responses: {
    204: { description: 'Deleted; a job in progress is stopped' },
    ...errorResponses(400, 401, 404),
  },
});

export function registerDeleteVideo(app: Api, { videos }: Deps): void {
  if (!videos) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    await videos.remove({ tenant: c.var.tenant, user }, id);
    return c.body(null, 204);
  });
}
