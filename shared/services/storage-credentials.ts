import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { type Permission, roleHas } from '../domain/permissions.js';
import {
  EXTERNAL_MAX_CREDENTIAL_SECONDS,
  MAX_CREDENTIAL_SECONDS,
  MIN_CREDENTIAL_SECONDS,
  type StorageAccess,
} from '../domain/storage-limits.js';
import { permissionForAccess } from '../domain/storage-policy.js';
import { revokedBefore, storageFenced } from '../domain/storage-revocation.js';
import {
  narrowestContainingRoot,
  parseStorageRoot,
  type StorageRoot,
  StorageRootError,
} from '../domain/storage-roots.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { StorageLocationRecord } from '../store/storage-store.js';
import type { StoreKeyPair, StoreKeyPairs } from '../store/store-key-pairs.js';
import type { StorageServiceDeps } from './storage-deps.js';
import { PATH_NOT_FOUND } from './storage-path-not-found.js';

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

/** An `s3://` root of a request field; 400 naming the field when it is not one. */
export function parseField(path: string, uri: string): StorageRoot {
  try {
    return parseStorageRoot(uri);
  } catch (error) {
    if (error instanceof StorageRootError) throw new ValidationError([{ path, message: error.message }]);
    throw error;
  }
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
 * Credentials for a location as the caller: vends, LaminDB's and Iceberg's forms of them, and what remote
 * signing and the self-test obtain the same way (DESIGN.md §4).
 */
export class StorageCredentials {
  readonly #d: StorageServiceDeps;
  readonly #now: () => number;

  constructor(deps: StorageServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** The store key pairs (S3-compatible stores); an error when this function has none. */
  storeKeys(): Pick<StoreKeyPairs, 'encrypt' | 'decrypt'> {
    if (!this.#d.storeKeys) throw new Error('S3-compatible stores need the store key pairs');
    return this.#d.storeKeys;
  }

  /** A store location's key pair, decrypted (in memory, for this request only). */
  async storeKeyPair(scope: TenantScope, location: StorageLocationRecord): Promise<StoreKeyPair> {
    if (!location.storeKeyCiphertext) throw new Error('a store location without its key pair');
    return this.storeKeys().decrypt(scope, location.locationId, location.storeKeyCiphertext);
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
    const { credentials, cached, vendId, packedPolicySize, tenantKeyArn } = await this.issue(
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
  async issue(
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
      ? { stsEndpoint: location.stsEndpoint, keyPair: () => this.storeKeyPair(scope, location) }
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
}
