/** GET /v1/users/{user}/concepts/{id}/crops/{n}: the subject cropped from an example photo, what a person checks. */
import { createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../../../../concepts/errors.js';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { ConceptParams } from '../../schemas.js';

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/concepts/{id}/crops/{n}',
  summary: "A reference crop of a concept's subject",
  tags: ['concepts'],
  request: {
    params: ConceptParams.extend({
      n: z.coerce.number().int().min(0).max(999).openapi({ description: 'which example photo, from 0', example: 0 }),
    }),
  },
  responses: {
    200: {
      description: 'The crop, JPEG',
      content: { 'image/jpeg': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(400, 401, 404),
  },
});

export function registerConceptCrop(app: Api, { service }: Deps): void {
  app.openapi(route, async (c) => {
    const { user, id, n } = c.req.valid('param');
    const crop = await service.referenceCrop({ tenant: c.var.tenant, user }, id, n);
    if (!crop) throw new DomainError('not_found', `concept ${id} has no crop of photo ${n}`);
    return c.body(new Uint8Array(crop), 200, { 'Content-Type': 'image/jpeg', 'Cache-Control': 'private, no-cache' });
  });
}
