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
import type { AppEnv } from './context.js';

export type ApiErrorCode = ErrorCode | 'unauthorized' | 'rate_limited' | 'model_unavailable' | 'internal';

const DOMAIN_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  invalid_image: 400,
  invalid_video: 400,
  not_found: 404,
  name_taken: 409,
  too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
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
  503: 'Models or storage not ready yet; see Retry-After',
} as const;

type ErrorResponse = { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } };

/** OpenAPI `responses` entries for the given error statuses. */
export function errorResponses<S extends keyof typeof DESCRIPTIONS>(...statuses: S[]): Record<S, ErrorResponse> {
  const entries = statuses.map((s): [S, ErrorResponse] => [s, { description: DESCRIPTIONS[s], content: { 'application/json': { schema: ErrorSchema } } }]);
  return Object.fromEntries(entries) as Record<S, ErrorResponse>;
}

export function errorJson(c: Context<AppEnv>, status: ContentfulStatusCode, code: ApiErrorCode, message: string, headers?: Record<string, string>): Response {
  c.set('errorCode', code);
  return c.json({ error: { code, message } }, status, headers);
}

/** `images[0].box: Too small...; name: Required`: every issue, each with the field it is about. */
export function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), '');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Validation failures of params and bodies answer 400 invalid_request instead of zod's raw result. */
export const validationHook: Hook<unknown, AppEnv, string, Response | undefined> = (result, c) => {
  if (!result.success) return errorJson(c, 400, 'invalid_request', describeIssues(result.error));
};

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof DomainError) return errorJson(c, DOMAIN_STATUS[err.code], err.code, err.message);
  if (err instanceof HTTPException && err.status < 500) {
    return errorJson(c, err.status as ContentfulStatusCode, HTTP_CODE[err.status] ?? 'invalid_request', err.message || 'invalid request');
  }
  c.var.log.error({ err }, 'request failed');
  return errorJson(c, 500, 'internal', 'internal error');
};
