import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { PlatformCrypto } from '../crypto/envelope.js';
import type { Principal, RequestOrigin } from '../domain/caller.js';
import { hashSecret, newSecret, STEP_UP_TOKEN_PREFIX } from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import {
  PASSKEY_CEREMONY_TIMEOUT_MS,
  PASSKEY_CHALLENGE_SECONDS,
  PASSKEY_LIMIT,
  type RelyingParty,
} from '../domain/passkeys.js';
import {
  ConflictError,
  EmailUnverifiedError,
  HttpProblemError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { UserRecord } from '../store/identity-records.js';
import { epochOf } from '../store/identity-records.js';
import { type IdentityStore, publicUser } from '../store/identity-store.js';
import type { PasskeyChallengeRecord, PasskeyRecord, PasskeyStore } from '../store/passkey-store.js';
import type { AccountEmailService } from './account-email.js';
import { requireCurrentPassword } from './current-password.js';
import {
  hasSecondFactor,
  requireFactorPresence,
  SecondFactorVerifier,
  STEP_UP_LIFETIME_MS,
  secondFactorOf,
} from './second-factor.js';
import { SignInSteps } from './sign-in-steps.js';

// The WebAuthn library is loaded on the first passkey request only: the auth function's other routes (and
// its cold start) do not pay for it, and no other function bundles this file.
const webauthn = () => import('@simplewebauthn/server');

/** A signed-in caller of the /v1/me/passkeys routes. */
export type PasskeyCaller = Pick<Principal, 'kind' | 'userId' | 'credentialId' | 'mfa'>;

export interface PasskeyDeps {
  identity: IdentityStore;
  passkeys: PasskeyStore;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  /** Security notices (the auth function loads the mail service on first use). */
  email: Pick<AccountEmailService, 'notify'>;
  relyingParty: RelyingParty;
  now?: () => number;
}

/** What a failed ceremony got wrong, for the audit log (the client hears only that it failed). */
export type PasskeyCheck =
  | 'challenge'
  | 'origin'
  | 'rp-id'
  | 'user-presence'
  | 'user-verification'
  | 'counter'
  | 'unknown-credential'
  | 'signature';

/** The check a WebAuthn library error names. */
export function failedCheckOf(error: unknown): PasskeyCheck {
  const message = error instanceof Error ? error.message : '';
  if (/challenge/i.test(message)) return 'challenge';
  if (/origin/i.test(message)) return 'origin';
  if (/RP ID|rpID|rpIdHash/i.test(message)) return 'rp-id';
  if (/user verification/i.test(message)) return 'user-verification';
  if (/not present/i.test(message)) return 'user-presence';
  if (/counter/i.test(message)) return 'counter';
  return 'signature';
}

const CHALLENGE_INVALID = () =>
  new HttpProblemError(400, 'passkey-challenge-invalid', 'Bad Request', {
    detail: 'The challenge is unknown, was answered already or has expired: ask for new options.',
    errors: [{ path: 'body.challengeId', message: 'Unknown, used or expired challenge' }],
  });

const STEP_UP_REFUSED = () =>
  new HttpProblemError(401, 'invalid-passkey', 'Unauthorized', {
    detail:
      'The passkey was not accepted: not one of your passkeys, another site, no user verification, or a signature that does not verify.',
    errors: [{ path: 'body.credential', message: 'The authenticator’s answer did not verify' }],
  });

const SIGN_IN_REFUSED = () =>
  new UnauthorizedError(
    'The passkey was not accepted (unknown or removed passkey, another site, or no user verification).',
    'invalid-passkey',
  );

/** A passkey as its owner sees it: never the public key or the credential id. */
export function passkeyView(passkey: PasskeyRecord) {
  return {
    passkeyId: passkey.passkeyId,
    name: passkey.name,
    createdAt: passkey.createdAt,
    lastUsedAt: passkey.lastUsedAt ?? null,
    deviceType: passkey.deviceType,
    backedUp: passkey.backedUp,
  };
}

/**
 * Passkeys (WebAuthn, @simplewebauthn/server): registering several per account, naming and removing them,
 * and signing in with one instead of a password. Every ceremony requires user verification (a PIN or a
 * biometric on the authenticator), so a passkey sign-in is a multi-factor session. Challenges are issued
 * by the API, kept five minutes and answered once; origins and the relying party id come from
 * configuration; signature counters only move forward.
 */
export class PasskeyService {
  private readonly now: () => number;
  private readonly secondFactors: SecondFactorVerifier;

  private readonly steps: SignInSteps;

  constructor(private readonly deps: PasskeyDeps) {
    this.now = deps.now ?? Date.now;
    this.steps = new SignInSteps(deps);
    this.secondFactors = new SecondFactorVerifier(deps);
  }

  /** The caller's passkeys, oldest first. */
  async list(userId: string) {
    const passkeys = await this.deps.passkeys.list(userId);
    return passkeys.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map(passkeyView);
  }

  /**
   * Options for `navigator.credentials.create`: a discoverable credential (so it can sign in without an
   * e-mail address) with user verification, none of the caller's existing passkeys again, and a challenge
   * only this session can answer.
   */
  async registrationOptions(
    caller: PasskeyCaller,
  ): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
    const user = await this.steps.requireUser(caller.userId);
    // Whoever registered an address they do not own must not plant a way back in before its owner
    // verifies it (and a password reset on an unverified account deletes passkeys all the same).
    if (user.emailVerifiedAt === undefined) throw new EmailUnverifiedError('add a passkey');
    const existing = await this.deps.passkeys.list(user.userId);
    if (existing.length >= PASSKEY_LIMIT)
      throw new ConflictError(
        `An account holds at most ${PASSKEY_LIMIT} passkeys; remove one first.`,
        'passkey-limit',
      );
    const { generateRegistrationOptions } = await webauthn();
    const options = await generateRegistrationOptions({
      rpName: this.deps.relyingParty.name,
      rpID: this.deps.relyingParty.id,
      userName: user.email,
      userDisplayName: user.name,
      // The user handle: the account id, which the authenticator hands back at sign-in (no e-mail needed).
      userID: new TextEncoder().encode(user.userId),
      timeout: PASSKEY_CEREMONY_TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    const challengeId = await this.issue({
      ceremony: 'register',
      challenge: options.challenge,
      userId: user.userId,
      sessionId: caller.credentialId,
    });
    return { challengeId, options };
  }

  /**
   * Adds the passkey the authenticator created. As with every change to how the account signs in: the
   * current password (checked under the sign-in failure budgets); with a second factor already (TOTP or a
   * passkey), an MFA session and a fresh one of them (a code, a recovery code or a step-up token), so a
   * stolen session plus the password cannot add the thief's passkey and then pass every later check; the
   * credential epoch moves (every other session is signed out), the owner is mailed, the change audited.
   */
  async register(
    caller: PasskeyCaller,
    input: {
      challengeId: string;
      credential: RegistrationResponseJSON;
      name: string;
      currentPassword: string;
      mfaCode?: string;
      recoveryCode?: string;
      stepUpToken?: string;
    },
    origin: RequestOrigin,
  ) {
    const user = await this.steps.requireUser(caller.userId);
    if (user.emailVerifiedAt === undefined) throw new EmailUnverifiedError('add a passkey');
    const purpose = { ...origin, purpose: 'passkey.register' };
    const factor = secondFactorOf(input);
    await this.requireStrongEnough(caller, user, purpose);
    requireFactorPresence(user, factor, 'Adding a passkey beside another factor');
    await this.requireCurrentPassword(user, input.currentPassword, origin);
    const challenge = await this.take(input.challengeId, 'register');
    if (challenge.userId !== user.userId || challenge.sessionId !== caller.credentialId)
      throw CHALLENGE_INVALID();

    const { verifyRegistrationResponse } = await webauthn();
    let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo'];
    try {
      const verified = await verifyRegistrationResponse({
        response: input.credential,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.deps.relyingParty.origins,
        expectedRPID: this.deps.relyingParty.id,
        requireUserVerification: true,
      });
      info = verified.verified ? verified.registrationInfo : undefined;
      if (!info) throw new Error('signature');
    } catch (error) {
      await this.deps.audit.recordPlatform({
        ...this.steps.event('auth.passkey.refused', origin, user.userId, { type: 'user', id: user.userId }),
        details: { ceremony: 'register', check: failedCheckOf(error) },
      });
      throw new ValidationError(
        [{ path: 'body.credential', message: 'The authenticator’s answer did not verify' }],
        'The passkey was not created for this site, without user verification, or for another challenge.',
      );
    }
    const existing = await this.deps.passkeys.list(user.userId);
    if (existing.some((p) => p.credentialId === info.credential.id))
      throw new ConflictError('This passkey is registered already.', 'passkey-exists');
    if (existing.length >= PASSKEY_LIMIT)
      throw new ConflictError(
        `An account holds at most ${PASSKEY_LIMIT} passkeys; remove one first.`,
        'passkey-limit',
      );
    // Spent once the new passkey verified, so a failed ceremony does not cost a code or a confirmation.
    if (factor) await this.secondFactors.confirm(caller, factor, purpose);

    const passkey: PasskeyRecord = {
      passkeyId: newId('p'),
      userId: user.userId,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      ...(info.credential.transports?.length ? { transports: info.credential.transports } : {}),
      name: input.name,
      createdAt: new Date(this.now()).toISOString(),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    };
    const revokedSessions = await this.deps.passkeys.add(
      passkey,
      epochOf(user),
      caller.credentialId,
      this.steps.othersRevoked(
        user.userId,
        origin,
        this.deps.audit.platformPut({
          ...this.steps.event('auth.passkey.registered', origin, user.userId, {
            type: 'passkey',
            id: passkey.passkeyId,
          }),
          details: { name: passkey.name, deviceType: passkey.deviceType, aaguid: passkey.aaguid },
        }),
      ),
    );
    await this.deps.email.notify(user, 'passkey-added', origin);
    return { passkey: passkeyView(passkey), revokedSessions };
  }

  /**
   * Renames one of the caller's passkeys (404 for anyone else's). The answer is the passkey read before the
   * write with the new name: no read follows the commit, so a failure after it cannot answer an error for a
   * rename that was made.
   */
  async rename(caller: PasskeyCaller, passkeyId: string, name: string, origin: RequestOrigin) {
    const passkey = await this.deps.passkeys.get(caller.userId, passkeyId);
    if (!passkey) throw new NotFoundError('No such passkey.');
    const renamed = await this.deps.passkeys.rename(
      caller.userId,
      passkeyId,
      name,
      this.deps.audit.platformPut({
        ...this.steps.event('auth.passkey.renamed', origin, caller.userId, {
          type: 'passkey',
          id: passkeyId,
        }),
        details: { name },
      }),
    );
    if (!renamed) throw new NotFoundError('No such passkey.');
    return passkeyView({ ...passkey, name });
  }

  /**
   * Removes one of the caller's passkeys (404 for anyone else's): the current password, and an MFA session
   * when the account has a second factor (TOTP or a passkey, this one included); the credential epoch moves, so every other session (those the passkey signed in too) ends.
   * Removing the account's last second factor (its last passkey, TOTP off) also needs a fresh one, a step-up
   * token, as TOTP removal does: else a stolen passkey session plus the password would drop the factor and
   * then change the password with none. The removal is conditional on the epoch read here, so "last" holds.
   */
  async remove(
    caller: PasskeyCaller,
    passkeyId: string,
    input: { currentPassword: string; stepUpToken?: string },
    origin: RequestOrigin,
  ) {
    const user = await this.steps.requireUser(caller.userId);
    const purpose = { ...origin, purpose: 'passkey.remove' };
    await this.requireStrongEnough(caller, user, purpose);
    const passkey = await this.deps.passkeys.get(user.userId, passkeyId);
    if (!passkey) throw new NotFoundError('No such passkey.');
    if (isLastSecondFactor(user) && input.stepUpToken === undefined) {
      throw new ValidationError(
        [
          {
            path: 'body.stepUpToken',
            message: 'This is your last second factor: send a passkey stepUpToken',
          },
        ],
        'Removing the last second factor needs a fresh passkey confirmation.',
      );
    }
    await this.requireCurrentPassword(user, input.currentPassword, origin);
    if (input.stepUpToken !== undefined)
      await this.secondFactors.confirm(caller, { stepUpToken: input.stepUpToken }, purpose);
    const outcome = await this.deps.passkeys.remove(
      user.userId,
      passkeyId,
      epochOf(user),
      caller.credentialId,
      this.steps.othersRevoked(
        user.userId,
        origin,
        this.deps.audit.platformPut({
          ...this.steps.event('auth.passkey.removed', origin, user.userId, {
            type: 'passkey',
            id: passkeyId,
          }),
          details: { name: passkey.name },
        }),
      ),
    );
    if (!outcome.removed) throw new NotFoundError('No such passkey.');
    await this.deps.email.notify(user, 'passkey-removed', origin);
    return { revokedSessions: outcome.revokedSessions };
  }

  /**
   * Options for `navigator.credentials.get`: no e-mail address asked for and no credential listed (the
   * authenticator offers its discoverable passkeys for this site), user verification required.
   */
  async signInOptions(): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({
      rpID: this.deps.relyingParty.id,
      userVerification: 'required',
      timeout: PASSKEY_CEREMONY_TIMEOUT_MS,
    });
    const challengeId = await this.issue({ ceremony: 'sign-in', challenge: options.challenge });
    return { challengeId, options };
  }

  /**
   * Signs in with a passkey: the challenge is spent first (right or wrong, it is answered once), the
   * account is the one the authenticator names (its user handle) and the passkey must be one of its own;
   * the signature, origin, relying party, user verification and counter are checked; the session (method
   * `passkey`, MFA) is written only if the passkey is still there with the counter read, and the account's
   * credentials did not change meanwhile. Failures on an account go to its sign-in history.
   */
  async signIn(
    input: { challengeId: string; credential: AuthenticationResponseJSON },
    origin: RequestOrigin,
  ) {
    const { identity, passkeys } = this.deps;
    const challenge = await this.take(input.challengeId, 'sign-in');
    const userId = userIdOf(input.credential.response.userHandle);
    const user = userId ? await identity.getUser(userId) : undefined;
    const passkey = user
      ? (await passkeys.list(user.userId)).find((p) => p.credentialId === input.credential.id)
      : undefined;
    if (!user || !passkey) {
      // Audited, but not put into the account's sign-in history: user handles are account ids (fellow
      // tenant members see them), so anyone could fill a stranger's history with a credential that was
      // never theirs. A failure with one of the account's own passkeys (whose ids the API never shows) is.
      await this.signInFailed(origin, user, { check: 'unknown-credential' }, { history: false });
      throw SIGN_IN_REFUSED();
    }

    let info: Awaited<ReturnType<PasskeyService['verifyAssertion']>>;
    try {
      info = await this.verifyAssertion(input.credential, challenge.challenge, passkey);
    } catch (error) {
      const check = failedCheckOf(error);
      await this.signInFailed(origin, user, { check, passkeyId: passkey.passkeyId });
      if (check === 'counter')
        logger.warn('passkey counter went backwards (a cloned authenticator?)', {
          userId: user.userId,
          passkeyId: passkey.passkeyId,
        });
      throw SIGN_IN_REFUSED();
    }

    const now = this.now();
    const started = await this.steps.startSession(user, origin, {
      at: now,
      method: 'passkey',
      // User verification was required and checked above: the device and its PIN or biometric.
      mfa: true,
      details: { passkeyId: passkey.passkeyId },
      alongside: [
        passkeys.useUpdate(passkey, {
          counter: info.newCounter,
          at: new Date(now).toISOString(),
          backedUp: info.credentialBackedUp,
        }),
      ],
    });
    if (!started) {
      // The passkey was removed, used by a racing sign-in, or the account's credentials changed.
      await this.steps.recordFailure(origin, user, {
        method: 'passkey',
        reason: 'credentials-changed',
        details: { passkeyId: passkey.passkeyId },
      });
      throw new UnauthorizedError(
        'The passkeys, password or MFA settings of this account changed during sign-in; sign in again.',
        'credentials-changed',
      );
    }
    await this.steps.noticeNewDevice(user, origin, () =>
      this.deps.email.notify(user, 'new-device-sign-in', origin),
    );
    return { token: started.token, expiresAt: started.expiresAt, user: publicUser(user) };
  }

  /**
   * A failed passkey sign-in: audited, and in the account's history when the account is known and the
   * credential was one of its own (`history: false` otherwise).
   */
  private async signInFailed(
    origin: RequestOrigin,
    user: UserRecord | undefined,
    details: { check: PasskeyCheck; passkeyId?: string },
    { history = true }: { history?: boolean } = {},
  ): Promise<void> {
    await this.steps.recordFailure(origin, user, {
      method: 'passkey',
      reason: 'bad-credentials',
      details,
      history,
    });
  }

  /**
   * Options for `navigator.credentials.get` to step up: the caller's own passkeys listed, user verification
   * required, a challenge only this session can answer. Only from an MFA session (403
   * `mfa-session-required`), which the actions that spend the token need as well; 409 `no-passkey` when the
   * account has none.
   */
  async stepUpOptions(
    caller: PasskeyCaller,
    origin: RequestOrigin,
  ): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    // The token replaces the fresh code, not the MFA session those actions also need: say so up front.
    await this.secondFactors.requireMfaSession(caller, { ...origin, purpose: 'step-up' });
    const passkeys = await this.deps.passkeys.list(caller.userId);
    if (passkeys.length === 0)
      throw new ConflictError('Your account has no passkey: add one first.', 'no-passkey');
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({
      rpID: this.deps.relyingParty.id,
      userVerification: 'required',
      timeout: PASSKEY_CEREMONY_TIMEOUT_MS,
      allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports })),
    });
    const challengeId = await this.issue({
      ceremony: 'step-up',
      challenge: options.challenge,
      userId: caller.userId,
      sessionId: caller.credentialId,
    });
    return { challengeId, options };
  }

  /**
   * Steps up with a fresh passkey assertion (user verification required; challenge of this session, spent
   * first, right or wrong): a step-up token that one fresh-MFA action of this session (tenant deletion, MFA
   * removal, password change) accepts in place of a code, once, within STEP_UP_LIFETIME_MS. Only its hash is
   * stored, with the passkey's new counter and the audit event, in one transaction. Failures are audited
   * (`auth.step-up.refused`) and answer 401 `invalid-passkey` naming body.credential.
   */
  async stepUp(
    caller: PasskeyCaller,
    input: { challengeId: string; credential: AuthenticationResponseJSON },
    origin: RequestOrigin,
  ): Promise<{ stepUpToken: string; expiresAt: string }> {
    const challenge = await this.take(input.challengeId, 'step-up');
    if (challenge.userId !== caller.userId || challenge.sessionId !== caller.credentialId)
      throw CHALLENGE_INVALID();
    const refused = async (check: PasskeyCheck, passkeyId?: string) => {
      await this.deps.audit.recordPlatform({
        ...this.steps.event('auth.step-up.refused', origin, caller.userId, {
          type: 'user',
          id: caller.userId,
        }),
        details: { stage: 'assertion', check, ...(passkeyId ? { passkeyId } : {}) },
      });
      return STEP_UP_REFUSED();
    };
    const passkey = (await this.deps.passkeys.list(caller.userId)).find(
      (p) => p.credentialId === input.credential.id,
    );
    if (!passkey) throw await refused('unknown-credential');
    // A user handle, when the authenticator sends one, must be this account's.
    const handle = input.credential.response.userHandle;
    if (handle !== undefined && userIdOf(handle) !== caller.userId)
      throw await refused('unknown-credential', passkey.passkeyId);

    let info: Awaited<ReturnType<PasskeyService['verifyAssertion']>>;
    try {
      info = await this.verifyAssertion(input.credential, challenge.challenge, passkey);
    } catch (error) {
      throw await refused(failedCheckOf(error), passkey.passkeyId);
    }

    const now = this.now();
    const stepUpToken = `${STEP_UP_TOKEN_PREFIX}${newSecret()}`;
    const expiresAt = now + STEP_UP_LIFETIME_MS;
    const recorded = await this.deps.passkeys.recordStepUp(
      this.deps.passkeys.useUpdate(passkey, {
        counter: info.newCounter,
        at: new Date(now).toISOString(),
        backedUp: info.credentialBackedUp,
      }),
      this.deps.identity.stepUpPut(hashSecret(stepUpToken), {
        userId: caller.userId,
        sessionId: caller.credentialId,
        passkeyId: passkey.passkeyId,
        createdAt: new Date(now).toISOString(),
        expiresAt,
      }),
      this.deps.audit.platformPut({
        ...this.steps.event('auth.step-up.verified', origin, caller.userId, {
          type: 'user',
          id: caller.userId,
        }),
        details: { passkeyId: passkey.passkeyId, expiresAt: new Date(expiresAt).toISOString() },
      }),
    );
    // The passkey was removed, or another answer with its counter was accepted, in the meantime.
    if (!recorded) throw await refused('counter', passkey.passkeyId);
    return { stepUpToken, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Stores a fresh challenge for five minutes; its public id. */
  /**
   * Verifies a WebAuthn assertion against one of the account's passkeys and this ceremony's challenge, with
   * user verification required; throws (the callers map the failure to their refusal) otherwise.
   */
  private async verifyAssertion(
    credential: AuthenticationResponseJSON,
    expectedChallenge: string,
    passkey: PasskeyRecord,
  ) {
    const { verifyAuthenticationResponse } = await webauthn();
    const verified = await verifyAuthenticationResponse({
      response: credential,
      expectedChallenge,
      expectedOrigin: this.deps.relyingParty.origins,
      expectedRPID: this.deps.relyingParty.id,
      credential: {
        id: passkey.credentialId,
        publicKey: Buffer.from(passkey.publicKey, 'base64url'),
        counter: passkey.counter,
        transports: passkey.transports,
      },
      requireUserVerification: true,
    });
    if (!verified.verified || !verified.authenticationInfo.userVerified) throw new Error('signature');
    return verified.authenticationInfo;
  }

  private async issue(challenge: Omit<PasskeyChallengeRecord, 'challengeId' | 'expiresAt'>): Promise<string> {
    const challengeId = randomBytes(16).toString('base64url');
    await this.deps.passkeys.putChallenge({
      ...challenge,
      challengeId,
      expiresAt: this.now() + PASSKEY_CHALLENGE_SECONDS * 1000,
    });
    return challengeId;
  }

  /** Spends a challenge of `ceremony`; 400 `passkey-challenge-invalid` if unknown, used or expired. */
  private async take(challengeId: string, ceremony: PasskeyChallengeRecord['ceremony']) {
    const challenge = await this.deps.passkeys.takeChallenge(challengeId);
    if (!challenge || challenge.ceremony !== ceremony || challenge.expiresAt < this.now())
      throw CHALLENGE_INVALID();
    return challenge;
  }

  /**
   * With a second factor (TOTP on, or any passkey), passkeys change only from an MFA session (the rule of
   * password change and MFA removal): otherwise the password alone would add the attacker's own passkey, or
   * remove the owner's, and so get round the factor it stands beside.
   */
  private async requireStrongEnough(
    caller: PasskeyCaller,
    user: UserRecord,
    purpose: RequestOrigin & { purpose: string },
  ) {
    if (hasSecondFactor(user)) await this.secondFactors.requireMfaSession(caller, purpose);
  }

  private requireCurrentPassword(user: UserRecord, password: string, origin: RequestOrigin) {
    return requireCurrentPassword(this.secondFactors, user, password, origin);
  }
}

/** Whether the account's one passkey is its only second factor (TOTP off). */
function isLastSecondFactor(user: UserRecord): boolean {
  return !user.mfaEnabled && (user.passkeyCount ?? 0) <= 1;
}

/** The account id in an authenticator's user handle (base64url of the id's bytes), if it is one. */
function userIdOf(userHandle: string | undefined): string | undefined {
  if (!userHandle || userHandle.length > 128) return undefined;
  const id = Buffer.from(userHandle, 'base64url').toString('utf8');
  return /^u_[0-9a-hjkmnp-tv-z]{26}$/.test(id) ? id : undefined;
}
