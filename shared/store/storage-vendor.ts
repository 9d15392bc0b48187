import {
  DeleteRolePolicyCommand,
  IAMClient,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  type STSClient,
} from '@aws-sdk/client-sts';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { clientConfig, platformDynamo } from '../aws/clients.js';
import { requireEnv } from '../aws/config.js';
import {
  PolicyTooLargeError,
  REVOCATION_POLICY_NAME,
  type RevocationEntry,
  type StorageAccess,
  addRevocation,
  packedSessionPolicy,
  pruneRevocations,
  revocationCutoff,
  revocationOf,
  revocationPolicy,
  revokedBefore,
  sessionPolicyFor,
} from '../domain/storage-policy.js';
import { HttpProblemError, ServiceUnavailableError, isTransientAwsError } from '../http/errors.js';
import { logger } from '../http/observability.js';
import type { StorageLocationRecord } from './storage-store.js';

/** Temporary S3 credentials as the API returns them (the secret leaves this module only in the response). */
export interface VendedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601. */
  expiration: string;
}

export interface VendRequest {
  tenantId: string;
  userId: string;
  location: StorageLocationRecord;
  access: StorageAccess;
  durationSeconds: number;
  /** External locations: the tenant's ExternalId for the customer's role. */
  externalId?: string;
  /** The latest revocation cutoff that applies to this (tenant, user), if any (ISO 8601). */
  revokedBefore?: string;
}

export interface VendResult {
  credentials: VendedCredentials;
  /** Whether the warm function's cache answered (no STS call). */
  cached: boolean;
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

interface CacheEntry {
  credentials: VendedCredentials;
  issuedAtMs: number;
  expiresAtMs: number;
  tenantId: string;
  userId: string;
  locationId: string;
}

export interface StorageCredentialVendorProps {
  sts: STSClient;
  /** The platform storage role (managed locations). */
  storageRoleArn: string;
  /**
   * The managed bucket's own KMS key: managed-location session policies allow S3 to use it on the session's
   * behalf (SSE-KMS). External locations never get a KMS statement: their keys are the customer's.
   */
  storageKeyArn: string;
  /** Served credentials keep at least this much lifetime; cached ones are dropped this long before expiry. */
  refreshMarginMs?: number;
  maxCacheEntries?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Cache key of vended credentials: never shared across tenants, users, locations, access or lifetimes. */
export function credentialCacheKey(k: {
  tenantId: string;
  userId: string;
  locationId: string;
  access: StorageAccess;
  durationSeconds: number;
}): string {
  return [k.tenantId, k.userId, k.locationId, k.access, k.durationSeconds].join('|');
}

/** `RoleSessionName` naming tenant and user: 57 characters for server-generated ids, never over 64. */
export function roleSessionName(tenantId: string, userId: string): string {
  return `${tenantId}-${userId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/**
 * Vends short-lived S3 credentials with STS AssumeRole: the storage role for managed locations, the
 * customer's role (with the tenant's ExternalId) for external ones; always with the session policy from
 * `sessionPolicyFor`, the TenantId/UserId/Access session tags and the user as SourceIdentity. Caches per
 * (tenant, user, location, access, duration) until five minutes before expiry; a cached credential issued
 * before a revocation of that user is never served.
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
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...props,
    };
  }

  /** Credentials for one request; the session policy is checked against STS's size limit before any call. */
  async vend(request: VendRequest): Promise<VendResult> {
    const key = credentialCacheKey({ ...request, locationId: request.location.locationId });
    const policy = this.#policyFor(request);
    const cutoffMs = request.revokedBefore ? Date.parse(request.revokedBefore) : undefined;
    const cached = this.#cache.get(key);
    if (cached && this.#usable(cached, cutoffMs)) {
      // Refresh recency for the bounded cache's eviction order.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return { credentials: cached.credentials, cached: true };
    }
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
    return { credentials: entry.credentials, cached: false };
  }

  /** Forgets every cached credential of a user in a tenant, or of the whole tenant without a user. */
  dropUser(tenantId: string, userId: string | undefined): void {
    for (const [key, entry] of this.#cache) {
      if (entry.tenantId === tenantId && (userId === undefined || entry.userId === userId))
        this.#cache.delete(key);
    }
  }

  /** Forgets every cached credential for a location (on deletion). */
  dropLocation(tenantId: string, locationId: string): void {
    for (const [key, entry] of this.#cache) {
      if (entry.tenantId === tenantId && entry.locationId === locationId) this.#cache.delete(key);
    }
  }

  /** Number of cached credentials (for tests and the bench). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  #usable(entry: CacheEntry, cutoffMs: number | undefined): boolean {
    if (entry.expiresAtMs - this.#p.refreshMarginMs <= this.#p.now()) return false;
    return cutoffMs === undefined || entry.issuedAtMs >= cutoffMs;
  }

  #policyFor(request: VendRequest): string {
    try {
      return packedSessionPolicy(
        sessionPolicyFor({
          bucket: request.location.bucket,
          prefix: request.location.prefix,
          access: request.access,
          ...(request.location.kind === 'managed' ? { kmsKeyArn: this.#p.storageKeyArn } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof PolicyTooLargeError) throw new SessionPolicyTooLargeError(error);
      throw error;
    }
  }

  async #assume(request: VendRequest, policy: string, cutoffMs: number | undefined): Promise<CacheEntry> {
    const { location, tenantId, userId, access } = request;
    // A user revoked this very second: wait for the cutoff, or STS would issue credentials the deny covers.
    if (cutoffMs !== undefined && cutoffMs > this.#p.now())
      await this.#p.sleep(Math.min(2000, cutoffMs - this.#p.now()));
    const external = location.kind === 'external';
    if (external && (!location.roleArn || !request.externalId))
      throw new Error('an external location needs its role ARN and the tenant ExternalId');
    const input: AssumeRoleCommandInput = {
      RoleArn: external ? location.roleArn : this.#p.storageRoleArn,
      RoleSessionName: roleSessionName(tenantId, userId),
      DurationSeconds: request.durationSeconds,
      Policy: policy,
      Tags: [
        { Key: 'TenantId', Value: tenantId },
        { Key: 'UserId', Value: userId },
        { Key: 'Access', Value: access },
      ],
      SourceIdentity: userId,
      ...(external ? { ExternalId: request.externalId } : {}),
    };
    // Recorded before the call: STS's TokenIssueTime is never earlier, so the revocation check stays safe.
    const issuedAtMs = this.#p.now();
    let response: AssumeRoleCommandOutput;
    try {
      response = await this.#p.sts.send(new AssumeRoleCommand(input));
    } catch (error) {
      throw this.#mapStsError(error, external);
    }
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new CredentialVendingUnavailableError(new Error('STS returned incomplete credentials'));
    }
    return {
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration.toISOString(),
      },
      issuedAtMs,
      expiresAtMs: c.Expiration.getTime(),
      tenantId,
      userId,
      locationId: location.locationId,
    };
  }

  #mapStsError(error: unknown, external: boolean): Error {
    const name = error instanceof Error ? error.name : 'unknown';
    logger.warn('AssumeRole failed', { errorName: name, external });
    if (name === 'PackedPolicyTooLargeException') return new SessionPolicyTooLargeError(error);
    if (
      external &&
      !isTransientAwsError(error) &&
      (name === 'AccessDenied' || name === 'AccessDeniedException')
    )
      return new ExternalRoleDeniedError(error);
    return new CredentialVendingUnavailableError(error);
  }

  #store(key: string, entry: CacheEntry) {
    this.#cache.delete(key);
    while (this.#cache.size >= this.#p.maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, entry);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Revocation

const REVOCATIONS_KEY = { pk: 'STORAGE-REVOCATIONS', sk: 'STORAGE-REVOCATIONS' };

export interface StorageRevocationsProps {
  /** Function-role client: the revocation list is platform data (identity table). */
  db: DynamoDBDocumentClient;
  identityTable: string;
  iam: IAMClient;
  storageRoleArn: string;
  now?: () => number;
}

interface RevocationState {
  version: number;
  entries: RevocationEntry[];
}

/** Called with the tenant and the user, or no user when the whole tenant was revoked. */
type RevocationListener = (tenantId: string, userId: string | undefined) => void;
const listeners = new Set<RevocationListener>();

/** Subscribes a warm function's credential cache to revocations made in the same function. */
export function onStorageRevocation(listener: RevocationListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The revocation list: the source of truth is one versioned item in the identity table; the storage
 * role's inline policy `storage-revocations` is derived from it. Read-modify-write is optimistic on the
 * item's version, and after writing the IAM policy a writer re-reads the version and re-puts the newest
 * list if another revocation overtook it, so the last IAM write always carries every entry.
 */
export class StorageRevocations {
  readonly #p: StorageRevocationsProps & { now: () => number };
  readonly #roleName: string;

  constructor(props: StorageRevocationsProps) {
    this.#p = { now: Date.now, ...props };
    const name = props.storageRoleArn.split('/').at(-1);
    if (!name || !props.storageRoleArn.startsWith('arn:'))
      throw new Error('storageRoleArn is not a role ARN');
    this.#roleName = name;
  }

  /** Current entries, pruned (a consistent read: one item, at most a few KB). */
  async entries(): Promise<RevocationEntry[]> {
    return pruneRevocations((await this.#read()).entries, this.#p.now());
  }

  /** The latest cutoff for a (tenant, user), if revoked within the longest credential lifetime. */
  async revokedBefore(tenantId: string, userId: string): Promise<string | undefined> {
    return revokedBefore(await this.entries(), tenantId, userId);
  }

  /**
   * Denies every storage credential the user holds in the tenant that was issued before now: updates the
   * list, writes the role's deny policy, and drops the user's cached credentials in this function.
   */
  async revoke(tenantId: string, userId: string): Promise<{ notBefore: string }> {
    return this.#revoke(tenantId, userId);
  }

  /** Denies every storage credential of every user of the tenant issued before now (tenant deletion). */
  async revokeTenant(tenantId: string): Promise<{ notBefore: string }> {
    return this.#revoke(tenantId, undefined);
  }

  async #revoke(tenantId: string, userId: string | undefined): Promise<{ notBefore: string }> {
    const notBefore = revocationCutoff(this.#p.now());
    let written: RevocationState | undefined;
    for (let attempt = 0; attempt < 8 && !written; attempt++) {
      const current = await this.#read();
      const next: RevocationState = {
        version: current.version + 1,
        entries: addRevocation(current.entries, revocationOf({ tenantId, userId, notBefore }), this.#p.now()),
      };
      if (await this.#write(next, current.version)) written = next;
    }
    if (!written) throw new ServiceUnavailableError(2, 'Too many concurrent revocations; try again.');
    for (const listener of listeners) listener(tenantId, userId);
    await this.#applyToRole(written);
    return { notBefore };
  }

  async #applyToRole(state: RevocationState) {
    let applied = state;
    for (let round = 0; round < 8; round++) {
      await this.#putPolicy(applied.entries);
      const latest = await this.#read();
      if (latest.version <= applied.version) return;
      applied = latest;
    }
    throw new ServiceUnavailableError(2, 'The revocation list kept changing; try again.');
  }

  async #putPolicy(entries: RevocationEntry[]) {
    const policy = revocationPolicy(pruneRevocations(entries, this.#p.now()));
    if (!policy) {
      try {
        await this.#p.iam.send(
          new DeleteRolePolicyCommand({ RoleName: this.#roleName, PolicyName: REVOCATION_POLICY_NAME }),
        );
      } catch (error) {
        if (!(error instanceof NoSuchEntityException)) throw error;
      }
      return;
    }
    await this.#p.iam.send(
      new PutRolePolicyCommand({
        RoleName: this.#roleName,
        PolicyName: REVOCATION_POLICY_NAME,
        PolicyDocument: JSON.stringify(policy),
      }),
    );
  }

  async #read(): Promise<RevocationState> {
    const { Item } = await this.#p.db.send(
      new GetCommand({ TableName: this.#p.identityTable, Key: REVOCATIONS_KEY, ConsistentRead: true }),
    );
    return {
      version: (Item?.version as number | undefined) ?? 0,
      entries: (Item?.entries as RevocationEntry[]) ?? [],
    };
  }

  async #write(state: RevocationState, expectedVersion: number): Promise<boolean> {
    try {
      await this.#p.db.send(
        new PutCommand({
          TableName: this.#p.identityTable,
          Item: { ...REVOCATIONS_KEY, version: state.version, entries: state.entries },
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(expectedVersion === 0 ? {} : { ExpressionAttributeValues: { ':v': expectedVersion } }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** The revocation list of this deployment, from the environment (identity table, storage role). */
export function storageRevocationsFromEnv(deps: {
  db: DynamoDBDocumentClient;
  iam: IAMClient;
  env?: NodeJS.ProcessEnv;
}): StorageRevocations {
  return new StorageRevocations({
    db: deps.db,
    iam: deps.iam,
    identityTable: requireEnv('identityTable', deps.env),
    storageRoleArn: requireEnv('storageRoleArn', deps.env),
  });
}

let defaultRevocations: StorageRevocations | undefined;

/**
 * Stops every storage credential `userId` holds in `tenantId`, now: for the membership code to call when a
 * member is removed or their role lowered (and by the revocations route). Drops the user's cached
 * credentials in every vendor of this process. Throws (503 for AWS faults) when the deny could not be
 * written; the caller should surface that rather than report success.
 */
export async function revokeStorageCredentials(
  tenantId: string,
  userId: string,
  revocations: StorageRevocations = (defaultRevocations ??=
    storageRevocationsFromEnv({
      db: platformDynamo(),
      iam: new IAMClient(clientConfig()),
    })),
): Promise<{ notBefore: string }> {
  return revocations.revoke(tenantId, userId);
}

/**
 * Stops every storage credential of every member of `tenantId` issued before now (tenant deletion): one
 * tenant-wide deny on the storage role, pruned like the others after the longest credential lifetime.
 */
export async function revokeAllStorageCredentials(
  tenantId: string,
  revocations: StorageRevocations = (defaultRevocations ??=
    storageRevocationsFromEnv({
      db: platformDynamo(),
      iam: new IAMClient(clientConfig()),
    })),
): Promise<{ notBefore: string }> {
  return revocations.revokeTenant(tenantId);
}
