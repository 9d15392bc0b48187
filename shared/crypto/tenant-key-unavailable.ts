import { HttpProblemError } from '../errors.js';

/** The tenant's key is disabled, pending deletion or gone: nothing can be encrypted or decrypted for it. */
export class TenantKeyUnavailableError extends HttpProblemError {
  constructor(cause?: unknown) {
    super(409, 'tenant-key-unavailable', 'Conflict', {
      detail:
        "The tenant's encryption key is disabled or scheduled for deletion, so its secrets cannot be used. Nothing was changed.",
      cause,
    });
    this.name = 'TenantKeyUnavailableError';
  }
}
