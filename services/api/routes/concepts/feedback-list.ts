/** GET /v1/users/{user}/concepts/{id}/feedback: a concept's corrections, oldest first. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { ConceptParams, Feedback } from '../../schemas.js';

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/concepts/{id}/feedback',
  summary: "List a concept's corrections",
  tags: ['concepts'],
  request: { params: ConceptParams },
  responses: {
    200: {
      description: 'Corrections, oldest first',
      content: { 'application/json': { schema: z.object({ feedback: z.array(Feedback) }) } },
    },
    ...errorResponses(400, 401, 404),
  },
});

export function registerListFeedback(app: Api, { library }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    return c.json({ feedback: await library.corrections.feedback({ tenant: c.var.tenant, user }, id) }, 200);
  });
}
