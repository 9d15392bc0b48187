import {
  DEFAULT_CREDENTIAL_SECONDS,
  EXTERNAL_MAX_CREDENTIAL_SECONDS,
  MAX_CREDENTIAL_SECONDS,
  MAX_PREVIOUS_KMS_KEYS,
  MIN_CREDENTIAL_SECONDS,
  STORAGE_ACCESS,
} from '../domain/storage-limits.js';
import { STORAGE_VALIDATION_CHECKS, VALIDATION_STATUSES } from '../domain/storage-validation.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { defineTenantListRoute, TenantParams, UserId } from './common.js';

export const LocationId = z.onFirstUse(() =>
  z.string().check(z.regex(/^l_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a storage location id')),
);

/** `{tenantId, locationId}`: the path of every route on one location (built by the route's getter, on first read). */
const locationParams = () =>
  z.strictObject({ tenantId: TenantParams().shape.tenantId, locationId: LocationId() });
export const InstanceId = z.onFirstUse(() =>
  z.string().check(z.regex(/^i_[0-9a-hjkmnp-tv-z]{26}$/, 'Not an instance id')),
);
/** An `s3://` URI; its full rules are checked by shared/domain/storage-roots.ts (errors name the field). */
const S3Uri = z.onFirstUse(() =>
  z.string().check(z.minLength(5), z.maxLength(400), z.startsWith('s3://', 'Must be an s3:// URI')),
);
/** AWS role ARNs name their account; an S3-compatible store's (Ceph: `arn:aws:iam:::role/x`) may not. */
const RoleArn = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.maxLength(2048),
      z.regex(/^arn:aws[a-z-]*:iam::(\d{12})?:role\/[\w+=,.@/-]{1,512}$/, 'Not an IAM role ARN'),
    ),
);
/** An S3-compatible store's endpoint: an https origin; its full rules (shared/connectors/s3-compatible.ts) name the field. */
const StoreEndpoint = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(2048),
      z.describe(
        'An origin only (https://host[:port]; no user name, path, query or fragment); port 443 or 1024-65535; public addresses only, never link-local or metadata (http to loopback in local mode)',
      ),
    ),
);
/** An access key id or secret of a store: printable ASCII without spaces. */
const StoreKeyText = (max: number) =>
  z
    .string()
    .check(z.minLength(1), z.maxLength(max), z.regex(/^[\x21-\x7e]+$/, 'Printable ASCII without spaces'));
/** A KMS key by its key ARN: IAM authorises KMS on the key ARN, so an alias (or a bare key id) could not be granted. */
const KmsKeyArn = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.maxLength(2048),
      z.regex(
        /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/,
        'Not a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key id>; aliases are not accepted)',
      ),
    ),
);
/** A location's signing region: an AWS region, or `auto` (Cloudflare R2) for an S3-compatible store. */
const LocationRegion = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.regex(/^([a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d|auto)$/, 'Not an AWS region (or "auto" for a store)'),
    ),
);
const InstanceName = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.regex(
        /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
        'Lower-case letters, digits and inner hyphens, at most 63',
      ),
    ),
);

export const StorageLocation = z.onFirstUse(() =>
  z
    .object({
      locationId: LocationId(),
      kind: z.enum(['managed', 'external']),
      root: z.string(),
      bucket: z.string(),
      prefix: z.string(),
      region: z.string(),
      roleArn: z.optional(z.string()),
      externalId: z.optional(z.string()),
      kmsKeyArn: z
        .optional(z.string())
        .check(
          z.describe(
            'External, SSE-KMS buckets: the key new objects are written under (for storage-locations:manage)',
          ),
        ),
      previousKmsKeyArns: z
        .optional(z.array(z.string()))
        .check(
          z.describe(
            'Older keys existing objects are still encrypted under; decrypt only (for storage-locations:manage)',
          ),
        ),
      endpoint: z
        .optional(z.string())
        .check(z.describe("S3-compatible stores: the store's S3 endpoint (absent: AWS S3)")),
      pathStyle: z
        .optional(z.boolean())
        .check(z.describe('S3-compatible stores: buckets in the path at the endpoint')),
      signingOnly: z
        .optional(z.boolean())
        .check(
          z.describe(
            'S3-compatible stores without an STS endpoint: no credentials are vended (409 signing-only-location); use POST …/sign',
          ),
        ),
      stsEndpoint: z
        .optional(z.string())
        .check(z.describe("S3-compatible stores: the store's STS endpoint (for storage-locations:manage)")),
      storeKeyUpdatedAt: z
        .optional(z.string())
        .check(
          z.describe(
            "S3-compatible stores: when the store's key pair was last set (for storage-locations:manage); the key pair itself is never returned",
          ),
        ),
      createdAt: z.string(),
      createdBy: UserId(),
    })
    .check(z.meta({ id: 'StorageLocation' })),
);

export const Instance = z.onFirstUse(() =>
  z
    .object({
      instanceId: InstanceId(),
      name: z.string(),
      defaultStorageRoot: z.string(),
      storageLocationId: LocationId(),
      createdAt: z.string(),
      createdBy: UserId(),
    })
    .check(z.meta({ id: 'Instance' })),
);

export const StorageCredentials = z.onFirstUse(() =>
  z
    .object({
      accessKeyId: z.string(),
      secretAccessKey: z.string(),
      sessionToken: z.string(),
      expiration: z.string(),
      region: z.string().check(z.describe('The region to sign requests for')),
      endpoint: z
        .optional(z.string())
        .check(
          z.describe(
            "The S3 endpoint to use; absent when it is AWS's default for the region (always set in local mode)",
          ),
        ),
      pathStyle: z
        .boolean()
        .check(
          z.describe('Address the bucket in the path (endpoint/bucket/key) rather than in the host name'),
        ),
      sse: z
        .optional(
          z.object({
            type: z.literal('aws:kms'),
            keyArn: z.string(),
            bucketKeyEnabled: z
              .optional(z.boolean())
              .check(
                z.describe(
                  'Managed locations: false. Send x-amz-server-side-encryption-bucket-key-enabled: false (or nothing); a request asking for an S3 Bucket Key is refused',
                ),
              ),
          }),
        )
        .check(
          z.describe(
            "Write uploads with this server-side encryption (x-amz-server-side-encryption: aws:kms and this key ARN as x-amz-server-side-encryption-aws-kms-key-id): for managed locations the tenant's own key, which the session demands of every write; for external locations registered with a kmsKeyArn, the key their bucket's policy may demand",
          ),
        ),
      bucket: z.string(),
      prefix: z.string(),
      access: z.enum(STORAGE_ACCESS),
      locationId: LocationId(),
      root: z.string(),
      vendId: z
        .string()
        .check(
          z.regex(/^v_[0-9a-hjkmnp-tv-z]{9}$/),
          z.describe(
            'The vend that made this STS session: the last part of its session name in CloudTrail, and in the storage-credentials.vended audit event',
          ),
        ),
    })
    .check(z.meta({ id: 'StorageCredentials' })),
);

/** What a revocation did to one kind of credential (shared/domain/storage-revocation.ts words it). */
export const RevocationOutcome = z.onFirstUse(() =>
  z
    .object({
      kind: z.enum(['managed', 'external']),
      effect: z.enum(['denied', 'not-revocable', 'none-live']),
      /** `denied`: credentials issued before this time are refused. */
      issuedBefore: z.optional(z.string()),
      /** `not-revocable`: the time by which every such credential has expired. */
      expireBy: z.optional(z.string()),
      detail: z.string(),
    })
    .check(z.meta({ id: 'RevocationOutcome' })),
);

/**
 * Revocations and location deletions write IAM (the tenant's own role); IAM's write rate is shared by the
 * whole account, so each user and each tenant gets a budget.
 */
export const REVOCATIONS_PER_USER_PER_HOUR = 30;
export const REVOCATIONS_PER_TENANT_PER_HOUR = 60;

export const listInstances = defineTenantListRoute({
  id: 'listInstances',
  path: '/v1/tenants/{tenantId}/instances',
  area: 'storage',
  summary: 'List LaminDB-style instances',
  tags: ['storage'],
  permission: 'instances:read',
  description: 'A page of instances',
  item: Instance,
});

export const createInstance = defineRoute({
  id: 'createInstance',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/instances',
  area: 'storage',
  summary: 'Create an instance whose default storage lies in a registered location',
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'instances:write' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({
      name: InstanceName(),
      /** A location id, or an `s3://` path inside a registered location. */
      defaultStorageRoot: z.union([LocationId(), S3Uri()]),
    });
  },
  response: {
    status: 201,
    description: 'The instance',
    get schema() {
      return Instance();
    },
  },
});

export const listStorageLocations = defineTenantListRoute({
  id: 'listStorageLocations',
  path: '/v1/tenants/{tenantId}/storage-locations',
  area: 'storage',
  summary: 'List storage locations (role ARN and ExternalId only for storage-locations:manage)',
  tags: ['storage'],
  // Every member may vend read credentials, so every member may see what there is to vend for.
  permission: 'instances:read',
  description: 'A page of storage locations',
  item: StorageLocation,
});

export const createStorageLocation = defineRoute({
  id: 'createStorageLocation',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/storage-locations',
  area: 'storage',
  summary: 'Register a managed location, or an external s3:// root reached through your role',
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'storage-locations:manage' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.union([
      z.strictObject({ managed: z.literal(true) }),
      z.strictObject({
        root: S3Uri(),
        /** AWS S3: the customer's role (required). S3-compatible store: its role for STS AssumeRole (optional). */
        roleArn: z.optional(RoleArn()),
        region: z.optional(LocationRegion()),
        /** An S3-compatible store (MinIO, Ceph, R2…): its endpoint; with it, the store's key pair is required. */
        endpoint: z.optional(StoreEndpoint()),
        /** The store's STS endpoint; without it the location is signing-only. */
        stsEndpoint: z.optional(StoreEndpoint()),
        /** Buckets in the path at the store's endpoint (default true). */
        pathStyle: z.optional(z.boolean()),
        /** The store's access key pair: write-only, stored encrypted under the tenant's key. */
        accessKeyId: z.optional(StoreKeyText(128)),
        secretAccessKey: z.optional(StoreKeyText(256)),
        /** The bucket's SSE-KMS key (in the bucket's region): vended sessions may have S3 use it. */
        kmsKeyArn: z.optional(KmsKeyArn()),
        /** Keys older objects are still encrypted under: vended sessions may have S3 decrypt with them. */
        previousKmsKeyArns: z.optional(
          z.array(KmsKeyArn()).check(z.minLength(1), z.maxLength(MAX_PREVIOUS_KMS_KEYS)),
        ),
      }),
    ]);
  },
  response: {
    status: 201,
    description: 'The location (external ones carry the tenant ExternalId)',
    get schema() {
      return StorageLocation();
    },
  },
});

export const updateStorageLocation = defineRoute({
  id: 'updateStorageLocation',
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}/storage-locations/{locationId}',
  area: 'storage',
  summary:
    "Replace an S3-compatible store location's key pair (rotation): checked against the store like at registration, stored encrypted, never returned",
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'storage-locations:manage' },
  get params() {
    return locationParams();
  },
  get body() {
    return z.strictObject({ accessKeyId: StoreKeyText(128), secretAccessKey: StoreKeyText(256) });
  },
  response: {
    status: 200,
    description: 'The location',
    get schema() {
      return StorageLocation();
    },
  },
});

export const getStorageExternalId = defineRoute({
  id: 'getStorageExternalId',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/storage-locations/external-id',
  area: 'storage',
  summary:
    "The tenant's ExternalId (created on first use): require it in your role's trust policy before registering an external root",
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'storage-locations:manage' },
  get params() {
    return TenantParams();
  },
  response: {
    status: 200,
    description: 'The ExternalId, the same for every external location of the tenant',
    get schema() {
      return z.object({ externalId: z.string() });
    },
  },
});

export const deleteStorageLocation = defineRoute({
  id: 'deleteStorageLocation',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/storage-locations/{locationId}',
  area: 'storage',
  summary:
    'Remove a storage location (not while an instance uses it); its credentials stop as far as its kind allows; a managed location’s objects are deleted, every version (409 deletion-in-progress: send again to continue)',
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'storage-locations:manage' },
  get params() {
    return locationParams();
  },
  rateLimits: [
    {
      name: 'storage-location-delete-user',
      per: 'user',
      limit: REVOCATIONS_PER_USER_PER_HOUR,
      windowSeconds: 3600,
    },
    {
      name: 'storage-location-delete-tenant',
      per: 'tenant',
      limit: REVOCATIONS_PER_TENANT_PER_HOUR,
      windowSeconds: 3600,
    },
  ],
  response: {
    status: 200,
    description:
      'Removed; `credentials` says what happened to the credentials vended for it (managed: denied; external: not revocable, expire by a time)',
    get schema() {
      return z.object({
        locationId: LocationId(),
        kind: z.enum(['managed', 'external']),
        revokedBefore: z.string(),
        credentials: z.array(RevocationOutcome()),
        objectsDeleted: z
          .optional(z.number().check(z.int()))
          .check(
            z.describe(
              'Managed locations: the object versions, delete markers and incomplete multipart uploads removed by this request (the last of a deletion that answered 409 deletion-in-progress before). External locations: absent; nothing in a customer bucket is deleted',
            ),
          ),
      });
    },
  },
});

export const vendStorageCredentials = defineRoute({
  id: 'vendStorageCredentials',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/storage-credentials',
  area: 'storage',
  summary: `Short-lived S3 credentials for one location (read: viewer and up; write: editor and up); external locations at most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} seconds`,
  tags: ['storage'],
  // Write additionally needs storage:write-credentials, checked by the handler.
  auth: { kind: 'tenant', permission: 'storage:read-credentials' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({
      location: z.union([LocationId(), S3Uri()]),
      access: z.enum(STORAGE_ACCESS),
      durationSeconds: z._default(
        z.number().check(z.int(), z.minimum(MIN_CREDENTIAL_SECONDS), z.maximum(MAX_CREDENTIAL_SECONDS)),
        DEFAULT_CREDENTIAL_SECONDS,
      ),
    });
  },
  response: {
    status: 200,
    description: 'Credentials (shown once, never stored)',
    get schema() {
      return StorageCredentials();
    },
  },
});

export const revokeStorageCredentials = defineRoute({
  id: 'revokeStorageCredentials',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/storage-credentials/revocations',
  area: 'storage',
  summary:
    "Stop a user's storage credentials in this tenant: managed-location ones now; external-location ones cannot be, and the answer says when they expire",
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'members:manage' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({ userId: UserId() });
  },
  rateLimits: [
    {
      name: 'storage-revocations-user',
      per: 'user',
      limit: REVOCATIONS_PER_USER_PER_HOUR,
      windowSeconds: 3600,
    },
    {
      name: 'storage-revocations',
      per: 'tenant',
      limit: REVOCATIONS_PER_TENANT_PER_HOUR,
      windowSeconds: 3600,
    },
  ],
  response: {
    status: 200,
    description:
      'What happened per kind of location: managed-location credentials issued before `revokedBefore` are denied; external-location ones are not revocable and expire by `expireBy`. 404 naming body.userId when the user holds no credential of this tenant that could still be valid.',
    get schema() {
      return z.object({
        userId: UserId(),
        revokedBefore: z.string(),
        credentials: z.array(RevocationOutcome()),
        objectsDeleted: z
          .optional(z.number().check(z.int()))
          .check(
            z.describe(
              'Managed locations: the object versions, delete markers and incomplete multipart uploads removed by this request (the last of a deletion that answered 409 deletion-in-progress before). External locations: absent; nothing in a customer bucket is deleted',
            ),
          ),
      });
    },
  },
});

/** What the LaminDB client expects from its hub's `POST {api_url}/storages/credentials`. */
export const LaminStorageCredentials = z.onFirstUse(() =>
  z
    .object({
      Credentials: z.object({
        AccessKeyId: z.string(),
        SecretAccessKey: z.string(),
        SessionToken: z.string(),
        Expiration: z.string().check(z.describe('ISO 8601')),
      }),
      StorageAccessibility: z.object({
        storageRoot: z.string().check(z.describe('The narrowest registered root containing the path')),
        isManaged: z.boolean(),
        extraParameters: z
          .record(z.string(), z.unknown())
          .check(
            z.describe(
              's3fs options: client_kwargs.region_name, endpoint_url, config_kwargs.s3.addressing_style',
            ),
          ),
      }),
    })
    .check(z.meta({ id: 'LaminStorageCredentials' })),
);

export const laminStorageCredentials = defineRoute({
  id: 'laminStorageCredentials',
  method: 'POST',
  path: '/compat/lamin/storages/credentials',
  area: 'storage',
  summary:
    "LaminDB's hub contract: credentials for the registered root containing `path`, in the tenant that registered it (write with storage:write-credentials, else read)",
  tags: ['storage', 'compat'],
  // The tenant follows from the path (roots are globally unique); the handler then requires
  // storage:read-credentials in that tenant, exactly as a tenant route would.
  auth: { kind: 'principal' },
  get body() {
    return z.object({
      path: S3Uri(),
      /** Clamped to 900–3600 (900 at most for external locations), not refused. */
      duration_seconds: z.optional(z.number().check(z.int())),
    });
  },
  response: {
    status: 200,
    description:
      'Credentials (shown once, never stored) and where they reach; 404 when no location you may use contains the path',
    get schema() {
      return LaminStorageCredentials();
    },
  },
});

/** Iceberg REST's LoadCredentialsResponse: string-valued FileIO properties per storage prefix. */
export const IcebergStorageCredentials = z.onFirstUse(() =>
  z
    .object({
      'storage-credentials': z.array(
        z.object({
          prefix: z.string(),
          config: z.record(z.string(), z.string()),
        }),
      ),
    })
    .check(z.meta({ id: 'IcebergStorageCredentials' })),
);

export const loadIcebergStorageCredentials = defineRoute({
  id: 'loadIcebergStorageCredentials',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/storage-locations/{locationId}/credentials',
  area: 'storage',
  summary:
    'Credentials for a location in the Iceberg REST shape (storage-credentials with s3.* FileIO properties); its client.refresh-credentials-endpoint is this same URL',
  tags: ['storage'],
  // Write additionally needs storage:write-credentials, checked by the service as for every vend.
  auth: { kind: 'tenant', permission: 'storage:read-credentials' },
  get params() {
    return locationParams();
  },
  get query() {
    return z.strictObject({
      access: z._default(z.enum(STORAGE_ACCESS), 'read'),
      durationSeconds: z._default(
        z.coerce
          .number()
          .check(z.int(), z.minimum(MIN_CREDENTIAL_SECONDS), z.maximum(MAX_CREDENTIAL_SECONDS)),
        DEFAULT_CREDENTIAL_SECONDS,
      ),
    });
  },
  response: {
    status: 200,
    description: 'Exactly one S3 credential for the location (shown once, never stored)',
    get schema() {
      return IcebergStorageCredentials();
    },
  },
});

/** Remote signing may be asked for every S3 request a client makes: budgets sized for a busy table scan. */
export const SIGNS_PER_USER_PER_MINUTE = 3000;
export const SIGNS_PER_TENANT_PER_MINUTE = 12000;

/** Iceberg's S3Headers: each header name with its values. */
const S3Headers = z.onFirstUse(() =>
  z.record(
    z.string().check(z.maxLength(128)),
    z.array(z.string().check(z.maxLength(8192))).check(z.maxLength(16)),
  ),
);

export const signStorageRequest = defineRoute({
  id: 'signStorageRequest',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/storage-locations/{locationId}/sign',
  area: 'storage',
  summary:
    "Remote signing (Iceberg's S3 signer request): SigV4 headers for one S3 request inside the location, after checking its host, bucket, every key (DeleteObjects bodies too) and listing prefix against the location's prefix; writes need storage:write-credentials",
  tags: ['storage'],
  // Writes additionally need storage:write-credentials, checked by the service from the request's operation.
  auth: { kind: 'tenant', permission: 'storage:read-credentials' },
  get params() {
    return locationParams();
  },
  get body() {
    return z.strictObject({
      region: z.string().check(z.minLength(1), z.maxLength(64)),
      uri: z.string().check(z.minLength(1), z.maxLength(8192)),
      method: z.enum(['PUT', 'GET', 'HEAD', 'POST', 'DELETE', 'PATCH', 'OPTIONS']),
      headers: S3Headers(),
      /** Iceberg clients may send their catalog properties; they change nothing here. */
      properties: z.optional(
        z.record(z.string().check(z.maxLength(256)), z.string().check(z.maxLength(4096))),
      ),
      body: z
        .optional(z.string().check(z.maxLength(60_000)))
        .check(
          z.describe('The XML body of a DeleteObjects request (POST ?delete), whose every key is checked'),
        ),
    });
  },
  rateLimits: [
    { name: 'storage-sign-user', per: 'user', limit: SIGNS_PER_USER_PER_MINUTE, windowSeconds: 60 },
    { name: 'storage-sign-tenant', per: 'tenant', limit: SIGNS_PER_TENANT_PER_MINUTE, windowSeconds: 60 },
  ],
  response: {
    status: 200,
    description:
      "Iceberg's S3SignResponse: the URI to send to and the headers to send with it (Authorization, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256 and the signed request headers)",
    get schema() {
      return z
        .object({ uri: z.string(), headers: z.record(z.string(), z.array(z.string())) })
        .check(z.meta({ id: 'S3SignResponse' }));
    },
  },
});

export const StorageValidation = z.onFirstUse(() =>
  z
    .object({
      locationId: LocationId(),
      result: z
        .enum(['passed', 'failed', 'incomplete'])
        .check(
          z.describe(
            'failed: some check failed; incomplete: none failed, but some could not be judged or run',
          ),
        ),
      checks: z.array(
        z.object({
          name: z.enum(STORAGE_VALIDATION_CHECKS),
          status: z.enum(VALIDATION_STATUSES),
          detail: z.string(),
        }),
      ),
    })
    .check(z.meta({ id: 'StorageValidation' })),
);

export const validateStorageLocation = defineRoute({
  id: 'validateStorageLocation',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/storage-locations/{locationId}/validate',
  area: 'storage',
  summary:
    "A location's scope self-test: vends read and write credentials and reports named checks (read and write inside the prefix, writes outside it and in a sibling prefix refused, the KMS key); what the local emulator cannot judge is reported as not-judged",
  tags: ['storage'],
  auth: { kind: 'tenant', permission: 'storage-locations:manage' },
  get params() {
    return locationParams();
  },
  rateLimits: [{ name: 'storage-location-validate', per: 'tenant', limit: 30, windowSeconds: 3600 }],
  response: {
    status: 200,
    description:
      'The checks and their outcome (a failed check is a 200 with result "failed"); the probe objects written inside the prefix are removed',
    get schema() {
      return StorageValidation();
    },
  },
});

export const storageRoutes = [
  listInstances,
  createInstance,
  listStorageLocations,
  createStorageLocation,
  getStorageExternalId,
  updateStorageLocation,
  deleteStorageLocation,
  vendStorageCredentials,
  revokeStorageCredentials,
  laminStorageCredentials,
  loadIcebergStorageCredentials,
  validateStorageLocation,
  signStorageRequest,
];
