import { EXTERNAL_MAX_CREDENTIAL_SECONDS } from '../domain/storage-limits.js';
import { HttpProblemError, ServiceUnavailableError } from '../errors.js';

/** The location's root makes a session policy too large for STS: a clear 400 naming the location. */
export class SessionPolicyTooLargeError extends HttpProblemError {
  constructor(cause: unknown) {
    super(400, 'policy-too-large', 'Bad Request', {
      detail:
        'The session policy for this location would exceed what STS accepts; no credentials were issued.',
      errors: [{ path: 'body.location', message: 'The location root is too long for a session policy' }],
      cause,
    });
    this.name = 'SessionPolicyTooLargeError';
  }
}

/** The customer's role refused us (trust policy or ExternalId): not retryable, nothing issued. */
export class ExternalRoleDeniedError extends HttpProblemError {
  constructor(cause: unknown) {
    super(424, 'external-role-denied', 'Failed Dependency', {
      detail:
        "The location's role could not be assumed: its trust policy must admit the Strongroom vending role with this tenant's ExternalId, sts:TagSession and sts:SetSourceIdentity.",
      cause,
    });
    this.name = 'ExternalRoleDeniedError';
  }
}

/** STS failed; fail closed with 503 + Retry-After (never any other credentials). */
export class CredentialVendingUnavailableError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super(5, 'STS could not issue credentials; nothing was issued. Try again.', cause);
    this.name = 'CredentialVendingUnavailableError';
  }
}

/** A credential lifetime the location's kind does not allow: 400 naming the field. */
export class CredentialLifetimeError extends HttpProblemError {
  constructor() {
    super(400, 'validation-error', 'Bad Request', {
      detail: `Credentials for an external location last at most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} seconds: they are sessions of your own role and cannot be revoked, only left to expire.`,
      errors: [
        {
          path: 'body.durationSeconds',
          message: `At most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} for an external location`,
        },
      ],
    });
    this.name = 'CredentialLifetimeError';
  }
}
