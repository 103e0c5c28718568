/** POST /v1/users/{user}/concepts: register a concept from 1 to N example photos. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { formWithImages, toImageInputs, validBody } from '../../images.js';
import { Category, Concept, ConceptName, Description, ImageData, UserParams } from '../../schemas.js';

const fields = { name: ConceptName, category: Category.optional(), description: Description.optional() };

const route = createRoute({
  method: 'post',
  path: '/v1/users/{user}/concepts',
  summary: 'Register a concept',
  tags: ['concepts'],
  request: {
    params: UserParams,
    body: {
      // Not `required`: zod-openapi would then demand JSON of multipart requests too; validBody answers an empty body.
      content: {
        'application/json': { schema: z.object({ ...fields, images: z.array(ImageData).min(1) }) },
        'multipart/form-data': { schema: formWithImages(fields) },
      },
    },
  },
  responses: {
    201: { description: 'The new concept', content: { 'application/json': { schema: Concept } } },
    ...errorResponses(400, 401, 409, 413, 415, 422),
  },
});

export function registerCreateConcept(app: Api, { service, config, personal }: Deps): void {
  app.openapi(route, async (c) => {
    const { name, category, description, images } = validBody(c);
    const scope = { tenant: c.var.tenant, user: c.req.valid('param').user };
    const concept = await service.register(scope, {
      name,
      category,
      description,
      images: await toImageInputs(images, config.limits, c.var.urlFetcher),
    });
    // Without a description the VLM writes one in the background; the answer does not wait for it.
    personal?.describer?.schedule(scope, concept);
    return c.json(concept, 201);
  });
}
