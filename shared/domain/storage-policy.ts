import type { PolicyDocument, PolicyStatement } from './iam.js';
import { type AwsPartition, partitionOfArn, serviceHost } from './partitions.js';
import type { StorageAccess } from './storage-limits.js';
import type { StorageRoot } from './storage-roots.js';

/**
 * The session policies of storage credential vending (DESIGN.md §4) and what they share with the tenant
 * storage roles (shared/domain/tenant-storage-role.ts) and revocation (shared/domain/storage-revocation.ts).
 * Pure; the simulator tests in test/unit/domain/storage-policy-simulator.test.ts prove what they allow.
 */

/** STS refuses an inline session policy longer than this many characters. */
export const STS_SESSION_POLICY_MAX_CHARS = 2048;
/** Read: objects and versions, and listing. */
export const READ_OBJECT_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'] as const;
/**
 * Write adds put (which also authorises CreateMultipartUpload, UploadPart, CompleteMultipartUpload), delete
 * of the current version (never DeleteObjectVersion: versioned buckets stay recoverable), and the two
 * object-level multipart actions. ListBucketMultipartUploads is absent: it has no `s3:prefix` key, so it
 * would reveal uploads across the whole bucket.
 */
export const WRITE_OBJECT_ACTIONS = [
  's3:PutObject',
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
] as const;

export interface SessionPolicyInput extends StorageRoot {
  access: StorageAccess;
  /**
   * The bucket's current KMS key (SSE-KMS), which S3 uses on the session's behalf: the storage bucket's own
   * key for managed locations; for an external location, the key its owner registered (the customer's key
   * policy must still allow their role). Read sessions may have S3 decrypt with it, write sessions also
   * generate data keys.
   */
  kmsKeyArn?: string;
  /**
   * External locations: older keys that objects written before a key rotation are still encrypted under.
   * Decrypt only, never GenerateDataKey: new objects are written under `kmsKeyArn`.
   */
  previousKmsKeyArns?: readonly string[];
  /** The bucket's partition (its region's); defaults to the key's, else the commercial one. */
  partition?: AwsPartition;
  /**
   * Managed locations: every object the session creates must be SSE-KMS under `kmsKeyArn` (the tenant's own
   * key), so that shredding the key makes it unreadable. Write sessions get the denies of `sseDenies`
   * (another encryption type, another key, `aws:kms` without a key, SSE-C); a write naming no encryption at all
   * falls to the bucket's default key, which the session cannot have S3 generate a data key with. S3 has no
   * condition key for the Bucket Key header; a Bucket Key's data key is bound to the bucket ARN, which the
   * tenant key's `ManagedObjectsViaS3` statement refuses, so such a write fails too.
   */
  enforceKmsKey?: boolean;
}

/** What a read session may have S3 ask KMS for: decrypting the data key of an object it gets. */
export const STORAGE_KEY_READ_ACTIONS = ['kms:Decrypt'] as const;
/**
 * Write adds the data key S3 generates for a PutObject/CreateMultipartUpload; Decrypt stays (multipart
 * uploads and copies decrypt the data key again).
 */
export const STORAGE_KEY_WRITE_ACTIONS = ['kms:GenerateDataKey'] as const;

/**
 * The action whose requests create objects: PutObject, CreateMultipartUpload, CopyObject (its target),
 * UploadPart, UploadPartCopy, CompleteMultipartUpload are all `s3:PutObject`. Clients send the encryption
 * headers on PutObject, CreateMultipartUpload and CopyObject only; the parts of an upload carry none and are
 * encrypted as its creation said (hence `...IfExists` in `sseDenies`).
 */
export const ENFORCED_KEY_WRITE_ACTIONS = ['s3:PutObject'] as const;

const KMS_KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/;

/** The region of a KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`); TypeError for anything else. */
export function kmsKeyRegion(keyArn: string): string {
  const region = KMS_KEY_ARN.exec(keyArn)?.[2];
  if (!region)
    throw new TypeError('expected a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)');
  return region;
}

/**
 * The `kms:ViaService` value of S3 in one region. Exact rather than `s3.*.amazonaws.com`: S3 uses a KMS key
 * only for a bucket in the key's own region, so this is the only value a legitimate request carries, and the
 * simulator tests can show that every other one (another region, another service, none) is refused.
 */
export function s3ViaService(region: string, dnsSuffix?: string): string {
  return serviceHost('s3', region, dnsSuffix);
}

/**
 * The KMS statement of a session or role policy: the storage key, only as S3 uses it for a request S3 has
 * already authorised (`kms:ViaService`). No `kms:EncryptionContext:aws:s3:arn` condition, on purpose: the
 * key protects this one bucket only, and a session reaches S3 only for objects under its own prefix, so S3
 * never uses the key on the session's behalf for anything else; with bucket keys the context is the bucket
 * ARN (the same for every tenant, so no tenant separation to gain), while an object written with the bucket
 * key switched off (a client may do that per request) carries the object ARN, so a bucket-ARN condition
 * would only break such reads. For the same reason the revocation deny names `s3:*` only: a revoked
 * session's S3 request is refused before S3 would call KMS, and without S3 the key is unusable.
 */
export function storageKeyStatement(
  sid: string,
  actions: readonly string[],
  keyArn: string,
  region: string,
  extra?: Record<string, string>,
  dnsSuffix?: string,
): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: actions.length === 1 ? actions[0]! : [...actions],
    Resource: keyArn,
    Condition: { StringEquals: { 'kms:ViaService': s3ViaService(region, dnsSuffix), ...extra } },
  };
}

/** A policy that would not fit where it has to go (STS or IAM); the caller maps it to a clear 4xx. */
export class PolicyTooLargeError extends Error {
  readonly size: number;
  readonly limit: number;
  constructor(what: string, size: number, limit: number) {
    super(`The ${what} has ${size} characters; the limit is ${limit}.`);
    this.name = 'PolicyTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

const s3Arn = (partition: AwsPartition, bucket: string, key?: string) =>
  key === undefined ? `arn:${partition}:s3:::${bucket}` : `arn:${partition}:s3:::${bucket}/${key}`;

/**
 * The session policy of one vend: objects under `prefix/*` and `s3:ListBucket` only with `s3:prefix` under
 * `prefix/`. The trailing slash is the boundary: listing with `s3:prefix = prefix` (no slash) is refused,
 * because S3 would then also return `prefix2/…` keys and common prefixes, revealing a sibling root's
 * names. Clients list a root as `prefix/` (boto3, the AWS CLI `s3 ls s3://b/prefix/`, LaminDB all do).
 * An empty prefix (a whole registered bucket) grants the bucket.
 */
export function sessionPolicyFor(input: SessionPolicyInput): PolicyDocument {
  const { bucket, prefix, access, kmsKeyArn } = input;
  const previous = input.previousKmsKeyArns ?? [];
  const anyKey = kmsKeyArn ?? previous[0];
  const partition = input.partition ?? (anyKey ? partitionOfArn(anyKey) : 'aws');
  if (!bucket) throw new TypeError('sessionPolicyFor needs a bucket');
  if (/[*?$]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/'))
    throw new TypeError('sessionPolicyFor needs a normalised prefix');
  const objects = s3Arn(partition, bucket, prefix ? `${prefix}/*` : '*');
  const objectActions: string[] =
    access === 'write' ? [...READ_OBJECT_ACTIONS, ...WRITE_OBJECT_ACTIONS] : [...READ_OBJECT_ACTIONS];
  const list: PolicyStatement = {
    Sid: 'List',
    Effect: 'Allow',
    Action: 's3:ListBucket',
    Resource: s3Arn(partition, bucket),
  };
  if (prefix) list.Condition = { StringLike: { 's3:prefix': `${prefix}/*` } };
  const statements: PolicyStatement[] = [
    { Sid: 'Objects', Effect: 'Allow', Action: objectActions, Resource: objects },
    list,
  ];
  if (kmsKeyArn !== undefined) {
    const keyActions =
      access === 'write'
        ? [...STORAGE_KEY_READ_ACTIONS, ...STORAGE_KEY_WRITE_ACTIONS]
        : [...STORAGE_KEY_READ_ACTIONS];
    statements.push(storageKeyStatement('Key', keyActions, kmsKeyArn, kmsKeyRegion(kmsKeyArn)));
    if (input.enforceKmsKey && access === 'write') statements.push(...sseDenies('*', { keyArn: kmsKeyArn }));
  } else if (input.enforceKmsKey) {
    throw new TypeError('sessionPolicyFor needs the key it is to enforce');
  }
  if (previous.length > 0) {
    const region = kmsKeyRegion(previous[0]!);
    if (previous.some((key) => kmsKeyRegion(key) !== region))
      throw new TypeError('sessionPolicyFor needs every previous key in one region');
    // Objects written before a rotation: S3 may decrypt them, and nothing else (one statement, one region:
    // registration holds every key to the bucket's region, as S3 itself does).
    const statement = storageKeyStatement('PreviousKeys', STORAGE_KEY_READ_ACTIONS, previous[0]!, region);
    statement.Resource = previous.length === 1 ? previous[0]! : [...previous];
    statements.push(statement);
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** The request headers IAM judges an object-creating request by (`s3:PutObject` condition keys). */
export const SSE_CONDITION_KEYS = {
  encryption: 's3:x-amz-server-side-encryption',
  kmsKeyId: 's3:x-amz-server-side-encryption-aws-kms-key-id',
  customerAlgorithm: 's3:x-amz-server-side-encryption-customer-algorithm',
} as const;

/**
 * What a managed-location write may name, as deny statements over `objects` (the session's, or `tenants/*` in
 * the managed bucket's own policy). `keyArn` is the one key allowed (the tenant's); without it (the bucket
 * policy, which cannot name a key per prefix) only the encryption type is held and `deniedKeyArn` is refused.
 *
 * Each deny of a header's value applies only when the encryption header is present (`Null: false` beside the
 * comparison, AND-ed), because the parts of a multipart upload (UploadPart, UploadPartCopy,
 * CompleteMultipartUpload) are `s3:PutObject` requests that carry no encryption header at all, and IAM's
 * negated operators match a missing key: a plain `StringNotEquals` refused every part (boto/botocore#471,
 * aws/aws-cli#4251; AWS documents no condition keys S3 would fill in from the upload's creation).
 * `StringNotEqualsIfExists` would not help: IAM evaluates an `...IfExists` condition whose key is missing as
 * true, so such a deny still matches every part (the simulator tests show it). A request that names no
 * encryption falls to the bucket's default, the storage key, on which no vended session, role or boundary
 * allows `kms:GenerateDataKey`: KMS refuses it instead (the simulator tests show both halves). `aws:kms`
 * without a key id (S3 would use the account's AWS managed key `aws/s3`, whose key policy grants every
 * principal of the account through S3) is refused: with the encryption header present a missing key id is
 * "not equal". SSE-C (a key of the client's, which shredding the tenant key cannot reach) is refused outright.
 * Separate statements: the operands of one condition operator must all match for it to apply. The session's
 * denies name `*`: its only grant to put objects is its own prefix, and STS's 2,048 characters are tight.
 */
export function sseDenies(
  objects: string,
  keys: { keyArn: string } | { deniedKeyArn: string },
  sidPrefix = 'Deny',
): PolicyStatement[] {
  const { encryption, kmsKeyId, customerAlgorithm } = SSE_CONDITION_KEYS;
  const deny = (sid: string, condition: PolicyStatement['Condition']): PolicyStatement => ({
    Sid: `${sidPrefix}${sid}`,
    Effect: 'Deny',
    Action: ENFORCED_KEY_WRITE_ACTIONS[0],
    Resource: objects,
    Condition: condition,
  });
  const named = { [encryption]: 'false' };
  return [
    deny('OtherEncryption', { StringNotEquals: { [encryption]: 'aws:kms' }, Null: named }),
    ...('keyArn' in keys
      ? // With the encryption header present, a key id left out counts as not equal: aws:kms without a key
        // is refused here too.
        [deny('OtherKey', { StringNotEquals: { [kmsKeyId]: keys.keyArn }, Null: named })]
      : [
          deny('StorageKey', { StringEquals: { [kmsKeyId]: keys.deniedKeyArn } }),
          deny('KmsWithoutKey', { Null: { ...named, [kmsKeyId]: 'true' } }),
        ]),
    deny('CustomerKey', { Null: { [customerAlgorithm]: 'false' } }),
  ];
}

/** The session policy as sent to STS (minified), or PolicyTooLargeError when it exceeds STS's limit. */
export function packedSessionPolicy(policy: PolicyDocument): string {
  const text = JSON.stringify(policy);
  if (text.length > STS_SESSION_POLICY_MAX_CHARS)
    throw new PolicyTooLargeError('session policy', text.length, STS_SESSION_POLICY_MAX_CHARS);
  return text;
}

/** The permission a vend of `access` needs (DESIGN.md §2): read for viewers and up, write for editors and up. */
export function permissionForAccess(
  access: StorageAccess,
): 'storage:read-credentials' | 'storage:write-credentials' {
  return access === 'write' ? 'storage:write-credentials' : 'storage:read-credentials';
}

/** A statement of a bucket policy (it names its principals; identity policies never do). */
export interface BucketPolicyStatement extends PolicyStatement {
  Principal: { AWS: string | string[] };
}

/**
 * The managed bucket's own encryption rule for tenant objects (`tenants/*`), to everyone: `sseDenies` without
 * a per-tenant key (a bucket policy cannot name one per prefix; the session policy does), refusing the bucket's
 * own key by name. CDK puts these on the bucket (infra/stacks/stateful-stack.ts) and local mode on the
 * emulator's bucket, whose wrapper (infra/local/moto-server.py) evaluates them.
 */
export function managedBucketPolicyStatements(
  bucketArn: string,
  storageKeyArn: string,
): BucketPolicyStatement[] {
  return sseDenies(`${bucketArn}/tenants/*`, { deniedKeyArn: storageKeyArn }, 'DenyTenantObjects').map(
    (statement) => ({ ...statement, Principal: { AWS: '*' } }),
  );
}
