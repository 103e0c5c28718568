/**
 * Errors on the wire: the one place that maps domain codes and HTTP failures to statuses, and the
 * `{error: {code, message}}` shape every failure answers with (SPEC "Errors").
 */
import { z, type Hook } from '@hono/zod-openapi';
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { DomainError, type ErrorCode } from '../../concepts/errors.js';
import { ModelError, type ModelErrorCode } from '../../models/runtime/model-error.js';
import type { AppEnv } from './context.js';

export type ApiErrorCode =
  | ErrorCode
  | 'unauthorized'
  | 'rate_limited'
  | 'model_unavailable'
  | 'model_timeout'
  | 'internal';

/** Domain failures by code; SPEC has one 503 code, so storage that cannot be reached answers as a model that cannot. */
const DOMAIN_ANSWER: Record<ErrorCode, { status: ContentfulStatusCode; code: ApiErrorCode }> = {
  invalid_request: { status: 400, code: 'invalid_request' },
  invalid_image: { status: 400, code: 'invalid_image' },
  invalid_video: { status: 400, code: 'invalid_video' },
  not_found: { status: 404, code: 'not_found' },
  name_taken: { status: 409, code: 'name_taken' },
  too_large: { status: 413, code: 'too_large' },
  unsupported_media_type: { status: 415, code: 'unsupported_media_type' },
  unprocessable: { status: 422, code: 'unprocessable' },
  unavailable: { status: 503, code: 'model_unavailable' },
};

/** Seconds a client should wait before retrying storage that could not be reached or a lock held too long. */
const STORAGE_RETRY_AFTER_S = 5;

/** A model's failures: unavailable and timed out as SPEC says; a request the model server refused is unusable input. */
const MODEL_ANSWER: Record<ModelErrorCode, { status: ContentfulStatusCode; code: ApiErrorCode }> = {
  model_unavailable: { status: 503, code: 'model_unavailable' },
  model_timeout: { status: 504, code: 'model_timeout' },
  model_rejected: { status: 422, code: 'unprocessable' },
};

/** hono's own failures (malformed JSON or form, unsupported Content-Type) by status. */
const HTTP_CODE: Partial<Record<number, ApiErrorCode>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  413: 'too_large',
  415: 'unsupported_media_type',
};

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum([
        'invalid_request',
        'invalid_image',
        'invalid_video',
        'unauthorized',
        'not_found',
        'name_taken',
        'too_large',
        'unsupported_media_type',
        'unprocessable',
        'rate_limited',
        'model_unavailable',
        'model_timeout',
        'internal',
      ]),
      message: z.string(),
    }),
  })
  .openapi('Error');

const DESCRIPTIONS = {
  400: 'Invalid request or image',
  401: 'Missing or unknown API key',
  404: 'No such user data or concept',
  409: 'A concept of that name exists already',
  413: 'Body or image too large',
  415: 'Unsupported body or image type',
  422: 'Well-formed but unusable input',
  429: 'Too many requests for this API key; see Retry-After',
  503: 'Models or storage not ready yet, or the multimodal model unavailable; see Retry-After',
  504: 'The multimodal model did not answer in time',
} as const;

type ErrorResponse = { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } };

/** OpenAPI `responses` entries for the given error statuses. */
export function errorResponses<S extends keyof typeof DESCRIPTIONS>(...statuses: S[]): Record<S, ErrorResponse> {
  const entries = statuses.map((s): [S, ErrorResponse] => [
    s,
    { description: DESCRIPTIONS[s], content: { 'application/json': { schema: ErrorSchema } } },
  ]);
  return Object.fromEntries(entries) as Record<S, ErrorResponse>;
}

export function errorJson(
  c: Context<AppEnv>,
  status: ContentfulStatusCode,
  code: ApiErrorCode,
  message: string,
  headers?: Record<string, string>,
): Response {
  c.set('errorCode', code);
  return c.json({ error: { code, message } }, status, headers);
}

/** `images[0].box: Too small...; name: Required`: every issue, each with the field it is about. */
export function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.reduce<string>(
        (s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
        '',
      );
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Validation failures of params and bodies answer 400 invalid_request instead of zod's raw result. */
export const validationHook: Hook<unknown, AppEnv, string, Response | undefined> = (result, c) => {
  if (!result.success) return errorJson(c, 400, 'invalid_request', describeIssues(result.error));
};

export interface ErrorAnswer {
  status: ContentfulStatusCode;
  code: ApiErrorCode;
  message: string;
  headers?: Record<string, string>;
}

/** What an error answers with; undefined for an unexpected one (a 500). Also used for errors inside event streams. */
export function errorAnswer(err: unknown): ErrorAnswer | undefined {
  if (err instanceof DomainError) {
    const { status, code } = DOMAIN_ANSWER[err.code];
    return {
      status,
      code,
      message: err.message,
      ...(status === 503 && { headers: { 'Retry-After': String(STORAGE_RETRY_AFTER_S) } }),
    };
  }
  if (err instanceof ModelError) {
    const { status, code } = MODEL_ANSWER[err.code];
    return {
      status,
      code,
      message: err.message,
      ...(status === 503 && { headers: { 'Retry-After': String(err.retryAfterS ?? 1) } }),
    };
  }
  if (err instanceof HTTPException && err.status < 500) {
    return {
      status: err.status as ContentfulStatusCode,
      code: HTTP_CODE[err.status] ?? 'invalid_request',
      message: err.message || 'invalid request',
    };
  }
  return undefined;
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const known = errorAnswer(err);
  if (known) return errorJson(c, known.status, known.code, known.message, known.headers);
  c.var.log.error({ err }, 'request failed');
  return errorJson(c, 500, 'internal', 'internal error');
};
