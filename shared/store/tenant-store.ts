import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  ACCESS_ITEM_SK_PREFIXES,
  APIKEY_SK_PREFIX,
  apiKeySk,
  INVITATION_SK_PREFIX,
  invitationSk,
  inviteeGsiPk,
  MEMBER_SK_PREFIX,
  memberSk,
  membershipGsiKey,
  TENANT_SK,
} from '../domain/item-layout.js';
import type { Permission, Role } from '../domain/permissions.js';
import type { Plan } from '../domain/plans.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure } from './conditions.js';
import { stripKeys } from './identity-records.js';
import { queryAll, queryAllItems, queryPage, queryPages } from './pagination.js';
import { liftStorageFence, setStorageFence } from './storage-fence.js';
import type { TenantDataClients } from './tenant-data-client.js';

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
  /**
   * Members must sign in through the tenant's own OpenID provider (written with that provider,
   * shared/store/tenant-sso-store.ts; top-level so a settings change never drops it).
   */
  ssoEnforced?: boolean;
  /**
   * Set when its deletion began (TenantDeletionService): from then on no route but the deletion reaches the
   * tenant (http/auth.ts), and a retry of the deletion finishes it.
   */
  closingAt?: string;
  closingBy?: string;
  /** Managed-storage object versions the deletion has removed so far (at least: a count lost to a fault is not redone). */
  objectsDeleted?: number;
}

export interface MemberRecord {
  tenantId: string;
  userId: string;
  role: Role;
  email: string;
  name: string;
  addedAt: string;
  addedBy: string;
  /**
   * The API keys this member creates carry this value; a new membership or a demotion below
   * api-keys:create replaces it, so every key created before stops working in that same write.
   */
  keyGeneration?: string;
  /**
   * Epoch ms: set while the member's storage access is being reduced (removal or demotion); a vend that
   * re-reads the member after STS refuses its credentials while it holds (domain/storage-revocation.ts).
   */
  storageFenceUntil?: number;
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
  /** The creator's `keyGeneration` when the key was created (see MemberRecord). */
  memberGeneration?: string;
  /** Minted by a session that proved a second factor; only such keys reach a tenant that requires MFA. */
  createdWithMfa?: boolean;
  /** The OpenID provider key (`tenant:<id>`, `platform:<id>`) its creating session signed in through. */
  createdWithSso?: string;
}

/**
 * A pending invitation to join a tenant, kept in the tenant's partition. `gsi1` indexes it by the invitee's
 * normalised e-mail address, so the invitee's session can find it (the only reader across tenants is the
 * auth lookups, shared/store/auth-lookups.ts).
 */
export interface InvitationRecord {
  invitationId: string;
  tenantId: string;
  /** Normalised e-mail address of the invitee. */
  email: string;
  role: Role;
  invitedBy: { userId: string; email: string; name: string; apiKeyId?: string };
  createdAt: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** The public view of an invitation, as the tenant's member managers see it. */
export function publicInvitation(invitation: InvitationRecord) {
  return {
    invitationId: invitation.invitationId,
    email: invitation.email,
    role: invitation.role,
    invitedBy: { userId: invitation.invitedBy.userId, name: invitation.invitedBy.name },
    createdAt: invitation.createdAt,
    expiresAt: new Date(invitation.expiresAt).toISOString(),
  };
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
    createdWithMfa: key.createdWithMfa === true,
  };
}

/** Items per delete transaction during tenant deletion (DynamoDB allows 100; small keeps retries cheap). */
const DELETE_BATCH = 25;
/** DynamoDB's limit on items in one TransactWriteItems. */
const TRANSACTION_LIMIT = 100;

/** A revocation of one API key inside a larger change: its delete and its audit event. */
export interface KeyRevocation {
  keyId: string;
  audit: TransactItem;
}

function keyRevocationItems(scope: TenantScope, table: string, revocations: readonly KeyRevocation[]) {
  return revocations.flatMap((r): TransactItem[] => [
    { Delete: { TableName: table, Key: tenantKey(scope, apiKeySk(r.keyId)) } },
    r.audit,
  ]);
}

/** Splits revocations into those that fit beside `used` other items in one transaction, and the rest. */
function fitRevocations(used: number, revocations: readonly KeyRevocation[]) {
  const room = Math.max(0, Math.floor((TRANSACTION_LIMIT - used) / 2));
  return { now: revocations.slice(0, room), later: revocations.slice(room) };
}

function memberItem(scope: TenantScope, member: MemberRecord) {
  return {
    ...tenantKey(scope, memberSk(member.userId)),
    ...member,
    ...membershipGsiKey(member.userId, member.tenantId),
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
    const update: TransactItem[] = [
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
    ];
    try {
      await db.send(new TransactWriteCommand({ TransactItems: update }));
    } catch (error) {
      // The tenant was deleted since the caller's membership was read.
      if (isConditionFailure(error, 0)) throw new NotFoundError('No such tenant.');
      throw error;
    }
  }

  /**
   * Marks the tenant as being deleted, with `audit` (`tenant.deletion-started`), in one transaction: the first
   * write of a deletion. False when there is nothing to mark: the tenant is gone, or another deletion marked
   * it first (which this one then helps finish).
   */
  async markClosing(
    scope: TenantScope,
    closing: { at: string; by: string },
    audit: TransactItem,
  ): Promise<boolean> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: tenantKey(scope, TENANT_SK),
                UpdateExpression: 'SET closingAt = :at, closingBy = :by',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(closingAt)',
                ExpressionAttributeValues: { ':at': closing.at, ':by': closing.by },
              },
            },
            audit,
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error, 0)) return false;
      throw error;
    }
  }

  /**
   * Adds to a closing tenant's count of deleted objects (its deletion's progress); returns the new total. 404
   * when the tenant is no longer there to count on (a concurrent deletion request finished it meanwhile).
   */
  async addDeletedObjects(scope: TenantScope, count: number): Promise<number> {
    const db = await this.clients.forScope(scope);
    try {
      const { Attributes } = await db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: tenantKey(scope, TENANT_SK),
          UpdateExpression: 'ADD objectsDeleted :n',
          ConditionExpression: 'attribute_exists(closingAt)',
          ExpressionAttributeValues: { ':n': count },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(Attributes?.objectsDeleted ?? count);
    } catch (error) {
      if (isConditionFailure(error)) throw new NotFoundError('No such tenant.');
      throw error;
    }
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

  /**
   * Fences the member's storage vending until `untilMs` (before their access is reduced); 404 when they are no
   * longer a member. A role change lifts the fence in its own write; a removal deletes it with the item.
   */
  async fenceMemberStorage(scope: TenantScope, userId: string, untilMs: number): Promise<void> {
    const item = {
      db: await this.clients.forScope(scope),
      table: this.table,
      key: tenantKey(scope, memberSk(userId)),
    };
    if (!(await setStorageFence(item, untilMs))) throw new NotFoundError('No such member.');
  }

  /** Lifts a fence this process set (`untilMs`) after the change it guarded failed; a no-op otherwise. */
  async liftMemberStorageFence(scope: TenantScope, userId: string, untilMs: number): Promise<void> {
    const item = {
      db: await this.clients.forScope(scope),
      table: this.table,
      key: tenantKey(scope, memberSk(userId)),
    };
    await liftStorageFence(item, untilMs);
  }

  async listMembers(scope: TenantScope, page: { cursor?: string; limit: number }) {
    return this.page<MemberRecord>(scope, MEMBER_SK_PREFIX, page);
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
    filter?: { expression: string; values: Record<string, unknown> },
  ) {
    const db = await this.clients.forScope(scope);
    const filters = [...(createdBy ? ['createdBy = :creator'] : []), ...(filter ? [filter.expression] : [])];
    const { items, nextCursor } = await queryPage(
      db,
      {
        tableName: this.table,
        pk: scope.tenantId,
        skPrefix: prefix,
        ...(filters.length > 0
          ? {
              filter: {
                expression: filters.join(' AND '),
                values: { ...(createdBy ? { ':creator': createdBy } : {}), ...filter?.values },
              },
            }
          : {}),
      },
      page,
    );
    return { items: items.map((item) => stripKeys<T>(item)), nextCursor };
  }

  /**
   * Changes a member's role if it is still `from`. The tenant's owner count moves in the same transaction,
   * conditioned on staying ≥ 1, so concurrent demotions can never leave a tenant without an owner. With
   * `newKeyGeneration` (a demotion below api-keys:create) the member's keys stop working in the same write,
   * and as many of their key items as fit are deleted with it; the rest are returned for the caller to delete.
   */
  async changeRole(
    scope: TenantScope,
    userId: string,
    change: { from: Role; to: Role; newKeyGeneration?: string },
    audit: TransactItem,
    revocations: readonly KeyRevocation[] = [],
  ): Promise<KeyRevocation[]> {
    const { from, to, newKeyGeneration } = change;
    const db = await this.clients.forScope(scope);
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.table,
          Key: tenantKey(scope, memberSk(userId)),
          // The storage fence of a demotion is lifted with the new role (vends now run under it).
          UpdateExpression: `SET #role = :to${newKeyGeneration ? ', keyGeneration = :gen' : ''} REMOVE storageFenceUntil`,
          ConditionExpression: '#role = :from',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: {
            ':to': to,
            ':from': from,
            ...(newKeyGeneration ? { ':gen': newKeyGeneration } : {}),
          },
        },
      },
      audit,
    ];
    if (from === 'owner' && to !== 'owner') items.push(this.ownerCountChange(scope, -1));
    if (to === 'owner' && from !== 'owner') items.push(this.ownerCountChange(scope, +1));
    const { now, later } = fitRevocations(items.length, revocations);
    items.push(...keyRevocationItems(scope, this.table, now));
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error)) throw this.explainConflict(from);
      throw error;
    }
    return later;
  }

  /**
   * Removes a member if their role is still `role`; the last owner cannot be removed. The member's API keys
   * die with the membership (their generation is gone); as many key items as fit are deleted in the same
   * transaction, and the rest are returned for the caller to delete.
   */
  async removeMember(
    scope: TenantScope,
    userId: string,
    role: Role,
    audit: TransactItem,
    revocations: readonly KeyRevocation[] = [],
  ): Promise<KeyRevocation[]> {
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
    const { now, later } = fitRevocations(items.length, revocations);
    items.push(...keyRevocationItems(scope, this.table, now));
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error)) throw this.explainConflict(role);
      throw error;
    }
    return later;
  }

  /** Deletes API key items with their audit events, in transactions of at most 100 items. Idempotent. */
  async revokeApiKeys(scope: TenantScope, revocations: readonly KeyRevocation[]): Promise<void> {
    const db = await this.clients.forScope(scope);
    for (let i = 0; i < revocations.length; i += TRANSACTION_LIMIT / 2) {
      await db.send(
        new TransactWriteCommand({
          TransactItems: keyRevocationItems(
            scope,
            this.table,
            revocations.slice(i, i + TRANSACTION_LIMIT / 2),
          ),
        }),
      );
    }
  }

  /** Every API key one member created (all pages, strongly consistent). */
  apiKeysCreatedBy(scope: TenantScope, userId: string): Promise<ApiKeyRecord[]> {
    return this.#allApiKeys(scope, userId);
  }

  /** Every API key of the tenant (all pages, strongly consistent). */
  listAllApiKeys(scope: TenantScope): Promise<ApiKeyRecord[]> {
    return this.#allApiKeys(scope);
  }

  async #allApiKeys(scope: TenantScope, createdBy?: string): Promise<ApiKeyRecord[]> {
    const db = await this.clients.forScope(scope);
    return queryAllItems(
      db,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ...(createdBy ? { FilterExpression: 'createdBy = :creator' } : {}),
        ExpressionAttributeValues: {
          ':pk': scope.tenantId,
          ':prefix': APIKEY_SK_PREFIX,
          ...(createdBy ? { ':creator': createdBy } : {}),
        },
        ConsistentRead: true,
      },
      stripKeys<ApiKeyRecord>,
    );
  }

  /**
   * Writes an invitation (and withdraws `replaces`, earlier pending invitations of the same address) with
   * its audit event, in one transaction; the tenant must exist (NotFoundError when it was deleted since the
   * caller's membership was read).
   */
  async createInvitation(
    scope: TenantScope,
    invitation: InvitationRecord,
    replaces: readonly string[],
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: tenantKey(scope, TENANT_SK),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...tenantKey(scope, invitationSk(invitation.invitationId)),
                  ...invitation,
                  gsi1pk: inviteeGsiPk(invitation.email),
                  gsi1sk: invitationSk(invitation.invitationId),
                  ttl: Math.ceil(invitation.expiresAt / 1000) + 86_400,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            ...replaces.map(
              (id): TransactItem => ({
                Delete: { TableName: this.table, Key: tenantKey(scope, invitationSk(id)) },
              }),
            ),
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error, 0)) throw new NotFoundError('No such tenant.');
      throw error;
    }
  }

  /** Unexpired invitations of the tenant, one page. */
  async listInvitations(scope: TenantScope, page: { cursor?: string; limit: number }, now: number) {
    return this.page<InvitationRecord>(scope, INVITATION_SK_PREFIX, page, undefined, {
      expression: 'expiresAt > :now',
      values: { ':now': now },
    });
  }

  /** Unexpired invitations of the tenant addressed to `email` (normalised). */
  pendingInvitationsTo(scope: TenantScope, email: string, now: number): Promise<InvitationRecord[]> {
    return this.#pendingInvitations(scope, now, {
      expression: 'email = :email',
      values: { ':email': email },
    });
  }

  /** Unexpired invitations of the tenant that one member sent. */
  pendingInvitationsFrom(scope: TenantScope, userId: string, now: number): Promise<InvitationRecord[]> {
    return this.#pendingInvitations(scope, now, {
      expression: 'invitedBy.userId = :inviter',
      values: { ':inviter': userId },
    });
  }

  async #pendingInvitations(
    scope: TenantScope,
    now: number,
    filter: { expression: string; values: Record<string, unknown> },
  ): Promise<InvitationRecord[]> {
    const db = await this.clients.forScope(scope);
    return queryAllItems(
      db,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: `${filter.expression} AND expiresAt > :now`,
        ExpressionAttributeValues: {
          ':pk': scope.tenantId,
          ':prefix': INVITATION_SK_PREFIX,
          ':now': now,
          ...filter.values,
        },
        ConsistentRead: true,
      },
      stripKeys<InvitationRecord>,
    );
  }

  /** Deletes invitations with their audit events, in transactions of at most 100 items. Idempotent. */
  async withdrawInvitations(
    scope: TenantScope,
    withdrawals: readonly { invitationId: string; audit: TransactItem }[],
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    for (let i = 0; i < withdrawals.length; i += TRANSACTION_LIMIT / 2) {
      await db.send(
        new TransactWriteCommand({
          TransactItems: withdrawals
            .slice(i, i + TRANSACTION_LIMIT / 2)
            .flatMap((w): TransactItem[] => [
              { Delete: { TableName: this.table, Key: tenantKey(scope, invitationSk(w.invitationId)) } },
              w.audit,
            ]),
        }),
      );
    }
  }

  async getInvitation(scope: TenantScope, invitationId: string): Promise<InvitationRecord | undefined> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.table,
        Key: tenantKey(scope, invitationSk(invitationId)),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<InvitationRecord>(Item) : undefined;
  }

  /**
   * Deletes an invitation with its audit event if it is still there (and, with `email`, still addressed
   * there); false when it is gone.
   */
  async deleteInvitation(
    scope: TenantScope,
    invitationId: string,
    audit: TransactItem,
    email?: string,
  ): Promise<boolean> {
    const db = await this.clients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: tenantKey(scope, invitationSk(invitationId)),
                ConditionExpression: email
                  ? 'attribute_exists(pk) AND email = :email'
                  : 'attribute_exists(pk)',
                ...(email ? { ExpressionAttributeValues: { ':email': email } } : {}),
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

  /**
   * Accepting an invitation, in one transaction: the invitation is consumed (still there, still addressed
   * to `email`, unexpired at `now`), the membership is written (not already a member; a new owner moves the
   * owner count), the inviter still holds one of `inviterRoles` (and, when they invited with an API key,
   * that key still exists), and the audit events. 'conflict' when any of those no longer holds.
   */
  async acceptInvitation(
    scope: TenantScope,
    input: {
      invitation: InvitationRecord;
      email: string;
      now: number;
      member: MemberRecord;
      inviterRoles: readonly Role[];
    },
    audits: TransactItem[],
  ): Promise<'accepted' | 'conflict'> {
    const { invitation, member } = input;
    const db = await this.clients.forScope(scope);
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: this.table,
          Key: tenantKey(scope, invitationSk(invitation.invitationId)),
          ConditionExpression:
            'attribute_exists(pk) AND email = :email AND expiresAt > :now AND #role = :role',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: { ':email': input.email, ':now': input.now, ':role': member.role },
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: memberItem(scope, member),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
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
        ConditionCheck: {
          TableName: this.table,
          Key: tenantKey(scope, memberSk(invitation.invitedBy.userId)),
          ConditionExpression: `#role IN (${input.inviterRoles.map((_, i) => `:r${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: Object.fromEntries(input.inviterRoles.map((r, i) => [`:r${i}`, r])),
        },
      },
      ...(invitation.invitedBy.apiKeyId
        ? [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: tenantKey(scope, apiKeySk(invitation.invitedBy.apiKeyId)),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
          ]
        : []),
      ...audits,
    ];
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
      return 'accepted';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
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

  /**
   * Writes a key with its audit event, if its creator is still a member of the same generation holding one of
   * `creatorRoles` (so a key cannot be created behind a concurrent removal or demotion); 409 otherwise.
   */
  async createApiKey(
    scope: TenantScope,
    key: ApiKeyRecord,
    creatorRoles: readonly Role[],
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.clients.forScope(scope);
    const generation = key.memberGeneration;
    const creatorCheck: TransactItem = {
      ConditionCheck: {
        TableName: this.table,
        Key: tenantKey(scope, memberSk(key.createdBy)),
        ConditionExpression: `${generation === undefined ? 'attribute_not_exists(keyGeneration)' : 'keyGeneration = :gen'} AND #role IN (${creatorRoles.map((_, i) => `:r${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#role': 'role' },
        ExpressionAttributeValues: {
          ...(generation === undefined ? {} : { ':gen': generation }),
          ...Object.fromEntries(creatorRoles.map((r, i) => [`:r${i}`, r])),
        },
      },
    };
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            creatorCheck,
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
    } catch (error) {
      if (isConditionFailure(error))
        throw new ConflictError('Your membership changed meanwhile; reload and retry.', 'membership-changed');
      throw error;
    }
  }

  async getApiKey(scope: TenantScope, keyId: string): Promise<ApiKeyRecord | undefined> {
    const db = await this.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({ TableName: this.table, Key: tenantKey(scope, apiKeySk(keyId)) }),
    );
    return Item ? stripKeys<ApiKeyRecord>(Item) : undefined;
  }

  async listApiKeys(scope: TenantScope, page: { cursor?: string; limit: number }, createdBy?: string) {
    return this.page<ApiKeyRecord>(scope, APIKEY_SK_PREFIX, page, createdBy);
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
    for await (const item of queryAll(db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': scope.tenantId },
      ConsistentRead: true,
    }))
      items.push(item);
    return items;
  }

  /**
   * Tenant deletion's first cut: the items that let someone act on the tenant (memberships, API keys,
   * invitations), except the `keepMembers`' memberships.
   */
  deleteAccessItems(scope: TenantScope, keepMembers: readonly string[]): Promise<number> {
    return this.deleteTenantItems(scope, keepMembers, ACCESS_ITEM_SK_PREFIXES);
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
    for await (const items of queryPages(db, {
      TableName: this.table,
      KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': scope.tenantId, ...(prefix ? { ':prefix': prefix } : {}) },
      ProjectionExpression: 'pk, sk',
      ConsistentRead: true,
    })) {
      const doomed = items.map((i) => i.sk as string).filter((sk) => !keep.has(sk));
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
    }
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
