import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig, documentClient, type FunctionRuntime } from '../aws/runtime.js';
import { BoundedCache, bytesFor } from '../domain/bounded-cache.js';
import { type TenantDataTables, tenantDataSessionPolicy } from '../domain/tenant-data-policy.js';
import { assertTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import { registerCache } from '../observability.js';

export interface TenantDataClientsOptions {
  /**
   * The STS client, or how to load it. `tenantDataClientsFor` passes a loader: STS's client (about 21 KiB of
   * a function's init; the query protocol it speaks stays there, hoisted by other clients) then loads with
   * the first tenant whose credentials are not cached, not at cold start, so a request that never reaches a
   * tenant's partition never parses or builds it.
   */
  sts: STSClient | (() => Promise<STSClient>);
  roleArn: string;
  tables: TenantDataTables;
  /** Credentials are refreshed this long before they expire. */
  refreshMarginMs?: number;
  /** Bound on cached tenants per warm function. */
  maxTenants?: number;
  /** Bound in estimated bytes (CLIENT_BYTES a tenant; by default room for maxTenants). */
  maxBytes?: number;
  now?: () => number;
}

/**
 * A scoped DynamoDB document client with its credentials, as measured (heap growth over 500 clients: about
 * 41 KiB each). 500 tenants stay within 23 MiB.
 */
export const CLIENT_BYTES = 44 * 1024;

interface CachedClient {
  client: DynamoDBDocumentClient;
  expiresAt: number;
}

/**
 * DynamoDB clients whose credentials can reach only one tenant's partition: STS AssumeRole on the
 * tenant-data role with a `dynamodb:LeadingKeys` session policy. Cached per tenant while warm, so a bug in
 * a repository still cannot touch another tenant's items.
 */
export class TenantDataClients {
  readonly #options: Required<Omit<TenantDataClientsOptions, 'now'>> & { now: () => number };
  readonly #cache: BoundedCache<CachedClient>;
  readonly #pending = new Map<string, Promise<CachedClient>>();

  constructor(options: TenantDataClientsOptions) {
    const maxTenants = options.maxTenants ?? 500;
    this.#options = {
      refreshMarginMs: 5 * 60_000,
      maxTenants,
      maxBytes: bytesFor(maxTenants, CLIENT_BYTES),
      now: Date.now,
      ...options,
    };
    this.#cache = new BoundedCache<CachedClient>({
      name: 'tenant-scoped DynamoDB clients',
      maxEntries: this.#options.maxTenants,
      maxBytes: this.#options.maxBytes,
      // Not destroyed when evicted: a request in flight may still be using it.
      sizeOf: () => CLIENT_BYTES,
    });
    registerCache(this.#cache);
  }

  /** The scoped client for the scope's tenant. */
  async forScope(scope: TenantScope): Promise<DynamoDBDocumentClient> {
    assertTenantScope(scope);
    const cached = this.#cache.get(
      scope.tenantId,
      (entry) => entry.expiresAt - this.#options.refreshMarginMs > this.#options.now(),
    );
    if (cached) return cached.client;
    let pending = this.#pending.get(scope.tenantId);
    if (!pending) {
      pending = this.#assume(scope.tenantId).finally(() => this.#pending.delete(scope.tenantId));
      this.#pending.set(scope.tenantId, pending);
    }
    return (await pending).client;
  }

  async #assume(tenantId: string): Promise<CachedClient> {
    const { sts } = this.#options;
    const [{ AssumeRoleCommand }, client] = await Promise.all([
      import('@aws-sdk/client-sts'),
      typeof sts === 'function' ? sts() : sts,
    ]);
    const { Credentials } = await client.send(
      new AssumeRoleCommand({
        RoleArn: this.#options.roleArn,
        RoleSessionName: `tenant-data-${tenantId}`.slice(0, 64),
        Policy: JSON.stringify(tenantDataSessionPolicy(tenantId, this.#options.tables)),
        DurationSeconds: 3600,
        Tags: [{ Key: 'TenantId', Value: tenantId }],
      }),
    );
    if (
      !Credentials?.AccessKeyId ||
      !Credentials.SecretAccessKey ||
      !Credentials.SessionToken ||
      !Credentials.Expiration
    ) {
      throw new Error('STS returned no credentials for the tenant-data role');
    }
    const scoped = documentClient(
      new DynamoDBClient(
        clientConfig({
          accessKeyId: Credentials.AccessKeyId,
          secretAccessKey: Credentials.SecretAccessKey,
          sessionToken: Credentials.SessionToken,
          expiration: Credentials.Expiration,
        }),
      ),
    );
    const entry = { client: scoped, expiresAt: Credentials.Expiration.getTime() };
    this.#cache.set(tenantId, entry);
    return entry;
  }
}

/** The function's scoped clients, from its runtime (role and table ARNs). */
export function tenantDataClientsFor(runtime: FunctionRuntime): TenantDataClients {
  return new TenantDataClients({
    sts: async () => runtime.client((await import('@aws-sdk/client-sts')).STSClient),
    roleArn: runtime.require('tenantDataRoleArn'),
    tables: {
      tenantDataTableArn: runtime.require('tenantDataTableArn'),
      auditTableArn: runtime.require('auditTableArn'),
      auditChainTableArn: runtime.require('auditChainTableArn'),
      tableKeyArn: runtime.require('platformKeyArn'),
    },
  });
}
