import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  type STSClient,
} from '@aws-sdk/client-sts';
import { newVendId } from '../domain/ids.js';
import { partitionOfRegion } from '../domain/partitions.js';
import { EXTERNAL_MAX_CREDENTIAL_SECONDS, type StorageAccess } from '../domain/storage-limits.js';
import { PolicyTooLargeError, packedSessionPolicy, sessionPolicyFor } from '../domain/storage-policy.js';
import type { CredentialKind } from '../domain/storage-revocation.js';
import { roleSessionName, type VendActor, type VendedCredentials } from '../domain/storage-sessions.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { isTransientAwsError } from '../errors.js';
import { logger, metrics } from '../observability.js';
import type { StorageLocationRecord } from './storage-store.js';
import {
  CredentialLifetimeError,
  CredentialVendingUnavailableError,
  ExternalRoleDeniedError,
  SessionPolicyTooLargeError,
} from './storage-vend-errors.js';
import type { StoreKeyPair } from './store-key-pairs.js';
import type { TenantStorageRoleRecord } from './tenant-storage-access.js';
import { type CacheEntry, credentialCacheKey, VendedCredentialCache } from './vended-credential-cache.js';

/** Allowed for STS's issue time to trail the record made before the call (latency, retries). */
export const ISSUE_LATENCY_MARGIN_MS = 30_000;
export interface VendRequest {
  /** The caller's verified membership: the credential is for this tenant and user only. */
  scope: TenantScope;
  /** The session or API key asking (default: the scope's user); cached credentials are never shared across actors. */
  actor?: VendActor;
  location: StorageLocationRecord;
  access: StorageAccess;
  durationSeconds: number;
  /** Managed locations: the tenant's own storage role (TenantStorageAccess.ensureRole). */
  role?: TenantStorageRoleRecord;
  /**
   * Managed locations: the tenant's own KMS key (the TENANT item's `keyArn`). Every object the session
   * writes must be SSE-KMS under it; objects written before under the bucket's key stay readable.
   */
  tenantKeyArn?: string;
  /** External locations: the tenant's ExternalId for the customer's role. */
  externalId?: string;
  /** The latest revocation cutoff that applies to this user and location, if any (ISO 8601). */
  revokedBefore?: string;
  /**
   * S3-compatible stores with STS: AssumeRole at `stsEndpoint`, signed with the store's key pair (decrypted
   * only on a cache miss).
   */
  store?: { stsEndpoint: string; keyPair: () => Promise<StoreKeyPair> };
}

export interface VendResult {
  credentials: VendedCredentials;
  /** Whether the warm function's cache answered (no STS call). */
  cached: boolean;
  /** The vend that made this STS session (a cached answer carries the id of the vend that made it). */
  vendId: string;
  /** STS's `PackedPolicySize` for the session (percent of its limit for policy and tags), when it says. */
  packedPolicySize?: number;
}

/** Records, before STS is called, until when a user will hold a credential of a kind (revocation reads it). */
export type IssueRecorder = (
  scope: TenantScope,
  userId: string,
  kind: CredentialKind,
  untilMs: number,
) => Promise<void>;

export interface StorageCredentialVendorProps {
  sts: STSClient;
  /**
   * The managed bucket's own KMS key: managed-location sessions may have S3 decrypt objects written under it
   * before managed objects moved to tenant keys, and write with nothing but the tenant's key. External
   * locations get a KMS statement only for the keys registered with them.
   */
  storageKeyArn: string;
  /**
   * An STS client for an S3-compatible store's STS endpoint, signing with its key pair (guarded connections;
   * shared/connectors/s3-compatible.ts). Without it, store locations vend nothing.
   */
  storeSts?: (endpoint: string, region: string, keyPair: StoreKeyPair) => Pick<STSClient, 'send' | 'destroy'>;
  /** Called on every cache miss before STS (TenantStorageAccess.recordIssue); a failure issues nothing. */
  recordIssue: IssueRecorder;
  /**
   * Cached credentials are served until half their lifetime has passed or until this long before expiry,
   * whichever comes first, so a client always gets most of what it asked for.
   */
  refreshMarginMs?: number;
  /** Bound of the warm function's cache (least recently used entries go first); 0 turns it off. */
  maxCacheEntries?: number;
  /**
   * IAM is eventually consistent: a role younger than this may still be refused by STS, so an AccessDenied
   * on it is retried (with backoff) until the role is this old, and only then is it an error.
   */
  rolePropagationMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const isAccessDenied = (error: unknown) =>
  !isTransientAwsError(error) &&
  error instanceof Error &&
  (error.name === 'AccessDenied' || error.name === 'AccessDeniedException');

/**
 * Vends short-lived S3 credentials with STS AssumeRole: the tenant's own storage role for managed locations,
 * the customer's role (with the tenant's ExternalId, at most 15 minutes) for external ones; always with the
 * session policy from `sessionPolicyFor`, the TenantId/UserId/Access session tags (plus LocationId for
 * managed locations) and the user as SourceIdentity. Caches per (tenant, user, location, access, duration)
 * until five minutes before expiry; a cached credential issued before a revocation that applies to it is
 * never served.
 */
export class StorageCredentialVendor {
  readonly #p: Required<Omit<StorageCredentialVendorProps, 'sleep' | 'now' | 'storeSts'>> & {
    storeSts?: StorageCredentialVendorProps['storeSts'];
    now: () => number;
    sleep: (ms: number) => Promise<void>;
  };
  readonly #cache: VendedCredentialCache;
  readonly #pending = new Map<string, Promise<CacheEntry>>();

  constructor(props: StorageCredentialVendorProps) {
    this.#p = {
      refreshMarginMs: 5 * 60_000,
      maxCacheEntries: 2000,
      rolePropagationMs: 20_000,
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...props,
    };
    this.#cache = new VendedCredentialCache({
      refreshMarginMs: this.#p.refreshMarginMs,
      maxEntries: this.#p.maxCacheEntries,
      now: this.#p.now,
    });
  }

  /** Credentials for one request; the session policy is checked against STS's size limit before any call. */
  async vend(request: VendRequest): Promise<VendResult> {
    const { scope, location } = request;
    if (location.kind === 'external' && request.durationSeconds > EXTERNAL_MAX_CREDENTIAL_SECONDS)
      throw new CredentialLifetimeError();
    const key = credentialCacheKey({
      tenantId: scope.tenantId,
      userId: scope.userId,
      ...(request.actor ? { actor: request.actor } : {}),
      locationId: location.locationId,
      access: request.access,
      durationSeconds: request.durationSeconds,
    });
    const policy = this.#policyFor(request);
    const cutoffMs = request.revokedBefore ? Date.parse(request.revokedBefore) : undefined;
    const cached = this.#cache.take(key, cutoffMs);
    if (cached) {
      metrics.addMetric('StorageCredentialCacheHit', MetricUnit.Count, 1);
      return { credentials: cached.credentials, cached: true, ...this.#ids(cached) };
    }
    metrics.addMetric('StorageCredentialCacheMiss', MetricUnit.Count, 1);
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#assume(request, policy, cutoffMs).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    let entry = await pending;
    // A shared call started before a revocation this request already knows about: not for us.
    if (cutoffMs !== undefined && entry.issuedAtMs < cutoffMs)
      entry = await this.#assume(request, policy, cutoffMs);
    this.#cache.put(key, entry);
    return { credentials: entry.credentials, cached: false, ...this.#ids(entry) };
  }

  #ids(entry: CacheEntry): Pick<VendResult, 'vendId' | 'packedPolicySize'> {
    return {
      vendId: entry.vendId,
      ...(entry.packedPolicySize !== undefined ? { packedPolicySize: entry.packedPolicySize } : {}),
    };
  }

  /** Forgets cached credentials of a tenant: of one user, of one location, or (neither) all of them. */
  drop(tenantId: string, subject: { userId?: string; locationId?: string } = {}): void {
    this.#cache.drop(tenantId, subject);
  }

  /** Number of cached credentials (for tests and the bench). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  #policyFor(request: VendRequest): string {
    try {
      return packedSessionPolicy(
        sessionPolicyFor({
          bucket: request.location.bucket,
          prefix: request.location.prefix,
          access: request.access,
          // The bucket's partition, from its region (an external bucket may be in another region); S3-compatible
          // stores read AWS's own ARN form (arn:aws:s3:::bucket/key).
          partition: request.location.endpoint ? 'aws' : partitionOfRegion(request.location.region),
          ...(request.location.kind === 'managed'
            ? {
                kmsKeyArn: this.#managedKey(request),
                previousKmsKeyArns: [this.#p.storageKeyArn],
                enforceKmsKey: true,
              }
            : {
                ...(request.location.kmsKeyArn ? { kmsKeyArn: request.location.kmsKeyArn } : {}),
                ...(request.location.previousKmsKeyArns
                  ? { previousKmsKeyArns: request.location.previousKmsKeyArns }
                  : {}),
              }),
        }),
      );
    } catch (error) {
      if (error instanceof PolicyTooLargeError) throw new SessionPolicyTooLargeError(error);
      throw error;
    }
  }

  #managedKey(request: VendRequest): string {
    if (!request.tenantKeyArn) throw new Error("a managed location needs the tenant's key");
    return request.tenantKeyArn;
  }

  async #assume(request: VendRequest, policy: string, cutoffMs: number | undefined): Promise<CacheEntry> {
    const { location, scope, access } = request;
    const { tenantId, userId } = scope;
    const vendId = newVendId();
    // A user revoked this very second: wait for the cutoff, or STS would issue credentials the deny covers.
    if (cutoffMs !== undefined && cutoffMs > this.#p.now())
      await this.#p.sleep(Math.min(2000, cutoffMs - this.#p.now()));
    const external = location.kind === 'external';
    const store = location.endpoint !== undefined;
    if (external && !store && (!location.roleArn || !request.externalId))
      throw new Error('an external location needs its role ARN and the tenant ExternalId');
    if (!external && !request.role) throw new Error("a managed location needs the tenant's storage role");
    const common = {
      RoleSessionName: roleSessionName(tenantId, request.actor ?? { kind: 'user', id: userId }, vendId),
      DurationSeconds: request.durationSeconds,
      Policy: policy,
    };
    const input: AssumeRoleCommandInput = store
      ? // RoleArn is optional at a store (MinIO ignores it); the SDK's type insists, its serializer does not.
        ({ ...(location.roleArn ? { RoleArn: location.roleArn } : {}), ...common } as AssumeRoleCommandInput)
      : {
          RoleArn: external ? location.roleArn : request.role!.arn,
          ...common,
          Tags: [
            { Key: 'TenantId', Value: tenantId },
            { Key: 'UserId', Value: userId },
            { Key: 'Access', Value: access },
            // Managed only: the tenant role's trust demands it, and a location's deletion denies by it.
            // Customers' trust policies were written for the three tags above.
            ...(external ? [] : [{ Key: 'LocationId', Value: location.locationId }]),
          ],
          SourceIdentity: userId,
          ...(external ? { ExternalId: request.externalId } : {}),
        };
    // Recorded before the call: STS's TokenIssueTime is never earlier, so the revocation check stays safe.
    const issuedAtMs = this.#p.now();
    // Before the credential exists, so a revocation can never miss it.
    // STS counts the duration from its own issue time, after this call's latency (and any propagation
    // retries): the record allows a margin for that, and is moved forward below if STS still went past it,
    // so the expiry a revocation reports is never earlier than the credential's.
    const kind = external ? 'external' : 'managed';
    const recordedUntil = issuedAtMs + request.durationSeconds * 1000 + ISSUE_LATENCY_MARGIN_MS;
    await this.#p.recordIssue(scope, userId, kind, recordedUntil);
    const response = store
      ? await this.#sendToStore(request, input)
      : await this.#send(input, external, request.role);
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new CredentialVendingUnavailableError(new Error('STS returned incomplete credentials'));
    }
    if (c.Expiration.getTime() > recordedUntil)
      await this.#p.recordIssue(scope, userId, kind, c.Expiration.getTime());
    const packedPolicySize = response.PackedPolicySize;
    if (packedPolicySize !== undefined)
      metrics.addMetric('StoragePackedPolicySize', MetricUnit.Percent, packedPolicySize);
    return {
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration.toISOString(),
      },
      vendId,
      ...(packedPolicySize !== undefined ? { packedPolicySize } : {}),
      issuedAtMs,
      expiresAtMs: c.Expiration.getTime(),
      tenantId,
      userId,
      locationId: location.locationId,
    };
  }

  /**
   * A session of an S3-compatible store: AssumeRole at its STS endpoint, signed with its key pair (decrypted
   * here, on a cache miss only). The store's role if it has one; no session tags, SourceIdentity or
   * ExternalId: stores implement only part of STS (MinIO has none of them), and the key pair, not an AWS
   * trust policy, is what admits us.
   */
  async #sendToStore(request: VendRequest, input: AssumeRoleCommandInput): Promise<AssumeRoleCommandOutput> {
    if (!request.store || !this.#p.storeSts)
      throw new Error('a store location needs its STS endpoint, its key pair and a store STS client');
    const sts = this.#p.storeSts(
      request.store.stsEndpoint,
      request.location.region,
      await request.store.keyPair(),
    );
    try {
      return await sts.send(new AssumeRoleCommand(input));
    } catch (error) {
      throw this.#mapStsError(error, true);
    } finally {
      sts.destroy();
    }
  }

  /** AssumeRole; a tenant role IAM may not have propagated yet is retried until it is old enough. */
  async #send(
    input: AssumeRoleCommandInput,
    external: boolean,
    role: TenantStorageRoleRecord | undefined,
  ): Promise<AssumeRoleCommandOutput> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.#p.sts.send(new AssumeRoleCommand(input));
      } catch (error) {
        const settlesAt = role ? role.createdAt + this.#p.rolePropagationMs : 0;
        if (!external && isAccessDenied(error) && this.#p.now() + delay <= settlesAt) {
          await this.#p.sleep(delay);
          continue;
        }
        throw this.#mapStsError(error, external);
      }
    }
  }

  #mapStsError(error: unknown, external: boolean): Error {
    const name = error instanceof Error ? error.name : 'unknown';
    logger.warn('AssumeRole failed', { errorName: name, external });
    if (name === 'PackedPolicyTooLargeException') return new SessionPolicyTooLargeError(error);
    if (external && isAccessDenied(error)) return new ExternalRoleDeniedError(error);
    return new CredentialVendingUnavailableError(error);
  }
}
