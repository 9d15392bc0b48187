import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AuthMethod } from '../domain/authentication.js';
import type { TransactItem } from '../http/audit-seam.js';
import { ConflictError } from '../http/errors.js';
import { isConditionFailure } from './conditions.js';
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
}

/** The public view of a user. */
export function publicUser(user: UserRecord) {
  return {
    userId: user.userId,
    email: user.email,
    name: user.name,
    createdAt: user.createdAt,
    mfaEnabled: user.mfaEnabled,
  };
}

const userKey = (userId: string) => ({ pk: `USER#${userId}`, sk: 'PROFILE' });
const emailKey = (normalisedEmail: string) => ({ pk: `EMAIL#${normalisedEmail}`, sk: 'EMAIL' });
const sessionKey = (sessionId: string) => ({ pk: `SESSION#${sessionId}`, sk: 'SESSION' });

/** Only a touch older than this rewrites last-seen (DESIGN.md §4: at most every few minutes). */
export const LAST_SEEN_GRANULARITY_MS = 5 * 60_000;

/** Users, sessions and rate-limit counters in the identity table (platform credentials: no tenant). */
export class IdentityStore {
  /** Sliding-window counters of rate limits and failure budgets, in this table. */
  readonly rateWindows: RateWindows;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.rateWindows = new RateWindows(db, table);
  }

  /**
   * Creates a user and claims the e-mail in one transaction; false (and nothing written) when the e-mail
   * is taken. Both outcomes cost the same one transaction, so neither timing nor answer tells them apart.
   */
  async createUser(user: UserRecord, normalisedEmail: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...userKey(user.userId), ...user },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...emailKey(normalisedEmail), userId: user.userId },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: userKey(userId), ConsistentRead: true }),
    );
    return Item ? stripKeys<UserRecord>(Item) : undefined;
  }

  async getUserIdByEmail(normalisedEmail: string): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: emailKey(normalisedEmail) }),
    );
    return Item?.userId as string | undefined;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'SET passwordHash = :h',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':h': passwordHash },
      }),
    );
  }

  /** Changes the password and revokes every other session (audit event in the same transaction). */
  async changePassword(
    userId: string,
    passwordHash: string,
    keepSessionId: string,
    audit: TransactItem,
  ): Promise<number> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.table,
              Key: userKey(userId),
              UpdateExpression: 'SET passwordHash = :h',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':h': passwordHash },
            },
          },
          audit,
        ],
      }),
    );
    return this.deleteSessionsExcept(userId, keepSessionId);
  }

  /** Stores an enrolled, unconfirmed TOTP secret; 409 when MFA is already on. */
  async setPendingTotp(userId: string, ciphertext: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: userKey(userId),
          UpdateExpression: 'SET totpPendingCiphertext = :c',
          ConditionExpression: 'attribute_exists(pk) AND mfaEnabled = :false',
          ExpressionAttributeValues: { ':c': ciphertext, ':false': false },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
      throw error;
    }
  }

  /**
   * Turns MFA on with the confirmed secret, the first accepted step and the recovery code hashes, and
   * marks the session that confirmed it as an MFA session (it just proved the code), in one transaction.
   */
  async enableTotp(
    userId: string,
    ciphertext: string,
    step: number,
    recoveryHashes: string[],
    currentSessionId: string,
    audit: TransactItem,
  ) {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: userKey(userId),
                UpdateExpression:
                  'SET mfaEnabled = :true, totpCiphertext = :c, totpLastStep = :s, recoveryCodeHashes = :r REMOVE totpPendingCiphertext',
                ConditionExpression: 'mfaEnabled = :false AND totpPendingCiphertext = :c',
                ExpressionAttributeValues: {
                  ':true': true,
                  ':false': false,
                  ':c': ciphertext,
                  ':s': step,
                  ':r': new Set(recoveryHashes),
                },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: sessionKey(currentSessionId),
                UpdateExpression: 'SET authMethod = :method, mfa = :true',
                ConditionExpression: 'userId = :u',
                ExpressionAttributeValues: { ':method': 'password+totp', ':true': true, ':u': userId },
              },
            },
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new ConflictError('MFA changed meanwhile; start enrolment again.', 'mfa-state-changed');
      throw error;
    }
  }

  async disableTotp(userId: string, audit: TransactItem): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.table,
              Key: userKey(userId),
              UpdateExpression:
                'SET mfaEnabled = :false REMOVE totpCiphertext, totpLastStep, recoveryCodeHashes, totpPendingCiphertext',
              ConditionExpression: 'mfaEnabled = :true',
              ExpressionAttributeValues: { ':true': true, ':false': false },
            },
          },
          audit,
        ],
      }),
    );
  }

  /** Records a TOTP step as used; false when it (or a later one) was used already (a replay). */
  async consumeTotpStep(userId: string, step: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: userKey(userId),
          UpdateExpression: 'SET totpLastStep = :s',
          ConditionExpression: 'attribute_not_exists(totpLastStep) OR totpLastStep < :s',
          ExpressionAttributeValues: { ':s': step },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Removes a recovery code hash; false when it is not (or no longer) there. */
  async consumeRecoveryCode(userId: string, codeHash: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: userKey(userId),
          UpdateExpression: 'DELETE recoveryCodeHashes :h',
          ConditionExpression: 'contains(recoveryCodeHashes, :v)',
          ExpressionAttributeValues: { ':h': new Set([codeHash]), ':v': codeHash },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async createSession(session: SessionRecord, audit?: TransactItem): Promise<void> {
    const ttl = Math.ceil(session.absoluteExpiresAt / 1000);
    const put: TransactItem = {
      Put: {
        TableName: this.table,
        Item: {
          ...sessionKey(session.sessionId),
          ...session,
          gsi1pk: `USER#${session.userId}`,
          gsi1sk: `SESSION#${session.sessionId}`,
          ttl,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    await this.db.send(new TransactWriteCommand({ TransactItems: audit ? [put, audit] : [put] }));
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: sessionKey(sessionId) }),
    );
    return Item ? stripKeys<SessionRecord>(Item) : undefined;
  }

  /** Moves last-seen forward, at most once per granularity window (a conditional write, so races are harmless). */
  async touchSession(session: SessionRecord, now: number): Promise<void> {
    if (now - session.lastSeenAt < LAST_SEEN_GRANULARITY_MS) return;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: sessionKey(session.sessionId),
          UpdateExpression: 'SET lastSeenAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND lastSeenAt < :threshold',
          ExpressionAttributeValues: { ':now': now, ':threshold': now - LAST_SEEN_GRANULARITY_MS },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const sessions: SessionRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':prefix': 'SESSION#' },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) sessions.push(stripKeys<SessionRecord>(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return sessions;
  }

  /** Deletes one of the user's sessions; false when there is no such session of that user. */
  async deleteSession(userId: string, sessionId: string, audit?: TransactItem): Promise<boolean> {
    const del: TransactItem = {
      Delete: {
        TableName: this.table,
        Key: sessionKey(sessionId),
        ConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      },
    };
    try {
      if (audit) await this.db.send(new TransactWriteCommand({ TransactItems: [del, audit] }));
      else await this.db.send(new DeleteCommand(del.Delete as never));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Revokes every session of the user but one; returns how many were revoked. */
  async deleteSessionsExcept(userId: string, keepSessionId: string | undefined): Promise<number> {
    const victims = (await this.listSessions(userId)).filter((s) => s.sessionId !== keepSessionId);
    for (let i = 0; i < victims.length; i += 25) {
      let requests: Record<string, unknown>[] | undefined = victims
        .slice(i, i + 25)
        .map((s) => ({ DeleteRequest: { Key: sessionKey(s.sessionId) } }));
      for (let attempt = 0; requests?.length && attempt < 5; attempt++) {
        const result = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: requests as never } }),
        );
        requests = result.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
      }
      if (requests?.length) throw new Error('could not revoke every session; retry');
    }
    return victims.length;
  }
}

/** Drops the table keys and index attributes from an item. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ttl: _ttl, ...rest } = item;
  return rest as T;
}
