/**
 * How a session was authenticated. Recorded on the session when it is created, shown to its owner and
 * in the audit log, and checked wherever a second factor is required: a tenant's `requireMfa`, and the
 * sensitive actions (password change, MFA removal, tenant deletion, API keys in an MFA tenant).
 * Federated sign-in through an OpenID provider is 'sso' (one factor: whoever controls the account at the
 * provider), 'sso+totp' or 'sso+recovery-code' when the account's own second factor was shown too.
 * Whether a session counts as multi-factor is decided when it is created and stored beside the method,
 * never inferred later: a passkey sign-in always is (the authenticator must report user verification, a
 * PIN or biometric on top of holding the device, or the sign-in is refused).
 */
export const AUTH_METHODS = [
  'password',
  'password+totp',
  'password+recovery-code',
  'passkey',
  'sso',
  'sso+totp',
  'sso+recovery-code',
] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Whether a sign-in with this method proved a second factor. */
export function isMultiFactor(method: AuthMethod): boolean {
  return method !== 'password' && method !== 'sso';
}

/** Platform session limits (DESIGN.md §4); a tenant may set shorter ones for its routes. */
export const SESSION_IDLE_SECONDS = 14 * 86_400;
export const SESSION_ABSOLUTE_SECONDS = 30 * 86_400;
