import { AUTH_METHODS } from '../domain/authentication.js';
import { SIGN_IN_FAILURE_REASONS, SIGN_IN_HISTORY_DAYS, SIGN_IN_RESULTS } from '../domain/sign-in-history.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { atMostOneFactor, MailToken, optionalFactor, Password } from './auth.js';
import { EmailAddress, PageQuery, pageOf } from './common.js';
import { exactlyOneFactor, RecoveryCode, StepUpToken, TotpCode } from './factors.js';

// The caller's account settings and the mailed links: the sign-in history, the password, TOTP, address
// verification and password reset. A module of their own, apart from sign-in and sessions (./auth.ts), so the
// auth function's cold start loads neither these definitions nor their implementations: they are a route group
// loaded on use (functions/auth/lazy/account-routes.ts).

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

export const accountRoutes = [
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
