import type { PlatformCrypto } from '../crypto/envelope.js';
import { hashPassword } from '../crypto/passwords.js';
import { loadTotp } from '../crypto/totp-loader.js';
import type { RequestOrigin } from '../domain/caller.js';
import { hashSecret, newRecoveryCodes } from '../domain/credentials.js';
import { ConflictError, UnauthorizedError } from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import { epochOf } from '../store/identity-records.js';
import type { IdentityStore } from '../store/identity-store.js';
import type { PageRequest } from '../store/pagination.js';
import type { AccountEmailService } from './account-email.js';
import { requireCurrentPassword } from './current-password.js';
import type { SessionCallerOf } from './identity.js';
import {
  hasSecondFactor,
  requireFactorPresence,
  type SecondFactor,
  SecondFactorVerifier,
  secondFactorOf,
  TOTP_PURPOSE,
} from './second-factor.js';
import { SignInSteps } from './sign-in-steps.js';

export interface AccountSettingsDeps {
  identity: IdentityStore;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  /** Security notices (the auth function loads the mail service on first use: its synchronous members are not here). */
  email: Pick<AccountEmailService, 'notify'>;
  now?: () => number;
}

/**
 * The signed-in caller's account settings: the sign-in history, the password and TOTP MFA. Apart from
 * sign-in and sessions (./identity.ts), so the auth function loads it with the first request to one of these
 * routes (functions/auth/lazy/account-routes.ts), not at every cold start. Sign-in's second-factor checks,
 * budgets and session revocations are the same code (./second-factor.ts, ./sign-in-steps.ts).
 */
export class AccountSettingsService {
  private readonly now: () => number;
  private readonly secondFactors: SecondFactorVerifier;
  private readonly steps: SignInSteps;

  constructor(private readonly deps: AccountSettingsDeps) {
    this.now = deps.now ?? Date.now;
    this.steps = new SignInSteps(deps);
    this.secondFactors = new SecondFactorVerifier(deps);
  }

  /** The caller's sign-in attempts of the last 90 days, newest first. */
  async listSignIns(userId: string, page: PageRequest) {
    return this.deps.identity.signIns.list(userId, page);
  }

  /**
   * Changes the password and revokes every other session. Needs the current password; with a second factor
   * (TOTP or a passkey), also an MFA session and a fresh factor (a current code, a recovery code or a
   * passkey step-up token): a stolen session plus a phished password is not enough to take the account
   * over. A factor sent by an account without one is refused rather than ignored.
   */
  async changePassword(
    caller: SessionCallerOf,
    input: {
      currentPassword: string;
      newPassword: string;
      mfaCode?: string;
      recoveryCode?: string;
      stepUpToken?: string;
    },
    origin: RequestOrigin,
  ) {
    const user = await this.steps.requireUser(caller.userId);
    const purpose = { ...origin, purpose: 'password.change' };
    const factor = secondFactorOf(input);
    const secondFactor = hasSecondFactor(user);
    if (secondFactor) await this.secondFactors.requireMfaSession(caller, purpose);
    requireFactorPresence(user, factor, 'Changing the password');
    await requireCurrentPassword(this.secondFactors, user, input.currentPassword, origin);
    if (secondFactor && factor) await this.secondFactors.confirm(caller, factor, purpose);
    const revoked = await this.deps.identity.changePassword(
      user.userId,
      await hashPassword(input.newPassword),
      epochOf(user),
      caller.credentialId,
      this.deps.audit.platformPut(
        this.steps.event('auth.password.changed', origin, user.userId, { type: 'user', id: user.userId }),
      ),
    );
    await this.deps.email.notify(user, 'password-changed', origin);
    return { revokedSessions: revoked };
  }

  async enrolTotp(userId: string) {
    const user = await this.steps.requireUser(userId);
    if (user.mfaEnabled) throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
    const { newTotpSecret, totpUri } = await loadTotp();
    const secret = newTotpSecret();
    const ciphertext = await this.deps.secrets.encryptPlatformSecret(
      { purpose: TOTP_PURPOSE, recordId: userId },
      secret,
    );
    await this.deps.identity.setPendingTotp(userId, ciphertext);
    return { secret, otpauthUri: totpUri(secret, user.email) };
  }

  /**
   * Turns MFA on with a first code of the enrolled secret and the current password (re-authentication:
   * otherwise a stolen session could enrol the thief's authenticator, sign the owner out everywhere and
   * keep the account). The session that confirms becomes an MFA session, since it has just shown both
   * factors; every other session of the user is revoked, so none that never saw the second factor
   * survives its introduction.
   */
  async confirmTotp(
    caller: SessionCallerOf,
    input: { code: string; currentPassword: string; stepUpToken?: string },
    origin: RequestOrigin,
  ) {
    const user = await this.steps.requireUser(caller.userId);
    if (user.mfaEnabled) throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
    if (!user.totpPendingCiphertext) throw new ConflictError('Start enrolment first.', 'mfa-not-enrolling');
    // A passkey-only account has a second factor: only a session that proved it, with a fresh passkey
    // confirmation, adds another (else a stolen session and the password would add the thief's TOTP and so
    // get past every "fresh factor" rule).
    const purpose = { ...origin, purpose: 'mfa.enrol' };
    const factor = input.stepUpToken !== undefined ? { stepUpToken: input.stepUpToken } : undefined;
    if (hasSecondFactor(user)) await this.secondFactors.requireMfaSession(caller, purpose);
    requireFactorPresence(user, factor, 'Adding TOTP beside a passkey');
    await requireCurrentPassword(this.secondFactors, user, input.currentPassword, origin);
    const secret = await this.deps.secrets.decryptPlatformSecret(
      { purpose: TOTP_PURPOSE, recordId: user.userId },
      user.totpPendingCiphertext,
    );
    const step = (await loadTotp()).matchTotpStep(secret, input.code, this.now());
    if (step === undefined) throw new UnauthorizedError('The code is wrong.', 'invalid-mfa-code');
    // Spent only once the new code matched, so a mistyped code does not cost a fresh confirmation.
    if (factor) await this.secondFactors.confirm(caller, factor, purpose);
    const recoveryCodes = newRecoveryCodes();
    const revoked = await this.deps.identity.enableTotp(
      user.userId,
      user.totpPendingCiphertext,
      step,
      recoveryCodes.map((c) => hashSecret(c)),
      epochOf(user),
      caller.credentialId,
      this.steps.othersRevoked(
        user.userId,
        origin,
        this.deps.audit.platformPut({
          ...this.steps.event('auth.mfa.enrolled', origin, user.userId, { type: 'user', id: user.userId }),
          details: { sessionUpgraded: caller.credentialId },
        }),
      ),
    );
    await this.deps.email.notify(user, 'mfa-enrolled', origin);
    return { recoveryCodes, revokedSessions: revoked };
  }

  /**
   * Turns MFA off: needs an MFA session and a fresh code (the fresh-MFA check and its budgets). Every other
   * session is signed out, as with every change to how the account signs in.
   */
  async removeTotp(
    caller: SessionCallerOf,
    input: { code?: string; recoveryCode?: string; stepUpToken?: string },
    origin: RequestOrigin,
  ) {
    // Read before the code is checked: the removal then holds only if nothing changed in between.
    const before = await this.steps.requireUser(caller.userId);
    // A passkey-only account has a second factor but no TOTP to remove: nothing is spent for it.
    if (!before.mfaEnabled) throw new ConflictError('MFA is not enabled.', 'mfa-not-enabled');
    const factor: SecondFactor = secondFactorOf({ ...input, mfaCode: input.code })!;
    const outcome = await this.secondFactors.confirm(caller, factor, { ...origin, purpose: 'mfa.remove' });
    if (outcome === 'mfa-not-enabled') throw new ConflictError('MFA is not enabled.', 'mfa-not-enabled');
    await this.deps.identity.disableTotp(
      caller.userId,
      epochOf(before),
      caller.credentialId,
      this.steps.othersRevoked(
        caller.userId,
        origin,
        this.deps.audit.platformPut(
          this.steps.event('auth.mfa.removed', origin, caller.userId, { type: 'user', id: caller.userId }),
        ),
      ),
    );
    await this.deps.email.notify(before, 'mfa-removed', origin);
  }
}
