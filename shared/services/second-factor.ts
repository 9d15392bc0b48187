import type { PlatformCrypto } from '../crypto/envelope.js';
import { loadTotp } from '../crypto/totp-loader.js';
import { actorOf, type Principal, type RequestOrigin } from '../domain/caller.js';
import { hashSecret, normaliseEmail, normaliseRecoveryCode } from '../domain/credentials.js';
import {
  ForbiddenError,
  HttpProblemError,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
} from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { UserRecord } from '../store/identity-records.js';
import type { IdentityStore } from '../store/identity-store.js';
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

/**
 * A second factor as clients send it: a current TOTP code, one of the user's recovery codes, or (for the
 * fresh-MFA checks only, never at sign-in) a step-up token the caller's session got for a fresh passkey
 * assertion (`POST /v1/me/step-up/passkey`).
 */
export type SecondFactor =
  | { mfaCode: string; recoveryCode?: undefined; stepUpToken?: undefined }
  | { recoveryCode: string; mfaCode?: undefined; stepUpToken?: undefined }
  | { stepUpToken: string; mfaCode?: undefined; recoveryCode?: undefined };

/** A factor sign-in accepts: a TOTP code or a recovery code. */
export type SignInFactor = Exclude<SecondFactor, { stepUpToken: string }>;

/** How long a step-up token works. */
export const STEP_UP_LIFETIME_MS = 5 * 60_000;

/** Whether the user has a second factor: TOTP on, or at least one passkey. */
export function hasSecondFactor(user: Pick<UserRecord, 'mfaEnabled' | 'passkeyCount'>): boolean {
  return user.mfaEnabled || (user.passkeyCount ?? 0) > 0;
}

/**
 * Whether a change to how the account signs in sent the fresh factor it needs: with a second factor, one of
 * them (400 naming the field the account can answer: `mfaCode` with TOTP on, else `stepUpToken`); without,
 * none (400 naming the field sent, which the account has nothing to answer with). Changing the password,
 * adding a factor or a linked identity, and removing the last factor all ask this, so a stolen MFA session
 * plus the password cannot add the thief's factor and then act as if it had always been there.
 */
export function requireFactorPresence(
  user: Pick<UserRecord, 'mfaEnabled' | 'passkeyCount'>,
  factor: SecondFactor | undefined,
  action: string,
): void {
  if (hasSecondFactor(user)) {
    if (factor) return;
    throw new ValidationError(
      [
        user.mfaEnabled
          ? { path: 'body.mfaCode', message: 'MFA is on: send mfaCode, recoveryCode or stepUpToken' }
          : { path: 'body.stepUpToken', message: 'The account has a passkey: send a passkey stepUpToken' },
      ],
      `${action} needs a fresh second factor.`,
    );
  }
  if (factor)
    throw new ValidationError(
      [
        {
          path: `body.${Object.keys(factor)[0]}`,
          message: 'The account has no second factor: leave this out',
        },
      ],
      'This account has no second factor to confirm.',
    );
}

/** The one refusal of a step-up token that cannot be spent (which reason is in the platform log). */
function stepUpRefused(): HttpProblemError {
  return new HttpProblemError(401, 'step-up-invalid', 'Unauthorized', {
    detail:
      'The step-up token is unknown, was used already, has expired, or belongs to another session: confirm with your passkey again.',
    errors: [{ path: 'body.stepUpToken', message: 'Not a valid step-up token for this session' }],
  });
}

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
  async attempt(user: UserRecord, factor: SignInFactor): Promise<boolean> {
    if (factor.mfaCode === undefined) return this.consume(user, factor);
    const held = await this.budgets.reserveForTotp(accountOf(user));
    const ok = await this.consume(user, factor);
    if (ok) await held.giveBack();
    return ok;
  }

  /** True when the factor is right and was not used before; it cannot be used again afterwards. */
  private async consume(user: UserRecord, factor: SignInFactor): Promise<boolean> {
    if (factor.mfaCode !== undefined) {
      if (!user.totpCiphertext) return false;
      const secret = await this.deps.secrets.decryptPlatformSecret(
        { purpose: TOTP_PURPOSE, recordId: user.userId },
        user.totpCiphertext,
      );
      const step = (await loadTotp()).matchTotpStep(secret, factor.mfaCode, this.now());
      return step !== undefined && this.deps.identity.consumeTotpStep(user.userId, step);
    }
    return this.deps.identity.consumeRecoveryCode(
      user.userId,
      hashSecret(normaliseRecoveryCode(factor.recoveryCode)),
    );
  }

  /** Spends the caller's step-up token; the refusal (audited with its reason) otherwise. */
  private async spendStepUp(
    caller: Pick<Principal, 'userId' | 'credentialId'>,
    token: string,
    origin: Purpose,
  ): Promise<void> {
    const outcome = await this.deps.identity.spendStepUp(hashSecret(token), {
      userId: caller.userId,
      sessionId: caller.credentialId,
      now: this.now(),
    });
    await this.deps.audit.recordPlatform({
      action: outcome === 'spent' ? 'auth.step-up.used' : 'auth.step-up.refused',
      actor: actorOf(origin, caller.userId),
      resource: { type: 'user', id: caller.userId },
      details: { purpose: origin.purpose, ...(outcome === 'spent' ? {} : { reason: outcome }) },
    });
    if (outcome !== 'spent') throw stepUpRefused();
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
   * has no second factor (neither TOTP nor a passkey; the caller decides what that means); else the session
   * must be an MFA session (403 otherwise) and the factor is verified and consumed. A step-up token is spent
   * with one conditional delete (401 `step-up-invalid` naming body.stepUpToken when unknown, used, expired,
   * another user's or another session's). Codes are checked under the same budgets as sign-in: a slot of
   * the account's budget for the caller's network, and for TOTP codes the account-wide ones, are taken
   * first, so a stolen session can guess no faster than a sign-in (429 once spent). Wrong codes and refused
   * step-up tokens are recorded in the platform log.
   */
  async confirm(
    caller: Pick<Principal, 'kind' | 'userId' | 'mfa' | 'credentialId'>,
    factor: SecondFactor,
    origin: Purpose,
  ): Promise<'verified' | 'mfa-not-enabled'> {
    const user = await this.deps.identity.getUser(caller.userId);
    if (!user) throw new UnauthorizedError();
    if (!hasSecondFactor(user)) return 'mfa-not-enabled';
    await this.requireMfaSession(caller, origin);
    if (factor.stepUpToken !== undefined) {
      await this.spendStepUp(caller, factor.stepUpToken, origin);
      return 'verified';
    }
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
export function secondFactorOf(input: {
  mfaCode?: string;
  recoveryCode?: string;
  stepUpToken?: string;
}): SecondFactor | undefined {
  if (input.mfaCode !== undefined) return { mfaCode: input.mfaCode };
  if (input.recoveryCode !== undefined) return { recoveryCode: input.recoveryCode };
  if (input.stepUpToken !== undefined) return { stepUpToken: input.stepUpToken };
  return undefined;
}

/** The factor of a sign-in (a step-up token is not one), if any. */
export function signInFactorOf(input: { mfaCode?: string; recoveryCode?: string }): SignInFactor | undefined {
  if (input.mfaCode !== undefined) return { mfaCode: input.mfaCode };
  if (input.recoveryCode !== undefined) return { recoveryCode: input.recoveryCode };
  return undefined;
}
