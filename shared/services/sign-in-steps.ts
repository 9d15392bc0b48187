import type { AuditEventInput } from '../domain/audit-events.js';
import { type AuthMethod, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS } from '../domain/authentication.js';
import { actorOf, type RequestOrigin } from '../domain/caller.js';
import { hashSecret, newSecret, sessionToken } from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import {
  deviceFingerprint,
  type SignInAttempt,
  type SignInFailureReason,
  type SignInResult,
} from '../domain/sign-in-history.js';
import { UnauthorizedError } from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder, TransactItem } from '../store/audit-recorder.js';
import type { SessionRecord, UserRecord } from '../store/identity-records.js';
import { epochOf } from '../store/identity-records.js';
import type { IdentityStore, RevocationAudit } from '../store/identity-store.js';

export interface SignInStepsDeps {
  identity: IdentityStore;
  audit: AuditRecorder;
  now?: () => number;
}

/** A session a sign-in started: its token for the caller and when it ends at the latest. */
export interface StartedSession {
  session: SessionRecord;
  token: string;
  expiresAt: string;
}

/** A refused sign-in, for the audit log and (unless `history` is false) the account's sign-in history. */
export interface SignInFailure {
  method: AuthMethod;
  reason: SignInFailureReason;
  /** Beside `reason` and `method` in the audit event. */
  details?: Record<string, unknown>;
  history?: boolean;
}

/**
 * The steps every way of signing in (password, passkey, identity provider) and every change of an account's
 * credentials share: the history entry of an attempt, the owner's audit events, the session write with its
 * audit event and history entry, and the new-device notice. One per service; it holds no state.
 */
export class SignInSteps {
  private readonly now: () => number;

  constructor(private readonly deps: SignInStepsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One attempt on `user`'s account, for its sign-in history (at the current time). */
  attempt(
    user: Pick<UserRecord, 'userId'>,
    origin: RequestOrigin,
    method: AuthMethod,
    result: SignInResult,
    reason?: SignInFailureReason,
  ): SignInAttempt {
    return {
      userId: user.userId,
      at: this.now(),
      ip: origin.ip,
      userAgent: origin.userAgent,
      method,
      result,
      reason,
    };
  }

  /** An audit event of the account's owner `userId` acting on `resource`. */
  event(
    action: AuditEventInput['action'],
    origin: RequestOrigin,
    userId: string,
    resource: AuditEventInput['resource'],
  ): AuditEventInput {
    return { action, actor: actorOf(origin, userId), resource };
  }

  /** The signed-in caller's account; 401 when it is gone. */
  async requireUser(userId: string): Promise<UserRecord> {
    const user = await this.deps.identity.getUser(userId);
    if (!user) throw new UnauthorizedError();
    return user;
  }

  /**
   * The audit events of a change of the account's credentials that ends its other sessions: `alongside`
   * (the change's own event, if any) and `auth.session.revoked` counting them, for the change's transaction.
   */
  othersRevoked(userId: string, origin: RequestOrigin, ...alongside: TransactItem[]): RevocationAudit {
    return (revoked) => [
      ...alongside,
      this.deps.audit.platformPut({
        action: 'auth.session.revoked',
        actor: actorOf(origin, userId),
        resource: { type: 'user', id: userId },
        details: { allOthers: true, count: revoked },
      }),
    ];
  }

  /**
   * A refused sign-in on `user`'s account: the `auth.sign-in.failed` audit event and, when the account is
   * known (and `history` is not false), the failed attempt in its sign-in history, written together.
   */
  async recordFailure(origin: RequestOrigin, user: UserRecord | undefined, failure: SignInFailure) {
    const { method, reason, details, history = true } = failure;
    await this.deps.identity.signIns.recordFailure(
      this.deps.audit.platformPut({
        action: 'auth.sign-in.failed',
        actor: actorOf(origin, user?.userId),
        resource: { type: 'user', id: user?.userId ?? 'unknown' },
        details: { reason, method, ...details },
      }),
      user && history ? this.attempt(user, origin, method, 'failed', reason) : undefined,
    );
  }

  /**
   * Writes a new session of `user` (signed in with `method`, MFA or not) together with its
   * `auth.sign-in.succeeded` event, the successful attempt in the account's history and any `alongside`
   * writes, in one transaction that holds only while the account's credentials are as read (`user`'s
   * credential epoch and MFA state), or that creates the account (`createdWith`). Undefined when they changed
   * meanwhile (or the account or its address was created meanwhile): nothing was written.
   */
  async startSession(
    user: UserRecord,
    origin: RequestOrigin,
    start: {
      method: AuthMethod;
      mfa: boolean;
      /** When the session starts; now by default. */
      at?: number;
      ssoProvider?: string;
      /** Beside `method` and `mfa` in the audit event. */
      details?: Record<string, unknown>;
      alongside?: TransactItem[];
      /**
       * The items that create `user`'s account (IdentityStore.newUserPuts, and what belongs with it): the
       * account and its first session are then one transaction, so neither exists without the other.
       */
      createdWith?: TransactItem[];
    },
  ): Promise<StartedSession | undefined> {
    const { identity, audit } = this.deps;
    const { method, mfa } = start;
    const at = start.at ?? this.now();
    const secret = newSecret();
    const session: SessionRecord = {
      sessionId: newId('s'),
      userId: user.userId,
      secretHash: hashSecret(secret),
      createdAt: at,
      lastSeenAt: at,
      idleTimeoutSeconds: SESSION_IDLE_SECONDS,
      absoluteExpiresAt: at + SESSION_ABSOLUTE_SECONDS * 1000,
      ip: origin.ip,
      userAgent: origin.userAgent.slice(0, 512),
      authMethod: method,
      mfa,
      ...(start.ssoProvider ? { ssoProvider: start.ssoProvider } : {}),
    };
    const created = await identity.createSession(
      session,
      start.createdWith
        ? { createdWith: start.createdWith }
        : { credentialEpoch: epochOf(user), mfaEnabled: user.mfaEnabled },
      ...(start.alongside ?? []),
      audit.platformPut({
        action: 'auth.sign-in.succeeded',
        actor: actorOf(origin, user.userId),
        resource: { type: 'session', id: session.sessionId },
        details: { method, mfa, ...start.details },
      }),
      identity.signIns.attemptPut({
        ...this.attempt(user, origin, method, 'succeeded'),
        sessionId: session.sessionId,
      }),
    );
    if (!created) return undefined;
    return {
      session,
      token: sessionToken(session.sessionId, secret),
      expiresAt: new Date(session.absoluteExpiresAt).toISOString(),
    };
  }

  /**
   * Remembers the device of a successful sign-in and, when it was not known, tells the owner (`notify`).
   * The session exists already, so neither a failed write of the device nor a failed notice fails the
   * sign-in (its token must reach the caller): both are logged.
   */
  async noticeNewDevice(user: UserRecord, origin: RequestOrigin, notify: () => Promise<void>): Promise<void> {
    try {
      const fingerprint = deviceFingerprint(origin.userAgent, origin.ip);
      if (!(await this.deps.identity.signIns.rememberDevice(user.userId, fingerprint))) return;
      await notify();
    } catch (error) {
      logger.error('new-device notice failed', { userId: user.userId, error });
    }
  }
}
