import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  INSTANCE_SK_PREFIX,
  instanceNameSk,
  instanceSk,
  LOCATION_SK_PREFIX,
  locationSk,
  STORAGE_EXTERNAL_ID_SK,
  storageNodeKey,
} from '../domain/item-layout.js';
import { ancestorPrefixes, formatStorageRoot, type StorageRoot } from '../domain/storage-roots.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure } from './conditions.js';
import { stripKeys } from './identity-records.js';
import { queryPage } from './pagination.js';
import { liftStorageFence, setStorageFence } from './storage-fence.js';
import type { TenantDataClients } from './tenant-data-client.js';

/** A registered storage location of a tenant. */
export interface StorageLocationRecord {
  locationId: string;
  kind: 'managed' | 'external';
  /** Canonical `s3://bucket[/prefix]`. */
  root: string;
  bucket: string;
  prefix: string;
  region: string;
  /**
   * External only: the customer's role, assumed with the tenant's ExternalId; for an S3-compatible store, the
   * store's role for its STS AssumeRole (no ExternalId).
   */
  roleArn?: string;
  /** S3-compatible stores only: the store's S3 endpoint (a normalised origin). AWS S3 when absent. */
  endpoint?: string;
  /** S3-compatible stores only: the store's STS endpoint; without it the location is signing-only. */
  stsEndpoint?: string;
  /** S3-compatible stores only: buckets in the path (`endpoint/bucket/key`) rather than the host name. */
  pathStyle?: boolean;
  /** S3-compatible stores only: the store's key pair, Encryption SDK ciphertext (StoreKeyPairs); never returned. */
  storeKeyCiphertext?: string;
  /** S3-compatible stores only: when the key pair was last set. */
  storeKeyUpdatedAt?: string;
  /** External SSE-KMS buckets only: the key new objects are written under (sessions may have S3 use it). */
  kmsKeyArn?: string;
  /** External only: older keys existing objects are encrypted under (sessions may have S3 decrypt with them). */
  previousKmsKeyArns?: string[];
  createdAt: string;
  createdBy: string;
  /** Instances whose default storage lies here; a location in use cannot be deleted. */
  instanceCount?: number;
  /** Epoch ms: set while the location is being deleted; vends re-reading it refuse their credentials. */
  storageFenceUntil?: number;
}

/** A LaminDB-style instance: a name and a default storage root inside one of the tenant's locations. */
export interface InstanceRecord {
  instanceId: string;
  name: string;
  defaultStorageRoot: string;
  storageLocationId: string;
  createdAt: string;
  createdBy: string;
}

/**
 * Which part of a registration transaction refused it: the root's own node (`root-taken`: registered
 * already, or another tenant has a root inside it), an ancestor's node (`overlaps-other-tenant`: another
 * tenant's root contains it), or the tenant's ExternalId item (a concurrent first registration).
 */
export type RegistrationConflict = 'root-taken' | 'overlaps-other-tenant' | 'external-id-changed';

/** A registration refused by one of its conditions. */
export class StorageRegistrationConflictError extends ConflictError {
  readonly reason: RegistrationConflict;
  constructor(reason: RegistrationConflict, detail: string) {
    super(detail, reason === 'external-id-changed' ? 'conflict' : 'storage-root-conflict');
    this.name = 'StorageRegistrationConflictError';
    this.reason = reason;
  }
}

export interface StorageStoreProps {
  /** Scoped clients: tenant items are read (and, where no global item is involved, written) through them. */
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  /** Function-role client for the transactions that include global registry items. */
  platformClient: DynamoDBDocumentClient;
  tenantDataTable: string;
  identityTable: string;
}

/**
 * Instances, storage locations and the global root registry.
 *
 * The registry makes "a root belongs to one tenant and never overlaps another tenant's root" hold under
 * concurrency with O(depth) conditional writes and no reads: every path of a bucket that matters has one
 * node item. Registering root R for tenant T, in ONE transaction:
 *  - node(R): claimed (`owner = T`) only if unclaimed and if no other tenant has a root below R
 *    (`descTenants` ⊆ {T});
 *  - node(A) for every proper ancestor A: only if not owned by another tenant; T is added to `descTenants`
 *    and T's per-tenant counter `n_T` is incremented.
 * Any other tenant's root S that overlaps R is either an ancestor-or-self of R (then node(S) is in this
 * transaction with `owner ≠ T`) or lies below R (then node(R) lists S's tenant); two concurrent
 * registrations that overlap both write the node of the upper one, so DynamoDB serialises them. Removal
 * decrements `n_T` in the same transaction and drops T from `descTenants` afterwards only when `n_T = 0`
 * (conditional), so the set is always a superset of the truth: a crash in between can only refuse, never
 * admit, an overlapping registration.
 *
 * These global items have a partition key that is no tenant's id, so the transactions that include them
 * run on the function-role client (the tenant-scoped credentials can reach only the tenant's partition);
 * the tenant items in them are keyed with `tenantKey(scope, …)` all the same.
 */
export class StorageStore {
  readonly #p: StorageStoreProps;

  constructor(props: StorageStoreProps) {
    this.#p = props;
  }

  /** The tenant's ExternalId for customer roles, if one was generated. */
  async getExternalId(scope: TenantScope): Promise<string | undefined> {
    const db = await this.#p.tenantClients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#p.tenantDataTable,
        Key: tenantKey(scope, STORAGE_EXTERNAL_ID_SK),
        ConsistentRead: true,
      }),
    );
    return Item?.externalId as string | undefined;
  }

  /**
   * The tenant's ExternalId, created on first use (conditional put; a concurrent creator's value wins and
   * is returned). It is generated once per tenant and never changes: customers put it in trust policies.
   */
  async getOrCreateExternalId(scope: TenantScope, candidate: string, createdAt: string): Promise<string> {
    const existing = await this.getExternalId(scope);
    if (existing) return existing;
    const db = await this.#p.tenantClients.forScope(scope);
    try {
      await db.send(
        new PutCommand({
          TableName: this.#p.tenantDataTable,
          Item: { ...tenantKey(scope, STORAGE_EXTERNAL_ID_SK), externalId: candidate, createdAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return candidate;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const winner = await this.getExternalId(scope);
      if (!winner) throw error;
      return winner;
    }
  }

  /**
   * A managed location (`tenants/<tenantId>/<locationId>` in the platform bucket) with its audit event.
   * No registry nodes: the platform bucket is closed to external registrations and managed prefixes are
   * fresh ids under the tenant's own prefix, so they can neither collide nor nest. Tenant-scoped client only.
   */
  async createManagedLocation(scope: TenantScope, location: StorageLocationRecord, audit: TransactItem) {
    const db = await this.#p.tenantClients.forScope(scope);
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.#p.tenantDataTable,
              Item: { ...tenantKey(scope, locationSk(location.locationId)), ...location, instanceCount: 0 },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          audit,
        ],
      }),
    );
  }

  /**
   * An external location: registry nodes, the location, the tenant's ExternalId (created with the first
   * external location, else checked unchanged) and the audit event, in one transaction.
   */
  async createExternalLocation(
    scope: TenantScope,
    location: StorageLocationRecord,
    root: StorageRoot,
    externalId: { value: string; isNew: boolean; createdAt: string },
    audit: TransactItem,
  ): Promise<void> {
    const tenantId = scope.tenantId;
    const counter = `n_${tenantId}`;
    const ancestors = ancestorPrefixes(root);
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.#p.identityTable,
          Key: storageNodeKey(root.bucket, root.prefix, location.endpoint),
          UpdateExpression: 'SET #owner = :t, locationId = :loc',
          ConditionExpression:
            'attribute_not_exists(#owner) AND (attribute_not_exists(descTenants) OR (size(descTenants) = :one AND contains(descTenants, :t)))',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':t': tenantId, ':loc': location.locationId, ':one': 1 },
        },
      },
      ...ancestors.map(
        (prefix): TransactItem => ({
          Update: {
            TableName: this.#p.identityTable,
            Key: storageNodeKey(root.bucket, prefix, location.endpoint),
            UpdateExpression: 'ADD descTenants :tset, #n :one',
            ConditionExpression: 'attribute_not_exists(#owner) OR #owner = :t',
            ExpressionAttributeNames: { '#owner': 'owner', '#n': counter },
            ExpressionAttributeValues: { ':t': tenantId, ':tset': new Set([tenantId]), ':one': 1 },
          },
        }),
      ),
      {
        Put: {
          TableName: this.#p.tenantDataTable,
          Item: { ...tenantKey(scope, locationSk(location.locationId)), ...location, instanceCount: 0 },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      externalId.isNew
        ? {
            Put: {
              TableName: this.#p.tenantDataTable,
              Item: {
                ...tenantKey(scope, STORAGE_EXTERNAL_ID_SK),
                externalId: externalId.value,
                createdAt: externalId.createdAt,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          }
        : {
            ConditionCheck: {
              TableName: this.#p.tenantDataTable,
              Key: tenantKey(scope, STORAGE_EXTERNAL_ID_SK),
              ConditionExpression: 'externalId = :x',
              ExpressionAttributeValues: { ':x': externalId.value },
            },
          },
      audit,
    ];
    try {
      await this.#p.platformClient.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      // Item 0 is the root's node, then one per ancestor, then (past the location) the ExternalId check.
      const rootTaken = isConditionFailure(error, 0);
      if (rootTaken || isConditionFailure(error, ...ancestors.map((_, i) => 1 + i))) {
        throw new StorageRegistrationConflictError(
          rootTaken ? 'root-taken' : 'overlaps-other-tenant',
          `${formatStorageRoot(root)} is already registered, or contains or lies inside a root registered by another tenant.`,
        );
      }
      if (isConditionFailure(error, 2 + ancestors.length))
        throw new StorageRegistrationConflictError(
          'external-id-changed',
          'The tenant ExternalId changed meanwhile.',
        );
      throw error;
    }
  }

  async getLocation(
    scope: TenantScope,
    locationId: string,
    options: { consistent?: boolean } = {},
  ): Promise<StorageLocationRecord | undefined> {
    const db = await this.#p.tenantClients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#p.tenantDataTable,
        Key: tenantKey(scope, locationSk(locationId)),
        ...(options.consistent ? { ConsistentRead: true } : {}),
      }),
    );
    return Item ? stripKeys<StorageLocationRecord>(Item) : undefined;
  }

  /**
   * Replaces an S3-compatible store's key pair ciphertext, with its audit event, in one transaction; 404 when
   * the location is gone (or is not a store's).
   */
  async replaceStoreKey(
    scope: TenantScope,
    locationId: string,
    key: { ciphertext: string; updatedAt: string },
    audit: TransactItem,
  ): Promise<void> {
    const db = await this.#p.tenantClients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#p.tenantDataTable,
                Key: tenantKey(scope, locationSk(locationId)),
                UpdateExpression: 'SET storeKeyCiphertext = :c, storeKeyUpdatedAt = :u',
                ConditionExpression: 'attribute_exists(pk) AND attribute_exists(storeKeyCiphertext)',
                ExpressionAttributeValues: { ':c': key.ciphertext, ':u': key.updatedAt },
              },
            },
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error, 0)) throw new NotFoundError('No such storage location.');
      throw error;
    }
  }

  /** Fences vending for a location about to be deleted, until `untilMs`; 404 when it is gone already. */
  async fenceLocation(scope: TenantScope, locationId: string, untilMs: number): Promise<void> {
    if (!(await setStorageFence(await this.#locationItem(scope, locationId), untilMs)))
      throw new NotFoundError('No such storage location.');
  }

  /** Lifts a fence set with `untilMs` after the deletion it guarded failed; a no-op otherwise. */
  async liftLocationFence(scope: TenantScope, locationId: string, untilMs: number): Promise<void> {
    await liftStorageFence(await this.#locationItem(scope, locationId), untilMs);
  }

  async #locationItem(scope: TenantScope, locationId: string) {
    return {
      db: await this.#p.tenantClients.forScope(scope),
      table: this.#p.tenantDataTable,
      key: tenantKey(scope, locationSk(locationId)),
    };
  }

  async listLocations(scope: TenantScope, page: { cursor?: string; limit: number }) {
    return this.#list<StorageLocationRecord>(scope, LOCATION_SK_PREFIX, page);
  }

  /** Every location of the tenant (for resolving an `s3://` path to its narrowest root). */
  async allLocations(scope: TenantScope): Promise<StorageLocationRecord[]> {
    const all: StorageLocationRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#list<StorageLocationRecord>(scope, LOCATION_SK_PREFIX, { cursor, limit: 100 });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }

  /**
   * Deletes a location (404 when absent, 409 while an instance uses it) with its audit event; for an
   * external one, releases its registry nodes in the same transaction, then prunes emptied markers.
   */
  async deleteLocation(
    scope: TenantScope,
    location: StorageLocationRecord,
    root: StorageRoot,
    audit: TransactItem,
    options: { evenIfInUse?: boolean } = {},
  ) {
    // Tenant deletion releases every root, instances or not (they go with the tenant).
    const deleteLocation: TransactItem = {
      Delete: {
        TableName: this.#p.tenantDataTable,
        Key: tenantKey(scope, locationSk(location.locationId)),
        ...(options.evenIfInUse
          ? { ConditionExpression: 'attribute_exists(pk)' }
          : {
              ConditionExpression:
                'attribute_exists(pk) AND (attribute_not_exists(instanceCount) OR instanceCount = :zero)',
              ExpressionAttributeValues: { ':zero': 0 },
            }),
      },
    };
    const tenantId = scope.tenantId;
    const counter = `n_${tenantId}`;
    const ancestors = location.kind === 'external' ? ancestorPrefixes(root) : [];
    try {
      if (location.kind === 'managed') {
        const db = await this.#p.tenantClients.forScope(scope);
        await db.send(new TransactWriteCommand({ TransactItems: [deleteLocation, audit] }));
        return;
      }
      await this.#p.platformClient.send(
        new TransactWriteCommand({
          TransactItems: [
            deleteLocation,
            {
              Update: {
                TableName: this.#p.identityTable,
                Key: storageNodeKey(root.bucket, root.prefix, location.endpoint),
                UpdateExpression: 'REMOVE #owner, locationId',
                ConditionExpression: '#owner = :t AND locationId = :loc',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: { ':t': tenantId, ':loc': location.locationId },
              },
            },
            ...ancestors.map(
              (prefix): TransactItem => ({
                Update: {
                  TableName: this.#p.identityTable,
                  Key: storageNodeKey(root.bucket, prefix, location.endpoint),
                  UpdateExpression: 'ADD #n :minus',
                  ConditionExpression: '#n >= :one',
                  ExpressionAttributeNames: { '#n': counter },
                  ExpressionAttributeValues: { ':minus': -1, ':one': 1 },
                },
              }),
            ),
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error, 0)) {
        const still = await this.getLocation(scope, location.locationId);
        if (!still) throw new NotFoundError('No such storage location.');
        throw new ConflictError(
          'An instance uses this storage location as its default storage.',
          'location-in-use',
        );
      }
      throw error;
    }
    for (const prefix of ancestors) await this.#pruneMarker(root.bucket, prefix, tenantId, location.endpoint);
  }

  /**
   * Tenant deletion: removes every location of the tenant, in use by instances or not, releasing external
   * roots' registry nodes, each with the audit event `auditFor` gives. A location already gone is skipped,
   * so a retry after a failure part-way finishes the job. Returns how many were removed.
   */
  async releaseAllLocations(
    scope: TenantScope,
    auditFor: (location: StorageLocationRecord) => TransactItem,
  ): Promise<number> {
    const locations = await this.allLocations(scope);
    let released = 0;
    for (const location of locations) {
      try {
        await this.deleteLocation(
          scope,
          location,
          { bucket: location.bucket, prefix: location.prefix },
          auditFor(location),
          { evenIfInUse: true },
        );
        released++;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    return released;
  }

  // Drops the tenant from a node's descendant set once its counter is zero; refusing is always safe here.
  async #pruneMarker(bucket: string, prefix: string, tenantId: string, store: string | undefined) {
    try {
      await this.#p.platformClient.send(
        new UpdateCommand({
          TableName: this.#p.identityTable,
          Key: storageNodeKey(bucket, prefix, store),
          UpdateExpression: 'DELETE descTenants :tset REMOVE #n',
          ConditionExpression: '#n = :zero',
          ExpressionAttributeNames: { '#n': `n_${tenantId}` },
          ExpressionAttributeValues: { ':tset': new Set([tenantId]), ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Creates an instance (name unique in the tenant) and counts it on its location, with the audit event. */
  async createInstance(scope: TenantScope, instance: InstanceRecord, audit: TransactItem): Promise<void> {
    const db = await this.#p.tenantClients.forScope(scope);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#p.tenantDataTable,
                Item: { ...tenantKey(scope, instanceNameSk(instance.name)), instanceId: instance.instanceId },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.#p.tenantDataTable,
                Item: { ...tenantKey(scope, instanceSk(instance.instanceId)), ...instance },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.#p.tenantDataTable,
                Key: tenantKey(scope, locationSk(instance.storageLocationId)),
                UpdateExpression: 'ADD instanceCount :one',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
            audit,
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error, 0))
        throw new ConflictError(`An instance named ${instance.name} already exists.`, 'instance-exists');
      if (isConditionFailure(error, 2)) throw new NotFoundError('The storage location no longer exists.');
      throw error;
    }
  }

  async listInstances(scope: TenantScope, page: { cursor?: string; limit: number }) {
    return this.#list<InstanceRecord>(scope, INSTANCE_SK_PREFIX, page);
  }

  async #list<T>(scope: TenantScope, prefix: string, page: { cursor?: string; limit: number }) {
    const db = await this.#p.tenantClients.forScope(scope);
    const { items, nextCursor } = await queryPage(
      db,
      { tableName: this.#p.tenantDataTable, pk: scope.tenantId, skPrefix: prefix },
      page,
    );
    return { items: items.map((item) => stripKeys<T>(item)), nextCursor };
  }
}
