import type { PlatformCrypto } from '../crypto/envelope.js';
import { matchTotpStep } from '../crypto/totp.js';
import { actorOf, type Principal, type RequestOrigin } from '../domain/caller.js';
import { hashSecret, normaliseEmail, normaliseRecoveryCode } from '../domain/credentials.js';
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { IdentityStore, UserRecord } from '../store/identity-store.js';
import { FailureBudgets } from './failure-budgets.js';

// Kept apart from identity.ts so functions that demand "fresh MFA" (tenants) need not bundle argon2.

/** Purpose bound into TOTP secrets' encryption context. */
export const TOTP_PURPOSE = 'totp-secret';
/** A user id that never exists (ids are ULIDs, never all zeros). */
export const UNKNOWN_USER_ID = 'u_00000000000000000000000000';

/** The key every failure budget of an account is counted under (sign-in knows only the e-mail). */
export function accountOf(user: Pick<UserRecord, 'email'>): string {
  return normaliseEmail(user.email);
}

/** A second factor as clients send it: a current TOTP code or one of the user's recovery codes. */
export type SecondFactor =
  | { mfaCode: string; recoveryCode?: undefined }
  | { recoveryCode: string; mfaCode?: undefined };

/** What a sensitive action is, for problems and the audit log ('tenant.delete', 'mfa.remove', ...). */
export type Purpose = RequestOrigin & { purpose: string };

export interface SecondFactorDeps {
  identity: IdentityStore;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  /** Defaults to the budgets over the identity table's rate windows. */
  budgets?: FailureBudgets;
  now?: () => number;
}

/**
 * Verifies and consumes a second factor exactly as sign-in does: a TOTP step is accepted once per user
 * (a conditional write of the last step used), a recovery code once (removed from its set). TOTP codes
 * are checked only after a slot of the account-wide TOTP budgets was taken. Sign-in and the routes that
 * demand "fresh MFA" (MFA removal, password change, tenant deletion) share this one implementation.
 */
export class SecondFactorVerifier {
  readonly budgets: FailureBudgets;
  private readonly now: () => number;

  constructor(private readonly deps: SecondFactorDeps) {
    this.now = deps.now ?? Date.now;
    this.budgets = deps.budgets ?? new FailureBudgets(deps.identity.rateWindows);
  }

  /**
   * Checks and consumes the factor under the account-wide TOTP budgets (recovery codes, about 50 bits
   * each, are outside them). True when right and unused; 429 before anything is checked when spent.
   */
  async attempt(user: UserRecord, factor: SecondFactor): Promise<boolean> {
    if (factor.mfaCode === undefined) return this.consume(user, factor);
    const held = await this.budgets.reserveForTotp(accountOf(user));
    const ok = await this.consume(user, factor);
    if (ok) await held.giveBack();
    return ok;
  }

  /** True when the factor is right and was not used before; it cannot be used again afterwards. */
  private async consume(user: UserRecord, factor: SecondFactor): Promise<boolean> {
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
   * Refuses a sensitive action (403 `mfa-session-required`, recorded in the platform log) unless the
   * caller is a session that proved a second factor. A password-only session, even of a user who has
   * since enrolled, is not enough: whoever holds it never showed the second factor.
   */
  async requireMfaSession(
    caller: Pick<Principal, 'kind' | 'userId' | 'mfa'>,
    origin: Purpose,
  ): Promise<void> {
    if (caller.kind === 'session' && caller.mfa === true) return;
    await this.refused(caller.userId, origin, 'mfa-session-required');
    throw new ForbiddenError(
      'This needs a session signed in with your second factor: sign in again with your code.',
      'mfa-session-required',
    );
  }

  /** Records a refused sensitive action in the platform log. */
  async refused(userId: string, origin: Purpose, reason: string): Promise<void> {
    await this.deps.audit.recordPlatform({
      action: 'auth.action.refused',
      actor: actorOf(origin, userId),
      resource: { type: 'user', id: userId },
      details: { purpose: origin.purpose, reason },
    });
  }

  /**
   * "Fresh MFA" for a signed-in user about to do something irreversible: `mfa-not-enabled` when the user
   * has no second factor (the caller decides what that means); else the session must be an MFA session
   * (403 otherwise) and the factor is verified and consumed under the same budgets as sign-in: a slot of
   * the account's budget for the caller's network, and for TOTP codes the account-wide ones, are taken
   * first, so a stolen session can guess no faster than a sign-in (429 once spent). Wrong codes are
   * recorded in the platform log.
   */
  async confirm(
    caller: Pick<Principal, 'kind' | 'userId' | 'mfa'>,
    factor: SecondFactor,
    origin: Purpose,
  ): Promise<'verified' | 'mfa-not-enabled'> {
    const user = await this.deps.identity.getUser(caller.userId);
    if (!user) throw new UnauthorizedError();
    if (!user.mfaEnabled) return 'mfa-not-enabled';
    await this.requireMfaSession(caller, origin);
    const network = await this.budgets.reserveForNetwork(accountOf(user), origin.ip);
    let ok: boolean;
    try {
      ok = await this.attempt(user, factor);
    } catch (error) {
      // Refused by the TOTP budget: nothing was checked, so this network's slot does not count either.
      if (error instanceof TooManyRequestsError) await network.giveBack();
      throw error;
    }
    if (ok) {
      await network.giveBack();
      return 'verified';
    }
    await this.deps.audit.recordPlatform({
      action: 'auth.sign-in.failed',
      actor: actorOf(origin, caller.userId),
      resource: { type: 'user', id: caller.userId },
      details: {
        reason: 'bad-second-factor',
        method: factor.mfaCode !== undefined ? 'totp' : 'recovery-code',
        purpose: origin.purpose,
      },
    });
    throw new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code');
  }
}

/** The second factor in a request body, if any. */
export function secondFactorOf(input: { mfaCode?: string; recoveryCode?: string }): SecondFactor | undefined {
  if (input.mfaCode !== undefined) return { mfaCode: input.mfaCode };
  if (input.recoveryCode !== undefined) return { recoveryCode: input.recoveryCode };
  return undefined;
}
