/**
 * The API's wire types as the SDK sees them. Written out here (not inferred from the server's schemas) so the
 * published package carries no server code and no schema library; test/unit/sdk/storage-sdk-types.test.ts proves
 * they equal the route schemas' output types, so they cannot drift.
 */

export type StorageAccess = 'read' | 'write';

/** A registered storage location: managed (the platform bucket) or external (your bucket, through your role). */
export interface StorageLocation {
  locationId: string;
  kind: 'managed' | 'external';
  /** `s3://bucket/prefix` */
  root: string;
  bucket: string;
  prefix: string;
  region: string;
  /** Only for callers who manage storage locations. */
  roleArn?: string | undefined;
  /** Only for callers who manage storage locations. */
  externalId?: string | undefined;
  /** External SSE-KMS buckets: the key new objects are written under (only for callers who manage locations). */
  kmsKeyArn?: string | undefined;
  /** Older keys existing objects are still encrypted under (only for callers who manage locations). */
  previousKmsKeyArns?: string[] | undefined;
  /** S3-compatible stores: the store's S3 endpoint (absent: AWS S3). */
  endpoint?: string | undefined;
  /** S3-compatible stores: buckets in the path at the endpoint. */
  pathStyle?: boolean | undefined;
  /** S3-compatible stores without STS: no credentials are vended; sign requests instead (`signStorageRequest`). */
  signingOnly?: boolean | undefined;
  /** S3-compatible stores: the store's STS endpoint (only for callers who manage locations). */
  stsEndpoint?: string | undefined;
  /** S3-compatible stores: when the key pair was last set (only for callers who manage locations). */
  storeKeyUpdatedAt?: string | undefined;
  createdAt: string;
  createdBy: string;
}

/** A LaminDB-style instance whose default storage lies in a registered location. */
export interface InstanceView {
  instanceId: string;
  name: string;
  defaultStorageRoot: string;
  storageLocationId: string;
  createdAt: string;
  createdBy: string;
}

/** Vended S3 credentials, and where they reach and how to reach it. */
export interface StorageCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601 */
  expiration: string;
  /** The bucket's region: sign with it. */
  region: string;
  /** The S3 endpoint to use; absent when it is AWS's default for `region`. */
  endpoint?: string | undefined;
  /** Whether to address the bucket in the path (`https://endpoint/bucket/key`) rather than the host name. */
  pathStyle: boolean;
  /**
   * Write uploads with this server-side encryption (`ServerSideEncryption: 'aws:kms'`, `SSEKMSKeyId: keyArn`,
   * and `BucketKeyEnabled: false` when it says so; `uploadEncryption()` gives exactly that). Managed locations:
   * the tenant's own key, which the session demands of every PutObject, CreateMultipartUpload and CopyObject.
   * External locations registered with a KMS key: the key their bucket's policy may demand.
   */
  sse?: { type: 'aws:kms'; keyArn: string; bucketKeyEnabled?: boolean | undefined } | undefined;
  bucket: string;
  prefix: string;
  access: StorageAccess;
  locationId: string;
  root: string;
  /** The vend that made this session: the last part of its session name in CloudTrail, and in the audit log. */
  vendId: string;
}

/**
 * What a revocation (or a location's deletion) did to one kind of credential: `managed` ones are `denied`
 * (issued before `issuedBefore`); `external` ones are `not-revocable` and expire by `expireBy`; `none-live`
 * when none could still be valid. `detail` says it in words.
 */
export interface RevocationOutcome {
  kind: 'managed' | 'external';
  effect: 'denied' | 'not-revocable' | 'none-live';
  issuedBefore?: string | undefined;
  expireBy?: string | undefined;
  detail: string;
}

/** A location's scope self-test: named checks and what they add up to (see the client guide). */
export interface StorageValidation {
  locationId: string;
  /** `failed`: some check failed; `incomplete`: none failed, but some could not be judged (local mode) or run. */
  result: 'passed' | 'failed' | 'incomplete';
  checks: {
    name:
      | 'credentials-issued'
      | 'read-inside-prefix'
      | 'write-inside-prefix'
      | 'kms-key'
      | 'read-session-cannot-write'
      | 'write-outside-prefix-refused'
      | 'write-sibling-prefix-refused'
      | 'list-sibling-prefix-refused';
    status: 'pass' | 'fail' | 'not-judged' | 'not-applicable' | 'not-run';
    detail: string;
  }[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface UserView {
  userId: string;
  email: string;
  name: string;
  mfaEnabled: boolean;
}

export interface LoginResult {
  token: string;
  expiresAt: string;
  user: UserView;
}

export interface Me {
  user: UserView;
  /** Through an API key: only the key's own tenant. */
  memberships: { tenantId: string; role: string }[];
  /** Present when called with an API key: the key, its tenant and its effective scopes. */
  apiKey?: { keyId: string; tenantId: string; scopes: string[] };
}
