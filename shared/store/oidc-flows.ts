import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { oidcFlowKey, oidcIdentityKey, userKey } from '../domain/item-layout.js';
import type { OidcIntent } from '../domain/oidc.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure, transactOrFalse } from './conditions.js';
import { stripKeys } from './identity-store.js';

/** A started OIDC flow (identity table `OIDC-FLOW#<hash of state>` / `FLOW`): hashes and names only. */
export interface OidcFlowRecord {
  stateHash: string;
  flowTokenHash: string;
  /** domain/oidc.ts `providerKeyOf`. */
  providerKey: string;
  intent: OidcIntent;
  /** The signed-in user a `link` flow links to. */
  userId?: string;
  /** The redirect URI the authorization request named (the token request must name it again). */
  redirectUri: string;
  createdAt: number;
  /** Epoch ms; checked on use (TTL removes the item later). */
  expiresAt: number;
}

/** Which account an identity at a provider belongs to (identity table `OIDC-IDENTITY#…` / `IDENTITY`). */
export interface OidcIdentityRecord {
  providerKey: string;
  subject: string;
  userId: string;
  /** The address the provider asserted (verified) when the identity was linked. */
  email: string;
  linkedAt: string;
}

/** A provider's subject as stored in keys. */
export const subjectHash = (subject: string) =>
  createHash('sha256').update(subject, 'utf8').digest('base64url');

/** Started OIDC flows and linked identities, in the identity table. */
export class OidcStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Stores a started flow (never over another). */
  async putFlow(flow: OidcFlowRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...oidcFlowKey(flow.stateHash), ...flow, ttl: Math.ceil(flow.expiresAt / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /**
   * Spends a flow: deletes it only while it exists, is bound to `flowTokenHash` and has not expired, and
   * returns what it held. Undefined (and nothing changed) otherwise: an unknown, replayed, expired or
   * foreign state. One conditional delete, so two callbacks racing with one state get it once.
   */
  async consumeFlow(
    stateHash: string,
    flowTokenHash: string,
    now: number,
  ): Promise<OidcFlowRecord | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: oidcFlowKey(stateHash),
          ConditionExpression: 'attribute_exists(pk) AND flowTokenHash = :f AND expiresAt > :now',
          ExpressionAttributeValues: { ':f': flowTokenHash, ':now': now },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return Attributes ? stripKeys<OidcFlowRecord>(Attributes) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** The account linked to a provider's subject, if any. */
  async getIdentity(providerKey: string, subject: string): Promise<OidcIdentityRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: oidcIdentityKey(providerKey, subjectHash(subject)),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<OidcIdentityRecord>(Item) : undefined;
  }

  /**
   * Links an identity to an existing account, with its audit event, in one transaction: only while the
   * identity is unlinked and the account exists. False, and nothing written, otherwise.
   */
  linkIdentity(identity: OidcIdentityRecord, audit: TransactItem): Promise<boolean> {
    return transactOrFalse(this.db, [
      this.identityPut(identity),
      {
        ConditionCheck: {
          TableName: this.table,
          Key: userKey(identity.userId),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      audit,
    ]);
  }

  /** The transaction item that links an identity (never relinking one that is linked already). */
  identityPut(identity: OidcIdentityRecord): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { ...oidcIdentityKey(identity.providerKey, subjectHash(identity.subject)), ...identity },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }
}
