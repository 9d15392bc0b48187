import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from '../domain/ids.js';
import { knownDeviceKey, noUserKey, SIGN_IN_SK_PREFIX, signInKey, userKey } from '../domain/item-layout.js';
import { SIGN_IN_HISTORY_MS, SIGN_IN_USER_AGENT_MAX, type SignInAttempt } from '../domain/sign-in-history.js';
import type { TransactItem } from './audit-recorder.js';
import { type PageRequest, queryPage } from './pagination.js';

const ATTRIBUTES = ['at', 'ip', 'userAgent', 'method', 'result', 'reason', 'sessionId'] as const;

/**
 * Each account's sign-in attempts and known devices, in the user's partition of the identity table; both
 * expire (TTL) after 90 days.
 */
export class SignInHistory {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Put of one attempt, for the transaction that makes its outcome (a session, an audit event). */
  attemptPut(attempt: SignInAttempt): TransactItem {
    return {
      Put: { TableName: this.table, Item: itemOf(attempt), ConditionExpression: 'attribute_not_exists(pk)' },
    };
  }

  /**
   * Writes a failed attempt together with its audit event. Without an account (an unknown address) the
   * transaction checks a key no account has instead of writing the attempt: the same two-item write on a
   * fresh partition, so neither the work nor a hot partition tells unknown addresses from known ones.
   */
  async recordFailure(audit: TransactItem, attempt: SignInAttempt | undefined): Promise<void> {
    const second: TransactItem = attempt
      ? this.attemptPut(attempt)
      : {
          ConditionCheck: {
            TableName: this.table,
            Key: noUserKey(randomBytes(12).toString('base64url')),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        };
    await this.db.send(new TransactWriteCommand({ TransactItems: [audit, second] }));
  }

  /** Writes an attempt on its own (the password was right, a second factor is now asked for). */
  async record(attempt: SignInAttempt): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: itemOf(attempt),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** The user's attempts of the last 90 days, newest first. */
  async list(userId: string, page: PageRequest) {
    const since = this.now() - SIGN_IN_HISTORY_MS;
    const { items, nextCursor } = await queryPage(
      this.db,
      {
        tableName: this.table,
        pk: userKey(userId).pk,
        skPrefix: SIGN_IN_SK_PREFIX,
        newestFirst: true,
        // TTL deletes up to days late: what is older than the window is not shown meanwhile.
        filter: { expression: '#at >= :since', names: { '#at': 'at' }, values: { ':since': since } },
        projection: {
          expression: ATTRIBUTES.map((a) => `#${a}`).join(', '),
          names: Object.fromEntries(ATTRIBUTES.map((a) => [`#${a}`, a])),
        },
      },
      page,
    );
    return {
      items: items.map((item) => ({
        at: new Date(item.at as number).toISOString(),
        ip: item.ip as string,
        userAgent: item.userAgent as string,
        method: item.method as SignInAttempt['method'],
        result: item.result as SignInAttempt['result'],
        ...(item.reason ? { reason: item.reason as NonNullable<SignInAttempt['reason']> } : {}),
        ...(item.sessionId ? { sessionId: item.sessionId as string } : {}),
      })),
      nextCursor,
    };
  }

  /** The Put of a known device, for the transaction that registers the account (its first device). */
  devicePut(userId: string, fingerprint: string): TransactItem {
    return { Put: { TableName: this.table, Item: this.#deviceItem(userId, fingerprint) } };
  }

  #deviceItem(userId: string, fingerprint: string) {
    const now = this.now();
    return {
      ...knownDeviceKey(userId, fingerprint),
      lastSeenAt: now,
      ttl: Math.ceil((now + SIGN_IN_HISTORY_MS) / 1000),
    };
  }

  /**
   * Notes that the user signed in from this device (renewing its 90 days); true when it was not known
   * (never seen, or not for 90 days).
   */
  async rememberDevice(userId: string, fingerprint: string): Promise<boolean> {
    const item = this.#deviceItem(userId, fingerprint);
    const { Attributes } = await this.db.send(
      new PutCommand({ TableName: this.table, Item: item, ReturnValues: 'ALL_OLD' }),
    );
    // An item TTL has not deleted yet may be past its 90 days.
    return !Attributes || (Attributes.lastSeenAt as number) < item.lastSeenAt - SIGN_IN_HISTORY_MS;
  }
}

function itemOf(attempt: SignInAttempt): Record<string, unknown> {
  return {
    ...signInKey(attempt.userId, ulid(attempt.at)),
    at: attempt.at,
    ip: attempt.ip,
    userAgent: attempt.userAgent.slice(0, SIGN_IN_USER_AGENT_MAX),
    method: attempt.method,
    result: attempt.result,
    ...(attempt.reason ? { reason: attempt.reason } : {}),
    ...(attempt.sessionId ? { sessionId: attempt.sessionId } : {}),
    ttl: Math.ceil((attempt.at + SIGN_IN_HISTORY_MS) / 1000),
  };
}
