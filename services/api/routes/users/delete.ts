/**
 * DELETE /v1/users/{user}: every concept, vector and stored image of the user, every video with its frames and
 * files, and the photo library.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { UserParams } from '../../schemas.js';

const route = createRoute({
  method: 'delete',
  path: '/v1/users/{user}',
  summary: "Delete a user's data",
  tags: ['users'],
  request: { params: UserParams },
  responses: {
    204: { description: 'Deleted (also when there was nothing to delete)' },
    ...errorResponses(400, 401),
  },
});

export function registerDeleteUser(app: Api, { service, videos, library }: Deps): void {
  app.openapi(route, async (c) => {
    const scope = { tenant: c.var.tenant, user: c.req.valid('param').user };
    await Promise.all([service.removeUser(scope), videos?.removeUser(scope), library?.removeUser(scope)]);
    return c.body(null, 204);
  });
}
