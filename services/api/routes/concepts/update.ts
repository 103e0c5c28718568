/** PATCH /v1/users/{user}/concepts/{id}: rename or re-describe; photos are changed through /images. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { Category, Concept, ConceptName, ConceptParams, Description } from '../../schemas.js';

const Patch = z
  .object({ name: ConceptName.optional(), category: Category.optional(), description: Description.optional() })
  .refine((p) => Object.values(p).some((v) => v !== undefined), 'send at least one of name, category, description');

const route = createRoute({
  method: 'patch',
  path: '/v1/users/{user}/concepts/{id}',
  summary: 'Update a concept',
  tags: ['concepts'],
  request: { params: ConceptParams, body: { required: true, content: { 'application/json': { schema: Patch } } } },
  responses: {
    200: { description: 'The updated concept', content: { 'application/json': { schema: Concept } } },
    ...errorResponses(400, 401, 404, 409, 415),
  },
});

export function registerUpdateConcept(app: Api, { service }: Deps): void {
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    return c.json(await service.update({ tenant: c.var.tenant, user }, id, c.req.valid('json')), 200);
  });
}
