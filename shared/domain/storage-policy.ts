import type { PolicyDocument, PolicyStatement } from './iam.js';
import type { StorageRoot } from './storage-roots.js';

/**
 * The IAM policies of storage credential vending (DESIGN.md §4), all generated here: the per-vend session
 * policy, the storage role's own policy and trust policy, and the revocation deny list. Pure; the
 * simulator tests in test/unit/storage-policy-simulator.test.ts prove what they allow.
 */

export const STORAGE_ACCESS = ['read', 'write'] as const;
export type StorageAccess = (typeof STORAGE_ACCESS)[number];

/** Session tags every vended session carries; the storage role's policies and trust depend on them. */
export const SESSION_TAG_KEYS = ['TenantId', 'UserId', 'Access'] as const;

/** Credential lifetimes accepted by the vending API (seconds). 3600 is also STS's role-chaining ceiling. */
export const MIN_CREDENTIAL_SECONDS = 900;
export const MAX_CREDENTIAL_SECONDS = 3600;
export const DEFAULT_CREDENTIAL_SECONDS = 900;

/** STS refuses an inline session policy longer than this many characters. */
export const STS_SESSION_POLICY_MAX_CHARS = 2048;
/**
 * Budget for the revocation inline policy. IAM allows 10,240 characters across all of a role's inline
 * policies; the base policy is attached as a managed policy in AWS, and this leaves room for an inline copy
 * of it (local mode) too.
 */
export const REVOCATION_POLICY_MAX_CHARS = 8192;
/** Name of the storage role's inline policy that holds revocations. */
export const REVOCATION_POLICY_NAME = 'storage-revocations';
/**
 * A revocation entry is kept this long after its cutoff: every credential issued before the cutoff has
 * expired by then (longest lifetime), plus a minute for clock skew between STS and this function.
 */
export const REVOCATION_RETENTION_SECONDS = MAX_CREDENTIAL_SECONDS + 60;

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
   * Managed locations only: the storage bucket's own KMS key (SSE-KMS), which S3 uses on the session's
   * behalf. Absent for external locations: a customer's bucket key is governed by the customer's key policy.
   */
  kmsKeyArn?: string;
}

/** What a read session may have S3 ask KMS for: decrypting the data key of an object it gets. */
export const STORAGE_KEY_READ_ACTIONS = ['kms:Decrypt'] as const;
/**
 * Write adds the data key S3 generates for a PutObject/CreateMultipartUpload; Decrypt stays (multipart
 * uploads and copies decrypt the data key again).
 */
export const STORAGE_KEY_WRITE_ACTIONS = ['kms:GenerateDataKey'] as const;

const KMS_KEY_ARN = /^arn:aws:kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/;

/** The region of a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`); TypeError for anything else. */
export function kmsKeyRegion(keyArn: string): string {
  const region = KMS_KEY_ARN.exec(keyArn)?.[1];
  if (!region) throw new TypeError('expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)');
  return region;
}

/**
 * The `kms:ViaService` value of S3 in one region. Exact rather than `s3.*.amazonaws.com`: S3 uses a KMS key
 * only for a bucket in the key's own region, so this is the only value a legitimate request carries, and the
 * simulator tests can show that every other one (another region, another service, none) is refused.
 */
export function s3ViaService(region: string): string {
  return `s3.${region}.amazonaws.com`;
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
function storageKeyStatement(
  sid: string,
  actions: readonly string[],
  keyArn: string,
  region: string,
  extra?: Record<string, string>,
): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: actions.length === 1 ? actions[0]! : [...actions],
    Resource: keyArn,
    Condition: { StringEquals: { 'kms:ViaService': s3ViaService(region), ...extra } },
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

const s3Arn = (bucket: string, key?: string) =>
  key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;

/**
 * The session policy of one vend: objects under `prefix/*` and `s3:ListBucket` only with `s3:prefix` under
 * `prefix/`. The trailing slash is the boundary: listing with `s3:prefix = prefix` (no slash) is refused,
 * because S3 would then also return `prefix2/…` keys and common prefixes, revealing a sibling root's
 * names. Clients list a root as `prefix/` (boto3, the AWS CLI `s3 ls s3://b/prefix/`, LaminDB all do).
 * An empty prefix (a whole registered bucket) grants the bucket.
 */
export function sessionPolicyFor(input: SessionPolicyInput): PolicyDocument {
  const { bucket, prefix, access, kmsKeyArn } = input;
  if (!bucket) throw new TypeError('sessionPolicyFor needs a bucket');
  if (/[*?$]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/'))
    throw new TypeError('sessionPolicyFor needs a normalised prefix');
  const objects = s3Arn(bucket, prefix ? `${prefix}/*` : '*');
  const objectActions: string[] =
    access === 'write' ? [...READ_OBJECT_ACTIONS, ...WRITE_OBJECT_ACTIONS] : [...READ_OBJECT_ACTIONS];
  const list: PolicyStatement = {
    Sid: 'List',
    Effect: 'Allow',
    Action: 's3:ListBucket',
    Resource: s3Arn(bucket),
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
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** The session policy as sent to STS (minified), or PolicyTooLargeError when it exceeds STS's limit. */
export function packedSessionPolicy(policy: PolicyDocument): string {
  const text = JSON.stringify(policy);
  if (text.length > STS_SESSION_POLICY_MAX_CHARS)
    throw new PolicyTooLargeError('session policy', text.length, STS_SESSION_POLICY_MAX_CHARS);
  return text;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM, not by JavaScript.
const TENANT_PREFIX = 'tenants/${aws:PrincipalTag/TenantId}';

export interface StorageRolePolicyInput {
  bucketArn: string;
  /** The managed bucket's own KMS key (never the platform key). */
  storageKeyArn: string;
  /**
   * The key's region, for `kms:ViaService`. Defaults to the region in `storageKeyArn`; pass it when the ARN
   * is not a literal yet (a CDK token).
   */
  region?: string;
}

/**
 * The storage role's own policy: whatever a session policy says, a session reaches only
 * `tenants/<its TenantId tag>/` in the managed bucket, writes only with `Access = write`, uses the bucket's
 * KMS key only through S3 (Decrypt; GenerateDataKey only with `Access = write`), and a session without the
 * tags can do nothing. It is also the role's permissions boundary.
 */
export function storageRolePolicy(input: StorageRolePolicyInput): PolicyDocument {
  const { bucketArn, storageKeyArn } = input;
  const region = input.region ?? kmsKeyRegion(storageKeyArn);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TenantObjectsRead',
        Effect: 'Allow',
        Action: [...READ_OBJECT_ACTIONS],
        Resource: `${bucketArn}/${TENANT_PREFIX}/*`,
      },
      {
        Sid: 'TenantObjectsWrite',
        Effect: 'Allow',
        Action: [...WRITE_OBJECT_ACTIONS],
        Resource: `${bucketArn}/${TENANT_PREFIX}/*`,
        Condition: { StringEquals: { 'aws:PrincipalTag/Access': 'write' } },
      },
      {
        Sid: 'TenantList',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: bucketArn,
        Condition: { StringLike: { 's3:prefix': `${TENANT_PREFIX}/*` } },
      },
      storageKeyStatement('StorageKeyRead', STORAGE_KEY_READ_ACTIONS, storageKeyArn, region),
      storageKeyStatement('StorageKeyWrite', STORAGE_KEY_WRITE_ACTIONS, storageKeyArn, region, {
        'aws:PrincipalTag/Access': 'write',
      }),
      {
        Sid: 'DenyUntaggedSessions',
        Effect: 'Deny',
        Action: ['s3:*', 'kms:*'],
        Resource: '*',
        Condition: {
          Null: { 'aws:PrincipalTag/TenantId': 'true' },
        },
      },
      {
        Sid: 'DenyWithoutUser',
        Effect: 'Deny',
        Action: ['s3:*', 'kms:*'],
        Resource: '*',
        Condition: { Null: { 'aws:PrincipalTag/UserId': 'true' } },
      },
    ],
  };
}

/** Trust statement with a principal (PolicyStatement has none: identity policies never do). */
export interface TrustStatement extends Omit<PolicyStatement, 'Resource'> {
  Principal: { AWS: string | string[] };
}

export interface TrustPolicyDocument {
  Version: '2012-10-17';
  Statement: TrustStatement[];
}

/**
 * The storage role's trust policy: only the vending function's role may assume it, and only with the
 * three session tags (tenant and user ids in their server-generated shapes, access read or write) and a
 * user id as SourceIdentity. Tag keys other than the three are refused.
 */
export function storageRoleTrustPolicy(input: { vendingRoleArn: string }): TrustPolicyDocument {
  const principal = { AWS: input.vendingRoleArn };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'VendingFunctionWithTags',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:AssumeRole',
        Condition: {
          Null: {
            'aws:RequestTag/TenantId': 'false',
            'aws:RequestTag/UserId': 'false',
            'aws:RequestTag/Access': 'false',
            'sts:SourceIdentity': 'false',
          },
          StringLike: {
            'aws:RequestTag/TenantId': 't_*',
            'aws:RequestTag/UserId': 'u_*',
            'sts:SourceIdentity': 'u_*',
          },
          StringEquals: { 'aws:RequestTag/Access': [...STORAGE_ACCESS] },
        },
      },
      {
        Sid: 'VendingFunctionTags',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:TagSession',
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [...SESSION_TAG_KEYS] } },
      },
      {
        Sid: 'VendingFunctionSourceIdentity',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:SetSourceIdentity',
        Condition: { StringLike: { 'sts:SourceIdentity': 'u_*' } },
      },
    ],
  };
}

/**
 * One revocation: sessions issued before `notBefore`, tagged with one of `tenants` and one of `users`, stop
 * working. A revocation starts as one tenant and one user; compaction (below) may widen it: no `users` means
 * every user of those tenants, no `tenants` as well means every session.
 */
export interface RevocationEntry {
  tenants?: string[];
  users?: string[];
  /** ISO 8601 UTC, whole seconds. */
  notBefore: string;
}

/** A revocation of one user in one tenant, or of the whole tenant without a user. */
export function revocationOf(input: {
  tenantId: string;
  userId?: string;
  notBefore: string;
}): RevocationEntry {
  return {
    tenants: [input.tenantId],
    ...(input.userId ? { users: [input.userId] } : {}),
    notBefore: input.notBefore,
  };
}

/**
 * The cutoff for a revocation made at `nowMs`: rounded *up* to the next whole second, so a credential
 * issued earlier in the same second is covered (fail closed); one issued in that sliver is refused too.
 */
export function revocationCutoff(nowMs: number): string {
  return new Date(Math.ceil((nowMs + 1) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const later = (a: string, b: string) => (a > b ? a : b);
const union = (a: string[] | undefined, b: string[] | undefined) =>
  a === undefined || b === undefined ? undefined : [...new Set([...a, ...b])].sort();
const entryKey = (e: RevocationEntry) => `${e.tenants?.join(',') ?? '*'}/${e.users?.join(',') ?? '*'}`;

/**
 * Adds a revocation and prunes: entries whose cutoff lies more than REVOCATION_RETENTION_SECONDS in the past
 * are dropped (every credential they could deny has expired), and identical subjects keep only the latest
 * cutoff. When the deny policy would still exceed REVOCATION_POLICY_MAX_CHARS, entries are compacted, always
 * by widening and never by dropping a denial (over-revocation only means a re-vend; under-revocation would
 * be a hole), least disruptive first:
 *  1. several users of one tenant → that whole tenant;
 *  2. the two user entries with the closest cutoffs → one entry for their tenants × their users, with the
 *     later cutoff (cross pairs such as a user of one tenant in the other are denied too, briefly);
 *  3. the two tenant-wide entries with the closest cutoffs → both tenants;
 *  4. one entry for every session issued before the latest cutoff.
 */
export function addRevocation(
  entries: readonly RevocationEntry[],
  added: RevocationEntry,
  nowMs: number,
): RevocationEntry[] {
  const byKey = new Map<string, RevocationEntry>();
  for (const entry of [...pruneRevocations(entries, nowMs), added]) {
    const key = entryKey(entry);
    const existing = byKey.get(key);
    if (!existing || existing.notBefore < entry.notBefore) byKey.set(key, entry);
  }
  let result = [...byKey.values()];
  while (policyLength(result) > REVOCATION_POLICY_MAX_CHARS) result = compactOnce(result);
  return result.sort((a, b) => (a.notBefore < b.notBefore ? -1 : a.notBefore > b.notBefore ? 1 : 0));
}

/** Entries still able to deny a live credential at `nowMs`. */
export function pruneRevocations(entries: readonly RevocationEntry[], nowMs: number): RevocationEntry[] {
  return entries.filter((e) => Date.parse(e.notBefore) + REVOCATION_RETENTION_SECONDS * 1000 > nowMs);
}

function merge(a: RevocationEntry, b: RevocationEntry): RevocationEntry {
  const tenants = union(a.tenants, b.tenants);
  const users = union(a.users, b.users);
  return {
    ...(tenants ? { tenants } : {}),
    ...(users ? { users } : {}),
    notBefore: later(a.notBefore, b.notBefore),
  };
}

/** The pair among `candidates` with the closest cutoffs, merged into `entries`; undefined with fewer than two. */
function mergeClosest(
  entries: RevocationEntry[],
  candidates: RevocationEntry[],
): RevocationEntry[] | undefined {
  if (candidates.length < 2) return undefined;
  const sorted = [...candidates].sort((a, b) => Date.parse(a.notBefore) - Date.parse(b.notBefore));
  let best = 0;
  for (let i = 1; i < sorted.length - 1; i++) {
    const gap = Date.parse(sorted[i + 1]!.notBefore) - Date.parse(sorted[i]!.notBefore);
    if (gap < Date.parse(sorted[best + 1]!.notBefore) - Date.parse(sorted[best]!.notBefore)) best = i;
  }
  const [a, b] = [sorted[best]!, sorted[best + 1]!];
  return [...entries.filter((e) => e !== a && e !== b), merge(a, b)];
}

function compactOnce(entries: RevocationEntry[]): RevocationEntry[] {
  // 1. Several users of one tenant become the tenant.
  const perTenant = new Map<string, RevocationEntry[]>();
  for (const e of entries) {
    if (e.tenants?.length === 1) perTenant.set(e.tenants[0]!, [...(perTenant.get(e.tenants[0]!) ?? []), e]);
  }
  const [tenantId, group] = [...perTenant.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (tenantId && group && group.length > 1) {
    const notBefore = group.map((e) => e.notBefore).reduce(later);
    return [...entries.filter((e) => !group.includes(e)), { tenants: [tenantId], notBefore }];
  }
  // 2.–3. Merge neighbours in time, users first.
  const userEntries = entries.filter((e) => e.tenants && e.users);
  const tenantEntries = entries.filter((e) => e.tenants && !e.users);
  const merged = mergeClosest(entries, userEntries) ?? mergeClosest(entries, tenantEntries);
  if (merged) return merged;
  // 4. One denial for every session issued before the latest cutoff.
  return [{ notBefore: entries.map((e) => e.notBefore).reduce(later) }];
}

/** The latest cutoff that applies to a (tenant, user), if any: a credential issued before it is denied. */
export function revokedBefore(
  entries: readonly RevocationEntry[],
  tenantId: string,
  userId: string,
): string | undefined {
  let latest: string | undefined;
  for (const e of entries) {
    if (e.tenants !== undefined && !e.tenants.includes(tenantId)) continue;
    if (e.users !== undefined && !e.users.includes(userId)) continue;
    if (latest === undefined || e.notBefore > latest) latest = e.notBefore;
  }
  return latest;
}

const oneOrMany = (values: string[]) => (values.length === 1 ? values[0]! : values);

/** One deny statement: sessions tagged with one of the entry's tenants and users, issued before its cutoff. */
export function revocationStatement(entry: RevocationEntry): PolicyStatement {
  const tags: Record<string, string | string[]> = {};
  if (entry.tenants) tags['aws:PrincipalTag/TenantId'] = oneOrMany(entry.tenants);
  if (entry.users) tags['aws:PrincipalTag/UserId'] = oneOrMany(entry.users);
  return {
    Effect: 'Deny',
    Action: 's3:*',
    Resource: '*',
    Condition: {
      ...(Object.keys(tags).length ? { StringEquals: tags } : {}),
      DateLessThan: { 'aws:TokenIssueTime': entry.notBefore },
    },
  };
}

/**
 * The storage role's revocation inline policy, or undefined when nothing is revoked (the policy is then
 * deleted: IAM refuses a policy without statements).
 */
export function revocationPolicy(entries: readonly RevocationEntry[]): PolicyDocument | undefined {
  if (entries.length === 0) return undefined;
  const policy: PolicyDocument = { Version: '2012-10-17', Statement: entries.map(revocationStatement) };
  const length = JSON.stringify(policy).length;
  if (length > REVOCATION_POLICY_MAX_CHARS)
    throw new PolicyTooLargeError('revocation policy', length, REVOCATION_POLICY_MAX_CHARS);
  return policy;
}

function policyLength(entries: readonly RevocationEntry[]): number {
  return JSON.stringify({ Version: '2012-10-17', Statement: entries.map(revocationStatement) }).length;
}

/** The permission a vend of `access` needs (DESIGN.md §2): read for viewers and up, write for editors and up. */
export function permissionForAccess(
  access: StorageAccess,
): 'storage:read-credentials' | 'storage:write-credentials' {
  return access === 'write' ? 'storage:write-credentials' : 'storage:read-credentials';
}
