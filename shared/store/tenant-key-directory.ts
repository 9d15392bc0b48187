import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { TenantKeyDirectory } from '../crypto/envelope.js';
import { TenantKeyUnavailableError } from '../crypto/tenant-key-unavailable.js';
import { BoundedCache, estimateBytes } from '../domain/bounded-cache.js';
import { TENANT_SK } from '../domain/item-layout.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { registerCache } from '../observability.js';
import type { TenantDataClients } from './tenant-data-client.js';

export interface TenantItemKeyDirectoryOptions {
  clients: TenantDataClients;
  tableName: string;
  /** How long a looked-up ARN is reused; a tenant's key ARN never changes, so this only bounds staleness after deletion. */
  ttlMs?: number;
  maxTenants?: number;
  /** Bound in estimated bytes (about 300 bytes a tenant). */
  maxBytes?: number;
  now?: () => number;
}

/**
 * Tenant key ARNs read from the tenant item (`{pk: tenantId, sk: 'TENANT'}`, attribute `keyArn`) through the
 * tenant-scoped client, cached per tenant in the warm function.
 */
export class TenantItemKeyDirectory implements TenantKeyDirectory {
  readonly #options: Required<TenantItemKeyDirectoryOptions>;
  readonly #cache: BoundedCache<{ keyArn: string; expiresAt: number }>;

  constructor(options: TenantItemKeyDirectoryOptions) {
    this.#options = { ttlMs: 5 * 60_000, maxTenants: 1000, maxBytes: 2 ** 19, now: Date.now, ...options };
    this.#cache = new BoundedCache<{ keyArn: string; expiresAt: number }>({
      name: 'tenant key ARNs',
      maxEntries: this.#options.maxTenants,
      maxBytes: this.#options.maxBytes,
      sizeOf: estimateBytes,
    });
    registerCache(this.#cache);
  }

  /**
   * Keeps the key ARN a tenant item read elsewhere named (the authorizer reads that item for every tenant
   * request); a tenant's key never changes while it exists.
   */
  remember(scope: TenantScope, keyArn: string): void {
    if (!keyArn) return;
    this.#cache.set(scope.tenantId, { keyArn, expiresAt: this.#options.now() + this.#options.ttlMs });
  }

  /** The tenant's key ARN; TenantKeyUnavailableError if the tenant item names none. */
  async keyArnFor(scope: TenantScope): Promise<string> {
    const now = this.#options.now();
    const cached = this.#cache.get(scope.tenantId, (entry) => entry.expiresAt > now);
    if (cached) return cached.keyArn;
    const client = await this.#options.clients.forScope(scope);
    const { Item } = await client.send(
      new GetCommand({
        TableName: this.#options.tableName,
        Key: tenantKey(scope, TENANT_SK),
        ProjectionExpression: '#keyArn',
        ExpressionAttributeNames: { '#keyArn': 'keyArn' },
        // Right after tenant creation an eventually consistent read could miss the item.
        ConsistentRead: true,
      }),
    );
    const keyArn = Item?.keyArn;
    if (typeof keyArn !== 'string' || !keyArn) throw new TenantKeyUnavailableError();
    this.#cache.set(scope.tenantId, { keyArn, expiresAt: now + this.#options.ttlMs });
    return keyArn;
  }
}
