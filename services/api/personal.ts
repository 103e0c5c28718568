/**
 * What /caption and /ask share: the answer's schema pieces and the one handler behind both (JSON or an event stream).
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Task } from '../../concepts/captioning/conditioning.js';
import type { PersonalAnswer, Personalizer } from '../../concepts/captioning/personalize.js';
import type { IntakeLimits } from '../../concepts/intake/intake.js';
import type { AppEnv } from './context.js';
import { toImageInputs } from './images.js';
import { ImageData, type ImageSource, Match, UserField } from './schemas.js';
import { sseResponse } from './sse.js';

export const NamedMatch = Match.extend({
  named: z.boolean().openapi({ description: 'the answer calls this concept by its name' }),
}).openapi('NamedMatch');

export const Timings = z.record(z.string(), z.number()).openapi({
  description:
    'milliseconds by stage: decode, recognition (load, regions, embed, secondLook, closeCalls, heads; faces), ' +
    'conditioning, vlm (every model call), repair, total',
});

/** Fields of both request bodies. */
export const PhotoRequest = {
  user: UserField,
  image: ImageData.omit({ box: true }),
  stream: z
    .boolean()
    .optional()
    .openapi({
      description:
        'answer as server-sent events: `delta` events with pieces of text, then one `done` event with the ' +
        'whole answer (names repaired), or an `error` event',
    }),
};

export const eventStream = {
  'text/event-stream': { schema: z.string().openapi({ description: 'server-sent events, when `stream` is true' }) },
};

/** The answer to a photo request: JSON, or events when the body asks for a stream. */
export async function answerPhoto<F extends 'caption' | 'answer'>(
  c: Context<AppEnv>,
  personal: Personalizer,
  limits: IntakeLimits,
  body: { user: string; image: ImageSource; stream?: boolean },
  task: Task,
  field: F,
): Promise<Response> {
  const [input] = await toImageInputs([body.image], limits, c.var.urlFetcher);
  const scope = { tenant: c.var.tenant, user: body.user };
  const signal = c.req.raw.signal;
  const shape = (a: PersonalAnswer) =>
    ({ [field]: a.text, concepts: a.concepts, model: a.model, timings: a.timings }) as Record<F, string> &
      Omit<PersonalAnswer, 'text'>;
  if (!body.stream) return c.json(shape(await personal.answer(scope, input.bytes, task, signal)), 200);
  return sseResponse(c, personal.streamAnswer(scope, input.bytes, task, signal), {
    event: (sse, e) =>
      e.type === 'delta'
        ? sse.writeSSE({ event: 'delta', data: JSON.stringify({ text: e.text }) })
        : sse.writeSSE({ event: 'done', data: JSON.stringify(shape(e.answer)) }),
    error: (sse, error) => sse.writeSSE({ event: 'error', data: JSON.stringify({ error }) }),
  });
}
