/**
 * POST /v1/chat/completions: a drop-in OpenAI-compatible proxy. An app that already uses an OpenAI client
 * points its base URL here and sets `user`; the user's concepts in the last user message's data-URL images
 * are recognised, the chat is conditioned on them and forwarded to the configured VLM, and the answer comes
 * back in the same protocol (streamed when asked), with nomen's own report under `nomen`.
 */
import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { PersonalAnswer } from '../../../../concepts/captioning/personalize.js';
import type { ChatMessage } from '../../../../models/types.js';
import type { Api, Deps } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { NamedMatch, Timings } from '../../personal.js';
import { UserField } from '../../schemas.js';
import { sseResponse } from '../../sse.js';

const Part = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('image_url'),
    image_url: z.object({ url: z.string().min(1), detail: z.string().optional() }),
  }),
]);

const Message = z.object({
  // `developer` is what newer clients call the system message.
  role: z.enum(['system', 'developer', 'user', 'assistant']).transform((r) => (r === 'developer' ? 'system' : r)),
  content: z.union([z.string(), z.array(Part).min(1)]),
});

/** Sampling parameters passed through to the VLM as they are. */
const PASSED = [
  'top_p',
  'top_k',
  'min_p',
  'stop',
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'response_format',
] as const;

const ChatRequest = z
  .looseObject({
    model: z
      .string()
      .optional()
      .openapi({ description: "ignored: nomen answers with the configured VLM and names it in the answer's `model`" }),
    messages: z
      .array(Message)
      .min(1)
      .refine((ms) => ms.some((m) => m.role === 'user'), 'needs a user message'),
    user: UserField,
    stream: z.boolean().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    n: z.literal(1).optional().openapi({ description: 'one choice only' }),
  })
  .openapi('ChatCompletionRequest');

const Report = z
  .object({ concepts: z.array(NamedMatch), timings: Timings })
  .openapi({ description: "nomen's additions: the concepts present and timings by stage" });

const ChatCompletion = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({ role: z.literal('assistant'), content: z.string() }),
        finish_reason: z.string(),
      }),
    ),
    nomen: Report,
  })
  .openapi('ChatCompletion');

const route = createRoute({
  method: 'post',
  path: '/v1/chat/completions',
  summary: 'OpenAI-compatible chat completions, personalised for `user`',
  tags: ['captions'],
  request: { body: { required: true, content: { 'application/json': { schema: ChatRequest } } } },
  responses: {
    200: {
      description:
        'A chat completion, or chat.completion.chunk events ending with `data: [DONE]` when `stream` is true',
      content: { 'application/json': { schema: ChatCompletion }, 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 413, 415, 422, 503, 504),
  },
});

export function registerChatCompletions(app: Api, { personal }: Deps): void {
  if (!personal) return;
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const scope = { tenant: c.var.tenant, user: body.user };
    const extra = Object.fromEntries(PASSED.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
    const options = {
      signal: c.req.raw.signal,
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      temperature: body.temperature,
      extra,
    };
    const messages = body.messages as ChatMessage[];
    const head = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000) };
    const report = (a: PersonalAnswer) => ({ concepts: a.concepts, timings: a.timings });

    if (!body.stream) {
      const a = await personal.chat(scope, messages, options);
      const message = { role: 'assistant' as const, content: a.text };
      return c.json(
        {
          ...head,
          object: 'chat.completion' as const,
          model: a.model,
          choices: [{ index: 0, message, finish_reason: a.finishReason }],
          nomen: report(a),
        },
        200,
      );
    }
    const chunk = (delta: object, finish: string | null, extra?: object) =>
      JSON.stringify({
        ...head,
        object: 'chat.completion.chunk',
        model: personal.vlm.name,
        choices: [{ index: 0, delta, finish_reason: finish }],
        ...extra,
      });
    let first = true;
    return sseResponse(c, personal.streamChat(scope, messages, options), {
      async event(sse, e) {
        if (e.type === 'delta') {
          await sse.writeSSE({
            data: chunk(first ? { role: 'assistant', content: e.text } : { content: e.text }, null),
          });
          first = false;
          return;
        }
        await sse.writeSSE({ data: chunk({}, e.answer.finishReason, { nomen: report(e.answer) }) });
        await sse.writeSSE({ data: '[DONE]' });
      },
      // The shape OpenAI clients raise as an API error.
      error: (sse, error) => sse.writeSSE({ data: JSON.stringify({ error: { ...error, type: error.code } }) }),
    });
  });
}
