/**
 * How a session was authenticated. Recorded on the session when it is created, shown to its owner and
 * in the audit log, and checked wherever a second factor is required: a tenant's `requireMfa`, and the
 * sensitive actions (password change, MFA removal, tenant deletion, API keys in an MFA tenant).
 * Federated sign-in ('sso') and passkeys ('passkey') will join this list; whether such a session counts
 * as multi-factor is decided when it is created (from the identity provider's claims, from the passkey's
 * user verification) and stored beside the method, never inferred later.
 */
export const AUTH_METHODS = ['password', 'password+totp', 'password+recovery-code'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Whether a sign-in with this method proved a second factor. */
export function isMultiFactor(method: AuthMethod): boolean {
  return method !== 'password';
}

/** Platform session limits (DESIGN.md §4); a tenant may set shorter ones for its routes. */
export const SESSION_IDLE_SECONDS = 14 * 86_400;
export const SESSION_ABSOLUTE_SECONDS = 30 * 86_400;
