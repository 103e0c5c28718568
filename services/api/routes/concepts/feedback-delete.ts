/** DELETE /v1/users/{user}/concepts/{id}/feedback/{feedback}: a correction undone; the concept is retrained. */
import { createRoute } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { FeedbackParams } from '../../schemas.js';

const route = createRoute({
  method: 'delete',
  path: '/v1/users/{user}/concepts/{id}/feedback/{feedback}',
  summary: 'Undo a correction',
  tags: ['concepts'],
  request: { params: FeedbackParams },
  responses: { 204: { description: 'Undone, the concept retrained' }, ...errorResponses(400, 401, 404) },
});

export function registerDeleteFeedback(app: Api, { library }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user, id, feedback } = c.req.valid('param');
    await library.corrections.undo({ tenant: c.var.tenant, user }, id, feedback);
    return c.body(null, 204);
  });
}
