import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  apiKeySk,
  INVITATION_SK_PREFIX,
  invitationSk,
  inviteeGsiPk,
  MEMBERSHIP_GSI_SK_PREFIX,
  memberSk,
  sessionKey,
  TENANT_SK,
  userGsiPk,
  userKey,
} from '../domain/item-layout.js';
import { isConditionFailure } from './conditions.js';
import type { SessionRecord, UserRecord } from './identity-records.js';
import { stripKeys } from './identity-records.js';
import { queryAllItems } from './pagination.js';
import type { ApiKeyRecord, InvitationRecord, MemberRecord, TenantRecord } from './tenant-store.js';

export interface MembershipContext {
  member?: MemberRecord;
  tenant?: TenantRecord;
  user?: UserRecord;
}

const API_KEY_TOUCH_MS = 5 * 60_000;

/**
 * The reads the authorizer needs, with platform credentials: it is the one place that looks across
 * tenants, because it is what decides which tenant a request may reach (and mints the TenantScope).
 * At most one read for the credential and one (batched) read for the membership per request.
 */
export class AuthLookups {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: { identity: string; tenantData: string },
  ) {}

  async session(sessionId: string): Promise<SessionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tables.identity,
        Key: sessionKey(sessionId),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<SessionRecord>(Item) : undefined;
  }

  async apiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tables.tenantData,
        Key: { pk: tenantId, sk: apiKeySk(keyId) },
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<ApiKeyRecord>(Item) : undefined;
  }

  async user(userId: string): Promise<UserRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tables.identity,
        Key: userKey(userId),
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<UserRecord>(Item) : undefined;
  }

  /** Membership, tenant and user in one BatchGetItem (strongly consistent, so a removal counts at once). */
  async membership(tenantId: string, userId: string): Promise<MembershipContext> {
    let request: Record<string, { Keys: Record<string, string>[]; ConsistentRead: boolean }> | undefined = {
      [this.tables.tenantData]: {
        Keys: [
          { pk: tenantId, sk: memberSk(userId) },
          { pk: tenantId, sk: TENANT_SK },
        ],
        ConsistentRead: true,
      },
      [this.tables.identity]: { Keys: [userKey(userId)], ConsistentRead: true },
    };
    const context: MembershipContext = {};
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt >= 5) throw new Error('membership lookup left unprocessed keys');
      const result = await this.db.send(new BatchGetCommand({ RequestItems: request }));
      for (const item of Object.values(result.Responses ?? {}).flat()) {
        if (item.sk === TENANT_SK) context.tenant = stripKeys<TenantRecord>(item);
        else if (item.sk === userKey(userId).sk) context.user = stripKeys<UserRecord>(item);
        else context.member = stripKeys<MemberRecord>(item);
      }
      request = result.UnprocessedKeys as typeof request;
    }
    return context;
  }

  /** The user's memberships across tenants (gsi1 of the tenant-data table). */
  membershipsOf(userId: string): Promise<MemberRecord[]> {
    return queryAllItems(
      this.db,
      {
        TableName: this.tables.tenantData,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        ExpressionAttributeValues: { ':pk': userGsiPk(userId), ':prefix': MEMBERSHIP_GSI_SK_PREFIX },
      },
      stripKeys<MemberRecord>,
    );
  }

  /**
   * The user's tenants, each with their membership: the memberships (gsi1), then the tenant items in
   * batches of 100. A tenant whose item is gone (deleted meanwhile) is left out.
   */
  async tenantsOf(userId: string): Promise<{ tenant: TenantRecord; member: MemberRecord }[]> {
    const members = await this.membershipsOf(userId);
    const tenants = new Map<string, TenantRecord>();
    for (let i = 0; i < members.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = members
        .slice(i, i + 100)
        .map((m) => ({ pk: m.tenantId, sk: TENANT_SK }));
      for (let attempt = 0; keys && keys.length > 0; attempt++) {
        if (attempt >= 5) throw new Error('tenant lookup left unprocessed keys');
        const result: BatchGetCommandOutput = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tables.tenantData]: { Keys: keys } } }),
        );
        for (const item of result.Responses?.[this.tables.tenantData] ?? [])
          tenants.set(item.pk as string, stripKeys<TenantRecord>(item));
        keys = result.UnprocessedKeys?.[this.tables.tenantData]?.Keys;
      }
    }
    return members.flatMap((member) => {
      const tenant = tenants.get(member.tenantId);
      return tenant ? [{ tenant, member }] : [];
    });
  }

  /**
   * Unexpired invitations addressed to a (normalised) e-mail address, across tenants (gsi1): what an
   * invitee's session may see before it is a member of anything.
   */
  invitationsTo(email: string, now: number): Promise<InvitationRecord[]> {
    return queryAllItems(
      this.db,
      {
        TableName: this.tables.tenantData,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: {
          ':pk': inviteeGsiPk(email),
          ':prefix': INVITATION_SK_PREFIX,
          ':now': now,
        },
      },
      stripKeys<InvitationRecord>,
    );
  }

  /**
   * One invitation addressed to `email`, read back from its tenant's partition with a strongly consistent
   * read (the index only says which tenant holds it); undefined unless it is there, still addressed to
   * `email` and unexpired.
   */
  async invitationTo(
    email: string,
    invitationId: string,
    now: number,
  ): Promise<InvitationRecord | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tables.tenantData,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk = :sk',
        ExpressionAttributeValues: { ':pk': inviteeGsiPk(email), ':sk': invitationSk(invitationId) },
      }),
    );
    const tenantId = Items?.[0]?.tenantId;
    if (typeof tenantId !== 'string') return undefined;
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tables.tenantData,
        Key: { pk: tenantId, sk: invitationSk(invitationId) },
        ConsistentRead: true,
      }),
    );
    const invitation = Item ? stripKeys<InvitationRecord>(Item) : undefined;
    if (!invitation || invitation.email !== email || invitation.expiresAt <= now) return undefined;
    return invitation;
  }

  /** The names of tenants that exist, by id (one BatchGetItem per 100). */
  async tenantNames(tenantIds: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const unique = [...new Set(tenantIds)];
    for (let i = 0; i < unique.length; i += 100) {
      let request:
        | Record<
            string,
            {
              Keys: Record<string, string>[];
              ProjectionExpression: string;
              ExpressionAttributeNames: Record<string, string>;
            }
          >
        | undefined = {
        [this.tables.tenantData]: {
          Keys: unique.slice(i, i + 100).map((tenantId) => ({ pk: tenantId, sk: TENANT_SK })),
          ProjectionExpression: 'tenantId, #name',
          ExpressionAttributeNames: { '#name': 'name' },
        },
      };
      for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
        if (attempt >= 5) throw new Error('tenant lookup left unprocessed keys');
        const result = await this.db.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of result.Responses?.[this.tables.tenantData] ?? [])
          names.set(String(item.tenantId), String(item.name));
        request = result.UnprocessedKeys as typeof request;
      }
    }
    return names;
  }

  /** Records an API key's last use, at most every five minutes. */
  async touchApiKey(key: ApiKeyRecord, now: number): Promise<void> {
    if (key.lastUsedAt !== undefined && now - key.lastUsedAt < API_KEY_TOUCH_MS) return;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tables.tenantData,
          Key: { pk: key.tenantId, sk: apiKeySk(key.keyId) },
          UpdateExpression: 'SET lastUsedAt = :now',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :threshold)',
          ExpressionAttributeValues: { ':now': now, ':threshold': now - API_KEY_TOUCH_MS },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
