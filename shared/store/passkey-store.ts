import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { PASSKEY_SK_PREFIX, passkeyChallengeKey, passkeyKey, userKey } from '../domain/item-layout.js';
import { PASSKEY_LIMIT } from '../domain/passkeys.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure, transactOrFalse } from './conditions.js';
import { stripKeys } from './identity-records.js';
import { CredentialsChangedError, type IdentityStore, type RevocationAudit } from './identity-store.js';
import { queryAllItems } from './pagination.js';

/** A passkey (identity table `USER#<id>` / `PASSKEY#<passkeyId>`): its public key only, never a secret. */
export interface PasskeyRecord {
  passkeyId: string;
  userId: string;
  /** The WebAuthn credential id, base64url. */
  credentialId: string;
  /** The credential's COSE public key, base64url. */
  publicKey: string;
  /** The authenticator's signature counter at the last accepted use (0: the authenticator keeps none). */
  counter: number;
  transports?: string[];
  name: string;
  createdAt: string;
  lastUsedAt?: string;
  /** `multiDevice`: a synced passkey (a password manager's); `singleDevice`: bound to one authenticator. */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  /** The authenticator model's AAGUID (all zeros when it does not say). */
  aaguid: string;
}

/** What a WebAuthn challenge was issued for. */
export type PasskeyCeremony = 'register' | 'sign-in' | 'step-up';

/** An issued challenge (identity table `PASSKEY-CHALLENGE#<id>`), answered at most once. */
export interface PasskeyChallengeRecord {
  challengeId: string;
  ceremony: PasskeyCeremony;
  /** The challenge the authenticator signs, base64url. */
  challenge: string;
  /** Registration and step-up: whose session asked for it; only that session may answer it. */
  userId?: string;
  sessionId?: string;
  /** Epoch ms; checked on use (DynamoDB's TTL removes the item some time later). */
  expiresAt: number;
}

/** Passkeys and their challenges, in the identity table (platform credentials: no tenant). */
export class PasskeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly identity: IdentityStore,
  ) {}

  /** Stores an issued challenge (never overwriting one). */
  async putChallenge(challenge: PasskeyChallengeRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...passkeyChallengeKey(challenge.challengeId),
          ...challenge,
          ttl: Math.ceil(challenge.expiresAt / 1000),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /**
   * Takes a challenge out of the table: of any number of concurrent answers, one gets it and the others
   * find nothing, so a challenge is answered once, right or wrong. Expiry is the caller's to check.
   */
  async takeChallenge(challengeId: string): Promise<PasskeyChallengeRecord | undefined> {
    const { Attributes } = await this.db.send(
      new DeleteCommand({
        TableName: this.table,
        Key: passkeyChallengeKey(challengeId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes ? stripKeys<PasskeyChallengeRecord>(Attributes) : undefined;
  }

  /** The user's passkeys, oldest first (at most PASSKEY_LIMIT). */
  list(userId: string): Promise<PasskeyRecord[]> {
    return queryAllItems(
      this.db,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': userKey(userId).pk, ':prefix': PASSKEY_SK_PREFIX },
        ConsistentRead: true,
      },
      stripKeys<PasskeyRecord>,
    );
  }

  async get(userId: string, passkeyId: string): Promise<PasskeyRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: passkeyKey(userId, passkeyId), ConsistentRead: true }),
    );
    return Item ? stripKeys<PasskeyRecord>(Item) : undefined;
  }

  /**
   * Adds a passkey, moving the user's credential epoch from `verifiedEpoch` (every session but
   * `keepSessionId` stops working, as with every change to how the account signs in) and counting it on
   * the profile (never past PASSKEY_LIMIT), with its audit event, in one transaction; then deletes the
   * other session items. 409 `credentials-changed` when the account changed since it was read.
   */
  async add(
    passkey: PasskeyRecord,
    verifiedEpoch: number,
    keepSessionId: string,
    audit: RevocationAudit,
  ): Promise<number> {
    const revoked = await this.identity.endOthersWith(passkey.userId, keepSessionId, verifiedEpoch, (count) =>
      transactOrFalse(this.db, [
        {
          Put: {
            TableName: this.table,
            Item: { ...passkeyKey(passkey.userId, passkey.passkeyId), ...passkey },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        ...this.identity.advanceEpoch(passkey.userId, verifiedEpoch, keepSessionId, {
          set: 'passkeyCount = if_not_exists(passkeyCount, :zero) + :one',
          condition: '(attribute_not_exists(passkeyCount) OR passkeyCount < :limit)',
          values: { ':zero': 0, ':one': 1, ':limit': PASSKEY_LIMIT },
        }),
        ...audit(count),
      ]),
    );
    if (revoked === false) throw new CredentialsChangedError();
    return revoked;
  }

  /** Renames one of the user's passkeys, with its audit event; false when the user has no such passkey. */
  async rename(userId: string, passkeyId: string, name: string, audit: TransactItem): Promise<boolean> {
    return transactOrFalse(this.db, [
      {
        Update: {
          TableName: this.table,
          Key: passkeyKey(userId, passkeyId),
          UpdateExpression: 'SET #name = :name',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: { ':name': name },
        },
      },
      audit,
    ]);
  }

  /**
   * Removes one of the user's passkeys and moves the credential epoch (every other session stops working,
   * those it signed in included), with its audit event, in one transaction; then deletes the other session
   * items. False, and nothing written, when the user has no such passkey; 409 `credentials-changed` when
   * the account changed since it was read.
   */
  async remove(
    userId: string,
    passkeyId: string,
    verifiedEpoch: number,
    keepSessionId: string,
    audit: RevocationAudit,
  ): Promise<{ removed: boolean; revokedSessions: number }> {
    const revoked = await this.identity.endOthersWith(userId, keepSessionId, verifiedEpoch, async (count) => {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.table,
                  Key: passkeyKey(userId, passkeyId),
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              ...this.identity.advanceEpoch(userId, verifiedEpoch, keepSessionId, {
                set: 'passkeyCount = if_not_exists(passkeyCount, :one) - :one',
                values: { ':one': 1 },
              }),
              ...audit(count),
            ],
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error, 0)) return false;
        if (isConditionFailure(error)) throw new CredentialsChangedError();
        throw error;
      }
    });
    return revoked === false
      ? { removed: false, revokedSessions: 0 }
      : { removed: true, revokedSessions: revoked };
  }

  /**
   * Records a step-up: the passkey's use (`useUpdate`), the step-up token and its audit event, in one
   * transaction; false, nothing written, when the passkey was removed or used meanwhile.
   */
  recordStepUp(use: TransactItem, token: TransactItem, audit: TransactItem): Promise<boolean> {
    return transactOrFalse(this.db, [use, token, audit]);
  }

  /**
   * The transaction item that records a sign-in's use of a passkey: its new counter and last use, only if
   * the passkey is still there, still this credential and its counter unchanged since it was read (two
   * sign-ins with one counter value cannot both pass; a removed passkey starts no session).
   */
  useUpdate(passkey: PasskeyRecord, use: { counter: number; at: string; backedUp: boolean }): TransactItem {
    return {
      Update: {
        TableName: this.table,
        Key: passkeyKey(passkey.userId, passkey.passkeyId),
        UpdateExpression: 'SET #counter = :counter, lastUsedAt = :at, backedUp = :backedUp',
        ConditionExpression: 'attribute_exists(pk) AND credentialId = :credential AND #counter = :before',
        ExpressionAttributeNames: { '#counter': 'counter' },
        ExpressionAttributeValues: {
          ':counter': use.counter,
          ':at': use.at,
          ':backedUp': use.backedUp,
          ':credential': passkey.credentialId,
          ':before': passkey.counter,
        },
      },
    };
  }
}
