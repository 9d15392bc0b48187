import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { INVITATION_LIMITS } from '../../../shared/services/invitations.js';
import type { AreaGrants } from './area-resources.js';
import {
  confinedWrite,
  FRESH_MFA_BUDGET_NAMES,
  grantAuthorization,
  grantConfinedWrites,
  grantManagedObjectPurge,
  grantPlatformAudit,
  grantRateWindows,
  grantSendMail,
  grantStorageRegistry,
  IDENTITY_PARTITIONS,
  routeRateLimitNames,
  TENANT_PARTITIONS,
} from './common.js';

/**
 * Tenants, members and API keys (functions/tenants): the authorizer's lookups; tenant data through
 * tenant-scoped sessions; platform audit events; creating and retiring tenant KMS keys (never using them);
 * and revoking the storage credentials of members whose access shrinks or whose tenant is deleted. In the
 * identity table only: the rate windows of its routes and invitations, the fresh-MFA check of tenant
 * deletion (its failure budgets, and consuming the owner's TOTP step or recovery code: those two
 * attributes of a user, nothing else of one; or deleting a step-up token), and the storage-root registry nodes deletion releases.
 */
export const tenantsGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantRateWindows(fn, resources, [
    ...routeRateLimitNames('tenants'),
    INVITATION_LIMITS.perTenant.name,
    INVITATION_LIMITS.perInviter.name,
    ...FRESH_MFA_BUDGET_NAMES,
  ]);
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'ConsumeSecondFactors',
    ['dynamodb:UpdateItem'],
    confinedWrite([IDENTITY_PARTITIONS.user], ['totpLastStep', 'recoveryCodeHashes']),
  );
  // ... or spending the owner's passkey step-up token (a conditional delete; issuing one is auth's alone).
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'SpendStepUpTokens',
    ['dynamodb:DeleteItem'],
    confinedWrite([IDENTITY_PARTITIONS.stepUp]),
  );
  grantStorageRegistry(fn, resources);
  grantPlatformAudit(fn, resources);
  // Invitations are mailed to the invitee.
  grantSendMail(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  resources.tenantKeys.grantProvision(fn);
  // A tenant's own IdP: its client secret is encrypted under the tenant's key when an owner configures it.
  resources.tenantKeys.grantOidcClientSecret('encrypt', fn.role);
  // Removing or demoting a member revokes their storage credentials (the deny on the tenant's storage role);
  // deleting the tenant removes that role. Never creating one.
  resources.tenantStorageRoles.grantRevoke(fn);
  // Deletion removes the objects of managed locations, every version (tenant prefixes of the managed bucket only).
  grantManagedObjectPurge(fn, resources);
  // Tenant deletion releases external storage roots: the location item (tenant-data table) leaves in the
  // same transaction as the global registry nodes (identity table, granted above), which no
  // tenant-scoped session can reach, so that one transaction runs on the function role. Delete only: every
  // other tenant item is deleted through the tenant-scoped session. Only tenant partitions, and only with the
  // location's own condition (`instanceCount`).
  grantConfinedWrites(
    fn,
    resources,
    'tenantData',
    'StorageRootRelease',
    ['dynamodb:DeleteItem'],
    confinedWrite([TENANT_PARTITIONS], ['instanceCount']),
  );
  // Deletion demands fresh MFA: the owner's TOTP secret is decrypted (never encrypted) under the platform key.
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VerifyTotpSecrets',
      actions: ['kms:Decrypt'],
      resources: [resources.platformKey.keyArn],
      // Only TOTP secrets (shared/services/account-settings.ts binds them to {tenantId: 'platform', purpose:
      // 'totp-secret', recordId: userId}; shared/services/second-factor.ts decrypts them so); the tables' and
      // other platform secrets' data keys stay out of reach.
      conditions: {
        StringEquals: {
          'kms:EncryptionContext:tenantId': 'platform',
          'kms:EncryptionContext:purpose': 'totp-secret',
        },
      },
    }),
  );
  // Export archives: written to, read back from (and withdrawn when unaudited) in `tenants/<tenantId>/exports/` of the export bucket, SSE-KMS
  // under the tenant's key (S3 uses the key on this role's behalf; the key policies admit this role for that
  // prefix only, see shared/domain/key-policy.ts). New tenant keys name this role (TENANT_EXPORT_ROLE_ARNS).
  resources.tenantKeys.grantExportArchives(fn);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TenantExportArchives',
      // DeleteObject: an archive whose audit event could not be written is withdrawn (services/tenant-export.ts).
      actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
      resources: [resources.exportBucket.arnForObjects('tenants/*/exports/*')],
    }),
  );
  const bucketStack = Stack.of(resources.exportBucket);
  const bucketImport = Stack.of(fn).resolve(bucketStack.exportValue(resources.exportBucket.bucketArn)) as {
    'Fn::ImportValue': string;
  };
  Validations.of(fn.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${bucketImport['Fn::ImportValue']}/tenants/*/exports/*]`,
    reason:
      "Export archives are written per tenant at run time; the code builds each key from the caller's TenantScope and every archive is encrypted under that tenant's key, whose policy admits only that tenant's prefix.",
  });
};
