import { Duration, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  type TenantOidcClientSecretInput,
  type TenantStoreKeyPairsInput,
  tenantKeyAlias,
  tenantKeyPolicy,
  tenantKeyTags,
} from '../../shared/domain/key-policy.js';
import { tenantStorageRolePath } from '../../shared/domain/tenant-storage-role.js';

export interface TenantKeyProps {
  stage: string;
  tenantId: string;
  /**
   * ARNs of the roles that encrypt and decrypt tenant data (tokens allowed). They appear in the key
   * policy's `aws:PrincipalArn` condition; the roles also need the IAM side (`TenantKeys.grantUse`).
   */
  applicationRoleArns: readonly string[];
  /** Extra administrators besides IAM in the account (optional). */
  adminRoleArns?: readonly string[];
  /**
   * The export bucket (name) and the roles that write export archives (tokens allowed): S3 may then use
   * the key for `tenants/<tenantId>/exports/` objects there, in this stack's region (`ExportArchivesViaS3`).
   */
  exportArchives?: { bucketName: string; roleArns: readonly string[] };
  /**
   * The managed storage bucket (name, tokens allowed): S3 may then use the key for `tenants/<tenantId>/` objects
   * there on behalf of the tenant's storage role, in this stack's region (`ManagedObjectsViaS3`).
   */
  managedObjects?: { bucketName: string };
  /** Who encrypts and who decrypts the tenant IdP's client secret (`TenantKeys.grantOidcClientSecret`). */
  oidcClientSecret?: TenantOidcClientSecretInput;
  /** Who encrypts and decrypts S3-compatible stores' key pairs (`TenantKeys.grantStoreKeyPairs`). */
  storeKeyPairs?: TenantStoreKeyPairsInput;
}

/**
 * A tenant's KMS key provisioned by CDK (for tenants named in `strongroom:preProvisionedTenants`): the same
 * policy (`tenantKeyPolicy`), rotation, tags and alias as the keys tenant creation makes at run time
 * (shared/crypto/tenant-keys.ts). Retained on stack deletion: deleting it would shred the tenant's data.
 */
export class TenantKey extends Construct {
  readonly key: kms.Key;
  readonly alias: kms.Alias;

  constructor(scope: Construct, id: string, props: TenantKeyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const policy = tenantKeyPolicy(
      {
        accountId: stack.account,
        partition: stack.partition,
        tenantId: props.tenantId,
        applicationRoleArns: props.applicationRoleArns,
        adminRoleArns: props.adminRoleArns ?? [],
        ...(props.exportArchives
          ? { exportArchives: { ...props.exportArchives, region: stack.region } }
          : {}),
        ...(props.managedObjects
          ? {
              managedObjects: {
                bucketName: props.managedObjects.bucketName,
                region: stack.region,
                rolePath: tenantStorageRolePath(props.stage, stack.region),
              },
            }
          : {}),
        ...(props.oidcClientSecret ? { oidcClientSecret: props.oidcClientSecret } : {}),
        ...(props.storeKeyPairs && props.storeKeyPairs.roleArns.length > 0
          ? { storeKeyPairs: props.storeKeyPairs }
          : {}),
      },
      { isUnresolved: (value) => Token.isUnresolved(value) },
    );
    this.key = new kms.Key(this, 'Key', {
      description: `Strongroom ${props.stage} tenant ${props.tenantId}`,
      keySpec: kms.KeySpec.SYMMETRIC_DEFAULT,
      keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
      enableKeyRotation: true,
      // The one policy, verbatim: with CDK v2's default key policies this replaces (not extends) the default.
      policy: iam.PolicyDocument.fromJson(policy),
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const { key, value } of tenantKeyTags(props.stage, props.tenantId))
      Tags.of(this.key).add(key, value);
    this.alias = new kms.Alias(this, 'Alias', {
      aliasName: tenantKeyAlias(props.stage, props.tenantId),
      targetKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
