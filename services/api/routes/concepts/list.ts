/** GET /v1/users/{user}/concepts: every concept of the user, oldest first. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { Concept, UserParams } from '../../schemas.js';

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/concepts',
  summary: 'List concepts',
  tags: ['concepts'],
  request: { params: UserParams },
  responses: {
    200: {
      description: 'The concepts',
      content: { 'application/json': { schema: z.object({ concepts: z.array(Concept) }) } },
    },
    ...errorResponses(400, 401),
  },
});

export function registerListConcepts(app: Api, { service }: Deps): void {
  app.openapi(route, async (c) => {
    const concepts = await service.list({ tenant: c.var.tenant, user: c.req.valid('param').user });
    return c.json({ concepts }, 200);
  });
}
