/** One field-level validation problem (RFC 9457 extension member `errors`). */
export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemOptions {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** Further members of the problem document (RFC 9457 §3.2), e.g. `failure`; never a secret. */
  extensions?: Record<string, string | number | boolean>;
  cause?: unknown;
}

/** Base of every error that becomes an HTTP problem response; anything else is a 500 without internals. */
export class HttpProblemError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, string | number | boolean>;
  /** Set once the code that refused also wrote the refusal to the audit log, so it is not written twice. */
  audited = false;

  constructor(status: number, type: string, title: string, options: ProblemOptions = {}) {
    super(options.detail ?? title, { cause: options.cause });
    this.name = 'HttpProblemError';
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

export class ValidationError extends HttpProblemError {
  constructor(errors: FieldError[], detail = 'The request is not valid.') {
    super(400, 'validation-error', 'Bad Request', { detail, errors });
    this.name = 'ValidationError';
  }
}

export class UnauthorizedError extends HttpProblemError {
  constructor(detail = 'A valid bearer credential is required.', type = 'unauthorized') {
    super(401, type, 'Unauthorized', { detail, headers: { 'WWW-Authenticate': 'Bearer' } });
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends HttpProblemError {
  constructor(detail = 'You do not have permission for this action.', type = 'forbidden') {
    super(403, type, 'Forbidden', { detail });
    this.name = 'ForbiddenError';
  }
}

/** 403 `email-unverified`: the action needs an address its owner has proved (a verification link). */
export class EmailUnverifiedError extends ForbiddenError {
  constructor(action: string) {
    super(
      `Verify your e-mail address before you ${action}: open the link we mailed you, or ask for a new one (POST /v1/me/email/verification).`,
      'email-unverified',
    );
    this.name = 'EmailUnverifiedError';
  }
}

export class NotFoundError extends HttpProblemError {
  constructor(detail = 'The resource does not exist.') {
    super(404, 'not-found', 'Not Found', { detail });
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends HttpProblemError {
  constructor(allowed: string[]) {
    super(405, 'method-not-allowed', 'Method Not Allowed', {
      detail: `Allowed: ${allowed.join(', ')}.`,
      headers: { Allow: allowed.join(', ') },
    });
    this.name = 'MethodNotAllowedError';
  }
}

export class ConflictError extends HttpProblemError {
  constructor(detail: string, type = 'conflict') {
    super(409, type, 'Conflict', { detail });
    this.name = 'ConflictError';
  }
}

/**
 * A deletion whose stored objects did not all fit in one request's time: what was deleted stays deleted, the
 * thing being deleted stays (closed to use), and the same request sent again continues where this one stopped.
 */
export class DeletionInProgressError extends HttpProblemError {
  constructor(what: string, objectsDeleted: number) {
    super(409, 'deletion-in-progress', 'Conflict', {
      detail: `${objectsDeleted} stored object versions of this ${what} are deleted so far and more remain; send the same request again to continue.`,
      extensions: { objectsDeleted },
    });
    this.name = 'DeletionInProgressError';
  }
}

export class PayloadTooLargeError extends HttpProblemError {
  constructor(limitBytes: number) {
    super(413, 'payload-too-large', 'Payload Too Large', {
      detail: `The request body is larger than ${limitBytes} bytes.`,
    });
    this.name = 'PayloadTooLargeError';
  }
}

export class UnsupportedMediaTypeError extends HttpProblemError {
  constructor() {
    super(415, 'unsupported-media-type', 'Unsupported Media Type', {
      detail: 'Send the body as application/json.',
    });
    this.name = 'UnsupportedMediaTypeError';
  }
}

export class TooManyRequestsError extends HttpProblemError {
  constructor(retryAfterSeconds: number, detail = 'Too many requests; try again later.') {
    super(429, 'rate-limited', 'Too Many Requests', {
      detail,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
    this.name = 'TooManyRequestsError';
  }
}

export class ServiceUnavailableError extends HttpProblemError {
  constructor(
    retryAfterSeconds = 5,
    detail = 'A dependency is unavailable; nothing was changed. Try again.',
    cause?: unknown,
  ) {
    super(503, 'service-unavailable', 'Service Unavailable', {
      detail,
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
    this.name = 'ServiceUnavailableError';
  }
}

export class GatewayTimeoutError extends HttpProblemError {
  constructor(detail: string) {
    super(504, 'timeout', 'Gateway Timeout', { detail });
    this.name = 'GatewayTimeoutError';
  }
}

const RETRYABLE_AWS_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
  'KMSInternalException',
  'DependencyTimeoutException',
  'IDPCommunicationError',
  'RegionDisabledException',
  'TransactionConflictException',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
]);

/**
 * Whether an error is an AWS outage, throttle or network fault: those become 503 with Retry-After
 * (DESIGN.md §1.4), never a 500 and never a fallback.
 */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = (error as { $metadata?: { httpStatusCode?: number }; $fault?: string; code?: string }) ?? {};
  if (RETRYABLE_AWS_ERRORS.has(error.name)) return true;
  if (error.name === 'TransactionCanceledException') {
    // Cancelled for throttling or a conflicting transaction, nothing was written: safe to retry.
    const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some((r) =>
      ['ThrottlingError', 'TransactionConflict', 'ProvisionedThroughputExceeded'].includes(r.Code ?? ''),
    );
  }
  if (meta.code && RETRYABLE_AWS_ERRORS.has(meta.code)) return true;
  if (meta.$fault === 'server') return true;
  const status = meta.$metadata?.httpStatusCode;
  return status !== undefined && (status === 429 || status >= 500);
}
