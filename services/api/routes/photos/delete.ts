/** DELETE /v1/users/{user}/photos/{id}: a photo out of the library. */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { PhotoParams } from '../../schemas.js';

const route = createRoute({
  method: 'delete',
  path: '/v1/users/{user}/photos/{id}',
  summary: 'Remove a photo from the library',
  description: 'Also takes it out of a job that has yet to index it.',
  tags: ['photos'],
  request: { params: PhotoParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(400, 401, 404) },
});

export function registerDeletePhoto(app: Api, { library }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    await library.remove({ tenant: c.var.tenant, user }, id);
    return c.body(null, 204);
  });
}
