import type { PlatformCrypto } from '../crypto/envelope.js';
import { hashPassword, needsRehash, verifyPassword } from '../crypto/passwords.js';
import { matchTotpStep, newTotpSecret, totpUri } from '../crypto/totp.js';
import type { AuditEventInput } from '../domain/audit-events.js';
import {
  hashSecret,
  newRecoveryCodes,
  newSecret,
  normaliseEmail,
  sessionToken,
} from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import type { Permission, Role } from '../domain/permissions.js';
import type { AuditRecorder } from '../http/audit-seam.js';
import {
  ACCOUNT_FAILURE_LIMIT,
  ACCOUNT_FAILURE_WINDOW_SECONDS,
  type RequestOrigin,
  type SecondFactor,
  SecondFactorVerifier,
  TOTP_PURPOSE,
  UNKNOWN_USER_ID,
  actorOf,
} from './second-factor.js';
import { SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS } from '../http/auth.js';
import {
  ConflictError,
  HttpProblemError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
} from '../http/errors.js';
import type { AuthLookups } from '../store/auth-lookups.js';
import {
  type IdentityStore,
  type SessionRecord,
  type UserRecord,
  publicUser,
} from '../store/identity-store.js';

export interface IdentityDeps {
  identity: IdentityStore;
  lookups: AuthLookups;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  now?: () => number;
}

/** Registration, sign-in, sessions, password and TOTP MFA (issue 3). */
export class IdentityService {
  private readonly now: () => number;
  private readonly secondFactors: SecondFactorVerifier;

  constructor(private readonly deps: IdentityDeps) {
    this.now = deps.now ?? Date.now;
    this.secondFactors = new SecondFactorVerifier(deps);
  }

  async register(input: { email: string; password: string; name: string }) {
    const email = normaliseEmail(input.email);
    const user: UserRecord = {
      userId: newId('u'),
      email,
      name: input.name,
      passwordHash: await hashPassword(input.password),
      createdAt: new Date(this.now()).toISOString(),
      mfaEnabled: false,
    };
    await this.deps.identity.createUser(user, email);
    return publicUser(user);
  }

  /**
   * Signs in. Unknown e-mails cost the same hash and get the same answer as a wrong password; failures
   * count per account (10 per hour) whether or not the account exists.
   */
  async login(
    input: { email: string; password: string; mfaCode?: string; recoveryCode?: string },
    origin: RequestOrigin,
  ) {
    const { identity, audit } = this.deps;
    const email = normaliseEmail(input.email);
    const now = this.now();
    const failures = await identity.rateCount('login-account', email, ACCOUNT_FAILURE_WINDOW_SECONDS, now);
    if (failures >= ACCOUNT_FAILURE_LIMIT) {
      throw new TooManyRequestsError(
        identity.retryAfter(ACCOUNT_FAILURE_WINDOW_SECONDS, now),
        'Too many failed sign-ins for this account; try again later.',
      );
    }
    const userId = await identity.getUserIdByEmail(email);
    // An unknown e-mail still costs the profile read and the hash, so its answer comes as fast as a known one's.
    const user = await identity.getUser(userId ?? UNKNOWN_USER_ID);
    const passwordOk = await verifyPassword(user?.passwordHash, input.password);

    const fail = async (
      reason: string,
      problem: HttpProblemError = new UnauthorizedError('Wrong e-mail or password.', 'invalid-credentials'),
    ) => {
      await identity.incrementRate('login-account', email, ACCOUNT_FAILURE_WINDOW_SECONDS, now);
      await audit.recordPlatform({
        action: 'auth.sign-in.failed',
        actor: actorOf(origin, user && passwordOk ? user.userId : undefined),
        resource: { type: 'user', id: user && passwordOk ? user.userId : 'unknown' },
        details: { reason },
      });
      return problem;
    };

    if (!user || !passwordOk) throw await fail('bad-credentials');

    if (user.mfaEnabled) {
      if (input.mfaCode === undefined && input.recoveryCode === undefined) {
        // Not a failure: the password was right and the client must now ask for the second factor.
        throw new UnauthorizedError(
          'Multi-factor authentication is on: send mfaCode or recoveryCode.',
          'mfa-required',
        );
      }
      const ok =
        input.mfaCode !== undefined
          ? await this.acceptTotp(user, input.mfaCode)
          : await this.acceptRecoveryCode(user, input.recoveryCode!);
      if (!ok)
        throw await fail(
          'bad-second-factor',
          new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code'),
        );
    }

    if (needsRehash(user.passwordHash))
      await identity.setPasswordHash(user.userId, await hashPassword(input.password));

    const session: SessionRecord = {
      sessionId: newId('s'),
      userId: user.userId,
      secretHash: '',
      createdAt: now,
      lastSeenAt: now,
      idleTimeoutSeconds: SESSION_IDLE_SECONDS,
      absoluteExpiresAt: now + SESSION_ABSOLUTE_SECONDS * 1000,
      ip: origin.ip,
      userAgent: origin.userAgent.slice(0, 512),
    };
    const secret = newSecret();
    session.secretHash = hashSecret(secret);
    await identity.createSession(
      session,
      audit.platformPut({
        action: 'auth.sign-in.succeeded',
        actor: actorOf(origin, user.userId),
        resource: { type: 'session', id: session.sessionId },
        details: { mfa: user.mfaEnabled ? (input.mfaCode ? 'totp' : 'recovery-code') : 'none' },
      }),
    );
    return {
      token: sessionToken(session.sessionId, secret),
      expiresAt: new Date(session.absoluteExpiresAt).toISOString(),
      user: publicUser(user),
    };
  }

  private acceptTotp(user: UserRecord, code: string): Promise<boolean> {
    return this.secondFactors.consume(user, { mfaCode: code });
  }

  private acceptRecoveryCode(user: UserRecord, code: string): Promise<boolean> {
    return this.secondFactors.consume(user, { recoveryCode: code });
  }

  async logout(userId: string, sessionId: string, origin: RequestOrigin): Promise<void> {
    await this.revokeSession(userId, sessionId, sessionId, origin);
  }

  /**
   * The caller and their memberships. Through an API key, only what the key acts as: its tenant (the one
   * membership it can use) and its effective scopes, never the creator's other memberships.
   */
  async me(userId: string, apiKey?: { keyId: string; tenantId: string; role: Role; scopes: Permission[] }) {
    const user = await this.requireUser(userId);
    if (apiKey) {
      const { role, ...key } = apiKey;
      return { user: publicUser(user), memberships: [{ tenantId: key.tenantId, role }], apiKey: key };
    }
    const memberships = await this.deps.lookups.membershipsOf(userId);
    return {
      user: publicUser(user),
      memberships: memberships.map((m) => ({ tenantId: m.tenantId, role: m.role })),
    };
  }

  async listSessions(userId: string, currentSessionId: string) {
    const now = this.now();
    const sessions = await this.deps.identity.listSessions(userId);
    return sessions
      .filter((s) => now <= s.absoluteExpiresAt && now <= s.lastSeenAt + s.idleTimeoutSeconds * 1000)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => ({
        sessionId: s.sessionId,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        ip: s.ip,
        userAgent: s.userAgent,
        current: s.sessionId === currentSessionId,
      }));
  }

  /** Revokes one of the user's sessions; 404 for anyone else's (or an unknown) session. */
  async revokeSession(
    userId: string,
    sessionId: string,
    currentSessionId: string,
    origin: RequestOrigin,
  ): Promise<void> {
    const revoked = await this.deps.identity.deleteSession(
      userId,
      sessionId,
      this.deps.audit.platformPut({
        action: 'auth.session.revoked',
        actor: actorOf(origin, userId),
        resource: { type: 'session', id: sessionId },
        details: { current: sessionId === currentSessionId },
      }),
    );
    if (!revoked) throw new NotFoundError('No such session.');
  }

  async revokeOtherSessions(
    userId: string,
    currentSessionId: string,
    origin: RequestOrigin,
  ): Promise<number> {
    const revoked = await this.deps.identity.deleteSessionsExcept(userId, currentSessionId);
    await this.deps.audit.recordPlatform({
      action: 'auth.session.revoked',
      actor: actorOf(origin, userId),
      resource: { type: 'user', id: userId },
      details: { allOthers: true, count: revoked },
    });
    return revoked;
  }

  async changePassword(
    userId: string,
    currentSessionId: string,
    input: { currentPassword: string; newPassword: string },
    origin: RequestOrigin,
  ) {
    const user = await this.requireUser(userId);
    if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
      throw new HttpProblemError(400, 'validation-error', 'Bad Request', {
        detail: 'The current password is wrong.',
        errors: [{ path: 'body.currentPassword', message: 'Wrong password' }],
      });
    }
    const revoked = await this.deps.identity.changePassword(
      userId,
      await hashPassword(input.newPassword),
      currentSessionId,
      this.deps.audit.platformPut(
        this.event('auth.password.changed', origin, userId, { type: 'user', id: userId }),
      ),
    );
    return { revokedSessions: revoked };
  }

  async enrolTotp(userId: string) {
    const user = await this.requireUser(userId);
    if (user.mfaEnabled) throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
    const secret = newTotpSecret();
    const ciphertext = await this.deps.secrets.encryptPlatformSecret(
      { purpose: TOTP_PURPOSE, recordId: userId },
      secret,
    );
    await this.deps.identity.setPendingTotp(userId, ciphertext);
    return { secret, otpauthUri: totpUri(secret, user.email) };
  }

  async confirmTotp(userId: string, code: string, origin: RequestOrigin) {
    const user = await this.requireUser(userId);
    if (user.mfaEnabled) throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
    if (!user.totpPendingCiphertext) throw new ConflictError('Start enrolment first.', 'mfa-not-enrolling');
    const secret = await this.deps.secrets.decryptPlatformSecret(
      { purpose: TOTP_PURPOSE, recordId: userId },
      user.totpPendingCiphertext,
    );
    const step = matchTotpStep(secret, code, this.now());
    if (step === undefined) throw new UnauthorizedError('The code is wrong.', 'invalid-mfa-code');
    const recoveryCodes = newRecoveryCodes();
    await this.deps.identity.enableTotp(
      userId,
      user.totpPendingCiphertext,
      step,
      recoveryCodes.map((c) => hashSecret(c)),
      this.deps.audit.platformPut(
        this.event('auth.mfa.enrolled', origin, userId, { type: 'user', id: userId }),
      ),
    );
    return { recoveryCodes };
  }

  async removeTotp(userId: string, input: { code?: string; recoveryCode?: string }, origin: RequestOrigin) {
    // Through the fresh-MFA check, so wrong codes spend the account's sign-in failure budget: a stolen
    // session cannot guess codes here either.
    const factor: SecondFactor =
      input.code !== undefined ? { mfaCode: input.code } : { recoveryCode: input.recoveryCode! };
    const outcome = await this.secondFactors.confirm(userId, factor, { ...origin, purpose: 'mfa.remove' });
    if (outcome === 'mfa-not-enabled') throw new ConflictError('MFA is not enabled.', 'mfa-not-enabled');
    await this.deps.identity.disableTotp(
      userId,
      this.deps.audit.platformPut(
        this.event('auth.mfa.removed', origin, userId, { type: 'user', id: userId }),
      ),
    );
  }

  private event(
    action: AuditEventInput['action'],
    origin: RequestOrigin,
    userId: string,
    resource: AuditEventInput['resource'],
  ): AuditEventInput {
    return { action, actor: actorOf(origin, userId), resource };
  }

  private async requireUser(userId: string): Promise<UserRecord> {
    const user = await this.deps.identity.getUser(userId);
    if (!user) throw new UnauthorizedError();
    return user;
  }
}
