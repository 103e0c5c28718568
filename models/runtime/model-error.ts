/** How a model call failed, in terms the API maps to statuses (services/api/errors.ts). */
export type ModelErrorCode =
  /** Not configured, unreachable, overloaded or failing: try again later (503 with Retry-After). */
  | 'model_unavailable'
  /** No answer within the configured time (504). */
  | 'model_timeout'
  /** The model server refused this request itself, e.g. too many images or tokens (422). */
  | 'model_rejected';

export class ModelError extends Error {
  override name = 'ModelError';

  constructor(
    readonly code: ModelErrorCode,
    message: string,
    /** Seconds after which a retry may succeed (model_unavailable only). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}
