import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV_VARS } from '../../../shared/aws/config.js';
import { storageRolePolicy, storageRoleTrustPolicy } from '../../../shared/domain/storage-policy.js';
import type { AreaGrants } from './area-resources.js';
import {
  ITEM_READ_ACTIONS,
  ITEM_WRITE_ACTIONS,
  grantAuthorization,
  grantPlatformAudit,
  grantTableItems,
} from './common.js';

/**
 * Instances, storage locations and credential vending (functions/storage).
 *
 * - The storage role, whose sessions are the vended credentials: policy `storageRolePolicy()` and trust
 *   `storageRoleTrustPolicy()` (only this function's role, only with the session tags), both verbatim from
 *   shared/domain/storage-policy.ts. The policy names the bucket's own key (never the platform key), usable
 *   only through S3; the function itself gets the key's ARN (for the session policy), not its use.
 * - The function may assume it (and customers' roles for external locations, only with an ExternalId), and
 *   maintain its revocation deny statement (the one inline policy the vendor writes).
 * - Tenant items through tenant-scoped sessions; the transactions that also write the global storage-root
 *   registry (identity table) use the function role on both tables.
 */
export const storageGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantPlatformAudit(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  grantTableItems(fn, resources, 'tenantData', 'StorageRootRegistration', [...ITEM_WRITE_ACTIONS]);
  grantTableItems(fn, resources, 'identity', 'StorageRootRegistry', [
    ...ITEM_READ_ACTIONS,
    ...ITEM_WRITE_ACTIONS,
  ]);

  const scope = Stack.of(fn);
  // SSE-KMS: S3 uses the bucket's key on the caller's behalf, so vended sessions need it. The key is the
  // bucket's own by construction; a bucket on the platform key would hand vended sessions the key of the
  // tables and platform secrets, so refuse to build that.
  const storageKey = resources.storageBucket.encryptionKey;
  if (!storageKey) throw new Error('the managed storage bucket must be SSE-KMS encrypted with its own key');
  if (storageKey === resources.platformKey)
    throw new Error('the managed storage bucket must not be encrypted with the platform key');
  const rolePolicy = () =>
    storageRolePolicy({
      bucketArn: resources.storageBucket.bucketArn,
      storageKeyArn: storageKey.keyArn,
      // The key's ARN is a token here; the key lives in this stack's region (cross-stack references are
      // same-region), which is the region S3 calls KMS from.
      region: scope.region,
    });
  // The function may write the role's inline revocation policy, so the same policy also caps the role as a
  // permissions boundary: whatever an inline policy says, a session never reaches beyond the tenant prefixes
  // and never uses the storage key other than through S3.
  const boundary = new iam.CfnManagedPolicy(scope, 'StorageRoleBoundary', {
    description: 'Upper bound of the Strongroom storage role (its own policy, verbatim)',
    policyDocument: rolePolicy(),
  });
  const storageRole = new iam.CfnRole(scope, 'StorageRole', {
    description: 'Strongroom vended storage credentials: one tenant prefix of the managed bucket per session',
    maxSessionDuration: 3600,
    permissionsBoundary: boundary.ref,
    assumeRolePolicyDocument: storageRoleTrustPolicy({ vendingRoleArn: fn.role.roleArn }),
    policies: [
      {
        policyName: 'storage',
        policyDocument: rolePolicy(),
      },
    ],
  });
  // The bucket ARN reaches this stack as an import; cdk-nag names the finding after the export.
  const bucketStack = Stack.of(resources.storageBucket);
  const bucketImport = scope.resolve(bucketStack.exportValue(resources.storageBucket.bucketArn)) as {
    'Fn::ImportValue': string;
  };
  for (const construct of [storageRole, boundary]) {
    Validations.of(construct).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${bucketImport['Fn::ImportValue']}/tenants/<aws:PrincipalTag/TenantId>/*]`,
      reason:
        'Each session reaches only objects under tenants/<its TenantId session tag>/; the tag is set by the vending function and required by the trust policy.',
    });
  }

  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VendManagedStorage',
      actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      resources: [storageRole.attrArn],
    }),
  );
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VendExternalStorage',
      // Customers' roles live in their own accounts; the ExternalId the tenant was given is required.
      actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      resources: ['arn:aws:iam::*:role/*'],
      conditions: { Null: { 'sts:ExternalId': 'false' } },
    }),
  );
  // Managed-location session policies name the key (shared/store/storage-vendor.ts).
  fn.function.addEnvironment(ENV_VARS.storageKeyArn, storageKey.keyArn);
  resources.storageRevocation.bind(storageRole.attrArn);
  resources.storageRevocation.grantRevoke(fn);
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/*]',
    reason:
      "External storage locations are reached through roles in customers' accounts, registered at run time; AssumeRole is allowed only with an ExternalId (sts:ExternalId), which each customer role's trust policy must require.",
  });
};
