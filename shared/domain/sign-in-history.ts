import { createHash } from 'node:crypto';
import type { AuthMethod } from './authentication.js';
import { networkOf } from './sign-in-limits.js';

/** How long a user's sign-in attempts and known devices are kept (and shown): 90 days. */
export const SIGN_IN_HISTORY_DAYS = 90;
export const SIGN_IN_HISTORY_MS = SIGN_IN_HISTORY_DAYS * 86_400_000;

/**
 * What became of one sign-in attempt on a known account. `second-factor-required`: the password was right
 * and the client was asked for the code (someone who is not the owner may know the password).
 */
export const SIGN_IN_RESULTS = ['succeeded', 'failed', 'second-factor-required'] as const;
export type SignInResult = (typeof SIGN_IN_RESULTS)[number];

/** Why an attempt failed, in the owner's terms. */
export const SIGN_IN_FAILURE_REASONS = [
  'bad-credentials',
  'bad-second-factor',
  'credentials-changed',
  /** SSO: the callback's state was unknown, spent, expired or bound to another client. */
  'sso-state-invalid',
  /** SSO: the provider's token did not verify (issuer, audience, signature, nonce, lifetime). */
  'sso-token-rejected',
  /** SSO: the provider did not assert a verified address, so no account was made or linked. */
  'sso-email-unverified',
  /** SSO: a tenant's own IdP asserted an address outside the domains the tenant allows. */
  'sso-domain-not-allowed',
  /** SSO: an account has this address; it must be signed in to link the provider. */
  'sso-link-required',
] as const;
export type SignInFailureReason = (typeof SIGN_IN_FAILURE_REASONS)[number];

/** One sign-in attempt on an account, as its owner sees it. Attempts on unknown addresses have no owner. */
export interface SignInAttempt {
  userId: string;
  /** Epoch ms. */
  at: number;
  ip: string;
  userAgent: string;
  method: AuthMethod;
  result: SignInResult;
  reason?: SignInFailureReason;
  /** The session a successful attempt started. */
  sessionId?: string;
}

/** Longest user agent kept with an attempt (as with sessions). */
export const SIGN_IN_USER_AGENT_MAX = 512;

/**
 * A device as sign-ins tell devices apart: the browser's user agent and the network it came from (an IPv4
 * /24 or an IPv6 /48, so a new address from the same provider is not a new device). One-way, so the known-
 * device items hold neither the address nor the agent.
 */
export function deviceFingerprint(userAgent: string, ip: string): string {
  return createHash('sha256')
    .update(`${networkOf(ip)}\n${userAgent.slice(0, SIGN_IN_USER_AGENT_MAX)}`, 'utf8')
    .digest('base64url');
}
