/** POST /v1/users/{user}/concepts/{id}/feedback: a correction of a match, or of a miss; retrains the concept. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Box as DomainBox } from '../../../../concepts/types.js';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { toImageInputs } from '../../images.js';
import { Box, ConceptParams, Feedback, ImageData, PhotoId } from '../../schemas.js';

const Body = z
  .object({
    photo: PhotoId.optional().openapi({ description: 'a photo of the library' }),
    image: ImageData.omit({ box: true }).optional().openapi({ description: 'or a photo sent with the correction' }),
    box: Box.optional().openapi({ description: "where the concept is (or is not); default the concept's best region" }),
    correct: z.boolean().openapi({
      description: 'false: the concept is not there (a negative); true: it is (a missed match, an example)',
    }),
  })
  .refine((b) => (b.photo === undefined) !== (b.image === undefined), 'send one of photo and image');

const route = createRoute({
  method: 'post',
  path: '/v1/users/{user}/concepts/{id}/feedback',
  summary: 'Correct a concept on a photo',
  description:
    "The photo's region becomes a negative of the concept (correct: false) or an example (correct: true), and the " +
    'concept is retrained; GET .../photos answers with the new head at once. DELETE .../feedback/{id} undoes it.',
  tags: ['concepts'],
  request: { params: ConceptParams, body: { content: { 'application/json': { schema: Body } }, required: true } },
  responses: {
    201: { description: 'The correction, applied', content: { 'application/json': { schema: Feedback } } },
    ...errorResponses(400, 401, 404, 413, 415, 422),
  },
});

export function registerAddFeedback(app: Api, { library, config }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user, id } = c.req.valid('param');
    const { photo, image, box, correct } = c.req.valid('json');
    const bytes = image && (await toImageInputs([image], config.limits, c.var.urlFetcher))[0].bytes;
    // The schema checked the box holds four fractions.
    const correction = { photo, bytes, box: box as DomainBox | undefined, correct };
    const feedback = await library.corrections.correct({ tenant: c.var.tenant, user }, id, correction);
    return c.json(feedback, 201);
  });
}
