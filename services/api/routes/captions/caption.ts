/** POST /v1/caption: a caption of a photo that calls the user's concepts in it by their names. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { answerPhoto, eventStream, NamedMatch, PhotoRequest, Timings } from '../../personal.js';

const Caption = z
  .object({ caption: z.string(), concepts: z.array(NamedMatch), model: z.string(), timings: Timings })
  .openapi('Caption');

const route = createRoute({
  method: 'post',
  path: '/v1/caption',
  summary: 'Caption a photo with the names of the concepts in it',
  tags: ['captions'],
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({
            ...PhotoRequest,
            style: z.enum(['short', 'detailed']).optional().openapi({ description: 'one sentence (default) or a few' }),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The caption and the concepts present',
      content: { 'application/json': { schema: Caption }, ...eventStream },
    },
    ...errorResponses(400, 401, 413, 415, 422, 503, 504),
  },
});

export function registerCaption(app: Api, { config, personal }: Deps): void {
  if (!personal) return;
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    return answerPhoto(c, personal, config.limits, body, { kind: 'caption', style: body.style ?? 'short' }, 'caption');
  });
}
