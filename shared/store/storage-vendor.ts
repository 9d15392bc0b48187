import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  type STSClient,
} from '@aws-sdk/client-sts';
import { newVendId } from '../domain/ids.js';
import { partitionOfRegion } from '../domain/partitions.js';
import {
  EXTERNAL_MAX_CREDENTIAL_SECONDS,
  PolicyTooLargeError,
  packedSessionPolicy,
  type StorageAccess,
  sessionPolicyFor,
} from '../domain/storage-policy.js';
import type { CredentialKind } from '../domain/storage-revocation.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { HttpProblemError, isTransientAwsError, ServiceUnavailableError } from '../errors.js';
import { logger, metrics } from '../observability.js';
import type { StorageLocationRecord } from './storage-store.js';
import type { TenantStorageRoleRecord } from './tenant-storage-access.js';

/** Temporary S3 credentials as the API returns them (the secret leaves this module only in the response). */
export interface VendedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601. */
  expiration: string;
}

/** Who a vend is for, as the STS session name tells CloudTrail: the user, or the API key acting for them. */
export interface VendActor {
  kind: 'user' | 'api-key';
  /** The user id, or the API key id. */
  id: string;
}

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
  /** External locations: the tenant's ExternalId for the customer's role. */
  externalId?: string;
  /** The latest revocation cutoff that applies to this user and location, if any (ISO 8601). */
  revokedBefore?: string;
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

/** The location's root makes a session policy too large for STS: a clear 400 naming the location. */
export class SessionPolicyTooLargeError extends HttpProblemError {
  constructor(cause: unknown) {
    super(400, 'policy-too-large', 'Bad Request', {
      detail:
        'The session policy for this location would exceed what STS accepts; no credentials were issued.',
      errors: [{ path: 'body.location', message: 'The location root is too long for a session policy' }],
      cause,
    });
    this.name = 'SessionPolicyTooLargeError';
  }
}

/** The customer's role refused us (trust policy or ExternalId): not retryable, nothing issued. */
export class ExternalRoleDeniedError extends HttpProblemError {
  constructor(cause: unknown) {
    super(424, 'external-role-denied', 'Failed Dependency', {
      detail:
        "The location's role could not be assumed: its trust policy must admit the Strongroom vending role with this tenant's ExternalId, sts:TagSession and sts:SetSourceIdentity.",
      cause,
    });
    this.name = 'ExternalRoleDeniedError';
  }
}

/** STS failed; fail closed with 503 + Retry-After (never any other credentials). */
export class CredentialVendingUnavailableError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super(5, 'STS could not issue credentials; nothing was issued. Try again.', cause);
    this.name = 'CredentialVendingUnavailableError';
  }
}

/** A credential lifetime the location's kind does not allow: 400 naming the field. */
export class CredentialLifetimeError extends HttpProblemError {
  constructor() {
    super(400, 'validation-error', 'Bad Request', {
      detail: `Credentials for an external location last at most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} seconds: they are sessions of your own role and cannot be revoked, only left to expire.`,
      errors: [
        {
          path: 'body.durationSeconds',
          message: `At most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} for an external location`,
        },
      ],
    });
    this.name = 'CredentialLifetimeError';
  }
}

interface CacheEntry {
  credentials: VendedCredentials;
  vendId: string;
  packedPolicySize?: number;
  issuedAtMs: number;
  expiresAtMs: number;
  tenantId: string;
  userId: string;
  locationId: string;
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
   * The managed bucket's own KMS key: managed-location session policies allow S3 to use it on the session's
   * behalf (SSE-KMS). External locations never get a KMS statement: their keys are the customer's.
   */
  storageKeyArn: string;
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

/**
 * Cache key of vended credentials: never shared across tenants, users, actors (a user's sessions and each of
 * their API keys: the STS session name names one), locations, access or lifetimes.
 */
export function credentialCacheKey(k: {
  tenantId: string;
  userId: string;
  actor?: VendActor;
  locationId: string;
  access: StorageAccess;
  durationSeconds: number;
}): string {
  const actor = k.actor ?? { kind: 'user', id: k.userId };
  return [k.tenantId, k.userId, `${actor.kind}:${actor.id}`, k.locationId, k.access, k.durationSeconds].join(
    '|',
  );
}

const bareId = (id: string) => id.replace(/^[a-z]+_/, '');

/**
 * The STS session name of one vend, the only caller context AWS carries into S3 data events:
 * `<tenant>.<u|k><user or API key>.<vend>` with the ids' prefixes dropped (64 characters for
 * server-generated ids). The vend id is kept whole; anything longer is cut from the tenant and actor part.
 */
export function roleSessionName(tenantId: string, actor: VendActor, vendId: string): string {
  const safe = (text: string) => text.replace(/[^\w+=,.@-]/g, '-');
  const tail = `.${safe(bareId(vendId))}`;
  const head = safe(`${bareId(tenantId)}.${actor.kind === 'api-key' ? 'k' : 'u'}${bareId(actor.id)}`);
  return head.slice(0, Math.max(0, 64 - tail.length)) + tail;
}

/** The vend id a session name carries (its last dot-separated part), as `v_…`. */
export function vendIdOfSessionName(sessionName: string): string {
  return `v_${sessionName.slice(sessionName.lastIndexOf('.') + 1)}`;
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
  readonly #p: Required<Omit<StorageCredentialVendorProps, 'sleep' | 'now'>> & {
    now: () => number;
    sleep: (ms: number) => Promise<void>;
  };
  readonly #cache = new Map<string, CacheEntry>();
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
    const cached = this.#cache.get(key);
    if (cached && this.#usable(cached, cutoffMs)) {
      // Refresh recency for the bounded cache's eviction order.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      metrics.addMetric('StorageCredentialCacheHit', MetricUnit.Count, 1);
      return { credentials: cached.credentials, cached: true, ...this.#ids(cached) };
    }
    metrics.addMetric('StorageCredentialCacheMiss', MetricUnit.Count, 1);
    if (cached) this.#cache.delete(key);
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#assume(request, policy, cutoffMs).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    let entry = await pending;
    // A shared call started before a revocation this request already knows about: not for us.
    if (cutoffMs !== undefined && entry.issuedAtMs < cutoffMs)
      entry = await this.#assume(request, policy, cutoffMs);
    this.#store(key, entry);
    return { credentials: entry.credentials, cached: false, ...this.#ids(entry) };
  }

  #ids(entry: CacheEntry): Pick<VendResult, 'vendId' | 'packedPolicySize'> {
    return {
      vendId: entry.vendId,
      ...(entry.packedPolicySize !== undefined ? { packedPolicySize: entry.packedPolicySize } : {}),
    };
  }

  /**
   * Forgets cached credentials of a tenant: of one user, of one location, or (neither) all of them. Called
   * for revocations made in this process; other warm functions learn of them from the tenant's list.
   */
  drop(tenantId: string, subject: { userId?: string; locationId?: string } = {}): void {
    for (const [key, entry] of this.#cache) {
      if (entry.tenantId !== tenantId) continue;
      if (subject.userId !== undefined && entry.userId !== subject.userId) continue;
      if (subject.locationId !== undefined && entry.locationId !== subject.locationId) continue;
      this.#cache.delete(key);
    }
  }

  /** Number of cached credentials (for tests and the bench). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  #usable(entry: CacheEntry, cutoffMs: number | undefined): boolean {
    const now = this.#p.now();
    if (entry.expiresAtMs - this.#p.refreshMarginMs <= now) return false;
    // Half its life gone: a fresh one serves the client better.
    if (now - entry.issuedAtMs >= (entry.expiresAtMs - entry.issuedAtMs) / 2) return false;
    return cutoffMs === undefined || entry.issuedAtMs >= cutoffMs;
  }

  #policyFor(request: VendRequest): string {
    try {
      return packedSessionPolicy(
        sessionPolicyFor({
          bucket: request.location.bucket,
          prefix: request.location.prefix,
          access: request.access,
          // The bucket's partition, from its region (an external bucket may be in another region).
          partition: partitionOfRegion(request.location.region),
          ...(request.location.kind === 'managed' ? { kmsKeyArn: this.#p.storageKeyArn } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof PolicyTooLargeError) throw new SessionPolicyTooLargeError(error);
      throw error;
    }
  }

  async #assume(request: VendRequest, policy: string, cutoffMs: number | undefined): Promise<CacheEntry> {
    const { location, scope, access } = request;
    const { tenantId, userId } = scope;
    const vendId = newVendId();
    // A user revoked this very second: wait for the cutoff, or STS would issue credentials the deny covers.
    if (cutoffMs !== undefined && cutoffMs > this.#p.now())
      await this.#p.sleep(Math.min(2000, cutoffMs - this.#p.now()));
    const external = location.kind === 'external';
    if (external && (!location.roleArn || !request.externalId))
      throw new Error('an external location needs its role ARN and the tenant ExternalId');
    if (!external && !request.role) throw new Error("a managed location needs the tenant's storage role");
    const input: AssumeRoleCommandInput = {
      RoleArn: external ? location.roleArn : request.role!.arn,
      RoleSessionName: roleSessionName(tenantId, request.actor ?? { kind: 'user', id: userId }, vendId),
      DurationSeconds: request.durationSeconds,
      Policy: policy,
      Tags: [
        { Key: 'TenantId', Value: tenantId },
        { Key: 'UserId', Value: userId },
        { Key: 'Access', Value: access },
        // Managed only: the tenant role's trust demands it, and a location's deletion denies by it. Customers'
        // trust policies were written for the three tags above.
        ...(external ? [] : [{ Key: 'LocationId', Value: location.locationId }]),
      ],
      SourceIdentity: userId,
      ...(external ? { ExternalId: request.externalId } : {}),
    };
    // Recorded before the call: STS's TokenIssueTime is never earlier, so the revocation check stays safe.
    const issuedAtMs = this.#p.now();
    // Before the credential exists, so a revocation can never miss it.
    await this.#p.recordIssue(
      scope,
      userId,
      external ? 'external' : 'managed',
      issuedAtMs + request.durationSeconds * 1000,
    );
    const response = await this.#send(input, external, request.role);
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new CredentialVendingUnavailableError(new Error('STS returned incomplete credentials'));
    }
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

  #store(key: string, entry: CacheEntry) {
    this.#cache.delete(key);
    if (this.#p.maxCacheEntries === 0) return;
    while (this.#cache.size >= this.#p.maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, entry);
  }
}
