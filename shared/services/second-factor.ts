import type { PlatformCrypto } from '../crypto/envelope.js';
import { matchTotpStep } from '../crypto/totp.js';
import type { AuditActor } from '../domain/audit-events.js';
import { hashSecret, normaliseEmail, normaliseRecoveryCode } from '../domain/credentials.js';
import type { AuditRecorder } from '../http/audit-seam.js';
import { TooManyRequestsError, UnauthorizedError } from '../http/errors.js';
import type { IdentityStore, UserRecord } from '../store/identity-store.js';

// Kept apart from identity.ts so functions that demand "fresh MFA" (tenants) need not bundle argon2.

/** At most 10 failed sign-ins per account per hour: a back-off that ends by itself, not a lock-out. */
export const ACCOUNT_FAILURE_LIMIT = 10;
export const ACCOUNT_FAILURE_WINDOW_SECONDS = 3600;

export interface RequestOrigin {
  ip: string;
  userAgent: string;
}

/** Purpose bound into TOTP secrets' encryption context. */
export const TOTP_PURPOSE = 'totp-secret';
/** A user id that never exists (ids are ULIDs, never all zeros). */
export const UNKNOWN_USER_ID = 'u_00000000000000000000000000';

/** The actor of a platform-log event: the user (when known) and where the request came from. */
export function actorOf(origin: RequestOrigin, userId?: string): AuditActor {
  return { ...(userId ? { userId } : {}), ip: origin.ip, userAgent: origin.userAgent.slice(0, 512) };
}

/** A second factor as clients send it: a current TOTP code or one of the user's recovery codes. */
export type SecondFactor =
  | { mfaCode: string; recoveryCode?: undefined }
  | { recoveryCode: string; mfaCode?: undefined };

export interface SecondFactorDeps {
  identity: IdentityStore;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  now?: () => number;
}

/**
 * Verifies and consumes a second factor exactly as sign-in does: a TOTP step is accepted once per user
 * (a conditional write of the last step used), a recovery code once (removed from its set). Sign-in and
 * the routes that demand "fresh MFA" (tenant deletion) share this one implementation.
 */
export class SecondFactorVerifier {
  private readonly now: () => number;

  constructor(private readonly deps: SecondFactorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** True when the factor is right and was not used before; it cannot be used again afterwards. */
  async consume(user: UserRecord, factor: SecondFactor): Promise<boolean> {
    if (factor.mfaCode !== undefined) {
      if (!user.totpCiphertext) return false;
      const secret = await this.deps.secrets.decryptPlatformSecret(
        { purpose: TOTP_PURPOSE, recordId: user.userId },
        user.totpCiphertext,
      );
      const step = matchTotpStep(secret, factor.mfaCode, this.now());
      return step !== undefined && this.deps.identity.consumeTotpStep(user.userId, step);
    }
    return this.deps.identity.consumeRecoveryCode(
      user.userId,
      hashSecret(normaliseRecoveryCode(factor.recoveryCode)),
    );
  }

  /**
   * "Fresh MFA" for a signed-in user about to do something irreversible: `mfa-not-enabled` when the user
   * has no second factor (the caller decides what that means), else the factor is verified and consumed.
   * A wrong or replayed code counts against the same per-account budget as failed sign-ins (10 per hour,
   * then 429), so a stolen session cannot be used to guess codes, and is recorded in the platform log.
   */
  async confirm(
    userId: string,
    factor: SecondFactor,
    origin: RequestOrigin & { purpose: string },
  ): Promise<'verified' | 'mfa-not-enabled'> {
    const { identity, audit } = this.deps;
    const user = await identity.getUser(userId);
    if (!user) throw new UnauthorizedError();
    if (!user.mfaEnabled) return 'mfa-not-enabled';
    const now = this.now();
    // The sign-in failure counter of this account (keyed like login's), so all guesses share one budget.
    const account = normaliseEmail(user.email);
    const failures = await identity.rateCount('login-account', account, ACCOUNT_FAILURE_WINDOW_SECONDS, now);
    if (failures >= ACCOUNT_FAILURE_LIMIT) {
      throw new TooManyRequestsError(
        identity.retryAfter(ACCOUNT_FAILURE_WINDOW_SECONDS, now),
        'Too many failed attempts for this account; try again later.',
      );
    }
    if (await this.consume(user, factor)) return 'verified';
    await identity.incrementRate('login-account', account, ACCOUNT_FAILURE_WINDOW_SECONDS, now);
    await audit.recordPlatform({
      action: 'auth.sign-in.failed',
      actor: actorOf(origin, userId),
      resource: { type: 'user', id: userId },
      details: { reason: 'bad-second-factor', purpose: origin.purpose },
    });
    throw new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code');
  }
}
