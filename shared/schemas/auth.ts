import { AUTH_METHODS } from '../domain/authentication.js';
import { MAIL_TOKEN_PATTERN } from '../domain/credentials.js';
import { PERMISSIONS, ROLES } from '../domain/permissions.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { EmailAddress, TenantId } from './common.js';
import { exactlyOneFactor, RecoveryCode, StepUpToken, TotpCode } from './factors.js';

// The fresh-factor schemas live in ./factors.ts (the tenants function's tenant deletion reads them without
// loading this module); they are still exported from here.
export { exactlyOneFactor, RecoveryCode, StepUpToken, TotpCode };

/** 12–256 characters (DESIGN.md §4); counted in code points so emoji are not penalised. */
export const Password = z.onFirstUse(() =>
  z.string().check(
    z.refine((p) => [...p].length >= 12, 'At least 12 characters'),
    z.refine((p) => [...p].length <= 256, 'At most 256 characters'),
  ),
);
const SessionId = z.onFirstUse(() =>
  z.string().check(z.regex(/^s_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a session id')),
);

export const User = z.onFirstUse(() =>
  z
    .object({
      userId: z.string(),
      email: z.string(),
      name: z.string(),
      createdAt: z.string(),
      mfaEnabled: z.boolean(),
      passkeyCount: z
        .number()
        .check(
          z.int(),
          z.describe(
            'How many passkeys the account has. A passkey is a second factor: with one, fresh-MFA actions (password change, MFA removal, tenant deletion) need an MFA session and a factor, which can be a passkey step-up token',
          ),
        ),
      emailVerified: z
        .boolean()
        .check(
          z.describe(
            'Whether the owner proved the address; unverified accounts cannot create tenants or accept invitations',
          ),
        ),
    })
    .check(z.meta({ id: 'User' })),
);

/** The token of a mailed link (the part after `#/verify-email/` or `#/reset-password/`). */
export const MailToken = z.onFirstUse(() =>
  z.string().check(z.maxLength(200), z.regex(MAIL_TOKEN_PATTERN, 'Not a link token')),
);

export const register = defineRoute({
  id: 'register',
  method: 'POST',
  path: '/v1/auth/register',
  area: 'auth',
  summary: 'Create an account',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'register-ip', limit: 3, windowSeconds: 30 * 60 }],
  get body() {
    return z.strictObject({
      email: EmailAddress(),
      password: Password(),
      name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
    });
  },
  response: {
    status: 202,
    description:
      'Registration received. The same answer whether or not the address already had an account: a new ' +
      'address can sign in at once, a taken one is left unchanged.',
    get schema() {
      return z.object({ message: z.string() }).check(z.meta({ id: 'RegistrationAccepted' }));
    },
  },
});

export const login = defineRoute({
  id: 'login',
  method: 'POST',
  path: '/v1/auth/login',
  area: 'auth',
  summary: 'Sign in; with MFA on, also send mfaCode or recoveryCode',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'login-ip', limit: 5, windowSeconds: 15 * 60 }],
  get body() {
    return z.strictObject({
      email: z.string().check(z.maxLength(254)),
      password: z.string().check(z.maxLength(1024)),
      mfaCode: z.optional(TotpCode()),
      recoveryCode: z.optional(RecoveryCode()),
      /**
       * `cookie` (the console, from its own origin only): the session goes into an HttpOnly, Secure,
       * SameSite=Strict cookie and the answer carries no token.
       */
      session: z._default(z.enum(['token', 'cookie']), 'token'),
    });
  },
  response: {
    status: 200,
    description:
      'A session token (shown once); with `session: cookie`, a `Set-Cookie` of the session instead of `token`',
    get schema() {
      return z.object({ token: z.optional(z.string()), expiresAt: z.string(), user: User() });
    },
  },
});

export const logout = defineRoute({
  id: 'logout',
  method: 'POST',
  path: '/v1/auth/logout',
  area: 'auth',
  summary: 'Revoke this session',
  tags: ['auth'],
  auth: { kind: 'session' },
  response: { status: 204, description: 'Signed out' },
});

export const getMe = defineRoute({
  id: 'getMe',
  method: 'GET',
  path: '/v1/me',
  area: 'auth',
  summary:
    'The caller and their memberships; through an API key, only that key: its tenant and effective scopes',
  tags: ['me'],
  auth: { kind: 'principal' },
  response: {
    status: 200,
    description: 'User and memberships (with an API key: the key, and its tenant as the only membership)',
    get schema() {
      return z.object({
        user: User(),
        memberships: z.array(z.object({ tenantId: TenantId(), role: z.enum(ROLES) })),
        apiKey: z.optional(
          z.object({
            keyId: z.string(),
            tenantId: TenantId(),
            /** Its scopes ∩ its creator's current role, now. */
            scopes: z.array(z.enum(PERMISSIONS)),
          }),
        ),
      });
    },
  },
});

const SessionView = z.onFirstUse(() =>
  z.object({
    sessionId: z.string(),
    createdAt: z.string(),
    lastSeenAt: z.string(),
    ip: z.string(),
    userAgent: z.string(),
    authMethod: z.enum(AUTH_METHODS).check(z.describe('How the session was signed in')),
    mfa: z.boolean().check(z.describe('Whether the session proved a second factor')),
    current: z.boolean(),
  }),
);

/**
 * The optional fresh factor of a change to how the account signs in (password change, adding a passkey,
 * linking a provider): called in the route's body getter (built on first read, like the rest of the body),
 * spread, then `.check(z.refine(...atMostOneFactor))`. Which one is required depends on the account (400 from the
 * service naming the field).
 */
export const optionalFactor = () => ({
  mfaCode: z.optional(TotpCode()),
  recoveryCode: z.optional(RecoveryCode()),
  stepUpToken: z.optional(StepUpToken()),
});

/** `z.refine` arguments: at most one of a TOTP code, a recovery code and a step-up token. */
export const atMostOneFactor: [
  (b: { mfaCode?: string; recoveryCode?: string; stepUpToken?: string }) => boolean,
  { message: string; path: string[] },
] = [
  (b) => [b.mfaCode, b.recoveryCode, b.stepUpToken].filter((f) => f !== undefined).length <= 1,
  { message: 'Send at most one of mfaCode, recoveryCode or stepUpToken', path: ['mfaCode'] },
];

export const listSessions = defineRoute({
  id: 'listSessions',
  method: 'GET',
  path: '/v1/me/sessions',
  area: 'auth',
  summary: 'The caller’s active sessions',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'Sessions',
    get schema() {
      return z.object({ items: z.array(SessionView()) });
    },
  },
});

export const revokeSession = defineRoute({
  id: 'revokeSession',
  method: 'DELETE',
  path: '/v1/me/sessions/{sessionId}',
  area: 'auth',
  summary: 'Revoke one of the caller’s sessions',
  tags: ['me'],
  auth: { kind: 'session' },
  get params() {
    return z.strictObject({ sessionId: SessionId() });
  },
  response: { status: 204, description: 'Revoked' },
});

export const revokeOtherSessions = defineRoute({
  id: 'revokeOtherSessions',
  method: 'DELETE',
  path: '/v1/me/sessions',
  area: 'auth',
  summary: 'Revoke every session but this one',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'How many were revoked',
    get schema() {
      return z.object({ revoked: z.number().check(z.int()) });
    },
  },
});

export const authRoutes = [register, login, logout, getMe, listSessions, revokeSession, revokeOtherSessions];
