import type { AsyncMembers } from '../../../shared/aws/loaded-on-use.js';
import { type BoundRoute, implement } from '../../../shared/http/api.js';
import { requirePrincipal } from '../../../shared/http/auth.js';
import * as accountRoutes from '../../../shared/schemas/account.js';
import type { AccountEmailService } from '../../../shared/services/account-email.js';
import type { AccountSettingsService } from '../../../shared/services/account-settings.js';

/**
 * The account routes (shared/schemas/account.ts: the sign-in history, the password, TOTP, address
 * verification and password reset) with their implementations: a chunk that the auth function loads, schemas
 * and all, by the first request to one of them (../handler.ts, ./route-keys.ts).
 */
export function accountRoutesFor(
  settings: AsyncMembers<AccountSettingsService>,
  email: AsyncMembers<AccountEmailService>,
): BoundRoute[] {
  return [
    implement(accountRoutes.listSignIns, async ({ auth, query }) => ({
      status: 200,
      body: await settings.listSignIns(requirePrincipal(auth).userId, query),
    })),
    implement(accountRoutes.changePassword, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 200,
      body: await settings.changePassword(requirePrincipal(auth), body, { ip: sourceIp, userAgent }),
    })),
    implement(accountRoutes.enrolTotp, async ({ auth }) => ({
      status: 201,
      body: await settings.enrolTotp(requirePrincipal(auth).userId),
    })),
    implement(accountRoutes.confirmTotp, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 200,
      body: await settings.confirmTotp(requirePrincipal(auth), body, { ip: sourceIp, userAgent }),
    })),
    implement(accountRoutes.removeTotp, async ({ auth, body, sourceIp, userAgent }) => {
      await settings.removeTotp(requirePrincipal(auth), body, { ip: sourceIp, userAgent });
      return { status: 204 };
    }),
    implement(accountRoutes.resendVerification, async ({ auth, sourceIp, userAgent }) => ({
      status: 202,
      body: await email.resendVerification(requirePrincipal(auth).userId, { ip: sourceIp, userAgent }),
    })),
    implement(accountRoutes.verifyEmail, async ({ body, sourceIp, userAgent }) => ({
      status: 200,
      body: await email.confirmVerification(body.token, { ip: sourceIp, userAgent }),
    })),
    implement(accountRoutes.requestPasswordReset, async ({ body, sourceIp, userAgent }) => ({
      status: 202,
      body: await email.requestReset(body, { ip: sourceIp, userAgent }),
    })),
    implement(accountRoutes.confirmPasswordReset, async ({ body, sourceIp, userAgent }) => ({
      status: 200,
      body: await email.confirmReset(body, { ip: sourceIp, userAgent }),
    })),
  ];
}
