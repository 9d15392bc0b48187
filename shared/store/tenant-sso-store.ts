import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { SSO_PROVIDER_SK, TENANT_SK } from '../domain/item-layout.js';
import { OIDC_CLIENT_SECRET_CONTEXT } from '../domain/key-context.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure } from './conditions.js';
import { stripKeys } from './identity-records.js';
import type { TenantDataClients } from './tenant-data-client.js';
import type { TenantRecord } from './tenant-store.js';

/** Encryption-context purpose of a tenant IdP's client secret (with `tenantId`, and `recordId` = `sso`). */
export const OIDC_CLIENT_SECRET_PURPOSE = OIDC_CLIENT_SECRET_CONTEXT.purpose;
/** The `recordId` of that context: a tenant has one IdP. */
export const OIDC_CLIENT_SECRET_RECORD_ID = OIDC_CLIENT_SECRET_CONTEXT.recordId;

/** A tenant's own OpenID provider as stored (`{pk: tenantId, sk: 'SSO-PROVIDER'}`). */
export interface TenantSsoRecord {
  issuer: string;
  clientId: string;
  /** Encryption SDK ciphertext (base64) of the client secret under the tenant's key; never returned. */
  clientSecretCiphertext: string;
  /** Lowercase e-mail domains whose addresses may sign up and link through it. */
  allowedDomains: string[];
  /** Members must sign in through it (mirrored on the tenant item as `ssoEnforced`). */
  enforced: boolean;
  updatedAt: string;
  updatedBy: string;
  /** Optimistic-concurrency counter: every write is conditional on it. */
  version: number;
}

/**
 * A tenant's own OpenID provider in the tenant-data table, through the tenant-scoped client. Every write
 * also sets (or removes) the tenant item's top-level `ssoEnforced`, in the same transaction: the authorizer
 * reads enforcement from the tenant item it fetches for every tenant request anyway.
 */
export class TenantSsoStore {
  constructor(
    private readonly clients: Pick<TenantDataClients, 'forScope'>,
    private readonly table: string,
  ) {}

  async get(scope: TenantScope): Promise<TenantSsoRecord | undefined> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.table,
        Key: tenantKey(scope, SSO_PROVIDER_SK),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<TenantSsoRecord>(Item) : undefined;
  }

  /**
   * Writes `record` if the stored one is still at `previousVersion` (absent: none stored), the tenant item's
   * `ssoEnforced`, and `audit`, in one transaction. 409 when another change came first.
   */
  async put(
    scope: TenantScope,
    record: TenantSsoRecord,
    previousVersion: number | undefined,
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...tenantKey(scope, SSO_PROVIDER_SK), ...record },
                ...(previousVersion === undefined
                  ? { ConditionExpression: 'attribute_not_exists(pk)' }
                  : {
                      ConditionExpression: '#version = :version',
                      ExpressionAttributeNames: { '#version': 'version' },
                      ExpressionAttributeValues: { ':version': previousVersion },
                    }),
              },
            },
            enforcementUpdate(this.table, scope, record.enforced),
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error, 0))
        throw new ConflictError('The identity provider was changed meanwhile; read it and try again.');
      if (isConditionFailure(error, 1)) throw new NotFoundError('No such tenant.');
      throw error;
    }
  }

  /** Removes the provider (at `version`), the tenant's enforcement, and writes `audit`; false if none. */
  async delete(scope: TenantScope, version: number, audit: TransactItem): Promise<boolean> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: tenantKey(scope, SSO_PROVIDER_SK),
                ConditionExpression: '#version = :version',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':version': version },
              },
            },
            enforcementUpdate(this.table, scope, false),
            audit,
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error, 0)) return false;
      if (isConditionFailure(error, 1)) throw new NotFoundError('No such tenant.');
      throw error;
    }
  }
}

function enforcementUpdate(table: string, scope: TenantScope, enforced: boolean): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: tenantKey(scope, TENANT_SK),
      UpdateExpression: enforced ? 'SET #enforced = :true' : 'REMOVE #enforced',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#enforced': 'ssoEnforced' },
      ...(enforced ? { ExpressionAttributeValues: { ':true': true } } : {}),
    },
  };
}

/**
 * A tenant's provider and its tenant item, read with platform credentials by the auth function when a
 * sign-in names the tenant (no membership is known yet, so there is no TenantScope): both or nothing, and
 * nothing for a tenant whose deletion began.
 */
export async function readTenantSsoForSignIn(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
): Promise<{ tenant: TenantRecord; sso: TenantSsoRecord } | undefined> {
  const keys = [
    { pk: tenantId, sk: TENANT_SK },
    { pk: tenantId, sk: SSO_PROVIDER_SK },
  ];
  let request: { Keys: Record<string, string>[]; ConsistentRead: boolean } | undefined = {
    Keys: keys,
    ConsistentRead: true,
  };
  let tenant: TenantRecord | undefined;
  let sso: TenantSsoRecord | undefined;
  for (let attempt = 0; request && request.Keys.length > 0; attempt++) {
    if (attempt >= 5) throw new Error('tenant IdP lookup left unprocessed keys');
    const result: BatchGetCommandOutput = await db.send(
      new BatchGetCommand({ RequestItems: { [table]: request } }),
    );
    for (const item of result.Responses?.[table] ?? []) {
      if (item.sk === TENANT_SK) tenant = stripKeys<TenantRecord>(item);
      else sso = stripKeys<TenantSsoRecord>(item);
    }
    const left: { Keys?: Record<string, unknown>[] } | undefined = result.UnprocessedKeys?.[table];
    request = left?.Keys ? { Keys: left.Keys as Record<string, string>[], ConsistentRead: true } : undefined;
  }
  if (!tenant || !sso || tenant.closingAt) return undefined;
  return { tenant, sso };
}
