/**
 * The key policy of a tenant's KMS key: the one function that both run-time tenant creation
 * (shared/crypto/tenant-keys.ts) and CDK (infra/constructs/tenant-key.ts) use.
 *
 * Shape, and why:
 * - `KeyAdministration`: the account (root principal, i.e. IAM policies in the account) and any named
 *   admin roles may administer the key — describe, tag, alias, enable/disable, rotate, schedule or cancel
 *   deletion, change the policy — but none of these actions uses the key on data.
 * - `TenantScopedUse`: Encrypt, Decrypt and GenerateDataKey, through the account principal (so the
 *   caller's IAM policy must also allow it) and only when the caller is one of the application roles
 *   (`aws:PrincipalArn`) AND the encryption context's `tenantId` is this tenant AND the context has no
 *   keys beyond `tenantId`, `purpose` and `recordId`. Naming the roles in a condition rather than as
 *   principals keeps the policy valid when a role is replaced by a deployment (KMS would otherwise pin
 *   the old role's unique id and lock the application out of every tenant key).
 * - `ExportArchivesViaS3` (only with `exportArchives`): tenant export archives are stored SSE-KMS under the
 *   tenant's key so that a plain presigned GET can download them (a client-side Encryption SDK envelope
 *   would need KMS access the downloader does not have). S3 calls KMS with its own encryption context
 *   (`aws:s3:arn` = the object's ARN, with S3 Bucket Keys off), which `TenantScopedUse` can never match; this
 *   statement lets only the exporting roles, only through S3 in the key's region (`kms:ViaService`), only
 *   GenerateDataKey and Decrypt, and only for objects under `tenants/<tenantId>/exports/` of the export
 *   bucket: the key still cannot be used for another tenant's objects or outside S3.
 * - `ManagedObjectsViaS3` (only with `managedObjects`): objects of the tenant's managed storage locations are
 *   written SSE-KMS under the tenant's key, so that retiring the key (tenant deletion) leaves every copy of
 *   them unreadable, noncurrent versions and backups included. S3 uses the key on behalf of the vended
 *   session, a session of the tenant's own storage role: this statement lets only that role (by
 *   `aws:PrincipalArn`, the role's path and name, so a role of another tenant never matches), only through
 *   S3 in the key's region, only GenerateDataKey and Decrypt, and only for objects under
 *   `tenants/<tenantId>/` of the managed bucket (`kms:EncryptionContext:aws:s3:arn`, S3 Bucket Keys off).
 * - `OidcClientSecretEncrypt` / `OidcClientSecretDecrypt` (only with `oidcClientSecret`): the client secret of
 *   the tenant's own OpenID provider. The tenants function encrypts it when an owner configures the IdP
 *   (GenerateDataKey: the Encryption SDK's one call to encrypt) and the auth function decrypts it to run a
 *   sign-in, each only that one action and only with exactly `{tenantId: <this tenant>, purpose:
 *   'oidc-client-secret', recordId: 'sso'}` in the context: neither role can make or read any other
 *   ciphertext of the tenant (connection passwords stay with `TenantScopedUse`'s roles).
 * - `StoreKeyPairUse` (only with `storeKeyPairs`): the access key pair of an S3-compatible store (MinIO, Ceph,
 *   R2…) registered as an external location. The storage function encrypts it at registration and rotation
 *   and decrypts it to sign or to call the store's STS: GenerateDataKey and Decrypt only, only with `{tenantId:
 *   <this tenant>, purpose: 'storage-store-key', recordId: <a location id>}` in the context. The storage role
 *   can make or read no other ciphertext of the tenant (connection passwords, the IdP secret).
 * - No wildcard principal, no `kms:*`, no CreateGrant, no ReEncrypt, no DisableKeyRotation.
 */

import type { PolicyDocument } from './iam.js';
import {
  ENCRYPTION_CONTEXT_KEYS,
  OIDC_CLIENT_SECRET_CONTEXT,
  STORE_KEY_PAIR_PURPOSE,
  TENANT_KEY_TAG,
} from './key-context.js';
import { type AwsPartition, PARTITION_DNS_SUFFIX, serviceHost } from './partitions.js';

// The names the code that uses tenant keys shares with these policies live in key-context.ts (so that a
// function encrypting under a tenant key does not load the policy builders); re-exported for the policies' readers.
export {
  ENCRYPTION_CONTEXT_KEYS,
  OIDC_CLIENT_SECRET_CONTEXT,
  STORE_KEY_PAIR_PURPOSE,
  TENANT_KEY_TAG,
} from './key-context.js';

export interface TenantKeyPolicyInput {
  /** 12-digit AWS account id owning the key. */
  accountId: string;
  /** `aws`, `aws-cn`, `aws-us-gov`, … */
  partition: string;
  tenantId: string;
  /** Roles of the functions that encrypt and decrypt tenant data (connections, query, …). */
  applicationRoleArns: readonly string[];
  /** Roles that may administer tenant keys besides IAM policies in the account (optional, e.g. break-glass). */
  adminRoleArns: readonly string[];
  /** Export archives (SSE-KMS via S3) of this tenant; without it the key cannot encrypt S3 objects at all. */
  exportArchives?: TenantExportArchivesInput;
  /** Managed-location objects (SSE-KMS via S3) of this tenant, written through its storage role's sessions. */
  managedObjects?: TenantManagedObjectsInput;
  /** The tenant's own IdP client secret: who makes its ciphertext and who reads it (see the module comment). */
  oidcClientSecret?: TenantOidcClientSecretInput;
  /** Key pairs of S3-compatible stores: the roles that encrypt and decrypt them (the storage function). */
  storeKeyPairs?: TenantStoreKeyPairsInput;
}

export interface TenantStoreKeyPairsInput {
  /** Roles that encrypt a store's key pair at registration and decrypt it to sign or assume (storage). */
  roleArns: readonly string[];
}

/** The `recordId` pattern of a store key pair's context, as the key policy matches it. */
export const STORE_KEY_PAIR_RECORD_PATTERN = 'l_*';

export interface TenantManagedObjectsInput {
  /** The managed (platform) storage bucket's name (not ARN). */
  bucketName: string;
  /** The key's (and bucket's) region: S3 calls KMS from there. */
  region: string;
  /**
   * The IAM path of the deployment's tenant storage roles (`/strongroom/<stage>/<region>/tenant-storage/`);
   * the tenant's own role is `storage-<tenantId>` there (shared/domain/tenant-storage-role.ts).
   */
  rolePath: string;
}

/** Where a tenant's managed-location objects live in the managed bucket (shared/domain/storage-roots.ts). */
export function tenantManagedPrefix(tenantId: string): string {
  if (!TENANT_ID.test(tenantId)) throw new KeyPolicyInputError('tenantManagedPrefix needs a tenant id');
  return `tenants/${tenantId}/`;
}

export interface TenantOidcClientSecretInput {
  /** Roles that encrypt the secret when an owner configures the IdP (the tenants function). */
  encryptRoleArns: readonly string[];
  /** Roles that decrypt it to run a sign-in (the auth function). */
  decryptRoleArns: readonly string[];
}

export interface TenantExportArchivesInput {
  /** The export bucket's name (not ARN). */
  bucketName: string;
  /** The key's (and bucket's) region: S3 calls KMS from there. */
  region: string;
  /** Roles that write the archives and sign their download URLs (the tenants function). */
  roleArns: readonly string[];
}

/** Where a tenant's export archives live in the export bucket (the key policy allows nothing else). */
export function tenantExportPrefix(tenantId: string): string {
  if (!TENANT_ID.test(tenantId)) throw new KeyPolicyInputError('tenantExportPrefix needs a tenant id');
  return `tenants/${tenantId}/exports/`;
}

/** What S3 may do with a tenant key for an export archive: write (a data key) and read it back. */
export const TENANT_EXPORT_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

export interface TenantKeyPolicyOptions {
  /**
   * Values for which validation is skipped because they are not known yet (CDK tokens such as
   * `Stack.of(this).account`); CDK passes `Token.isUnresolved`.
   */
  isUnresolved?: (value: string) => boolean;
}

/** A key-policy statement (principals are always explicit ARNs; never `*`). */
export interface KeyPolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal: { AWS: string | string[] };
  Action: string[];
  Resource: '*';
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface KeyPolicyDocument extends Omit<PolicyDocument, 'Statement'> {
  Statement: KeyPolicyStatement[];
}

/** What the application may do with a tenant key: the three calls the Encryption SDK's KMS keyring makes. */
export const TENANT_KEY_USE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'] as const;

/** Administrative actions: none of them encrypts, decrypts, re-encrypts or grants use. */
export const TENANT_KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

/** Thrown for an input that would produce a weaker or malformed policy. */
export class KeyPolicyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyPolicyInputError';
  }
}

const TENANT_ID = /^t_[0-9a-hjkmnp-tv-z]{26}$/;
const ACCOUNT_ID = /^\d{12}$/;
const PARTITION = /^aws(-[a-z]+)*$/;
// IAM role path and name characters; no `*` or `?` (wildcards) can pass.
const ROLE_ARN = /^arn:(aws(?:-[a-z]+)*):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
// S3 bucket names (no wildcards, no `/`), and AWS region names.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
// An IAM role path: `/`, or `/part/…/` without wildcards.
const ROLE_PATH = /^\/(?:[\w+=,.@-]+\/)*$/;

/** The key policy of `tenantId`'s key (see the module comment for the reasoning). */
export function tenantKeyPolicy(
  input: TenantKeyPolicyInput,
  options: TenantKeyPolicyOptions = {},
): KeyPolicyDocument {
  const unresolved = options.isUnresolved ?? (() => false);
  const { accountId, partition, tenantId } = input;
  if (!TENANT_ID.test(tenantId)) throw new KeyPolicyInputError('tenantKeyPolicy needs a tenant id');
  if (!unresolved(accountId) && !ACCOUNT_ID.test(accountId))
    throw new KeyPolicyInputError('accountId must be a 12-digit AWS account id');
  if (!unresolved(partition) && !PARTITION.test(partition))
    throw new KeyPolicyInputError('partition must be an AWS partition such as "aws"');

  const roleArns = (label: string, arns: readonly string[]) => {
    const unique = [...new Set(arns)];
    for (const arn of unique) {
      if (unresolved(arn)) continue;
      const match = ROLE_ARN.exec(arn);
      if (!match) throw new KeyPolicyInputError(`${label} must be IAM role ARNs without wildcards: ${arn}`);
      if (!unresolved(partition) && match[1] !== partition)
        throw new KeyPolicyInputError(`${label}: ${arn} is not in partition ${partition}`);
      if (!unresolved(accountId) && match[2] !== accountId)
        throw new KeyPolicyInputError(`${label}: ${arn} is not in account ${accountId}`);
    }
    return unique.sort();
  };
  const applicationRoleArns = roleArns('applicationRoleArns', input.applicationRoleArns);
  const adminRoleArns = roleArns('adminRoleArns', input.adminRoleArns);
  if (applicationRoleArns.length === 0)
    throw new KeyPolicyInputError('applicationRoleArns must name at least one role');
  const overlap = applicationRoleArns.filter((arn) => adminRoleArns.includes(arn));
  if (overlap.length > 0)
    throw new KeyPolicyInputError(
      `a role may not both administer and use tenant keys: ${overlap.join(', ')}`,
    );

  const accountRoot = `arn:${partition}:iam::${accountId}:root`;
  const s3Via = (region: string) =>
    serviceHost(
      's3',
      region,
      partition in PARTITION_DNS_SUFFIX ? PARTITION_DNS_SUFFIX[partition as AwsPartition] : undefined,
    );
  const administrators = [accountRoot, ...adminRoleArns];
  const s3Statements: KeyPolicyStatement[] = [];
  if (input.exportArchives) {
    const { bucketName, region } = input.exportArchives;
    if (!unresolved(bucketName) && !BUCKET.test(bucketName))
      throw new KeyPolicyInputError('exportArchives.bucketName must be an S3 bucket name');
    if (!unresolved(region) && !REGION.test(region))
      throw new KeyPolicyInputError('exportArchives.region must be an AWS region');
    const exporters = roleArns('exportArchives.roleArns', input.exportArchives.roleArns);
    if (exporters.length === 0)
      throw new KeyPolicyInputError('exportArchives.roleArns must name at least one role');
    if (exporters.some((arn) => adminRoleArns.includes(arn)))
      throw new KeyPolicyInputError('a role may not both administer tenant keys and export through them');
    s3Statements.push({
      Sid: 'ExportArchivesViaS3',
      Effect: 'Allow',
      Principal: { AWS: accountRoot },
      Action: [...TENANT_EXPORT_KEY_ACTIONS],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': exporters },
        StringEquals: {
          'kms:ViaService': s3Via(region),
        },
        StringLike: {
          'kms:EncryptionContext:aws:s3:arn': `arn:${partition}:s3:::${bucketName}/${tenantExportPrefix(tenantId)}*`,
        },
      },
    });
  }
  if (input.managedObjects) {
    const { bucketName, region, rolePath } = input.managedObjects;
    if (!unresolved(bucketName) && !BUCKET.test(bucketName))
      throw new KeyPolicyInputError('managedObjects.bucketName must be an S3 bucket name');
    if (!unresolved(region) && !REGION.test(region))
      throw new KeyPolicyInputError('managedObjects.region must be an AWS region');
    if (!unresolved(rolePath) && !ROLE_PATH.test(rolePath))
      throw new KeyPolicyInputError('managedObjects.rolePath must be an IAM path without wildcards');
    const storageRole = `arn:${partition}:iam::${accountId}:role${rolePath}storage-${tenantId}`;
    if (adminRoleArns.includes(storageRole) || applicationRoleArns.includes(storageRole))
      throw new KeyPolicyInputError('the tenant storage role may only use the key through S3');
    s3Statements.push({
      Sid: 'ManagedObjectsViaS3',
      Effect: 'Allow',
      Principal: { AWS: accountRoot },
      Action: [...TENANT_EXPORT_KEY_ACTIONS],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': storageRole },
        StringEquals: { 'kms:ViaService': s3Via(region) },
        StringLike: {
          'kms:EncryptionContext:aws:s3:arn': `arn:${partition}:s3:::${bucketName}/${tenantManagedPrefix(tenantId)}*`,
        },
      },
    });
  }
  const secretStatements: KeyPolicyStatement[] = [];
  if (input.oidcClientSecret) {
    const exact = {
      'kms:EncryptionContext:tenantId': tenantId,
      'kms:EncryptionContext:purpose': OIDC_CLIENT_SECRET_CONTEXT.purpose,
      'kms:EncryptionContext:recordId': OIDC_CLIENT_SECRET_CONTEXT.recordId,
    };
    const sides = [
      ['OidcClientSecretEncrypt', 'kms:GenerateDataKey', input.oidcClientSecret.encryptRoleArns],
      ['OidcClientSecretDecrypt', 'kms:Decrypt', input.oidcClientSecret.decryptRoleArns],
    ] as const;
    for (const [sid, action, arns] of sides) {
      const roles = roleArns(`oidcClientSecret ${sid}`, arns);
      if (roles.length === 0) throw new KeyPolicyInputError(`oidcClientSecret: ${sid} needs a role`);
      if (roles.some((arn) => adminRoleArns.includes(arn)))
        throw new KeyPolicyInputError('a role may not both administer tenant keys and use them for secrets');
      secretStatements.push({
        Sid: sid,
        Effect: 'Allow',
        Principal: { AWS: accountRoot },
        Action: [action],
        Resource: '*',
        Condition: {
          ArnEquals: { 'aws:PrincipalArn': roles },
          StringEquals: exact,
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...ENCRYPTION_CONTEXT_KEYS] },
        },
      });
    }
  }
  if (input.storeKeyPairs) {
    const roles = roleArns('storeKeyPairs.roleArns', input.storeKeyPairs.roleArns);
    if (roles.length === 0)
      throw new KeyPolicyInputError('storeKeyPairs.roleArns must name at least one role');
    if (roles.some((arn) => adminRoleArns.includes(arn)))
      throw new KeyPolicyInputError('a role may not both administer tenant keys and use them for secrets');
    secretStatements.push({
      Sid: 'StoreKeyPairUse',
      Effect: 'Allow',
      Principal: { AWS: accountRoot },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': roles },
        StringEquals: {
          'kms:EncryptionContext:tenantId': tenantId,
          'kms:EncryptionContext:purpose': STORE_KEY_PAIR_PURPOSE,
        },
        StringLike: { 'kms:EncryptionContext:recordId': STORE_KEY_PAIR_RECORD_PATTERN },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...ENCRYPTION_CONTEXT_KEYS] },
      },
    });
  }
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: administrators.length === 1 ? accountRoot : administrators },
        Action: [...TENANT_KEY_ADMIN_ACTIONS],
        Resource: '*',
      },
      {
        Sid: 'TenantScopedUse',
        Effect: 'Allow',
        Principal: { AWS: accountRoot },
        Action: [...TENANT_KEY_USE_ACTIONS],
        Resource: '*',
        Condition: {
          ArnEquals: { 'aws:PrincipalArn': applicationRoleArns },
          StringEquals: { 'kms:EncryptionContext:tenantId': tenantId },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...ENCRYPTION_CONTEXT_KEYS] },
        },
      },
      ...s3Statements,
      ...secretStatements,
    ],
  };
}

/** The alias of a tenant's key. */
export function tenantKeyAlias(stage: string, tenantId: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(stage)) throw new KeyPolicyInputError('stage must be kebab-case');
  if (!TENANT_ID.test(tenantId)) throw new KeyPolicyInputError('tenantKeyAlias needs a tenant id');
  return `alias/strongroom/${stage}/tenant/${tenantId}`;
}

/** Tags every tenant key carries: `tenantId` (DESIGN.md §4) and the stage, for IAM conditions and cost. */
export function tenantKeyTags(stage: string, tenantId: string): { key: string; value: string }[] {
  return [
    { key: TENANT_KEY_TAG, value: tenantId },
    { key: 'strongroom:stage', value: stage },
  ];
}
