/**
 * DELETE /v1/users/{user}/concepts/{id}: the concept with every vector, head and stored image of it, and the library's
 * record of its corrections.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { ConceptParams } from '../../schemas.js';

const route = createRoute({
  method: 'delete',
  path: '/v1/users/{user}/concepts/{id}',
  summary: 'Delete a concept',
  tags: ['concepts'],
  request: { params: ConceptParams },
  responses: {
    204: { description: 'Deleted' },
    ...errorResponses(400, 401, 404),
  },
});

export function registerDeleteConcept(app: Api, { service, library }: Deps): void {
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    await service.remove({ tenant: c.var.tenant, user }, id);
    await library?.corrections.forgetConcept({ tenant: c.var.tenant, user }, id);
    return c.body(null, 204);
  });
}
