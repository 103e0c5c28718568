/** POST /v1/users/{user}/recognize: which of the user's concepts a photo shows. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { toImageInputs, validBody } from '../../images.js';
import { FilePart, ImageData, Recognition, UserParams } from '../../schemas.js';

const all = { description: 'one match for every concept of the user, present or not' };

const route = createRoute({
  method: 'post',
  path: '/v1/users/{user}/recognize',
  summary: 'Recognize concepts in a photo',
  tags: ['recognition'],
  request: {
    params: UserParams,
    body: {
      content: {
        'application/json': {
          schema: z.object({ image: ImageData.omit({ box: true }), all: z.boolean().optional().openapi(all) }),
        },
        'multipart/form-data': {
          schema: z
            .object({ image: FilePart, all: z.stringbool().optional().openapi(all) })
            .transform(({ image, all }) => ({ image: { file: image }, all })),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The concepts present (all of them with `all`)',
      content: { 'application/json': { schema: Recognition } },
    },
    ...errorResponses(400, 401, 413, 415),
  },
});

export function registerRecognize(app: Api, { service, config }: Deps): void {
  app.openapi(route, async (c) => {
    const { image, all } = validBody(c);
    const [input] = await toImageInputs([image], config.limits, c.var.urlFetcher);
    return c.json(
      await service.recognize({ tenant: c.var.tenant, user: c.req.valid('param').user }, input.bytes, all ?? false),
      200,
    );
  });
}
