/**
 * POST /v1/users/{user}/concepts/{id}/images: more example photos, or with `negative` photos without the concept;
 * retrains.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { formWithImages, toImageInputs, validBody } from '../../images.js';
import { Concept, ConceptParams, ImageData } from '../../schemas.js';

const route = createRoute({
  method: 'post',
  path: '/v1/users/{user}/concepts/{id}/images',
  summary: 'Add photos to a concept',
  tags: ['concepts'],
  request: {
    params: ConceptParams,
    body: {
      content: {
        'application/json': {
          schema: z.object({ images: z.array(ImageData).min(1), negative: z.boolean().optional() }),
        },
        'multipart/form-data': { schema: formWithImages({ negative: z.stringbool().optional() }) },
      },
    },
  },
  responses: {
    200: { description: 'The retrained concept', content: { 'application/json': { schema: Concept } } },
    ...errorResponses(400, 401, 404, 413, 415, 422),
  },
});

export function registerAddImages(app: Api, { service, config }: Deps): void {
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    const { images, negative } = validBody(c);
    const concept = await service.addImages(
      { tenant: c.var.tenant, user },
      id,
      await toImageInputs(images, config.limits, c.var.urlFetcher),
      negative ?? false,
    );
    return c.json(concept, 200);
  });
}
