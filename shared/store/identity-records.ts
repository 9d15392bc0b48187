import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AuthMethod } from '../domain/authentication.js';
import { sessionKey, userKey } from '../domain/item-layout.js';
import { writeOrFalse } from './conditions.js';
import { RateWindows } from './rate-windows.js';

/** A user's profile item (identity table `USER#<id>` / `PROFILE`). Never returned to clients as is. */
export interface UserRecord {
  userId: string;
  email: string;
  name: string;
  passwordHash: string;
  createdAt: string;
  mfaEnabled: boolean;
  /** Encryption SDK ciphertext (platform key) of the confirmed TOTP secret. */
  totpCiphertext?: string;
  /** Ciphertext of a secret enrolled but not yet confirmed. */
  totpPendingCiphertext?: string;
  /** Last TOTP time step accepted: a code of this step or older is refused (no replay). */
  totpLastStep?: number;
  recoveryCodeHashes?: Set<string>;
  /**
   * Moves forward, in the same transaction, with every change to how the account signs in (password, MFA on,
   * MFA off, "sign out everywhere else"; a password reset must too). A session is valid only while it carries
   * the current value, and a sign-in writes its session only if the value is still the one it checked the
   * password against, so no sign-in in flight outlives such a change. Absent on older items: 0.
   */
  credentialEpoch?: number;
  /**
   * When the owner of the address proved it (a verification link, or a password reset through a link sent
   * to it). Absent: unverified, which includes every account made before addresses were verified.
   */
  emailVerifiedAt?: string;
  /** How many passkeys the account holds (shared/store/passkey-store.ts keeps it); absent: none. */
  passkeyCount?: number;
}

export interface SessionRecord {
  sessionId: string;
  userId: string;
  secretHash: string;
  createdAt: number;
  lastSeenAt: number;
  idleTimeoutSeconds: number;
  absoluteExpiresAt: number;
  ip: string;
  userAgent: string;
  /**
   * How the session was authenticated. Sessions written before this was recorded have none and count as
   * 'password' without MFA: the safe reading.
   */
  authMethod?: AuthMethod;
  /** Whether the session proved a second factor (at sign-in, or by confirming MFA enrolment in it). */
  mfa?: boolean;
  /** The user's credential epoch the session was made (or kept) under; absent on older items: 0. */
  credentialEpoch?: number;
  /** The OpenID provider an SSO session signed in through (domain/oidc.ts `providerKeyOf`). */
  ssoProvider?: string;
}

/** A user's or a session's credential epoch (absent: 0). */
export const epochOf = (item: { credentialEpoch?: number }): number => item.credentialEpoch ?? 0;

/** Only a touch older than this rewrites last-seen (DESIGN.md §4: at most every few minutes). */
export const LAST_SEEN_GRANULARITY_MS = 5 * 60_000;

/**
 * What every API function uses of the identity table (platform credentials: no tenant): a user's profile,
 * a session's last-seen touch and the rate-limit windows. Signing in and managing an account take the rest
 * (IdentityStore, identity-store.ts, which extends this), and only the functions that do those load it.
 */
export class IdentityRecords {
  /** Sliding-window counters of rate limits and failure budgets, in this table. */
  readonly rateWindows: RateWindows;

  constructor(
    protected readonly db: DynamoDBDocumentClient,
    protected readonly table: string,
    rateWindows?: RateWindows,
  ) {
    this.rateWindows = rateWindows ?? new RateWindows(db, table);
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: userKey(userId), ConsistentRead: true }),
    );
    return Item ? stripKeys<UserRecord>(Item) : undefined;
  }

  /** Moves last-seen forward, at most once per granularity window (a conditional write, so races are harmless). */
  async touchSession(session: SessionRecord, now: number): Promise<void> {
    if (now - session.lastSeenAt < LAST_SEEN_GRANULARITY_MS) return;
    await writeOrFalse(
      this.db,
      new UpdateCommand({
        TableName: this.table,
        Key: sessionKey(session.sessionId),
        UpdateExpression: 'SET lastSeenAt = :now',
        ConditionExpression: 'attribute_exists(pk) AND lastSeenAt < :threshold',
        ExpressionAttributeValues: { ':now': now, ':threshold': now - LAST_SEEN_GRANULARITY_MS },
      }),
    );
  }
}

/** Drops the table keys and index attributes from an item. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ttl: _ttl, ...rest } = item;
  return rest as T;
}
