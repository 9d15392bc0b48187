import type { RouteKey } from '../../../shared/http/route.js';

/**
 * The methods and paths of the auth function's route groups that are loaded on use (./passkey-routes.ts,
 * ./oidc-routes.ts, ./account-routes.ts): what its cold start knows of them, without their schemas. A group
 * whose loaded routes differ from its keys is refused (shared/http/api.ts `routesLoadedOnUse`);
 * test/unit/http/route-groups.test.ts compares these with the route lists (shared/schemas/passkeys.ts,
 * shared/schemas/oidc.ts, shared/schemas/account.ts).
 */
export const PASSKEY_ROUTE_KEYS: readonly RouteKey[] = [
  { method: 'GET', path: '/v1/me/passkeys' },
  { method: 'POST', path: '/v1/me/passkeys/registration-options' },
  { method: 'POST', path: '/v1/me/passkeys' },
  { method: 'PATCH', path: '/v1/me/passkeys/{passkeyId}' },
  { method: 'DELETE', path: '/v1/me/passkeys/{passkeyId}' },
  { method: 'POST', path: '/v1/auth/passkeys/options' },
  { method: 'POST', path: '/v1/auth/passkeys/sign-in' },
  { method: 'POST', path: '/v1/me/step-up/passkey/options' },
  { method: 'POST', path: '/v1/me/step-up/passkey' },
];

/** The OpenID sign-in and link routes' methods and paths (see PASSKEY_ROUTE_KEYS). */
export const OIDC_ROUTE_KEYS: readonly RouteKey[] = [
  { method: 'GET', path: '/v1/auth/oidc/providers' },
  { method: 'POST', path: '/v1/auth/oidc/start' },
  { method: 'POST', path: '/v1/me/oidc/link' },
  { method: 'POST', path: '/v1/auth/oidc/callback' },
  { method: 'GET', path: '/v1/me/oidc/identities' },
  { method: 'DELETE', path: '/v1/me/oidc/identities/{identityId}' },
  { method: 'POST', path: '/v1/auth/oidc/link/confirm' },
];

/** The account routes' methods and paths: sign-in history, password, TOTP and the mailed links (see above). */
export const ACCOUNT_ROUTE_KEYS: readonly RouteKey[] = [
  { method: 'GET', path: '/v1/me/sign-ins' },
  { method: 'POST', path: '/v1/me/password' },
  { method: 'POST', path: '/v1/me/mfa/totp' },
  { method: 'POST', path: '/v1/me/mfa/totp/confirm' },
  { method: 'DELETE', path: '/v1/me/mfa/totp' },
  { method: 'POST', path: '/v1/me/email/verification' },
  { method: 'POST', path: '/v1/auth/verify-email' },
  { method: 'POST', path: '/v1/auth/password-reset' },
  { method: 'POST', path: '/v1/auth/password-reset/confirm' },
];
