import { OIDC_PROVIDER_ID_PATTERN } from '../domain/oidc.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { atMostOneFactor, MailToken, optionalFactor, RecoveryCode, TotpCode, User } from './auth.js';
import { TenantId } from './common.js';

/** A flow secret as the API hands it out (43 base64url characters: 256 bits). */
const FlowSecret = z.onFirstUse(() => z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, 'Not a flow value')));
const ProviderId = z.onFirstUse(() =>
  z.string().check(z.regex(OIDC_PROVIDER_ID_PATTERN, 'Not a provider id')),
);

const FlowStarted = z.onFirstUse(() =>
  z
    .object({
      authorizationUrl: z.string().check(z.describe('Send the browser here (the provider’s sign-in page)')),
      flowToken: z
        .string()
        .check(
          z.describe(
            'Keep this and send it with the callback: only the client that started a sign-in can finish it',
          ),
        ),
      expiresAt: z.string().check(z.describe('The sign-in must come back before this (10 minutes)')),
      provider: z.object({ name: z.string() }),
    })
    .check(z.meta({ id: 'OidcFlowStarted' })),
);

export const listOidcProviders = defineRoute({
  id: 'listOidcProviders',
  method: 'GET',
  path: '/v1/auth/oidc/providers',
  area: 'auth',
  summary: 'The identity providers people may sign in with (“Sign in with …”)',
  tags: ['auth'],
  auth: { kind: 'none' },
  response: {
    status: 200,
    description: 'The platform’s providers',
    get schema() {
      return z.object({ items: z.array(z.object({ id: z.string(), name: z.string() })) });
    },
  },
});

export const startOidcSignIn = defineRoute({
  id: 'startOidcSignIn',
  method: 'POST',
  path: '/v1/auth/oidc/start',
  area: 'auth',
  summary: 'Start signing in through an identity provider (authorization code with PKCE, state and nonce)',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'oidc-start-ip', limit: 20, windowSeconds: 15 * 60 }],
  get body() {
    return z
      .strictObject({
        provider: z.optional(ProviderId()).check(z.describe('A platform provider’s id')),
        tenantId: z
          .optional(TenantId())
          .check(z.describe('A tenant whose own identity provider to sign in through')),
      })
      .check(
        z.refine((b) => (b.provider === undefined) !== (b.tenantId === undefined), {
          message: 'Send exactly one of provider or tenantId',
          path: ['provider'],
        }),
      );
  },
  response: {
    status: 200,
    description: 'Where to send the browser, and the flow token',
    get schema() {
      return FlowStarted();
    },
  },
});

export const startOidcLink = defineRoute({
  id: 'startOidcLink',
  method: 'POST',
  path: '/v1/me/oidc/link',
  area: 'auth',
  summary:
    'Start linking an identity provider to your account with the current password (with a second factor, TOTP or a passkey: from an MFA session, with mfaCode, recoveryCode or stepUpToken; your address must be verified, and so must its address at the provider); finish with the callback from this session',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'oidc-link-user', limit: 10, windowSeconds: 15 * 60, per: 'user' }],
  get body() {
    return z
      .strictObject({
        provider: z.optional(ProviderId()).check(z.describe('A platform provider’s id')),
        tenantId: z.optional(TenantId()).check(z.describe('A tenant whose own identity provider to link')),
        currentPassword: z.string().check(z.maxLength(1024)),
        ...optionalFactor(),
      })
      .check(
        z.refine((b) => (b.provider === undefined) !== (b.tenantId === undefined), {
          message: 'Send exactly one of provider or tenantId',
          path: ['provider'],
        }),
        z.refine(...atMostOneFactor),
      );
  },
  response: {
    status: 200,
    description:
      'Where to send the browser, and the flow token. 403 `email-unverified` (verify your address first), 403 `mfa-session-required`, 400 naming body.currentPassword, or the missing factor (body.mfaCode, body.stepUpToken)',
    get schema() {
      return FlowStarted();
    },
  },
});

/** A linked identity's public id (the hash its item is keyed by). */
const IdentityId = z.onFirstUse(() => z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, 'Not an identity id')));

const LinkedIdentity = z.onFirstUse(() =>
  z
    .object({
      identityId: z.string(),
      provider: z
        .string()
        .check(
          z.describe('The provider key (`platform:<id>`, or `tenant:<tenantId>` for a tenant’s own IdP)'),
        ),
      providerName: z
        .nullable(z.string())
        .check(z.describe('Null when the provider is no longer configured')),
      email: z.string().check(z.describe('The address the provider asserted when it was linked')),
      linkedAt: z.string(),
      active: z
        .boolean()
        .check(
          z.describe(
            'False when the provider id now names another issuer or is gone: the link signs in no more',
          ),
        ),
    })
    .check(z.meta({ id: 'OidcLinkedIdentity' })),
);

export const listOidcIdentities = defineRoute({
  id: 'listOidcIdentities',
  method: 'GET',
  path: '/v1/me/oidc/identities',
  area: 'auth',
  summary: 'The identity-provider accounts linked to your account (each can sign in to it)',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'Linked identities, oldest first',
    get schema() {
      return z.object({ items: z.array(LinkedIdentity()) });
    },
  },
});

export const unlinkOidcIdentity = defineRoute({
  id: 'unlinkOidcIdentity',
  method: 'DELETE',
  path: '/v1/me/oidc/identities/{identityId}',
  area: 'auth',
  summary:
    'Unlink an identity provider from your account with the current password (with MFA on: from an MFA session); you are mailed a notice',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'oidc-unlink-user', limit: 10, windowSeconds: 15 * 60, per: 'user' }],
  get params() {
    return z.strictObject({ identityId: IdentityId() });
  },
  get body() {
    return z.strictObject({ currentPassword: z.string().check(z.maxLength(1024)) });
  },
  response: { status: 204, description: 'Unlinked' },
});

export const finishOidcFlow = defineRoute({
  id: 'finishOidcFlow',
  method: 'POST',
  path: '/v1/auth/oidc/callback',
  area: 'auth',
  summary:
    'Finish a sign-in or link: the `code`, `state` and `iss` the provider sent to the redirect URI, and the flow token',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'oidc-callback-ip', limit: 20, windowSeconds: 15 * 60 }],
  get body() {
    return z
      .strictObject({
        state: FlowSecret(),
        code: z.string().check(z.minLength(1), z.maxLength(2048)),
        iss: z.optional(z.string().check(z.maxLength(2048))),
        flowToken: FlowSecret(),
        /** Accounts with TOTP on need their code (or a recovery code) with the callback. */
        mfaCode: z.optional(TotpCode()),
        recoveryCode: z.optional(RecoveryCode()),
        /** `cookie` (the console, from its own origin only): the session goes into the HttpOnly cookie. */
        session: z._default(z.enum(['token', 'cookie']), 'token'),
      })
      .check(
        z.refine((b) => b.mfaCode === undefined || b.recoveryCode === undefined, {
          path: ['recoveryCode'],
          message: 'Send mfaCode or recoveryCode, not both',
        }),
      );
  },
  response: {
    status: 200,
    description:
      '`signed-in`: a session (method `sso`; its token unless `session: cookie`). `linked`: the identity now signs in to your account. ' +
      '400 `oidc-state-invalid` (unknown, used, expired or foreign state), 401 `oidc-token-rejected`, 401 `mfa-required`, ' +
      '401 `oidc-link-session-ended` (the session that started a link ended, or the password or sign-in settings changed), 403 `oidc-email-unverified`, 409 `oidc-link-required` (an account has this address: sign in to it and link)',
    get schema() {
      return z
        .object({
          outcome: z.enum(['signed-in', 'linked']),
          token: z.optional(z.string()),
          expiresAt: z.optional(z.string()),
          user: User(),
        })
        .check(z.meta({ id: 'OidcFlowFinished' }));
    },
  },
});

export const confirmOidcLink = defineRoute({
  id: 'confirmOidcLink',
  method: 'POST',
  path: '/v1/auth/oidc/link/confirm',
  area: 'auth',
  summary:
    'Confirm linking a provider identity with the token of the mailed link (an `oidc-link-required` sign-in with a verified account’s address) and the account’s password (and, with MFA on, a code); works once, for 30 minutes',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'oidc-link-confirm-ip', limit: 10, windowSeconds: 15 * 60 }],
  get body() {
    return z
      .strictObject({
        token: MailToken(),
        currentPassword: z.string().check(z.maxLength(1024)),
        mfaCode: z.optional(TotpCode()),
        recoveryCode: z.optional(RecoveryCode()),
      })
      .check(
        z.refine((b) => b.mfaCode === undefined || b.recoveryCode === undefined, {
          path: ['mfaCode'],
          message: 'Send mfaCode or recoveryCode, not both',
        }),
      );
  },
  response: {
    status: 200,
    description:
      'Linked: the identity now signs in to this account (no session is started; sign in through the provider). 400 `invalid-token` for a used, expired, replaced or unknown token; 400 naming `body.currentPassword` for a wrong password; 401 `invalid-mfa-code`',
    get schema() {
      return z.object({ outcome: z.literal('linked'), provider: z.string(), user: User() });
    },
  },
});

export const oidcRoutes = [
  listOidcProviders,
  startOidcSignIn,
  startOidcLink,
  finishOidcFlow,
  listOidcIdentities,
  unlinkOidcIdentity,
  confirmOidcLink,
];
