import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Permission, Role } from '../domain/permissions.js';
import { PLANS, type Plan } from '../domain/plans.js';
import type { TransactItem } from '../http/audit-seam.js';
import { ConflictError, NotFoundError } from '../http/errors.js';
import { isConditionFailure } from './conditions.js';
import { stripKeys } from './identity-store.js';
import { decodeCursor, encodeCursor } from './pagination.js';
import type { TenantDataClients } from './tenant-data-client.js';
import { type TenantScope, tenantKey } from './tenant-scope.js';

export { PLANS, type Plan };

export interface TenantSettings {
  requireMfa: boolean;
  /** Shorter session limits for this tenant's routes; the platform defaults apply when unset. */
  sessionIdleSeconds?: number;
  sessionAbsoluteSeconds?: number;
}

export interface TenantRecord {
  tenantId: string;
  name: string;
  plan: Plan;
  keyArn: string;
  createdAt: string;
  createdBy: string;
  ownerCount: number;
  settings: TenantSettings;
}

export interface MemberRecord {
  tenantId: string;
  userId: string;
  role: Role;
  email: string;
  name: string;
  addedAt: string;
  addedBy: string;
}

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  name: string;
  scopes: Permission[];
  createdBy: string;
  createdAt: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  secretHash: string;
  lastUsedAt?: number;
}

/** The public view of an API key: never its hash. */
export function publicApiKey(key: ApiKeyRecord) {
  return {
    keyId: key.keyId,
    name: key.name,
    scopes: key.scopes,
    createdBy: key.createdBy,
    createdAt: key.createdAt,
    expiresAt: new Date(key.expiresAt).toISOString(),
    lastUsedAt: key.lastUsedAt ? new Date(key.lastUsedAt).toISOString() : null,
  };
}

export const TENANT_SK = 'TENANT';
/** Items per delete transaction during tenant deletion (DynamoDB allows 100; small keeps retries cheap). */
const DELETE_BATCH = 25;
export const memberSk = (userId: string) => `MEMBER#${userId}`;
export const apiKeySk = (keyId: string) => `APIKEY#${keyId}`;

function memberItem(scope: TenantScope, member: MemberRecord) {
  return {
    ...tenantKey(scope, memberSk(member.userId)),
    ...member,
    gsi1pk: `USER#${member.userId}`,
    gsi1sk: `TENANT#${member.tenantId}`,
  };
}

/** Tenants, members and API keys in the tenant-data table, always through tenant-scoped credentials. */
export class TenantStore {
  constructor(
    private readonly clients: TenantDataClients,
    private readonly table: string,
  ) {}

  /** Writes the tenant, its first owner and the audit event in one transaction. */
  async createTenant(
    scope: TenantScope,
    tenant: TenantRecord,
    owner: MemberRecord,
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: { ...tenantKey(scope, TENANT_SK), ...tenant },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.table,
              Item: memberItem(scope, owner),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          audit,
        ],
      }),
    );
  }

  async getTenant(scope: TenantScope): Promise<TenantRecord> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({ TableName: this.table, Key: tenantKey(scope, TENANT_SK) }),
    );
    if (!Item) throw new NotFoundError('No such tenant.');
    return stripKeys<TenantRecord>(Item);
  }

  /** Applies name, plan and settings changes with the audit event in one transaction. */
  async updateTenant(
    scope: TenantScope,
    changes: { name?: string; plan?: Plan; settings?: TenantSettings },
    audits: TransactItem[],
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    const sets: string[] = [];
    const values: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      sets.push(`#${field} = :${field}`);
      values[`:${field}`] = value;
    }
    if (sets.length === 0) return;
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.table,
              Key: tenantKey(scope, TENANT_SK),
              UpdateExpression: `SET ${sets.join(', ')}`,
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: Object.fromEntries(
                Object.keys(values).map((v) => [`#${v.slice(1)}`, v.slice(1)]),
              ),
              ExpressionAttributeValues: values,
            },
          },
          ...audits,
        ],
      }),
    );
  }

  async getMember(scope: TenantScope, userId: string): Promise<MemberRecord | undefined> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.table,
        Key: tenantKey(scope, memberSk(userId)),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<MemberRecord>(Item) : undefined;
  }

  async listMembers(scope: TenantScope, page: { cursor?: string; limit: number }) {
    return this.page<MemberRecord>(scope, 'MEMBER#', page);
  }

  /**
   * One page of the tenant's items of one type, behind an opaque cursor that cannot leave the partition;
   * `createdBy` keeps only the items one member created.
   */
  private async page<T>(
    scope: TenantScope,
    prefix: string,
    page: { cursor?: string; limit: number },
    createdBy?: string,
  ) {
    const db = await this.clients.forScope(scope);
    const result = await db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ...(createdBy ? { FilterExpression: 'createdBy = :creator' } : {}),
        ExpressionAttributeValues: {
          ':pk': scope.tenantId,
          ':prefix': prefix,
          ...(createdBy ? { ':creator': createdBy } : {}),
        },
        ExclusiveStartKey: decodeCursor(page.cursor, { pk: scope.tenantId, skPrefix: prefix }),
        Limit: page.limit,
      }),
    );
    return {
      items: (result.Items ?? []).map((item) => stripKeys<T>(item)),
      nextCursor: encodeCursor(result.LastEvaluatedKey) ?? null,
    };
  }

  /** Adds a member; 409 when the user already is one. */
  async addMember(scope: TenantScope, member: MemberRecord, audit: TransactItem): Promise<void> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            // The tenant must exist; a new owner also moves the owner count.
            member.role === 'owner'
              ? this.ownerCountChange(scope, +1)
              : {
                  ConditionCheck: {
                    TableName: this.table,
                    Key: tenantKey(scope, TENANT_SK),
                    ConditionExpression: 'attribute_exists(pk)',
                  },
                },
            {
              Put: {
                TableName: this.table,
                Item: memberItem(scope, member),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new ConflictError('The user is already a member.', 'already-member');
      throw error;
    }
  }

  /**
   * Changes a member's role if it is still `from`. The tenant's owner count moves in the same transaction,
   * conditioned on staying ≥ 1, so concurrent demotions can never leave a tenant without an owner.
   */
  async changeRole(
    scope: TenantScope,
    userId: string,
    from: Role,
    to: Role,
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.table,
          Key: tenantKey(scope, memberSk(userId)),
          UpdateExpression: 'SET #role = :to',
          ConditionExpression: '#role = :from',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: { ':to': to, ':from': from },
        },
      },
      audit,
    ];
    if (from === 'owner' && to !== 'owner') items.push(this.ownerCountChange(scope, -1));
    if (to === 'owner' && from !== 'owner') items.push(this.ownerCountChange(scope, +1));
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error)) throw this.explainConflict(from);
      throw error;
    }
  }

  /** Removes a member if their role is still `role`; the last owner cannot be removed. */
  async removeMember(scope: TenantScope, userId: string, role: Role, audit: TransactItem): Promise<void> {
    const db = await this.clients.forScope(scope);
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: this.table,
          Key: tenantKey(scope, memberSk(userId)),
          ConditionExpression: '#role = :role',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: { ':role': role },
        },
      },
      audit,
    ];
    if (role === 'owner') items.push(this.ownerCountChange(scope, -1));
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error)) throw this.explainConflict(role);
      throw error;
    }
  }

  private ownerCountChange(scope: TenantScope, delta: 1 | -1): TransactItem {
    return {
      Update: {
        TableName: this.table,
        Key: tenantKey(scope, TENANT_SK),
        UpdateExpression: 'ADD ownerCount :delta',
        ConditionExpression: delta < 0 ? 'ownerCount > :one' : 'attribute_exists(pk)',
        ExpressionAttributeValues: delta < 0 ? { ':delta': -1, ':one': 1 } : { ':delta': 1 },
      },
    };
  }

  private explainConflict(role: Role): ConflictError {
    return role === 'owner'
      ? new ConflictError(
          'A tenant must keep at least one owner (or the membership changed meanwhile).',
          'last-owner',
        )
      : new ConflictError('The membership changed meanwhile; reload and retry.', 'membership-changed');
  }

  async createApiKey(scope: TenantScope, key: ApiKeyRecord, audit: TransactItem): Promise<void> {
    const db = await this.clients.forScope(scope);
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: {
                ...tenantKey(scope, apiKeySk(key.keyId)),
                ...key,
                ttl: Math.ceil(key.expiresAt / 1000) + 86_400,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          audit,
        ],
      }),
    );
  }

  async getApiKey(scope: TenantScope, keyId: string): Promise<ApiKeyRecord | undefined> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({ TableName: this.table, Key: tenantKey(scope, apiKeySk(keyId)) }),
    );
    return Item ? stripKeys<ApiKeyRecord>(Item) : undefined;
  }

  async listApiKeys(scope: TenantScope, page: { cursor?: string; limit: number }, createdBy?: string) {
    return this.page<ApiKeyRecord>(scope, 'APIKEY#', page, createdBy);
  }

  /** Deletes a key (revocation is immediate: the authorizer reads the item on every request). */
  async deleteApiKey(scope: TenantScope, keyId: string, audit: TransactItem): Promise<boolean> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: tenantKey(scope, apiKeySk(keyId)),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            audit,
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Every item of the tenant's partition, raw (for the export archive, which picks public fields only). */
  async allItems(scope: TenantScope): Promise<Record<string, unknown>[]> {
    const db = await this.clients.forScope(scope);
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': scope.tenantId },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /**
   * Tenant deletion: deletes the items of the tenant's partition whose sort key starts with one of
   * `prefixes` (every item when none is given), except the tenant item and the `keepMembers`' memberships.
   * Unconditional deletes in small transactions: safe to repeat after a failure part-way.
   */
  async deleteTenantItems(
    scope: TenantScope,
    keepMembers: readonly string[],
    prefixes: readonly string[] = [],
  ): Promise<number> {
    const keep = new Set([TENANT_SK, ...keepMembers.map(memberSk)]);
    let deleted = 0;
    for (const prefix of prefixes.length > 0 ? prefixes : [undefined]) {
      deleted += await this.#deletePartition(scope, prefix, keep);
    }
    return deleted;
  }

  async #deletePartition(scope: TenantScope, prefix: string | undefined, keep: Set<string>) {
    const db = await this.clients.forScope(scope);
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: { ':pk': scope.tenantId, ...(prefix ? { ':prefix': prefix } : {}) },
          ProjectionExpression: 'pk, sk',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      const doomed = (page.Items ?? []).map((i) => i.sk as string).filter((sk) => !keep.has(sk));
      for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
        await db.send(
          new TransactWriteCommand({
            TransactItems: doomed.slice(i, i + DELETE_BATCH).map((sk) => ({
              Delete: { TableName: this.table, Key: tenantKey(scope, sk) },
            })),
          }),
        );
      }
      deleted += doomed.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return deleted;
  }

  /**
   * Tenant deletion, step (d): the tenant item, the deleting owner's membership and the `tenant.deleted`
   * event in one transaction. False when the tenant item is already gone (a concurrent deletion won).
   */
  async deleteTenant(scope: TenantScope, ownerUserId: string, audit: TransactItem): Promise<boolean> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: tenantKey(scope, TENANT_SK),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Delete: {
                TableName: this.table,
                Key: tenantKey(scope, memberSk(ownerUserId)),
                ConditionExpression: '#role = :owner',
                ExpressionAttributeNames: { '#role': 'role' },
                ExpressionAttributeValues: { ':owner': 'owner' },
              },
            },
            audit,
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
