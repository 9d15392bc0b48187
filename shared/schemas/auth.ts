import { AUTH_METHODS } from '../domain/authentication.js';
import { MAIL_TOKEN_PATTERN } from '../domain/credentials.js';
import { PERMISSIONS, ROLES } from '../domain/permissions.js';
import { SIGN_IN_FAILURE_REASONS, SIGN_IN_HISTORY_DAYS, SIGN_IN_RESULTS } from '../domain/sign-in-history.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { EmailAddress, PageQuery, pageOf, TenantId } from './common.js';
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

const SignIn = z.onFirstUse(() =>
  z
    .object({
      at: z.string().check(z.describe('When the attempt was made')),
      ip: z.string().check(z.describe('The address it came from')),
      userAgent: z.string(),
      method: z.enum(AUTH_METHODS).check(z.describe('How it tried to sign in')),
      result: z
        .enum(SIGN_IN_RESULTS)
        .check(z.describe('`second-factor-required`: the password was right and a code was asked for')),
      reason: z.optional(z.enum(SIGN_IN_FAILURE_REASONS)).check(z.describe('Why it failed')),
      sessionId: z.optional(z.string()).check(z.describe('The session a successful attempt started')),
    })
    .check(z.meta({ id: 'SignIn' })),
);

export const listSignIns = defineRoute({
  id: 'listSignIns',
  method: 'GET',
  path: '/v1/me/sign-ins',
  area: 'auth',
  summary: `Sign-in attempts on your account in the last ${SIGN_IN_HISTORY_DAYS} days, newest first`,
  tags: ['me'],
  auth: { kind: 'session' },
  get query() {
    return PageQuery();
  },
  response: {
    status: 200,
    description: 'Attempts (a page may hold fewer than `limit` and still have a next one)',
    get schema() {
      return pageOf(SignIn());
    },
  },
});

export const changePassword = defineRoute({
  id: 'changePassword',
  method: 'POST',
  path: '/v1/me/password',
  area: 'auth',
  summary:
    'Change the password (with a second factor, TOTP or a passkey: from an MFA session, with mfaCode, recoveryCode or stepUpToken; 400 naming the field for a factor the account does not have); revokes every other session',
  tags: ['me'],
  auth: { kind: 'session' },
  get body() {
    return z
      .strictObject({
        currentPassword: z.string().check(z.maxLength(1024)),
        newPassword: Password(),
        ...optionalFactor(),
      })
      .check(z.refine(...atMostOneFactor));
  },
  response: {
    status: 200,
    description: 'Changed',
    get schema() {
      return z.object({ revokedSessions: z.number().check(z.int()) });
    },
  },
});

export const enrolTotp = defineRoute({
  id: 'enrolTotp',
  method: 'POST',
  path: '/v1/me/mfa/totp',
  area: 'auth',
  summary: 'Start TOTP enrolment: a secret and its otpauth URI',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 201,
    description: 'Scan the URI, then confirm with a code',
    get schema() {
      return z.object({ secret: z.string(), otpauthUri: z.string() });
    },
  },
});

export const confirmTotp = defineRoute({
  id: 'confirmTotp',
  method: 'POST',
  path: '/v1/me/mfa/totp/confirm',
  area: 'auth',
  summary:
    'Confirm TOTP with a first code and the current password (an account with a passkey: from an MFA session, with a passkey stepUpToken): this session becomes an MFA session, every other one is revoked; returns ten one-time recovery codes',
  tags: ['me'],
  auth: { kind: 'session' },
  get body() {
    return z.strictObject({
      code: TotpCode(),
      currentPassword: z.string().check(z.maxLength(1024)),
      stepUpToken: z
        .optional(StepUpToken())
        .check(
          z.describe('A passkey account only: a fresh passkey confirmation (400 naming it when missing)'),
        ),
    });
  },
  response: {
    status: 200,
    description: 'MFA is on',
    get schema() {
      return z.object({ recoveryCodes: z.array(z.string()), revokedSessions: z.number().check(z.int()) });
    },
  },
});

export const removeTotp = defineRoute({
  id: 'removeTotp',
  method: 'DELETE',
  path: '/v1/me/mfa/totp',
  area: 'auth',
  summary:
    'Turn MFA off (needs an MFA session and a current code, a recovery code or a step-up token); every other session is signed out',
  tags: ['me'],
  auth: { kind: 'session' },
  get body() {
    return z
      .strictObject({
        code: z.optional(TotpCode()),
        recoveryCode: z.optional(RecoveryCode()),
        stepUpToken: z.optional(StepUpToken()),
      })
      .check(z.refine(...exactlyOneFactor('code')));
  },
  response: { status: 204, description: 'MFA is off' },
});

export const resendVerification = defineRoute({
  id: 'resendVerification',
  method: 'POST',
  path: '/v1/me/email/verification',
  area: 'auth',
  summary: 'Mail a new verification link to the caller’s address (while it is unverified)',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'verification-resend-user', per: 'user', limit: 3, windowSeconds: 3600 }],
  response: {
    status: 202,
    description: 'The mail was sent (409 `email-already-verified` when there is nothing to verify)',
    get schema() {
      return z.object({ message: z.string() });
    },
  },
});

export const verifyEmail = defineRoute({
  id: 'verifyEmail',
  method: 'POST',
  path: '/v1/auth/verify-email',
  area: 'auth',
  summary: 'Verify an address with the token of the link mailed to it (works once, for 24 hours)',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'verify-email-ip', limit: 10, windowSeconds: 15 * 60 }],
  get body() {
    return z.strictObject({ token: MailToken() });
  },
  response: {
    status: 200,
    description: 'Verified (400 `invalid-token` for a used, expired, replaced or unknown token)',
    get schema() {
      return z.object({ email: z.string(), verifiedAt: z.string() });
    },
  },
});

export const requestPasswordReset = defineRoute({
  id: 'requestPasswordReset',
  method: 'POST',
  path: '/v1/auth/password-reset',
  area: 'auth',
  summary: 'Mail a password reset link to an address, if it has an account',
  tags: ['auth'],
  auth: { kind: 'none' },
  // Per address too (3 an hour), counted whether or not the address has an account.
  rateLimits: [{ name: 'password-reset-network', per: 'network', limit: 10, windowSeconds: 3600 }],
  get body() {
    return z.strictObject({ email: EmailAddress() });
  },
  response: {
    status: 202,
    description:
      'The same answer, after the same time, whether or not the address has an account; only an account’s address gets a mail',
    get schema() {
      return z.object({ message: z.string() }).check(z.meta({ id: 'PasswordResetRequested' }));
    },
  },
});

export const confirmPasswordReset = defineRoute({
  id: 'confirmPasswordReset',
  method: 'POST',
  path: '/v1/auth/password-reset/confirm',
  area: 'auth',
  summary:
    'Set a new password with the token of a reset link (works once, for 30 minutes); every session of the account ends, MFA stays on',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'password-reset-confirm-ip', limit: 10, windowSeconds: 15 * 60 }],
  get body() {
    return z.strictObject({ token: MailToken(), newPassword: Password() });
  },
  response: {
    status: 200,
    description:
      'Reset: sign in with the new password (and, when `mfaEnabled`, the second factor). 400 `invalid-token` for a used, expired, replaced or unknown token',
    get schema() {
      return z.object({ revokedSessions: z.number().check(z.int()), mfaEnabled: z.boolean() });
    },
  },
});

export const authRoutes = [
  register,
  login,
  logout,
  getMe,
  listSessions,
  revokeSession,
  revokeOtherSessions,
  listSignIns,
  changePassword,
  enrolTotp,
  confirmTotp,
  removeTotp,
  resendVerification,
  verifyEmail,
  requestPasswordReset,
  confirmPasswordReset,
];
