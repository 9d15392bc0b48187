import { randomBytes } from 'node:crypto';
import type { HostResolver } from '../connectors/outbound-http.js';
import { checkStoreEndpoint } from '../connectors/s3-compatible.js';
import type { AuditActor } from '../domain/audit-events.js';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import type { HostPolicy } from '../domain/connection-host.js';
import { newId } from '../domain/ids.js';
import { partitionOfRegion } from '../domain/partitions.js';
import { type Permission, roleHas } from '../domain/permissions.js';
import {
  EXTERNAL_MAX_CREDENTIAL_SECONDS,
  MAX_CREDENTIAL_SECONDS,
  MIN_CREDENTIAL_SECONDS,
  PolicyTooLargeError,
  packedSessionPolicy,
  permissionForAccess,
  type SessionPolicyInput,
  type StorageAccess,
  sessionPolicyFor,
} from '../domain/storage-policy.js';
import { revokedBefore, STORAGE_FENCE_MS, storageFenced } from '../domain/storage-revocation.js';
import {
  formatStorageRoot,
  managedRoot,
  narrowestContainingRoot,
  parseStorageRoot,
  type StorageRoot,
  StorageRootError,
} from '../domain/storage-roots.js';
import {
  type CheckedSignRequest,
  checkSignRequest,
  SIGNING_AUDIT,
  SignRequestError,
  type SignRequestInput,
} from '../domain/storage-signing.js';
import {
  STORAGE_VALIDATION_CHECKS,
  type StorageValidationCheck,
  type StorageValidationCheckName,
  validationResult,
} from '../domain/storage-validation.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import {
  ConflictError,
  DeletionInProgressError,
  type FieldError,
  ForbiddenError,
  HttpProblemError,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { ManagedObjects } from '../store/managed-objects.js';
import type { RateWindows } from '../store/rate-windows.js';
import type { StoragePathOwners } from '../store/storage-path-owners.js';
import type { ProbeOutcome, StorageProbes } from '../store/storage-probe.js';
import { signS3Request } from '../store/storage-request-signer.js';
import type { InstanceRecord, StorageLocationRecord, StorageStore } from '../store/storage-store.js';
import type { StorageCredentialVendor } from '../store/storage-vendor.js';
import type { ExternalRootVerifier } from '../store/storage-verifier.js';
import type { StoreCheck } from '../store/store-check.js';
import type { StoreKeyPair, StoreKeyPairs } from '../store/store-key-pairs.js';
import type { TenantStorageAccess } from '../store/tenant-storage-access.js';
import type { TenantStore } from '../store/tenant-store.js';

export interface StorageServiceDeps {
  store: StorageStore;
  vendor: StorageCredentialVendor;
  /** The tenant's storage role, revocations and holdings (shared/store/tenant-storage-access.ts). */
  access: TenantStorageAccess;
  /**
   * The tenant's own KMS key (the TENANT item's `keyArn`, shared/store/tenant-key-directory.ts): managed
   * objects are written under it, so shredding it leaves every copy unreadable.
   */
  tenantKeys: { keyArnFor(scope: TenantScope): Promise<string> };
  audit: AuditRecorder;
  /** The platform bucket for managed locations. */
  managedBucket: string;
  /** The objects of managed locations there: location deletion deletes them, every version. */
  objects?: Pick<ManagedObjects, 'purge'>;
  /** Buckets no tenant may register as external (the managed and export buckets). */
  reservedBuckets: readonly string[];
  /**
   * The platform's own AWS account: no external location may name a role there (the storage and
   * tenant-data roles trust this function, so such a registration must not even be attempted).
   */
  platformAccountId?: string;
  /**
   * Proves a tenant controls an external root before it is registered (role trust with the ExternalId,
   * list permission, bucket owned by the role's account). Without it, registration trusts the caller.
   */
  verifier?: Pick<ExternalRootVerifier, 'verify'>;
  /** The region tenants are homed in (managed locations, default for external ones). */
  region: string;
  /**
   * Where clients reach S3, told with every vend: an endpoint only when it is not AWS's default (the emulator
   * in local mode), and whether buckets go in the path. Absent: AWS's default endpoints, virtual-hosted style.
   */
  s3Endpoint?: { endpoint?: string; pathStyle: boolean };
  /** Who registered the external root containing a path (the global registry), for routes named by path. */
  pathOwners?: Pick<StoragePathOwners, 'ownerOf'>;
  /**
   * The tenant's members: their role for the revocation route's "not above your own" rule, and the vend's
   * re-read after STS (role and storage fence; see STORAGE_FENCE_MS).
   */
  members: Pick<TenantStore, 'getMember'>;
  /** Counts signatures per caller, location and access for the aggregated audit (remote signing). */
  signingTally?: Pick<RateWindows, 'tally'>;
  /** S3 requests with vended credentials, for the self-test (validateLocation). */
  probes?: StorageProbes;
  /**
   * Whether the store enforces IAM: false against the local emulator, where the self-test reports the checks
   * only IAM could pass or fail as not judged rather than passing them.
   */
  enforcesIam?: boolean;
  /**
   * Where S3-compatible stores may be (ALLOW_PRIVATE_NETWORKS; shared/connectors/outbound-http.ts rules): their
   * endpoints are checked at registration, and every connection to them again (s3-compatible.ts).
   */
  hostPolicy?: HostPolicy;
  /** DNS for store endpoints at registration (a seam for tests). */
  resolveHost?: HostResolver;
  /** S3-compatible stores' key pairs, under the tenant's key (purpose storage-store-key). */
  storeKeys?: Pick<StoreKeyPairs, 'encrypt' | 'decrypt'>;
  /** Proves a store's key pair (and STS, when named) reaches the root before it is registered or rotated. */
  storeVerifier?: { verify(check: StoreCheck): Promise<void> };
  now?: () => number;
}

/** What registers an external location (the route's body). */
export interface ExternalLocationBody {
  root: string;
  /** AWS: the customer's role (required). S3-compatible store: its role for STS AssumeRole (optional). */
  roleArn?: string | undefined;
  region?: string | undefined;
  /** An S3-compatible store's endpoint (origin); its presence makes the location a store's. */
  endpoint?: string | undefined;
  stsEndpoint?: string | undefined;
  pathStyle?: boolean | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  kmsKeyArn?: string | undefined;
  previousKmsKeyArns?: readonly string[] | undefined;
}

/** Fields only an S3-compatible store's registration takes. */
const STORE_ONLY_FIELDS = ['stsEndpoint', 'pathStyle', 'accessKeyId', 'secretAccessKey'] as const;
/** Fields only an AWS registration takes: KMS keys are AWS's. */
const AWS_ONLY_FIELDS = ['kmsKeyArn', 'previousKmsKeyArns'] as const;
/** The signing region of a store when the registration names none (MinIO's and Ceph's default). */
export const STORE_DEFAULT_REGION = 'us-east-1';
/** An AWS role ARN names its account (a store's role, e.g. Ceph's `arn:aws:iam:::role/x`, need not). */
const AWS_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\//;

/** A location at an S3-compatible store without STS: it is used through remote signing only. */
export class SigningOnlyLocationError extends ConflictError {
  constructor() {
    super(
      "This location's store has no STS endpoint, so no credentials can be issued for it: use remote signing (POST …/storage-locations/{locationId}/sign).",
      'signing-only-location',
    );
    this.name = 'SigningOnlyLocationError';
  }
}

const isPowerOfTen = (n: number) => n >= 1 && 10 ** Math.round(Math.log10(n)) === n;

/**
 * The fence of a location whose objects are being deleted: it never runs out, so a half-deleted location
 * vends and signs nothing until the deletion that began is finished by a retry.
 */
const DELETING_FENCE = Number.MAX_SAFE_INTEGER;

/** Signed operations that remove objects: their signatures are counted and reported on their own. */
const DESTRUCTIVE_OPERATIONS: ReadonlySet<string> = new Set(['DeleteObject', 'DeleteObjects']);

/** An ExternalId for customer role trust policies: unguessable, generated by us, one per tenant. */
function newExternalId(): string {
  return `strongroom-${randomBytes(16).toString('hex')}`;
}

function parseField(path: string, uri: string): StorageRoot {
  try {
    return parseStorageRoot(uri);
  } catch (error) {
    if (error instanceof StorageRootError) throw new ValidationError([{ path, message: error.message }]);
    throw error;
  }
}

/** What releasing a tenant's storage needs: its registry, its storage role and the audit log. */
export interface TenantStorageRelease {
  store: Pick<StorageStore, 'releaseAllLocations'>;
  access: Pick<TenantStorageAccess, 'closeTenant'>;
  audit: Pick<AuditRecorder, 'auditPut'>;
}

/**
 * Tenant deletion's storage step, for any function holding the revocation and registry rights (the
 * tenants function uses it without a credential vendor): the tenant's storage closed (a tenant-wide deny on
 * its storage role, then the role removed), then every location removed and its registry nodes released,
 * instances or not, each with its audit event. Safe to repeat.
 */
export async function releaseTenantStorage(
  deps: TenantStorageRelease,
  scope: TenantScope,
  actor: AuditActor,
): Promise<{ released: number; revokedBefore: string }> {
  const { revokedBefore: notBefore } = await deps.access.closeTenant(scope);
  const released = await deps.store.releaseAllLocations(scope, (location) =>
    deps.audit.auditPut(scope, {
      action: 'storage-location.removed',
      actor,
      resource: { type: 'storage-location', id: location.locationId },
      details: { before: { kind: location.kind, root: location.root }, reason: 'tenant-deleted' },
    }),
  );
  return { released, revokedBefore: notBefore };
}

/** A vend that raced a change of the caller's access: what STS issued was withheld; asking again is safe. */
export class StorageAccessChangedError extends ConflictError {
  constructor() {
    super(
      'Your access to this storage location changed while the credentials were being issued; they were withheld. Ask again.',
      'storage-access-changed',
    );
    this.name = 'StorageAccessChangedError';
  }
}

/**
 * The one answer for a path no location the caller may use contains, whether it is unregistered or another
 * tenant's: a different answer would tell strangers which paths are registered.
 */
export const PATH_NOT_FOUND = 'No storage location you may use contains that path.';

/** Instances, storage locations, credential vending and revocation (DESIGN.md §4). */
export class StorageService {
  readonly #d: StorageServiceDeps;
  readonly #now: () => number;
  readonly #enforcesIam: boolean;

  constructor(deps: StorageServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#enforcesIam = deps.enforcesIam ?? true;
  }

  /** The public view of a location; role ARN and ExternalId only for those who manage locations. */
  async #view(caller: TenantCaller, location: StorageLocationRecord, externalId?: string) {
    const manager = caller.access.permissions.has('storage-locations:manage');
    return {
      locationId: location.locationId,
      kind: location.kind,
      root: location.root,
      bucket: location.bucket,
      prefix: location.prefix,
      region: location.region,
      ...(location.endpoint
        ? {
            endpoint: location.endpoint,
            pathStyle: location.pathStyle ?? true,
            signingOnly: !location.stsEndpoint,
            ...(manager && location.stsEndpoint ? { stsEndpoint: location.stsEndpoint } : {}),
            ...(manager && location.storeKeyUpdatedAt
              ? { storeKeyUpdatedAt: location.storeKeyUpdatedAt }
              : {}),
          }
        : {}),
      ...(manager && location.roleArn ? { roleArn: location.roleArn } : {}),
      ...(manager && externalId && !location.endpoint ? { externalId } : {}),
      ...(manager && location.kmsKeyArn ? { kmsKeyArn: location.kmsKeyArn } : {}),
      ...(manager && location.previousKmsKeyArns
        ? { previousKmsKeyArns: [...location.previousKmsKeyArns] }
        : {}),
      createdAt: location.createdAt,
      createdBy: location.createdBy,
    };
  }

  async listLocations(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    const { scope } = caller.access;
    const result = await this.#d.store.listLocations(scope, page);
    const externalId = result.items.some((l) => l.kind === 'external' && !l.endpoint)
      ? await this.#d.store.getExternalId(scope)
      : undefined;
    return {
      items: await Promise.all(result.items.map((l) => this.#view(caller, l, externalId))),
      nextCursor: result.nextCursor,
    };
  }

  /** Registers a managed location, or an external root (409 when it is taken or overlaps another tenant's). */
  async registerLocation(caller: TenantCaller, body: { managed: true } | ExternalLocationBody) {
    const { scope } = caller.access;
    const locationId = newId('l');
    const createdAt = new Date(this.#now()).toISOString();
    if ('managed' in body) {
      // The tenant's storage role first (a role without a location is harmless; the reverse is a location
      // nobody can get credentials for).
      await this.#d.access.ensureRole(scope);
      const root = managedRoot(this.#d.managedBucket, scope.tenantId, locationId);
      const location = this.#record(caller, locationId, 'managed', root, this.#d.region, createdAt);
      await this.#d.store.createManagedLocation(scope, location, this.#registeredEvent(caller, location));
      return this.#view(caller, location);
    }
    if (body.endpoint !== undefined) return this.#registerStore(caller, locationId, createdAt, body);
    const misplaced: FieldError[] = STORE_ONLY_FIELDS.filter((f) => body[f] !== undefined).map((f) => ({
      path: `body.${f}`,
      message: 'Only for an S3-compatible store (a registration with endpoint)',
    }));
    if (!body.roleArn) misplaced.push({ path: 'body.roleArn', message: 'Required for an AWS S3 location' });
    else if (!AWS_ROLE_ARN.test(body.roleArn))
      misplaced.push({ path: 'body.roleArn', message: 'An AWS role ARN names its 12-digit account' });
    if (body.region === 'auto')
      misplaced.push({
        path: 'body.region',
        message: 'Not an AWS region ("auto" is for S3-compatible stores)',
      });
    if (misplaced.length > 0) throw new ValidationError(misplaced);
    const roleArn = body.roleArn!;
    const root = parseField('body.root', body.root);
    if (this.#d.reservedBuckets.includes(root.bucket))
      throw new ValidationError([
        { path: 'body.root', message: 'This bucket is reserved for managed locations' },
      ]);
    const region = body.region ?? this.#d.region;
    const keys = this.#externalKeys(body, region);
    requireSessionPolicyFits({
      ...root,
      ...keys,
      access: 'write',
      partition: partitionOfRegion(this.#d.region),
    });
    if (this.#d.platformAccountId && roleArn.split(':')[4] === this.#d.platformAccountId)
      throw new ValidationError([
        { path: 'body.roleArn', message: "The role must be in your AWS account, not the platform's" },
      ]);
    // STS cannot hand a session across partitions: the role, the bucket's region and this deployment share one.
    const partition = partitionOfRegion(this.#d.region);
    if (body.region !== undefined && partitionOfRegion(body.region) !== partition)
      throw new ValidationError([
        { path: 'body.region', message: `Not a region of this deployment's partition (${partition})` },
      ]);
    if (roleArn.split(':')[1] !== partition)
      throw new ValidationError([
        {
          path: 'body.roleArn',
          message: `The role must be in this deployment's partition (arn:${partition}:…)`,
        },
      ]);
    const location: StorageLocationRecord = {
      ...this.#record(caller, locationId, 'external', root, region, createdAt),
      roleArn,
      ...keys,
    };
    const externalId = await this.externalId(caller);
    await this.#d.verifier?.verify({
      tenantId: scope.tenantId,
      userId: scope.userId,
      root,
      roleArn,
      externalId,
      region: location.region,
      ...keys,
    });
    await this.#createExternal(caller, location, root, externalId);
    return this.#view(caller, location, externalId);
  }

  /**
   * An external location at an S3-compatible store: its endpoints checked (origin only, https, public, no
   * metadata; outbound-http.ts), its key pair proven against the root (and STS, when named) by the store
   * verifier, then stored only as ciphertext under the tenant's key. AWS-only fields are refused by name.
   */
  async #registerStore(
    caller: TenantCaller,
    locationId: string,
    createdAt: string,
    body: ExternalLocationBody,
  ) {
    const { scope } = caller.access;
    const problems: FieldError[] = [];
    for (const field of AWS_ONLY_FIELDS)
      if (body[field] !== undefined)
        problems.push({
          path: `body.${field}`,
          message: 'AWS KMS keys apply to AWS S3 only, not to an S3-compatible store',
        });
    for (const field of ['accessKeyId', 'secretAccessKey'] as const)
      if (body[field] === undefined)
        problems.push({
          path: `body.${field}`,
          message: "Required for an S3-compatible store (the store's key pair)",
        });
    if (body.roleArn !== undefined && body.stsEndpoint === undefined)
      problems.push({
        path: 'body.roleArn',
        message: "Only used with stsEndpoint (the store's role for AssumeRole)",
      });
    let root: StorageRoot | undefined;
    try {
      root = parseField('body.root', body.root);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      problems.push(...(error.errors ?? []));
    }
    const endpoint = await this.#storeEndpoint('body.endpoint', body.endpoint!, problems);
    const stsEndpoint =
      body.stsEndpoint !== undefined
        ? await this.#storeEndpoint('body.stsEndpoint', body.stsEndpoint, problems)
        : undefined;
    if (problems.length > 0 || !root || !endpoint) throw new ValidationError(problems);
    requireSessionPolicyFits({ ...root, access: 'write', partition: 'aws' });
    const region = body.region ?? STORE_DEFAULT_REGION;
    const pathStyle = body.pathStyle ?? true;
    const keyPair: StoreKeyPair = { accessKeyId: body.accessKeyId!, secretAccessKey: body.secretAccessKey! };
    await this.#d.storeVerifier?.verify({
      tenantId: scope.tenantId,
      userId: scope.userId,
      root,
      region,
      endpoint,
      pathStyle,
      keyPair,
      ...(stsEndpoint ? { stsEndpoint } : {}),
      ...(body.roleArn ? { roleArn: body.roleArn } : {}),
    });
    const location: StorageLocationRecord = {
      ...this.#record(caller, locationId, 'external', root, region, createdAt),
      ...(body.roleArn ? { roleArn: body.roleArn } : {}),
      endpoint,
      ...(stsEndpoint ? { stsEndpoint } : {}),
      pathStyle,
      storeKeyCiphertext: await this.#storeKeys().encrypt(scope, locationId, keyPair),
      storeKeyUpdatedAt: createdAt,
    };
    // The tenant's ExternalId item is part of every external registration's transaction (unused by stores).
    await this.#createExternal(caller, location, root, await this.externalId(caller));
    return this.#view(caller, location);
  }

  /** Writes an external location, its registry nodes, the tenant's ExternalId and the audit event in one transaction. */
  #createExternal(
    caller: TenantCaller,
    location: StorageLocationRecord,
    root: StorageRoot,
    externalId: string,
  ) {
    return this.#d.store.createExternalLocation(
      caller.access.scope,
      location,
      root,
      { value: externalId, isNew: false, createdAt: location.createdAt },
      this.#registeredEvent(caller, location),
    );
  }

  /** A store endpoint's normalised origin; its problem, naming `path`, otherwise. */
  async #storeEndpoint(path: string, text: string, problems: FieldError[]): Promise<string | undefined> {
    const checked = await checkStoreEndpoint(
      text,
      this.#d.hostPolicy ?? { allowPrivateNetworks: false },
      this.#d.resolveHost,
    );
    if ('problem' in checked) {
      problems.push({ path, message: checked.problem });
      return undefined;
    }
    return checked.origin;
  }

  #storeKeys(): Pick<StoreKeyPairs, 'encrypt' | 'decrypt'> {
    if (!this.#d.storeKeys) throw new Error('S3-compatible stores need the store key pairs');
    return this.#d.storeKeys;
  }

  /** A store location's key pair, decrypted (in memory, for this request only). */
  async #storeKeyPair(scope: TenantScope, location: StorageLocationRecord): Promise<StoreKeyPair> {
    if (!location.storeKeyCiphertext) throw new Error('a store location without its key pair');
    return this.#storeKeys().decrypt(scope, location.locationId, location.storeKeyCiphertext);
  }

  /**
   * Replaces an S3-compatible store location's key pair (rotation): proven against the root like at
   * registration, stored as new ciphertext, audited without either half. 400 for a location that is not a
   * store's (AWS locations have no key pair: their role is assumed).
   */
  async updateLocation(
    caller: TenantCaller,
    locationId: string,
    body: { accessKeyId: string; secretAccessKey: string },
  ) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    if (!location.endpoint)
      throw new ValidationError([
        { path: 'body.accessKeyId', message: 'Only an S3-compatible store location has a key pair' },
      ]);
    const keyPair: StoreKeyPair = { accessKeyId: body.accessKeyId, secretAccessKey: body.secretAccessKey };
    await this.#d.storeVerifier?.verify({
      tenantId: scope.tenantId,
      userId: scope.userId,
      root: { bucket: location.bucket, prefix: location.prefix },
      region: location.region,
      endpoint: location.endpoint,
      pathStyle: location.pathStyle ?? true,
      keyPair,
      ...(location.stsEndpoint ? { stsEndpoint: location.stsEndpoint } : {}),
      ...(location.roleArn ? { roleArn: location.roleArn } : {}),
    });
    const updatedAt = new Date(this.#now()).toISOString();
    const ciphertext = await this.#storeKeys().encrypt(scope, locationId, keyPair);
    await this.#d.store.replaceStoreKey(
      scope,
      locationId,
      { ciphertext, updatedAt },
      this.#d.audit.auditPut(scope, {
        action: 'storage-location.updated',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: locationId },
        details: { changed: ['storeKey'], storeKey: 'replaced', endpoint: location.endpoint },
      }),
    );
    // Sessions the old key made stay valid until they expire (as the store decides); new ones use the new key.
    this.#d.vendor.drop(scope.tenantId, { locationId });
    return this.#view(caller, { ...location, storeKeyCiphertext: ciphertext, storeKeyUpdatedAt: updatedAt });
  }

  /**
   * An external location's KMS keys, checked as S3 and STS will see them: key ARNs in the bucket's region
   * (S3 uses no key of another region) and this deployment's partition, none in the platform's account (its
   * keys protect other tenants' data), none named twice. 400 naming the field otherwise.
   */
  #externalKeys(
    body: ExternalLocationBody,
    region: string,
  ): Pick<StorageLocationRecord, 'kmsKeyArn' | 'previousKmsKeyArns'> {
    const named = [
      ...(body.kmsKeyArn ? [{ path: 'body.kmsKeyArn', arn: body.kmsKeyArn }] : []),
      ...(body.previousKmsKeyArns ?? []).map((arn, i) => ({ path: `body.previousKmsKeyArns.${i}`, arn })),
    ];
    const problems: { path: string; message: string }[] = [];
    const seen = new Set<string>();
    for (const { path, arn } of named) {
      const [, partition, , keyRegion, account] = arn.split(':');
      if (keyRegion !== region)
        problems.push({ path, message: `S3 uses only keys in the bucket's region (${region})` });
      else if (partition !== partitionOfRegion(region))
        problems.push({
          path,
          message: `Not a key of this deployment's partition (${partitionOfRegion(region)})`,
        });
      else if (this.#d.platformAccountId && account === this.#d.platformAccountId)
        problems.push({ path, message: "The key must be in your AWS account, not the platform's" });
      else if (seen.has(arn)) problems.push({ path, message: 'This key is named already' });
      seen.add(arn);
    }
    if (problems.length > 0) throw new ValidationError(problems);
    return {
      ...(body.kmsKeyArn ? { kmsKeyArn: body.kmsKeyArn } : {}),
      ...(body.previousKmsKeyArns ? { previousKmsKeyArns: [...body.previousKmsKeyArns] } : {}),
    };
  }

  /** The tenant's ExternalId for customer role trust policies, created on first use. */
  async externalId(caller: TenantCaller): Promise<string> {
    return this.#d.store.getOrCreateExternalId(
      caller.access.scope,
      newExternalId(),
      new Date(this.#now()).toISOString(),
    );
  }

  #record(
    caller: TenantCaller,
    locationId: string,
    kind: 'managed' | 'external',
    root: StorageRoot,
    region: string,
    createdAt: string,
  ): StorageLocationRecord {
    return {
      locationId,
      kind,
      root: formatStorageRoot(root),
      bucket: root.bucket,
      prefix: root.prefix,
      region,
      createdAt,
      createdBy: caller.principal.userId,
    };
  }

  #registeredEvent(caller: TenantCaller, location: StorageLocationRecord) {
    return this.#d.audit.auditPut(caller.access.scope, {
      action: 'storage-location.registered',
      actor: auditActorOf(caller),
      resource: { type: 'storage-location', id: location.locationId },
      details: {
        after: {
          kind: location.kind,
          root: location.root,
          region: location.region,
          ...(location.roleArn ? { roleArn: location.roleArn } : {}),
          ...(location.endpoint
            ? {
                endpoint: location.endpoint,
                ...(location.stsEndpoint ? { stsEndpoint: location.stsEndpoint } : {}),
                pathStyle: location.pathStyle ?? true,
                storeKey: 'set',
              }
            : {}),
          ...(location.kmsKeyArn ? { kmsKeyArn: location.kmsKeyArn } : {}),
          ...(location.previousKmsKeyArns ? { previousKmsKeyArns: location.previousKmsKeyArns } : {}),
        },
      },
    });
  }

  /**
   * Removes a location (404 when absent, 409 while an instance uses it). Credentials vended for it stop
   * first, as far as the location's kind allows (managed: denied on the tenant's role; external: cannot be,
   * they expire within 15 minutes); the answer and the audit event say which.
   */
  async deleteLocation(caller: TenantCaller, locationId: string) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    // Checked before the deny, so a refused deletion does not cut anyone off (the transaction checks again).
    if ((location.instanceCount ?? 0) > 0)
      throw new ConflictError(
        'An instance uses this storage location as its default storage.',
        'location-in-use',
      );
    // The fence, then the deny: if either fails, nothing is deleted and the deletion can be retried. The
    // fence makes a vend already past its checks withhold what STS gave it (see STORAGE_FENCE_MS). Once
    // objects were deleted the location stays fenced for good (DELETING_FENCE): no credential or signature
    // for a half-deleted location, however long until the retry that finishes it.
    const deleting = location.storageFenceUntil === DELETING_FENCE;
    const fence = deleting ? DELETING_FENCE : this.#now() + STORAGE_FENCE_MS;
    await this.#d.store.fenceLocation(scope, locationId, fence);
    let purging = false;
    try {
      const { revokedBefore, credentials } = await this.#d.access.revokeLocation(scope, location);
      this.#d.vendor.drop(scope.tenantId, { locationId });
      // Managed: its objects, every version, go before the location does (a retry continues if they do not
      // fit in this request). External: the customer's bucket is theirs; nothing in it is ever deleted.
      purging = location.kind === 'managed';
      const objectsDeleted = purging ? await this.#purge(caller, location) : undefined;
      await this.#d.store.deleteLocation(
        scope,
        location,
        { bucket: location.bucket, prefix: location.prefix },
        this.#d.audit.auditPut(scope, {
          action: 'storage-location.removed',
          actor: auditActorOf(caller),
          resource: { type: 'storage-location', id: locationId },
          details: {
            before: { kind: location.kind, root: location.root },
            revokedBefore,
            credentials,
            ...(objectsDeleted !== undefined ? { objectsDeleted } : {}),
          },
        }),
      );
      return {
        locationId,
        kind: location.kind,
        revokedBefore,
        credentials,
        ...(objectsDeleted !== undefined ? { objectsDeleted } : {}),
      };
    } catch (error) {
      if (purging || deleting)
        await this.#d.store.fenceLocation(scope, locationId, DELETING_FENCE).catch(() => undefined);
      else await this.#d.store.liftLocationFence(scope, locationId, fence).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Deletes a managed location's objects, every version; DeletionInProgressError when more remain, after an
   * audit event for the versions this request deleted (they are gone for good whether or not anyone retries).
   */
  async #purge(caller: TenantCaller, location: StorageLocationRecord): Promise<number | undefined> {
    if (!this.#d.objects) return undefined;
    const { deleted, done } = await this.#d.objects.purge(`${location.prefix}/`);
    if (!done) {
      await this.#d.audit
        .record(caller.access.scope, {
          action: 'storage-location.objects-deleted',
          actor: auditActorOf(caller),
          resource: { type: 'storage-location', id: location.locationId },
          details: { root: location.root, objectsDeleted: deleted, done: false },
        })
        .catch((failure: unknown) =>
          logger.error('the audit event of deleted object versions failed', {
            locationId: location.locationId,
            objectsDeleted: deleted,
            error: failure instanceof Error ? failure.name : 'unknown',
          }),
        );
      throw new DeletionInProgressError('storage location', deleted);
    }
    return deleted;
  }

  /**
   * For tenant deletion: closes the tenant's storage (every credential denied, the role removed), then
   * removes every location and releases its registry nodes, instances or not, each with its audit event.
   */
  async releaseTenant(
    scope: TenantScope,
    actor: AuditActor,
  ): Promise<{ released: number; revokedBefore: string }> {
    const result = await releaseTenantStorage(this.#d, scope, actor);
    this.#d.vendor.drop(scope.tenantId);
    return result;
  }

  /** A location id, or the narrowest registered location containing an `s3://` path; 404 otherwise. */
  async resolveLocation(caller: TenantCaller, ref: string, field: string): Promise<StorageLocationRecord> {
    const { scope } = caller.access;
    if (!ref.startsWith('s3://')) {
      const location = await this.#d.store.getLocation(scope, ref);
      if (!location) throw new NotFoundError('No such storage location.');
      return location;
    }
    const path = parseField(field, ref);
    // An s3:// path names an AWS S3 object: it cannot say which S3-compatible store it would be at, so store
    // locations are named by their id.
    const aws = (await this.#d.store.allLocations(scope)).filter((l) => !l.endpoint);
    const location = narrowestContainingRoot(path, aws);
    if (!location) throw new NotFoundError('No storage location of this tenant contains that path.');
    return location;
  }

  async listInstances(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    return this.#d.store.listInstances(caller.access.scope, page);
  }

  async createInstance(caller: TenantCaller, body: { name: string; defaultStorageRoot: string }) {
    const { scope } = caller.access;
    const location = await this.resolveLocation(caller, body.defaultStorageRoot, 'body.defaultStorageRoot');
    const defaultStorageRoot = body.defaultStorageRoot.startsWith('s3://')
      ? formatStorageRoot(parseStorageRoot(body.defaultStorageRoot))
      : location.root;
    const instance: InstanceRecord = {
      instanceId: newId('i'),
      name: body.name,
      defaultStorageRoot,
      storageLocationId: location.locationId,
      createdAt: new Date(this.#now()).toISOString(),
      createdBy: caller.principal.userId,
    };
    await this.#d.store.createInstance(
      scope,
      instance,
      this.#d.audit.auditPut(scope, {
        action: 'instance.created',
        actor: auditActorOf(caller),
        resource: { type: 'instance', id: instance.instanceId },
        details: {
          after: { name: instance.name, defaultStorageRoot, storageLocationId: location.locationId },
        },
      }),
    );
    return instance;
  }

  /**
   * Vends credentials: write needs storage:write-credentials (403 otherwise); the location is the tenant's
   * (404 otherwise); every vend, cached or not, is audited with the access key id and never the secret.
   */
  async vend(
    caller: TenantCaller,
    body: { location: string; access: StorageAccess; durationSeconds: number },
  ) {
    const { scope } = caller.access;
    const needed = permissionForAccess(body.access);
    if (!caller.access.permissions.has(needed))
      throw new ForbiddenError(`${body.access} credentials need the ${needed} permission.`);
    const location = await this.resolveLocation(caller, body.location, 'body.location');
    if (location.endpoint && !location.stsEndpoint) throw new SigningOnlyLocationError();
    const { credentials, cached, vendId, packedPolicySize, tenantKeyArn } = await this.#issue(
      caller,
      location,
      body.access,
      body.durationSeconds,
    );
    await this.#d.audit.record(scope, {
      action: 'storage-credentials.vended',
      actor: auditActorOf(caller),
      resource: { type: 'storage-location', id: location.locationId },
      details: {
        userId: scope.userId,
        locationId: location.locationId,
        root: location.root,
        access: body.access,
        durationSeconds: body.durationSeconds,
        expiration: credentials.expiration,
        accessKeyId: credentials.accessKeyId,
        vendId,
        ...(packedPolicySize !== undefined ? { packedPolicySize } : {}),
        cached,
      },
    });
    return {
      ...credentials,
      vendId,
      ...this.endpointHints(location, tenantKeyArn),
      bucket: location.bucket,
      prefix: location.prefix,
      access: body.access,
      locationId: location.locationId,
      root: location.root,
    };
  }

  /**
   * Credentials for a location as the caller (the vendor's cache, else STS with the scoped session policy), the
   * tenant's revocation cutoff for the caller applied and, for a fresh STS session, the caller's access re-read
   * after it was issued. Not audited here: a vend audits each, remote signing aggregates.
   */
  async #issue(
    caller: TenantCaller,
    location: StorageLocationRecord,
    access: StorageAccess,
    durationSeconds: number,
  ) {
    const { scope } = caller.access;
    const state = await this.#d.access.state(scope);
    if (state.closedAt) throw new NotFoundError('No such tenant.');
    const role = location.kind === 'managed' ? await this.#d.access.ensureRole(scope, state) : undefined;
    const tenantKeyArn = location.kind === 'managed' ? await this.#d.tenantKeys.keyArnFor(scope) : undefined;
    const externalId =
      location.kind === 'external' && !location.endpoint
        ? await this.#d.store.getExternalId(scope)
        : undefined;
    const store = location.stsEndpoint
      ? { stsEndpoint: location.stsEndpoint, keyPair: () => this.#storeKeyPair(scope, location) }
      : undefined;
    const issued = await this.#d.vendor.vend({
      scope,
      actor:
        caller.principal.kind === 'api-key'
          ? { kind: 'api-key', id: caller.principal.credentialId }
          : { kind: 'user', id: scope.userId },
      location,
      access,
      durationSeconds,
      ...(role ? { role } : {}),
      ...(tenantKeyArn ? { tenantKeyArn } : {}),
      externalId,
      ...(store ? { store } : {}),
      revokedBefore: revokedBefore(state.entries, {
        userId: scope.userId,
        locationId: location.locationId,
      }),
    });
    if (!issued.cached)
      await this.#confirmAfterIssue(caller, location.locationId, permissionForAccess(access), {
        ...issued.credentials,
        vendId: issued.vendId,
      });
    return { ...issued, ...(tenantKeyArn ? { tenantKeyArn } : {}) };
  }

  /**
   * Remote signing (Iceberg's S3 signer): checks the request against the location (host, bucket, every key
   * under the prefix, listings at or below `<prefix>/`, only object operations; 400 naming the field), needs
   * write access for writes (403), then signs it with SigV4 using credentials obtained as a vend obtains
   * them (the same scoped session policy, kept server-side). The caller's membership, role and key are
   * checked on every request, nothing about them is cached. Audited in aggregate (`SIGNING_AUDIT`).
   */
  async sign(caller: TenantCaller, locationId: string, body: SignRequestInput) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    // A managed location's writes are under the tenant's own key, which the signed headers may name (the
    // session behind the signature refuses writes that do not); the authorizer's read of the tenant item
    // told the directory, so this costs no read.
    const tenantKeyArn = location.kind === 'managed' ? await this.#d.tenantKeys.keyArnFor(scope) : undefined;
    let checked: CheckedSignRequest;
    try {
      checked = checkSignRequest(
        {
          ...this.endpointHints(location, tenantKeyArn),
          bucket: location.bucket,
          prefix: location.prefix,
        },
        body,
      );
    } catch (error) {
      if (!(error instanceof SignRequestError)) throw error;
      // A request that would reach outside the location is what an attacker's first tries look like.
      await this.#auditRefusedSigning(caller, location, error);
      throw new ValidationError([{ path: `body.${error.field}`, message: error.message }], error.message);
    }
    const needed = permissionForAccess(checked.access);
    if (!caller.access.permissions.has(needed))
      throw new ForbiddenError(
        `${checked.operation} (${checked.method}) needs ${checked.access} access: the ${needed} permission.`,
      );
    // A store without STS: its own key pair signs (every request checked above first); else a scoped session.
    const credentials =
      location.endpoint && !location.stsEndpoint
        ? await this.#storeKeyPair(scope, location)
        : (await this.#issue(caller, location, checked.access, MIN_CREDENTIAL_SECONDS)).credentials;
    const headers = await signS3Request(checked, credentials, location.region, new Date(this.#now()));
    await this.#auditSigning(caller, location, checked);
    return { uri: body.uri, headers };
  }

  /**
   * One `storage-requests.signed` event per caller, location and kind (`read`, `write`, or `delete` for
   * DeleteObject and DeleteObjects, tallied on their own so the first destructive request of every window
   * is reported by name) for the first signature of each window and at every tenth power after it (1, 10,
   * 100, …), carrying the window's count so far: a busy client writes a handful of events, not one per
   * object. A window's first event also carries the previous window's final count. A failed event takes its
   * count back and fails the request (no signature goes out unaudited), so the next request reports it.
   */
  async #auditSigning(caller: TenantCaller, location: StorageLocationRecord, checked: CheckedSignRequest) {
    const kind = DESTRUCTIVE_OPERATIONS.has(checked.operation) ? 'delete' : checked.access;
    const counted = await this.#tallySigning(caller, location, kind);
    if (!isPowerOfTen(counted.count)) return;
    try {
      await this.#d.audit.record(caller.access.scope, {
        action: 'storage-requests.signed',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: location.locationId },
        details: {
          ...this.#signingWindow(caller, location, counted),
          access: checked.access,
          kind,
          operation: checked.operation,
        },
      });
    } catch (error) {
      await counted.untally().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Signing requests refused as malformed or reaching outside the location (400), aggregated the same way
   * as `storage-requests.refused` with the field and reason of the request at hand. Best effort: the request
   * is refused either way, so a failed event only takes its count back (the next refusal reports it).
   */
  async #auditRefusedSigning(caller: TenantCaller, location: StorageLocationRecord, error: SignRequestError) {
    let counted: { count: number; window: number; untally: () => Promise<void> } | undefined;
    try {
      counted = await this.#tallySigning(caller, location, 'refused');
      if (!isPowerOfTen(counted.count)) return;
      await this.#d.audit.record(caller.access.scope, {
        action: 'storage-requests.refused',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: location.locationId },
        details: {
          ...this.#signingWindow(caller, location, counted),
          field: `body.${error.field}`,
          reason: error.message.slice(0, 200),
        },
      });
    } catch (failure) {
      await counted?.untally().catch(() => undefined);
      logger.warn('the audit of a refused signing request failed', {
        locationId: location.locationId,
        error: failure instanceof Error ? failure.name : 'unknown',
      });
    }
  }

  async #tallySigning(
    caller: TenantCaller,
    location: StorageLocationRecord,
    kind: 'read' | 'write' | 'delete' | 'refused',
  ) {
    const tally = this.#d.signingTally;
    if (!tally) throw new Error('remote signing needs the signing tally');
    const { scope } = caller.access;
    const actor =
      caller.principal.kind === 'api-key' ? `key:${caller.principal.credentialId}` : `user:${scope.userId}`;
    // The read and write keys keep their earlier form, so counts in flight across a deployment carry on.
    const key = `${scope.tenantId}#${actor}#${location.locationId}#${kind}`;
    return tally.tally(SIGNING_AUDIT.name, key, SIGNING_AUDIT.windowSeconds);
  }

  #signingWindow(
    caller: TenantCaller,
    location: StorageLocationRecord,
    counted: { window: number; count: number; previousCount?: number },
  ) {
    return {
      userId: caller.access.scope.userId,
      locationId: location.locationId,
      root: location.root,
      windowStart: new Date(counted.window * SIGNING_AUDIT.windowSeconds * 1000).toISOString(),
      windowSeconds: SIGNING_AUDIT.windowSeconds,
      count: counted.count,
      ...(counted.previousCount !== undefined ? { previousWindowCount: counted.previousCount } : {}),
    };
  }

  /**
   * After STS issued a credential, re-reads (consistently) what allowed it: the caller still a member whose
   * role grants `needed`, and the location still there, neither fenced. Otherwise a removal, demotion or
   * deletion began while this vend was under way, and its revocation's cutoff may come after this credential:
   * it is withheld (409, audited with its access key id) and the client may ask again.
   */
  async #confirmAfterIssue(
    caller: TenantCaller,
    locationId: string,
    needed: Permission,
    credentials: { accessKeyId: string; expiration: string; vendId: string },
  ): Promise<void> {
    const { scope } = caller.access;
    const [member, location] = await Promise.all([
      this.#d.members.getMember(scope, scope.userId),
      this.#d.store.getLocation(scope, locationId, { consistent: true }),
    ]);
    const now = this.#now();
    const reason = !member
      ? 'member-removed'
      : storageFenced(member.storageFenceUntil, now) || !roleHas(member.role, needed)
        ? 'member-access-reduced'
        : !location || storageFenced(location.storageFenceUntil, now)
          ? 'location-removed'
          : undefined;
    if (!reason) return;
    await this.#d.audit.record(scope, {
      action: 'storage-credentials.withheld',
      actor: auditActorOf(caller),
      resource: { type: 'storage-location', id: locationId },
      details: {
        userId: scope.userId,
        locationId,
        reason,
        accessKeyId: credentials.accessKeyId,
        vendId: credentials.vendId,
        expiration: credentials.expiration,
      },
    });
    throw new StorageAccessChangedError();
  }

  /**
   * The tenant whose location contains an `s3://` path: in the managed bucket the path names it
   * (`tenants/<tenantId>/…`); elsewhere the registry's owner of the root containing it. 404 otherwise.
   */
  async tenantOfPath(path: string, field: string): Promise<string> {
    const root = parseField(field, path);
    if (root.bucket === this.#d.managedBucket) {
      const tenantId = /^tenants\/(t_[0-9a-hjkmnp-tv-z]{26})(\/|$)/.exec(root.prefix)?.[1];
      if (tenantId) return tenantId;
      throw new NotFoundError(PATH_NOT_FOUND);
    }
    const owner = await this.#d.pathOwners?.ownerOf(root);
    if (!owner) throw new NotFoundError(PATH_NOT_FOUND);
    return owner;
  }

  /**
   * LaminDB's hub contract for a path: the strongest access the caller may have (write with
   * storage:write-credentials, else read), for `duration_seconds` clamped to what the location allows, with
   * the narrowest registered root containing the path and s3fs options for reaching the store.
   */
  async laminCredentials(
    caller: TenantCaller,
    body: { path: string; duration_seconds?: number | undefined },
  ) {
    const access: StorageAccess = caller.access.permissions.has('storage:write-credentials')
      ? 'write'
      : 'read';
    let location: StorageLocationRecord;
    try {
      location = await this.resolveLocation(caller, body.path, 'body.path');
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError(PATH_NOT_FOUND);
      throw error;
    }
    const longest = location.kind === 'external' ? EXTERNAL_MAX_CREDENTIAL_SECONDS : MAX_CREDENTIAL_SECONDS;
    const durationSeconds = Math.min(
      longest,
      Math.max(MIN_CREDENTIAL_SECONDS, body.duration_seconds ?? longest),
    );
    const vend = await this.vend(caller, { location: location.locationId, access, durationSeconds });
    return {
      Credentials: {
        AccessKeyId: vend.accessKeyId,
        SecretAccessKey: vend.secretAccessKey,
        SessionToken: vend.sessionToken,
        Expiration: vend.expiration,
      },
      StorageAccessibility: {
        storageRoot: location.root,
        isManaged: location.kind === 'managed',
        extraParameters: {
          client_kwargs: { region_name: vend.region },
          ...(vend.endpoint ? { endpoint_url: vend.endpoint } : {}),
          ...(vend.pathStyle ? { config_kwargs: { s3: { addressing_style: 'path' } } } : {}),
          ...(vend.sse
            ? {
                s3_additional_kwargs: {
                  ServerSideEncryption: vend.sse.type,
                  SSEKMSKeyId: vend.sse.keyArn,
                  ...(vend.sse.bucketKeyEnabled === false ? { BucketKeyEnabled: false } : {}),
                },
              }
            : {}),
        },
      },
    };
  }

  /**
   * A location's credentials as Iceberg REST's LoadCredentialsResponse: exactly one S3 credential with the
   * four `s3.*` keys Iceberg clients require, the region, the endpoint hints, and the refresh endpoint (this
   * same request, as a path relative to the API's base URL, which Iceberg resolves against the catalog URI).
   */
  async icebergCredentials(
    caller: TenantCaller,
    locationId: string,
    query: { access: StorageAccess; durationSeconds: number },
  ) {
    const vend = await this.vend(caller, { location: locationId, ...query });
    const refresh = `/v1/tenants/${caller.access.scope.tenantId}/storage-locations/${locationId}/credentials?access=${query.access}&durationSeconds=${query.durationSeconds}`;
    return {
      'storage-credentials': [
        {
          prefix: vend.root,
          config: {
            's3.access-key-id': vend.accessKeyId,
            's3.secret-access-key': vend.secretAccessKey,
            's3.session-token': vend.sessionToken,
            's3.session-token-expires-at-ms': String(Date.parse(vend.expiration)),
            'client.region': vend.region,
            ...(vend.endpoint ? { 's3.endpoint': vend.endpoint } : {}),
            's3.path-style-access': String(vend.pathStyle),
            ...(vend.sse ? { 's3.sse.type': 'kms', 's3.sse.key': vend.sse.keyArn } : {}),
            'client.refresh-credentials-endpoint': refresh,
          },
        },
      ],
    };
  }

  /**
   * The scope self-test of a location: vends read and write credentials as the caller, then with them reads
   * and writes a probe object inside the prefix (with the location's KMS key), and tries what must be refused:
   * a write with the read session, a write outside the prefix and in a sibling prefix (`<prefix>-…`), a listing
   * without the prefix's trailing slash. Where IAM is not enforced (the local emulator) the refusals are not
   * tried and are reported `not-judged`, never passed. Probe objects are removed; the run is audited.
   */
  async validateLocation(caller: TenantCaller, locationId: string) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    const probes = this.#d.probes;
    if (!probes) throw new Error('validateLocation needs the storage probes');
    const checks = new Map<StorageValidationCheckName, StorageValidationCheck>();
    const report = (
      name: StorageValidationCheckName,
      status: StorageValidationCheck['status'],
      detail: string,
    ) => checks.set(name, { name, status, detail });
    const finish = async () => {
      const all = [...checks.values()];
      const result = validationResult(all);
      await this.#d.audit.record(scope, {
        action: 'storage-location.validated',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: locationId },
        details: { result, checks: all.map(({ name, status }) => ({ name, status })) },
      });
      return { locationId, result, checks: all };
    };
    const notRun = (names: readonly StorageValidationCheckName[], why: string) => {
      for (const name of names) if (!checks.has(name)) report(name, 'not-run', why);
    };

    if (location.endpoint && !location.stsEndpoint) {
      report(
        'credentials-issued',
        'not-applicable',
        "A signing-only location (its store has no STS endpoint): no credentials are issued, and each request is checked by POST …/sign before it is signed with the store's key pair.",
      );
      notRun(
        STORAGE_VALIDATION_CHECKS,
        'Needs scoped credentials, which a signing-only location does not issue; the store key pair itself was proven to list the root when it was registered or replaced.',
      );
      return finish();
    }
    // 1. Credentials, exactly as a vend of the caller's would get them.
    const issued: Partial<Record<StorageAccess, Awaited<ReturnType<StorageService['vend']>>>> = {};
    const refusals: string[] = [];
    for (const access of ['read', 'write'] as const) {
      try {
        issued[access] = await this.vend(caller, {
          location: locationId,
          access,
          durationSeconds: MIN_CREDENTIAL_SECONDS,
        });
      } catch (error) {
        if (!(error instanceof HttpProblemError) || error.status >= 500) throw error;
        refusals.push(`${access}: ${error.message}`);
      }
    }
    if (!issued.read || !issued.write) {
      report('credentials-issued', 'fail', `Not issued. ${refusals.join(' ')}`);
      notRun(STORAGE_VALIDATION_CHECKS, 'Needs read and write credentials.');
      return finish();
    }
    report(
      'credentials-issued',
      'pass',
      `Read (${issued.read.vendId}) and write (${issued.write.vendId}) credentials issued.`,
    );
    const { bucket, prefix } = location;
    const where = {
      region: issued.read.region,
      pathStyle: issued.read.pathStyle,
      ...(location.endpoint
        ? {
            store: {
              endpoint: location.endpoint,
              hostPolicy: this.#d.hostPolicy ?? { allowPrivateNetworks: false },
            },
          }
        : {}),
    };
    const session = (c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => ({
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
    });
    const read = probes(session(issued.read), where);
    const write = probes(session(issued.write), where);
    const run = randomBytes(8).toString('hex');
    const inside = `${prefix ? `${prefix}/` : ''}.strongroom-validation/${run}`;
    const body = `strongroom validation ${run}
`;
    const said = (o: ProbeOutcome<unknown>) =>
      o.outcome === 'allowed' ? 'allowed' : `${o.outcome} (${o.error})`;
    try {
      // 2. Read inside the prefix: list it as clients do (with the trailing slash).
      const listed = await read.list(bucket, prefix ? `${prefix}/` : '');
      report(
        'read-inside-prefix',
        listed.outcome === 'allowed' ? 'pass' : 'fail',
        `Listing ${formatStorageRoot(location)}/ with the read session: ${said(listed)}.`,
      );

      // 3 and 4. A probe object written with the write session, read back with the read session, removed.
      const sse = issued.write.sse;
      const put = await write.put(bucket, inside, body, sse);
      const got = put.outcome === 'allowed' ? await read.get(bucket, inside) : undefined;
      const removed = put.outcome === 'allowed' ? await write.delete(bucket, inside) : undefined;
      const roundTrip =
        got?.outcome === 'allowed' && got.value.body === body && removed?.outcome === 'allowed';
      report(
        'write-inside-prefix',
        roundTrip ? 'pass' : 'fail',
        `Writing s3://${bucket}/${inside}: ${said(put)}${got ? `; reading it back: ${said(got)}` : ''}${removed ? `; removing it: ${said(removed)}` : ''}.`,
      );
      // Managed: the tenant's own key, which the write session demands (its vend's hint names it).
      const keyArn = location.kind === 'external' ? location.kmsKeyArn : sse?.keyArn;
      if (location.kind === 'external' && !keyArn && !location.previousKmsKeyArns)
        report('kms-key', 'not-applicable', 'The location names no KMS key (SSE-S3 or the bucket default).');
      else if (!roundTrip) report('kms-key', 'not-run', 'Needs the probe object written and read back.');
      else if (!this.#enforcesIam)
        report(
          'kms-key',
          'not-judged',
          'The local emulator calls no KMS for S3, so it cannot show that S3 may use the key for this session.',
        );
      else {
        const encryption = got.outcome === 'allowed' ? got.value : undefined;
        const underKey =
          encryption?.serverSideEncryption === 'aws:kms' &&
          (!keyArn || (encryption.kmsKeyId ?? '').endsWith(keyArn.split('/')[1]!));
        report(
          'kms-key',
          underKey ? 'pass' : 'fail',
          underKey
            ? `S3 encrypted and decrypted the probe object with ${keyArn ?? "the bucket's default key"}${location.kind === 'managed' ? " (the tenant's own key)" : ''} for this session.`
            : `The probe object was stored with ${encryption?.serverSideEncryption ?? 'no'} encryption${encryption?.kmsKeyId ? ` under ${encryption.kmsKeyId}` : ''}, not the location's key.`,
        );
      }

      // 5 to 8. What must be refused, only where IAM decides.
      const refusalsToTry: [
        StorageValidationCheckName,
        () => Promise<ProbeOutcome>,
        string,
        string | undefined,
      ][] = [
        [
          'read-session-cannot-write',
          () => read.put(bucket, `${inside}-read`, body),
          'A write with the read session',
          `${inside}-read`,
        ],
      ];
      if (prefix) {
        const outside = `strongroom-validation-outside/${run}`;
        const sibling = `${prefix}-strongroom-validation/${run}`;
        refusalsToTry.push(
          [
            'write-outside-prefix-refused',
            () => write.put(bucket, outside, body, sse),
            `A write to s3://${bucket}/${outside}`,
            outside,
          ],
          [
            'write-sibling-prefix-refused',
            () => write.put(bucket, sibling, body, sse),
            `A write to s3://${bucket}/${sibling}`,
            sibling,
          ],
          [
            'list-sibling-prefix-refused',
            () => read.list(bucket, prefix),
            `Listing s3://${bucket}/${prefix} without the trailing slash (it would show sibling prefixes)`,
            undefined,
          ],
        );
      } else
        for (const name of [
          'write-outside-prefix-refused',
          'write-sibling-prefix-refused',
          'list-sibling-prefix-refused',
        ] as const)
          report(
            name,
            'not-applicable',
            'The location is a whole bucket: there is nothing outside it in the bucket.',
          );
      for (const [name, attempt, what, key] of refusalsToTry) {
        if (!this.#enforcesIam) {
          report(
            name,
            'not-judged',
            `${what} was not tried: the local emulator enforces no IAM, so it would succeed whatever the policy says. It is judged against AWS.`,
          );
          continue;
        }
        const outcome = await attempt();
        if (outcome.outcome === 'denied') report(name, 'pass', `${what} was refused (${outcome.error}).`);
        else if (outcome.outcome === 'failed')
          report(name, 'fail', `${what} failed for another reason than a refusal (${outcome.error}).`);
        else {
          // The scope leaks: say so, and take back what the write left.
          const cleanup = key ? await write.delete(bucket, key) : undefined;
          report(
            name,
            'fail',
            `${what} was allowed.${cleanup ? ` Removing the object: ${said(cleanup)}.` : ''}`,
          );
        }
      }
    } finally {
      read.close();
      write.close();
    }
    return finish();
  }

  /**
   * What a client needs to reach a location: the region, the endpoint (when not AWS's default), the
   * addressing style, and the key to write with: for an external SSE-KMS bucket its key (its bucket policy
   * may refuse uploads under any other); for a managed location the tenant's own key (`tenantKeyArn`) with
   * Bucket Keys off, the only writes its session allows.
   */
  endpointHints(
    location: Pick<StorageLocationRecord, 'region' | 'kind' | 'kmsKeyArn' | 'endpoint' | 'pathStyle'>,
    tenantKeyArn?: string,
  ): {
    region: string;
    endpoint?: string;
    pathStyle: boolean;
    sse?: { type: 'aws:kms'; keyArn: string; bucketKeyEnabled?: boolean };
  } {
    // An S3-compatible store: its own endpoint and addressing style, whatever the platform's S3 is.
    if (location.endpoint)
      return { region: location.region, endpoint: location.endpoint, pathStyle: location.pathStyle ?? true };
    const store = this.#d.s3Endpoint;
    const sse =
      location.kind === 'managed'
        ? tenantKeyArn && { type: 'aws:kms' as const, keyArn: tenantKeyArn, bucketKeyEnabled: false }
        : location.kmsKeyArn && { type: 'aws:kms' as const, keyArn: location.kmsKeyArn };
    return {
      region: location.region,
      ...(store?.endpoint ? { endpoint: store.endpoint } : {}),
      pathStyle: store?.pathStyle ?? false,
      ...(sse ? { sse } : {}),
    };
  }

  /**
   * Revokes a user's storage credentials in this tenant (current or former member: a removed member is
   * exactly who needs it), as far as each kind of location allows, and says per kind what happened. 404
   * naming `body.userId` when the user holds no credential of this tenant that could still be valid (the
   * route's per-user and per-tenant rate limits are spent either way). Owners' and admins' credentials only
   * by an owner, as with their membership.
   */
  async revoke(caller: TenantCaller, userId: string) {
    const { scope } = caller.access;
    const targetRole = (await this.#d.members.getMember(scope, userId))?.role;
    if (
      targetRole &&
      (targetRole === 'admin' || targetRole === 'owner') &&
      !caller.access.permissions.has('members:manage-admins-owners') &&
      userId !== caller.principal.userId
    ) {
      throw new ForbiddenError(
        "Revoking an admin's or owner's credentials needs the members:manage-admins-owners permission.",
      );
    }
    const result = await this.#d.access.revokeUser(scope, userId, { refuse: true });
    this.#d.vendor.drop(scope.tenantId, { userId });
    await this.#d.audit.record(scope, {
      action: 'storage-credentials.revoked',
      actor: auditActorOf(caller),
      resource: { type: 'user', id: userId },
      details: { userId, revokedBefore: result.revokedBefore, credentials: result.credentials },
    });
    return { ...result, revokedBefore: result.revokedBefore! };
  }
}

/** Refuses a root whose write session policy would not fit STS's packed budget, naming `body.root`. */
function requireSessionPolicyFits(input: SessionPolicyInput): void {
  try {
    packedSessionPolicy(sessionPolicyFor(input));
  } catch (error) {
    if (error instanceof PolicyTooLargeError)
      throw new ValidationError([
        { path: 'body.root', message: 'The root is too long for an STS session policy' },
      ]);
    throw error;
  }
}
