import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { ENV_VARS } from '../aws/config.js';
import type { FunctionRuntime } from '../aws/runtime.js';
import {
  type KeyPolicyDocument,
  type TenantExportArchivesInput,
  type TenantManagedObjectsInput,
  type TenantOidcClientSecretInput,
  type TenantStoreKeyPairsInput,
  tenantKeyAlias,
  tenantKeyPolicy,
  tenantKeyTags,
} from '../domain/key-policy.js';
import { tenantStorageRolePath } from '../domain/tenant-storage-role.js';
import { logger } from '../observability.js';
import type { RetirableKey, TenantKeyProvisioner } from './tenant-key-provisioner.js';

/** Waiting period before a retired tenant key is deleted (crypto-shredding, DESIGN.md §4). */
export const RETIRED_KEY_PENDING_DAYS = 30;
/**
 * Waiting period for a key discarded half-made during tenant creation. It never protected any data, so
 * KMS's shortest window is enough; it is disabled at once anyway.
 */
export const DISCARDED_KEY_PENDING_DAYS = 7;

export interface KmsTenantKeysOptions {
  kms: KMSClient;
  stage: string;
  accountId: string;
  partition: string;
  applicationRoleArns: readonly string[];
  adminRoleArns?: readonly string[];
  exportArchives?: TenantExportArchivesInput;
  managedObjects?: TenantManagedObjectsInput;
  oidcClientSecret?: TenantOidcClientSecretInput;
  storeKeyPairs?: TenantStoreKeyPairsInput;
}

/** Thrown when `retire` is asked to retire a key that is not one of this stage's tenant keys. */
export class NotATenantKeyError extends Error {
  constructor(keyArn: string) {
    super(`Refusing to retire ${keyArn}: it is not a tenant key of this deployment`);
    this.name = 'NotATenantKeyError';
  }
}

/**
 * Tenant keys in KMS. `create` makes a symmetric key with the policy from `tenantKeyPolicy`, rotation on,
 * the tenant tags and alias; if any step after CreateKey fails, the half-made key is disabled and
 * scheduled for deletion before the error is rethrown, so no orphaned key is left enabled.
 */
export class KmsTenantKeys implements TenantKeyProvisioner {
  readonly #options: KmsTenantKeysOptions;

  constructor(options: KmsTenantKeysOptions) {
    this.#options = options;
  }

  /** The key policy a tenant key of this deployment has (tools/tenant-key-policies.ts brings older ones to it). */
  policyFor(tenantId: string): KeyPolicyDocument {
    const { exportArchives, managedObjects } = this.#options;
    return tenantKeyPolicy({
      accountId: this.#options.accountId,
      partition: this.#options.partition,
      tenantId,
      applicationRoleArns: this.#options.applicationRoleArns,
      adminRoleArns: this.#options.adminRoleArns ?? [],
      ...(exportArchives ? { exportArchives } : {}),
      ...(managedObjects ? { managedObjects } : {}),
      ...(this.#options.oidcClientSecret ? { oidcClientSecret: this.#options.oidcClientSecret } : {}),
      ...(this.#options.storeKeyPairs ? { storeKeyPairs: this.#options.storeKeyPairs } : {}),
    });
  }

  /** The stage (its aliases and tags name it). */
  get stage(): string {
    return this.#options.stage;
  }

  /** Creates the tenant's key and returns its ARN. */
  async create(tenantId: string): Promise<{ keyArn: string }> {
    const { kms, stage } = this.#options;
    // Built (and validated) before any call, so bad configuration creates nothing.
    const policy = this.policyFor(tenantId);
    const aliasName = tenantKeyAlias(stage, tenantId);
    const created = await kms.send(
      new CreateKeyCommand({
        Description: `Strongroom ${stage} tenant ${tenantId}`,
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        Policy: JSON.stringify(policy),
        Tags: tenantKeyTags(stage, tenantId).map(({ key, value }) => ({ TagKey: key, TagValue: value })),
        // The policy always lets the account (IAM) administer the key, so it cannot become unmanageable;
        // the check is bypassed because it would otherwise demand that this runtime role may rewrite
        // every tenant key's policy (kms:PutKeyPolicy), which it must not have.
        BypassPolicyLockoutSafetyCheck: true,
      }),
    );
    const keyId = created.KeyMetadata?.KeyId;
    const keyArn = created.KeyMetadata?.Arn;
    if (!keyId || !keyArn) {
      if (keyId) await this.#discard(keyId, tenantId);
      throw new Error('KMS CreateKey returned no key id');
    }
    try {
      await kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
      await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
    } catch (error) {
      await this.#discard(keyId, tenantId);
      throw error;
    }
    return { keyArn };
  }

  /** Checks the key is one of this stage's tenant keys and reads its state (see TenantKeyProvisioner). */
  async checkRetirable(keyArn: string): Promise<RetirableKey> {
    const { kms } = this.#options;
    let tags: Map<string, string>;
    try {
      const listed = await kms.send(new ListResourceTagsCommand({ KeyId: keyArn }));
      tags = new Map((listed.Tags ?? []).map((t) => [t.TagKey ?? '', t.TagValue ?? '']));
    } catch (error) {
      if (errorName(error) === 'NotFoundException') return { keyArn, keyId: keyArn, state: 'gone' };
      throw error;
    }
    // A bug handing over the platform key (or another stage's key) must not schedule it for deletion.
    if (!tags.get('tenantId') || tags.get('strongroom:stage') !== this.#options.stage)
      throw new NotATenantKeyError(keyArn);
    return { keyArn, ...(await this.#keyState(keyArn)) };
  }

  /** Disables the key and schedules its deletion in 30 days; a key already pending deletion or gone is fine. */
  async retire(key: string | RetirableKey): Promise<void> {
    const { kms } = this.#options;
    const { keyArn, keyId, state } = typeof key === 'string' ? await this.checkRetirable(key) : key;
    if (state === 'PendingDeletion' || state === 'gone') return;
    // By key id (as DescribeKey names it): equally valid in KMS, and the local emulator accepts only that.
    try {
      if (state !== 'Disabled') await kms.send(new DisableKeyCommand({ KeyId: keyId }));
      await kms.send(
        new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: RETIRED_KEY_PENDING_DAYS }),
      );
    } catch (error) {
      // Another retire may have won the race (disabled it, or scheduled it); pending deletion is what we want.
      if (
        errorName(error) === 'KMSInvalidStateException' &&
        (await this.#keyState(keyArn)).state === 'PendingDeletion'
      )
        return;
      throw error;
    }
  }

  async #keyState(keyArn: string): Promise<{ state: string; keyId: string }> {
    try {
      const described = await this.#options.kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
      return {
        state: described.KeyMetadata?.KeyState ?? 'unknown',
        keyId: described.KeyMetadata?.KeyId ?? keyArn,
      };
    } catch (error) {
      if (errorName(error) === 'NotFoundException') return { state: 'gone', keyId: keyArn };
      throw error;
    }
  }

  /**
   * Disables and schedules deletion of a key whose creation did not finish. Each step is attempted even
   * if the other fails; if neither succeeds the key is logged (by id, never anything secret) for an
   * operator, because the caller's original error is what must reach the client.
   */
  async #discard(keyId: string, tenantId: string): Promise<void> {
    const { kms } = this.#options;
    const failures: string[] = [];
    try {
      await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    } catch (error) {
      failures.push(`DisableKey: ${errorName(error)}`);
    }
    try {
      await kms.send(
        new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: DISCARDED_KEY_PENDING_DAYS }),
      );
    } catch (error) {
      failures.push(`ScheduleKeyDeletion: ${errorName(error)}`);
    }
    if (failures.length > 0)
      logger.error('half-made tenant key could not be fully discarded', { keyId, tenantId, failures });
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

/** Account and partition of a KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`). */
export function parseKmsKeyArn(arn: string): { partition: string; region: string; accountId: string } {
  const match = /^arn:(aws(?:-[a-z]+)*):kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]+$/.exec(arn);
  if (!match) throw new Error(`Not a KMS key ARN: ${arn}`);
  return { partition: match[1]!, region: match[2]!, accountId: match[3]! };
}

/**
 * The tenant-key provisioner of a function, from its runtime. Tenant keys live in the account and
 * partition of the platform key (PLATFORM_KEY_ARN); STAGE names the alias; TENANT_KEY_USER_ROLE_ARNS
 * the roles that may use them; TENANT_KEY_ADMIN_ROLE_ARN an optional extra administrator; EXPORT_BUCKET and
 * TENANT_EXPORT_ROLE_ARNS, when both are set, the export archives S3 may encrypt with them; STORAGE_BUCKET, when
 * set, the managed-location objects S3 may encrypt with them for the tenant's storage role;
 * TENANT_OIDC_SECRET_ENCRYPT_ROLE_ARNS and ..._DECRYPT_ROLE_ARNS, when both are set, who makes and who reads
 * a tenant IdP's client secret; TENANT_STORE_KEY_ROLE_ARNS, when set, who encrypts and decrypts the key pairs of
 * S3-compatible stores.
 */
export function tenantKeysFor(runtime: FunctionRuntime): KmsTenantKeys {
  const { accountId, partition, region } = parseKmsKeyArn(runtime.require('platformKeyArn'));
  const stage = runtime.require('stage');
  const users = (runtime.optional('tenantKeyUserRoleArns') ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  if (users.length === 0)
    throw new Error(
      `Missing environment variable ${ENV_VARS.tenantKeyUserRoleArns} (the roles allowed to use tenant keys)`,
    );
  const admin = runtime.optional('tenantKeyAdminRoleArn');
  const exporters = (runtime.optional('tenantExportRoleArns') ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  const exportBucket = runtime.optional('exportBucket');
  const storageBucket = runtime.optional('storageBucket');
  const oidcEncrypt = arnList(runtime.optional('tenantOidcSecretEncryptRoleArns'));
  const oidcDecrypt = arnList(runtime.optional('tenantOidcSecretDecryptRoleArns'));
  const storeKeyRoles = arnList(runtime.optional('tenantStoreKeyRoleArns'));
  return new KmsTenantKeys({
    kms: runtime.client(KMSClient),
    stage,
    accountId,
    partition,
    applicationRoleArns: users,
    adminRoleArns: admin ? [admin] : [],
    ...(exportBucket && exporters.length > 0
      ? { exportArchives: { bucketName: exportBucket, region, roleArns: exporters } }
      : {}),
    // Managed-location objects are written under the tenant key through the tenant's storage role.
    ...(storageBucket
      ? {
          managedObjects: {
            bucketName: storageBucket,
            region,
            rolePath: tenantStorageRolePath(stage, region),
          },
        }
      : {}),
    ...(oidcEncrypt.length > 0 && oidcDecrypt.length > 0
      ? { oidcClientSecret: { encryptRoleArns: oidcEncrypt, decryptRoleArns: oidcDecrypt } }
      : {}),
    ...(storeKeyRoles.length > 0 ? { storeKeyPairs: { roleArns: storeKeyRoles } } : {}),
  });
}

/** A comma-separated list of ARNs, trimmed, without empty entries. */
function arnList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
}
