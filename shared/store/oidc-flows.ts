import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  OIDC_IDENTITY_GSI_SK_PREFIX,
  oidcFlowKey,
  oidcIdentityGsiKey,
  oidcIdentityKey,
  sessionKey,
  userGsiPk,
  userKey,
} from '../domain/item-layout.js';
import type { OidcIntent } from '../domain/oidc.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure, transactOrFalse } from './conditions.js';
import { stripKeys } from './identity-records.js';
import { queryAllItems } from './pagination.js';

/** A started OIDC flow (identity table `OIDC-FLOW#<hash of state>` / `FLOW`): hashes and names only. */
export interface OidcFlowRecord {
  stateHash: string;
  flowTokenHash: string;
  /** domain/oidc.ts `providerKeyOf`. */
  providerKey: string;
  intent: OidcIntent;
  /** The signed-in user a `link` flow links to. */
  userId?: string;
  /**
   * A `link` flow's starting session and the account's credential epoch then: the link is made only while
   * that session exists and the epoch has not moved (a sign-out, password change or reset ends the flow).
   */
  sessionId?: string;
  credentialEpoch?: number;
  /** The redirect URI the authorization request named (the token request must name it again). */
  redirectUri: string;
  createdAt: number;
  /** Epoch ms; checked on use (TTL removes the item later). */
  expiresAt: number;
}

/** Which account an identity at a provider belongs to (identity table `OIDC-IDENTITY#…` / `IDENTITY`). */
export interface OidcIdentityRecord {
  providerKey: string;
  /**
   * The issuer the identity was asserted by. Part of the key (a `sub` is unique per issuer only): when an
   * operator points a provider id at another issuer, the old links stop matching (orphaned, not reused).
   */
  issuer: string;
  subject: string;
  userId: string;
  /** The address the provider asserted (verified) when the identity was linked. */
  email: string;
  linkedAt: string;
}

/** A provider identity (issuer and subject) as stored in keys; also its public id (identityId). */
export const identityHash = (issuer: string, subject: string) =>
  createHash('sha256').update(`oidc-identity\n${issuer}\n${subject}`, 'utf8').digest('base64url');

/** A linked identity as listed for its owner. */
export type LinkedIdentity = OidcIdentityRecord & { identityId: string };

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

  /** The account linked to a provider's (issuer's) subject, if any. */
  async getIdentity(
    providerKey: string,
    issuer: string,
    subject: string,
  ): Promise<OidcIdentityRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: oidcIdentityKey(providerKey, identityHash(issuer, subject)),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<OidcIdentityRecord>(Item) : undefined;
  }

  /** The identities linked to a user's account (index gsi1, eventually consistent), oldest first. */
  async listIdentities(userId: string): Promise<LinkedIdentity[]> {
    const found = await queryAllItems(
      this.db,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        ExpressionAttributeValues: { ':pk': userGsiPk(userId), ':prefix': OIDC_IDENTITY_GSI_SK_PREFIX },
      },
      (item) => {
        const record = stripKeys<OidcIdentityRecord>(item);
        return { ...record, identityId: identityHash(record.issuer, record.subject) };
      },
    );
    return found.sort((a, b) => a.linkedAt.localeCompare(b.linkedAt));
  }

  /**
   * Links an identity to an existing account, with its audit event, in one transaction: only while the
   * identity is unlinked, the account's credential epoch is still `epoch` and the session that started the
   * link still exists. False, and nothing written, otherwise.
   */
  linkIdentity(
    identity: OidcIdentityRecord,
    startedBy: { sessionId: string; credentialEpoch: number },
    audit: TransactItem,
  ): Promise<boolean> {
    return transactOrFalse(this.db, [
      this.identityPut(identity),
      {
        ConditionCheck: {
          TableName: this.table,
          Key: userKey(identity.userId),
          ConditionExpression:
            startedBy.credentialEpoch === 0
              ? 'attribute_exists(pk) AND (attribute_not_exists(credentialEpoch) OR credentialEpoch = :epoch)'
              : 'attribute_exists(pk) AND credentialEpoch = :epoch',
          ExpressionAttributeValues: { ':epoch': startedBy.credentialEpoch },
        },
      },
      {
        ConditionCheck: {
          TableName: this.table,
          Key: sessionKey(startedBy.sessionId),
          ConditionExpression: 'attribute_exists(pk) AND userId = :u',
          ExpressionAttributeValues: { ':u': identity.userId },
        },
      },
      audit,
    ]);
  }

  /**
   * Links an identity confirmed by a mailed token: the token spent, the identity put (never relinking one),
   * only while the account still has the address the token went to, verified, and the credential epoch the
   * token was issued under, with the audit event, in one transaction; false, nothing written, otherwise.
   */
  linkIdentityByMail(
    identity: OidcIdentityRecord,
    spendToken: TransactItem,
    expected: { email: string; credentialEpoch: number },
    audit: TransactItem,
  ): Promise<boolean> {
    return transactOrFalse(this.db, [
      spendToken,
      this.identityPut(identity),
      {
        ConditionCheck: {
          TableName: this.table,
          Key: userKey(identity.userId),
          ConditionExpression: `attribute_exists(pk) AND email = :email AND attribute_exists(emailVerifiedAt) AND ${
            expected.credentialEpoch === 0
              ? '(attribute_not_exists(credentialEpoch) OR credentialEpoch = :epoch)'
              : 'credentialEpoch = :epoch'
          }`,
          ExpressionAttributeValues: { ':epoch': expected.credentialEpoch, ':email': expected.email },
        },
      },
      audit,
    ]);
  }

  /** Removes one of a user's linked identities, with its audit event; false when it is not theirs. */
  unlinkIdentity(identity: OidcIdentityRecord, audit: TransactItem): Promise<boolean> {
    return transactOrFalse(this.db, [
      {
        Delete: {
          TableName: this.table,
          Key: oidcIdentityKey(identity.providerKey, identityHash(identity.issuer, identity.subject)),
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': identity.userId },
        },
      },
      audit,
    ]);
  }

  /** The transaction item that links an identity (never relinking one that is linked already). */
  identityPut(identity: OidcIdentityRecord): TransactItem {
    const hash = identityHash(identity.issuer, identity.subject);
    return {
      Put: {
        TableName: this.table,
        Item: {
          ...oidcIdentityKey(identity.providerKey, hash),
          ...oidcIdentityGsiKey(identity.userId, identity.providerKey, hash),
          ...identity,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }
}
