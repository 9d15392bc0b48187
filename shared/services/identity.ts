import type { PlatformCrypto } from '../crypto/envelope.js';
import { hashPassword, needsRehash, verifyPassword } from '../crypto/passwords.js';
import { type AuthMethod, isMultiFactor } from '../domain/authentication.js';
import { actorOf, type Principal, type RequestOrigin } from '../domain/caller.js';
import { normaliseEmail } from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import type { Permission, Role } from '../domain/permissions.js';
import { deviceFingerprint } from '../domain/sign-in-history.js';
import { NotFoundError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { AuthLookups } from '../store/auth-lookups.js';
import type { UserRecord } from '../store/identity-records.js';
import { epochOf } from '../store/identity-records.js';
import { type IdentityStore, publicUser } from '../store/identity-store.js';
import type { AccountEmailService } from './account-email.js';
import type { HeldSlots } from './failure-budgets.js';
import {
  type SecondFactor,
  SecondFactorVerifier,
  type SignInFactor,
  UNKNOWN_USER_ID,
} from './second-factor.js';
import { SignInSteps } from './sign-in-steps.js';

/** The one answer to every registration request, whether or not the address already had an account. */
export const REGISTRATION_ACCEPTED = {
  message:
    'Registration received, and a mail is on its way to the address. If it had no account yet, it has one ' +
    'now: sign in, and open the link in the mail to verify the address. If it had one, nothing changed.',
} as const;

/**
 * Told when an account signs in from a device (user agent and network) it has not used for 90 days; the
 * device the account was registered from counts as known. Mail plugs in here.
 */
export interface SignInNotices {
  newDevice(user: UserRecord, signIn: { at: number; ip: string; userAgent: string }): Promise<void>;
}

/** A signed-in caller of the /v1/me routes. */
export type SessionCallerOf = Pick<Principal, 'kind' | 'userId' | 'credentialId' | 'mfa'>;

export interface IdentityDeps {
  identity: IdentityStore;
  lookups: AuthLookups;
  audit: AuditRecorder;
  secrets: PlatformCrypto;
  /**
   * Verification mails and security notices (the auth function loads the service on first use: its
   * synchronous members are not here).
   */
  email: Pick<AccountEmailService, 'mailRegistration' | 'notify'>;
  /** Who hears of a sign-in from a new device; by default the account's address, by mail. */
  signInNotices?: SignInNotices;
  now?: () => number;
}

const WRONG_CREDENTIALS = 'Wrong e-mail or password.';

/**
 * Registration, password sign-in and sessions. The caller's password, TOTP and sign-in history are
 * ./account-settings.ts.
 */
export class IdentityService {
  private readonly now: () => number;
  private readonly secondFactors: SecondFactorVerifier;
  private readonly signInNotices: SignInNotices;
  private readonly steps: SignInSteps;

  constructor(private readonly deps: IdentityDeps) {
    this.now = deps.now ?? Date.now;
    this.steps = new SignInSteps(deps);
    this.secondFactors = new SecondFactorVerifier(deps);
    this.signInNotices = deps.signInNotices ?? {
      newDevice: (user, signIn) =>
        deps.email.notify(user, 'new-device-sign-in', { ip: signIn.ip, userAgent: signIn.userAgent }),
    };
  }

  /**
   * Registers an address. A new and a taken address get the same answer for the same work (one read, one
   * argon2id hash, one mail, one conditional transaction), so registration does not tell who has an
   * account. A new address is mailed a verification link; a taken one a notice that someone tried (its
   * owner learns of it, and how to get back in). The mail goes first: if it cannot be sent, nothing is
   * written and the answer (503) says so; the account and its token are written together after it.
   */
  async register(input: { email: string; password: string; name: string }, origin: RequestOrigin) {
    const email = normaliseEmail(input.email);
    const [existing, passwordHash] = await Promise.all([
      this.deps.identity.getUserIdByEmail(email),
      hashPassword(input.password),
    ]);
    const user: UserRecord = {
      userId: newId('u'),
      email,
      name: input.name,
      passwordHash,
      createdAt: new Date(this.now()).toISOString(),
      mfaEnabled: false,
    };
    // A new and a taken address are both mailed, so a refused address answers the same 400 for either.
    const issued = await this.deps.email.mailRegistration(user, Boolean(existing));
    // A taken address fails the transaction's condition and writes nothing (its token and device included).
    await this.deps.identity.createUser(user, email, [
      this.deps.identity.mailTokenPut(issued.record),
      // The device the account is registered from is its first known one.
      this.deps.identity.signIns.devicePut(user.userId, deviceFingerprint(origin.userAgent, origin.ip)),
    ]);
    return REGISTRATION_ACCEPTED;
  }

  /**
   * Signs in. Unknown e-mails cost the same hash and get the same answer as a wrong password. A slot of
   * the account's failure budget for the caller's network is taken before the password is checked and
   * given back when the sign-in succeeds (or stops at "send your code"); TOTP codes also need a slot of
   * the account-wide TOTP budgets. So only failures count, concurrency cannot get more checks than the
   * budgets, and a network that spends its budget does not stop the owner signing in from another.
   */
  async login(
    input: { email: string; password: string; mfaCode?: string; recoveryCode?: string },
    origin: RequestOrigin,
  ) {
    const { identity, audit } = this.deps;
    const email = normaliseEmail(input.email);
    // The slot is taken before the password is looked at; the profile reads may run meanwhile. An unknown
    // e-mail still costs the profile read and the hash, so its answer comes as fast as a known one's.
    const [network, user] = await Promise.all([
      this.secondFactors.budgets.reserveForNetwork(email, origin.ip),
      identity.getUserIdByEmail(email).then((userId) => identity.getUser(userId ?? UNKNOWN_USER_ID)),
    ]);
    const passwordOk = await verifyPassword(user?.passwordHash, input.password);

    if (!user || !passwordOk) {
      await this.secondFactors.budgets.passwordFailed(email);
      // The same write whether or not the address has an account (SignInHistory.recordFailure).
      await identity.signIns.recordFailure(
        audit.platformPut({
          action: 'auth.sign-in.failed',
          actor: actorOf(origin),
          resource: { type: 'user', id: 'unknown' },
          details: { reason: 'bad-credentials', method: 'password' },
        }),
        user && this.steps.attempt(user, origin, 'password', 'failed', 'bad-credentials'),
      );
      throw new UnauthorizedError(WRONG_CREDENTIALS, 'invalid-credentials');
    }

    let method: AuthMethod = 'password';
    if (user.mfaEnabled) {
      if (input.mfaCode === undefined && input.recoveryCode === undefined) {
        // Not a failure: the password was right and the client must now ask for the second factor. The
        // owner still sees it: someone else may know the password.
        await Promise.all([
          network.giveBack(),
          identity.signIns.record(this.steps.attempt(user, origin, 'password', 'second-factor-required')),
        ]);
        throw new UnauthorizedError(
          'Multi-factor authentication is on: send mfaCode or recoveryCode.',
          'mfa-required',
        );
      }
      const factor: SecondFactor =
        input.mfaCode !== undefined ? { mfaCode: input.mfaCode } : { recoveryCode: input.recoveryCode! };
      method = factor.mfaCode !== undefined ? 'password+totp' : 'password+recovery-code';
      if (!(await this.attemptUnder(network, user, factor))) {
        await this.steps.recordFailure(origin, user, {
          method,
          reason: 'bad-second-factor',
        });
        throw new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code');
      }
    }
    await network.giveBack();

    // Everything below holds only while the user is still as read above (the same password and MFA state):
    // the rehash and the session are both written only if the credential epoch has not moved meanwhile.
    const verified = { credentialEpoch: epochOf(user), mfaEnabled: user.mfaEnabled };
    if (needsRehash(user.passwordHash))
      await identity.setPasswordHash(
        user.userId,
        await hashPassword(input.password),
        verified.credentialEpoch,
      );

    const started = await this.steps.startSession(user, origin, {
      method,
      mfa: isMultiFactor(method),
    });
    if (!started) {
      // The password or MFA changed while this sign-in was checking them (the owner reacting to a
      // compromise, typically): what was verified no longer stands, so no session.
      await this.steps.recordFailure(origin, user, {
        method,
        reason: 'credentials-changed',
      });
      throw new UnauthorizedError(
        'The password or MFA settings of this account changed during sign-in; sign in again.',
        'credentials-changed',
      );
    }
    await this.steps.noticeNewDevice(user, origin, () =>
      this.signInNotices.newDevice(user, {
        at: started.session.createdAt,
        ip: origin.ip,
        userAgent: origin.userAgent,
      }),
    );
    return { token: started.token, expiresAt: started.expiresAt, user: publicUser(user) };
  }

  /**
   * A second factor checked under an already held network slot: if the TOTP budget refuses (429), nothing
   * was checked and the network slot is given back; a wrong factor keeps it.
   */
  private async attemptUnder(network: HeldSlots, user: UserRecord, factor: SignInFactor): Promise<boolean> {
    try {
      return await this.secondFactors.attempt(user, factor);
    } catch (error) {
      if (error instanceof TooManyRequestsError) await network.giveBack();
      throw error;
    }
  }

  async logout(userId: string, sessionId: string, origin: RequestOrigin): Promise<void> {
    await this.revokeSession(userId, sessionId, sessionId, origin);
  }

  /**
   * The caller and their memberships. Through an API key, only what the key acts as: its tenant (the one
   * membership it can use) and its effective scopes, never the creator's other memberships.
   */
  /**
   * The user and their memberships: an API key's answer shows its own tenant only, and so does
   * `onlyTenant`'s (a session through that tenant's own identity provider, which acts in that tenant only).
   */
  async me(
    userId: string,
    view: {
      apiKey?: { keyId: string; tenantId: string; role: Role; scopes: Permission[] };
      onlyTenant?: string;
    } = {},
  ) {
    const user = await this.steps.requireUser(userId);
    if (view.apiKey) {
      const { role, ...key } = view.apiKey;
      return { user: publicUser(user), memberships: [{ tenantId: key.tenantId, role }], apiKey: key };
    }
    const memberships = await this.deps.lookups.membershipsOf(userId);
    return {
      user: publicUser(user),
      memberships: memberships
        .filter((m) => view.onlyTenant === undefined || m.tenantId === view.onlyTenant)
        .map((m) => ({ tenantId: m.tenantId, role: m.role })),
    };
  }

  /**
   * The user's sessions that still work: not expired, and made under the account's current credential epoch
   * (an ended session whose item a failed clean-up left behind is refused at use, so it is not listed).
   */
  async listSessions(userId: string, currentSessionId: string) {
    const now = this.now();
    const [user, sessions] = await Promise.all([
      this.steps.requireUser(userId),
      this.deps.identity.listSessions(userId),
    ]);
    return sessions
      .filter((s) => epochOf(s) >= epochOf(user))
      .filter((s) => now <= s.absoluteExpiresAt && now <= s.lastSeenAt + s.idleTimeoutSeconds * 1000)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => ({
        sessionId: s.sessionId,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        ip: s.ip,
        userAgent: s.userAgent,
        authMethod: s.authMethod ?? 'password',
        mfa: s.mfa === true,
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

  /**
   * Signs out every other session of the user at once (the credential epoch moves, so a session the
   * session index does not list yet, or one a sign-in in flight is about to write, is refused too).
   */
  async revokeOtherSessions(
    userId: string,
    currentSessionId: string,
    origin: RequestOrigin,
  ): Promise<number> {
    return this.deps.identity.endOtherSessions(
      userId,
      currentSessionId,
      this.steps.othersRevoked(userId, origin),
    );
  }
}
