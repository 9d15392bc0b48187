import type { PolicyDocument, PolicyStatement } from './iam.js';
import { TENANT_KEY_TAG } from './key-context.js';
import { MAX_CREDENTIAL_SECONDS, STORAGE_ACCESS } from './storage-limits.js';
import {
  kmsKeyRegion,
  READ_OBJECT_ACTIONS,
  STORAGE_KEY_READ_ACTIONS,
  STORAGE_KEY_WRITE_ACTIONS,
  storageKeyStatement,
  WRITE_OBJECT_ACTIONS,
} from './storage-policy.js';

/**
 * Every tenant that uses managed storage has an IAM role of its own, and vended managed-location
 * credentials are sessions of that role. A tenant's revocations are an inline deny on its own role, so no
 * tenant's revocations, at any volume, can reach another tenant's sessions (IAM caps a role's inline
 * policies at 10,240 characters: a role shared by all tenants could not hold every tenant's deny material).
 *
 * Everything IAM-shaped about those roles is generated here, as pure data, so that the function code, CDK
 * and the simulator tests (test/unit/domain/tenant-storage-role-simulator.test.ts) read the same documents:
 *  - where the roles live: `/strongroom/<stage>/<region>/tenant-storage/storage-<tenantId>`;
 *  - the permissions boundary every such role must carry (one managed policy per region, made by CDK);
 *  - each role's own inline grant (its tenant's prefix, literally) and trust policy;
 *  - what the functions that create, revoke on and remove those roles may do: nothing outside the path,
 *    nothing on a role without the boundary, never a policy attachment or a boundary or trust change.
 */

/** Where a deployment's tenant storage roles and its vending function's role live. */
export interface TenantStorageLayout {
  partition: string;
  accountId: string;
  /** `/strongroom/<stage>/<region>/tenant-storage/` */
  rolePath: string;
  /** `/strongroom/<stage>/<region>/storage-vending/`: the one role there is the storage function's. */
  vendingRolePath: string;
  /** The managed policy every tenant storage role carries as its permissions boundary. */
  boundaryArn: string;
}

/** Name of the tenant storage role's inline grant. */
export const TENANT_STORAGE_POLICY_NAME = 'storage';
/**
 * The version of `tenantStorageRolePolicy`'s document. A role records the version it was granted; the vending
 * function rewrites the inline grant of a role whose version is older (TenantStorageAccess.ensureRole), so a
 * deployment that changes the grant reaches every existing tenant. Bump it with every change of the document:
 * test/unit/domain/tenant-storage-grant-version.test.ts pins the document's digest to it.
 * 1: before managed objects moved to tenant keys (16ce95f; records made then carry no version).
 * 2: TenantKeyRead/TenantKeyWrite, no StorageKeyWrite.
 */
export const TENANT_STORAGE_GRANT_VERSION = 2;
/** Name of the tenant storage role's inline revocation deny (shared/domain/storage-revocation.ts). */
export const REVOCATION_POLICY_NAME = 'storage-revocations';
/** IAM's limit on the characters of all inline policies of one role together. */
export const ROLE_INLINE_POLICIES_MAX_CHARS = 10_240;

/** Session tags of a managed-location session: the tenant role's trust demands all four. */
export const MANAGED_SESSION_TAG_KEYS = ['TenantId', 'UserId', 'Access', 'LocationId'] as const;

const TENANT_ID = /^t_[0-9a-hjkmnp-tv-z]{26}$/;
const PATH_PART = /^[a-z0-9-]{1,32}$/;

/** A deployment's layout, from its stage and region and the boundary policy's ARN (partition and account). */
export function tenantStorageLayout(input: {
  stage: string;
  region: string;
  boundaryArn: string;
}): TenantStorageLayout {
  const { stage, region, boundaryArn } = input;
  if (!PATH_PART.test(stage) || !PATH_PART.test(region))
    throw new TypeError('tenantStorageLayout needs a kebab-case stage and a region');
  const match = /^arn:(aws[a-z-]*):iam::(\d{12}):policy\/.+$/.exec(boundaryArn);
  if (!match) throw new TypeError('tenantStorageLayout needs the boundary as an IAM policy ARN');
  return {
    partition: match[1]!,
    accountId: match[2]!,
    rolePath: tenantStorageRolePath(stage, region),
    vendingRolePath: storageVendingRolePath(stage, region),
    boundaryArn,
  };
}

/** The IAM path of a deployment's tenant storage roles. */
export function tenantStorageRolePath(stage: string, region: string): string {
  return `/strongroom/${stage}/${region}/tenant-storage/`;
}

/** The IAM path of the storage (vending) function's role: tenant storage roles trust roles there only. */
export function storageVendingRolePath(stage: string, region: string): string {
  return `/strongroom/${stage}/${region}/storage-vending/`;
}

/** The boundary managed policy's name (fixed, so its ARN outlives any one deployment of the stacks). */
export function tenantStorageBoundaryName(stage: string, region: string): string {
  return `strongroom-${stage}-${region}-tenant-storage-boundary`;
}

/** The role name of a tenant: unique in the account, since tenant ids are. */
export function tenantStorageRoleName(tenantId: string): string {
  if (!TENANT_ID.test(tenantId)) throw new TypeError('tenantStorageRoleName needs a tenant id');
  return `storage-${tenantId}`;
}

const roleArn = (layout: Pick<TenantStorageLayout, 'partition' | 'accountId'>, pathAndName: string) =>
  `arn:${layout.partition}:iam::${layout.accountId}:role${pathAndName}`;

/** The ARN of a tenant's storage role (whether or not it exists yet). */
export function tenantStorageRoleArn(layout: TenantStorageLayout, tenantId: string): string {
  return roleArn(layout, `${layout.rolePath}${tenantStorageRoleName(tenantId)}`);
}

/** Every tenant storage role of the deployment, as an IAM resource pattern. */
export function tenantStorageRoleArnPattern(
  layout: Pick<TenantStorageLayout, 'partition' | 'accountId' | 'rolePath'>,
): string {
  return roleArn(layout, `${layout.rolePath}*`);
}

/** The vending function's role, as an ARN pattern (its name is CDK's; its path is fixed). */
export function storageVendingRoleArnPattern(
  layout: Pick<TenantStorageLayout, 'partition' | 'accountId' | 'vendingRolePath'>,
): string {
  return roleArn(layout, `${layout.vendingRolePath}*`);
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM, not by JavaScript.
const TENANT_TAG = '${aws:PrincipalTag/TenantId}';

export interface TenantStoragePolicyInput {
  bucketArn: string;
  /** The managed bucket's own KMS key (never the platform key). */
  storageKeyArn: string;
  /** The key's region, for `kms:ViaService`; defaults to the region in `storageKeyArn` (pass it for CDK tokens). */
  region?: string;
  /** The partition's DNS suffix, for `kms:ViaService`; defaults to the region's (pass `Stack.urlSuffix` for tokens). */
  dnsSuffix?: string;
  /**
   * The account's KMS keys in the region, as an ARN pattern (`arn:<partition>:kms:<region>:<account>:key/*`),
   * among which the tenant's own key is chosen by its `tenantId` tag; defaults to the storage key's partition,
   * region and account (pass it for CDK tokens).
   */
  keysArnPattern?: string;
}

/** The KMS key ARN pattern of a key's account and region: `arn:<partition>:kms:<region>:<account>:key/*`. */
export function keysOfAccountAndRegion(keyArn: string): string {
  kmsKeyRegion(keyArn);
  return keyArn.replace(/key\/[^/]+$/, 'key/*');
}

/** The grant statements of a tenant prefix (`tenants/<tenant>/`), literal or as the TenantId tag. */
function tenantGrants(tenant: string, input: TenantStoragePolicyInput): PolicyStatement[] {
  const { bucketArn, storageKeyArn } = input;
  const region = input.region ?? kmsKeyRegion(storageKeyArn);
  return [
    {
      Sid: 'TenantObjectsRead',
      Effect: 'Allow',
      Action: [...READ_OBJECT_ACTIONS],
      Resource: `${bucketArn}/tenants/${tenant}/*`,
    },
    {
      Sid: 'TenantObjectsWrite',
      Effect: 'Allow',
      Action: [...WRITE_OBJECT_ACTIONS],
      Resource: `${bucketArn}/tenants/${tenant}/*`,
      Condition: { StringEquals: { 'aws:PrincipalTag/Access': 'write' } },
    },
    {
      Sid: 'TenantList',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': `tenants/${tenant}/*` } },
    },
    // Objects written before managed objects moved to tenant keys: S3 may still decrypt them, and nothing is
    // written under the storage key any more (no GenerateDataKey on it, in the role or the boundary).
    storageKeyStatement(
      'StorageKeyRead',
      STORAGE_KEY_READ_ACTIONS,
      storageKeyArn,
      region,
      {},
      input.dnsSuffix,
    ),
    // The tenant's own key (found by its tag, so a role needs no rewrite to name it), only through S3; the
    // key's policy (`ManagedObjectsViaS3`) confines it further to this role and the tenant's prefix.
    tenantKeyStatement('TenantKeyRead', STORAGE_KEY_READ_ACTIONS, tenant, input, region, {}),
    tenantKeyStatement('TenantKeyWrite', STORAGE_KEY_WRITE_ACTIONS, tenant, input, region, {
      'aws:PrincipalTag/Access': 'write',
    }),
  ];
}

function tenantKeyStatement(
  sid: string,
  actions: readonly string[],
  tenant: string,
  input: TenantStoragePolicyInput,
  region: string,
  extra: Record<string, string>,
): PolicyStatement {
  const keys = input.keysArnPattern ?? keysOfAccountAndRegion(input.storageKeyArn);
  return storageKeyStatement(
    sid,
    actions,
    keys,
    region,
    { [`aws:ResourceTag/${TENANT_KEY_TAG}`]: tenant, ...extra },
    input.dnsSuffix,
  );
}

/**
 * The permissions boundary of every tenant storage role (one managed policy per region): a session reaches
 * only `tenants/<its TenantId tag>/` of the managed bucket, writes only with `Access = write`, uses the bucket's
 * key only through S3, needs all its tags, and its TenantId tag must name the role's own tenant
 * (`aws:PrincipalArn` is the role's ARN, path included). So even a role made with a careless trust policy,
 * or an inline policy that allows everything, reaches no other tenant's prefix and nothing else at all.
 */
export function tenantStorageBoundaryPolicy(
  input: TenantStoragePolicyInput & {
    layout: Pick<TenantStorageLayout, 'partition' | 'accountId' | 'rolePath'>;
  },
): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      ...tenantGrants(TENANT_TAG, input),
      // One statement per tag: keys under one Null operator would all have to be missing at once.
      ...MANAGED_SESSION_TAG_KEYS.map(
        (key): PolicyStatement => ({
          Sid: `DenyWithout${key}`,
          Effect: 'Deny',
          Action: ['s3:*', 'kms:*'],
          Resource: '*',
          Condition: { Null: { [`aws:PrincipalTag/${key}`]: 'true' } },
        }),
      ),
      {
        Sid: 'DenyOtherTenantsRoles',
        Effect: 'Deny',
        Action: ['s3:*', 'kms:*'],
        Resource: '*',
        Condition: {
          ArnNotLike: {
            'aws:PrincipalArn': roleArn(input.layout, `${input.layout.rolePath}storage-${TENANT_TAG}`),
          },
        },
      },
    ],
  };
}

/**
 * A tenant storage role's own inline grant: the tenant's prefix by its literal id (the boundary adds the
 * tag rules), and a deny of any session whose TenantId tag is not this tenant (the trust policy already
 * admits no other; this keeps the role safe even if its trust were widened).
 */
export function tenantStorageRolePolicy(
  input: TenantStoragePolicyInput & { tenantId: string },
): PolicyDocument {
  if (!TENANT_ID.test(input.tenantId)) throw new TypeError('tenantStorageRolePolicy needs a tenant id');
  return {
    Version: '2012-10-17',
    Statement: [
      ...tenantGrants(input.tenantId, input),
      {
        Sid: 'DenyOtherTenants',
        Effect: 'Deny',
        Action: ['s3:*', 'kms:*'],
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:PrincipalTag/TenantId': input.tenantId } },
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
 * A tenant storage role's trust policy: only a role on the vending path of this deployment (the storage
 * function's), only with this tenant's id as the TenantId tag, a user id as UserId and as SourceIdentity,
 * read or write as Access and a location id as LocationId, and no other tag keys.
 *
 * The vending role is named by `aws:PrincipalArn` under the account principal rather than as the principal
 * itself: IAM pins a named principal to the role's unique id, so a redeployment that replaced the storage
 * function's role would otherwise lock every tenant out of its storage role.
 */
export function tenantStorageTrustPolicy(input: {
  layout: Pick<TenantStorageLayout, 'partition' | 'accountId' | 'vendingRolePath'>;
  tenantId: string;
}): TrustPolicyDocument {
  const { layout, tenantId } = input;
  if (!TENANT_ID.test(tenantId)) throw new TypeError('tenantStorageTrustPolicy needs a tenant id');
  const principal = { AWS: `arn:${layout.partition}:iam::${layout.accountId}:root` };
  const vending = { 'aws:PrincipalArn': storageVendingRoleArnPattern(layout) };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'VendingFunctionWithTags',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:AssumeRole',
        Condition: {
          ArnLike: vending,
          Null: {
            'aws:RequestTag/TenantId': 'false',
            'aws:RequestTag/UserId': 'false',
            'aws:RequestTag/Access': 'false',
            'aws:RequestTag/LocationId': 'false',
            'sts:SourceIdentity': 'false',
          },
          StringEquals: {
            'aws:RequestTag/TenantId': tenantId,
            'aws:RequestTag/Access': [...STORAGE_ACCESS],
          },
          StringLike: {
            'aws:RequestTag/UserId': 'u_*',
            'aws:RequestTag/LocationId': 'l_*',
            'sts:SourceIdentity': 'u_*',
          },
        },
      },
      {
        Sid: 'VendingFunctionTags',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:TagSession',
        Condition: {
          ArnLike: vending,
          'ForAllValues:StringEquals': { 'aws:TagKeys': [...MANAGED_SESSION_TAG_KEYS] },
        },
      },
      {
        Sid: 'VendingFunctionSourceIdentity',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:SetSourceIdentity',
        Condition: { ArnLike: vending, StringLike: { 'sts:SourceIdentity': 'u_*' } },
      },
    ],
  };
}

/** The longest session a tenant storage role allows (STS's role-chaining ceiling as well). */
export const TENANT_STORAGE_MAX_SESSION_SECONDS = MAX_CREDENTIAL_SECONDS;

const onlyWithBoundary = (layout: Pick<TenantStorageLayout, 'boundaryArn'>) => ({
  StringEquals: { 'iam:PermissionsBoundary': layout.boundaryArn },
});

/**
 * What the vending (storage) function may do with tenant storage roles: create them, only on the path and
 * only with the boundary; read them; write and delete their inline policies, only while they carry the
 * boundary; assume them. Never delete a role, attach a managed policy, change a boundary or a trust policy,
 * tag, or touch a role elsewhere. (It also assumes customers' roles for external locations; that grant is
 * CDK's, with an ExternalId required.) Holding creation but not deletion, it cannot replace an existing
 * tenant's role with one that trusts someone else.
 */
export function tenantStorageVendingStatements(layout: TenantStorageLayout): PolicyStatement[] {
  const roles = tenantStorageRoleArnPattern(layout);
  return [
    {
      Sid: 'CreateTenantStorageRoles',
      Effect: 'Allow',
      Action: 'iam:CreateRole',
      Resource: roles,
      Condition: onlyWithBoundary(layout),
    },
    {
      Sid: 'TenantStorageRolePolicies',
      Effect: 'Allow',
      Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
      Resource: roles,
      Condition: onlyWithBoundary(layout),
    },
    { Sid: 'ReadTenantStorageRoles', Effect: 'Allow', Action: 'iam:GetRole', Resource: roles },
    {
      Sid: 'VendTenantStorage',
      Effect: 'Allow',
      Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      Resource: roles,
    },
  ];
}

/**
 * What a function that only revokes (membership changes) and removes roles (tenant deletion) may do: write
 * and delete inline policies and delete roles on the path that carry the boundary, and read them. It cannot
 * create a role, so it cannot put a role back with another trust policy either.
 */
export function tenantStorageRemovalStatements(layout: TenantStorageLayout): PolicyStatement[] {
  const roles = tenantStorageRoleArnPattern(layout);
  return [
    {
      Sid: 'TenantStorageRevocations',
      Effect: 'Allow',
      Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:DeleteRole'],
      Resource: roles,
      Condition: onlyWithBoundary(layout),
    },
    {
      Sid: 'ReadTenantStorageRoles',
      Effect: 'Allow',
      Action: ['iam:GetRole', 'iam:ListRolePolicies'],
      Resource: roles,
    },
  ];
}
