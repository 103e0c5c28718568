/** GET /v1/users/{user}/photos?concept=: the library's photos of one or more concepts, best first. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { LibraryPhoto, UserParams } from '../../schemas.js';

const ConceptRef = z.string().trim().min(1, 'required: a concept id or name').max(128);

const Query = z.object({
  // One value arrives as a string, a repeated one as an array.
  concept: z
    .union([ConceptRef, z.array(ConceptRef).min(1).max(10)])
    .transform((v) => [v].flat())
    .openapi({
      param: { name: 'concept', in: 'query', style: 'form', explode: true },
      type: 'array',
      items: { type: 'string' },
      description: 'concept id or name; repeated: photos with all of them',
      example: ['Biscuit'],
    }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z
    .string()
    .max(1024)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: "the previous page's next" }),
  all: z
    .stringbool()
    .default(false)
    .openapi({ param: { name: 'all', in: 'query' }, description: 'every scored photo, present or not' }),
  text: z
    .string()
    .trim()
    .min(1)
    .max(300)
    .optional()
    .openapi({
      param: { name: 'text', in: 'query' },
      description:
        "ranks the concept's photos by this text; needs an encoder with a text side (CLIP, SigLIP), else 422",
      example: 'at the beach',
    }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/users/{user}/photos',
  summary: "Find a concept's photos in the library",
  description:
    "Scores the stored region vectors with the concept's current head: works for concepts registered before or " +
    "after the photos were indexed. A photo's score with several concepts is its lowest over them.",
  tags: ['photos'],
  request: { params: UserParams, query: Query },
  responses: {
    200: {
      description: 'Photos best first; next is the cursor of the following page, null on the last',
      content: {
        'application/json': {
          schema: z.object({ photos: z.array(LibraryPhoto), next: z.string().nullable() }),
        },
      },
    },
    ...errorResponses(400, 401, 404, 422),
  },
});

export function registerFindPhotos(app: Api, { library }: Deps): void {
  if (!library) return;
  app.openapi(route, async (c) => {
    const { user } = c.req.valid('param');
    const { concept, ...options } = c.req.valid('query');
    const page = await library.find({ tenant: c.var.tenant, user }, concept, options);
    return c.json({ photos: page.photos, next: page.next ?? null }, 200);
  });
}
