/** Domain failures; the HTTP layer maps each code to its status in one place. */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_image'
  | 'invalid_video'
  | 'not_found'
  | 'name_taken'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  /** Shared storage or a user's write lock could not be reached or held in time: worth a retry later. */
  | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
