/** POST /v1/ask: an answer to a question about a photo, calling the user's concepts in it by their names. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { answerPhoto, eventStream, NamedMatch, PhotoRequest, Timings } from '../../personal.js';

const Answer = z
  .object({ answer: z.string(), concepts: z.array(NamedMatch), model: z.string(), timings: Timings })
  .openapi('Answer');

const route = createRoute({
  method: 'post',
  path: '/v1/ask',
  summary: 'Answer a question about a photo with the names of the concepts in it',
  tags: ['captions'],
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({
            ...PhotoRequest,
            question: z.string().trim().min(1).max(2000).openapi({ example: 'What is Biscuit doing?' }),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The answer and the concepts present',
      content: { 'application/json': { schema: Answer }, ...eventStream },
    },
    ...errorResponses(400, 401, 413, 415, 422, 503, 504),
  },
});

export function registerAsk(app: Api, { config, personal }: Deps): void {
  if (!personal) return;
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    return answerPhoto(c, personal, config.limits, body, { kind: 'ask', question: body.question }, 'answer');
  });
}
