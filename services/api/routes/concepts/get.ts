/** GET /v1/users/{user}/concepts/{id}. */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { Concept, ConceptParams } from '../../schemas.js';

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/concepts/{id}',
  summary: 'Get a concept',
  tags: ['concepts'],
  request: { params: ConceptParams },
  responses: {
    200: { description: 'The concept', content: { 'application/json': { schema: Concept } } },
    ...errorResponses(400, 401, 404),
  },
});

export function registerGetConcept(app: Api, { service }: Deps): void {
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    return c.json(await service.get({ tenant: c.var.tenant, user }, id), 200);
  });
}
