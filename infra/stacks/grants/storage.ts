import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV_VARS } from '../../../shared/aws/config.js';
import { SIGNING_AUDIT } from '../../../shared/domain/storage-signing.js';
import type { AreaGrants } from './area-resources.js';
import {
  confinedWrite,
  grantAuthorization,
  grantConfinedWrites,
  grantManagedObjectPurge,
  grantPlatformAudit,
  grantRateWindows,
  grantStorageRegistry,
  routeRateLimitNames,
  TENANT_PARTITIONS,
} from './common.js';

/**
 * Instances, storage locations and credential vending (functions/storage).
 *
 * - Tenant storage roles, whose sessions are the vended managed-location credentials: this function creates
 *   them at run time (on the tenant-storage path, only with the boundary the stateful stack makes), writes
 *   their inline grant and revocation deny, and assumes them; it never deletes one (the tenants function
 *   does, and cannot create one). Their trust policy admits roles on this function's role path only.
 * - Customers' roles for external locations, only with an ExternalId.
 * - The storage key's ARN (for session policies), not its use.
 * - Tenant items through tenant-scoped sessions; the transactions that also write the global storage-root
 *   registry (identity table) use the function role on both tables, confined to the registry's partitions
 *   and to the attributes of locations and the ExternalId.
 */
export const storageGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantPlatformAudit(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  // The route limits, and the remote-signing audit's tally (shared/domain/storage-signing.ts SIGNING_AUDIT).
  grantRateWindows(fn, resources, [...routeRateLimitNames('storage'), SIGNING_AUDIT.name]);
  grantStorageRegistry(fn, resources);
  // S3-compatible stores: their key pairs are encrypted under the tenant's key at registration and rotation,
  // and decrypted to sign for the store or to call its STS (purpose storage-store-key only).
  resources.tenantKeys.grantStoreKeyPairs(fn.role);
  // Deletion removes the objects of managed locations, every version (tenant prefixes of the managed bucket only).
  grantManagedObjectPurge(fn, resources);
  // The tenant items of those transactions (shared/store/storage-store.ts): an external location (put with
  // its registry nodes, deleted with their release) and the tenant's ExternalId (put with the first
  // external location, else checked). IAM cannot tell their sort keys apart from a member's or an API
  // key's, but it can refuse every attribute such items do not have (role, scopes, secretHash, settings…).
  grantConfinedWrites(
    fn,
    resources,
    'tenantData',
    'StorageRootRegistration',
    ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
    confinedWrite(
      [TENANT_PARTITIONS],
      [
        ...['locationId', 'kind', 'root', 'bucket', 'prefix', 'region', 'roleArn'],
        ...['createdAt', 'createdBy', 'instanceCount', 'externalId'],
        ...['endpoint', 'stsEndpoint', 'pathStyle', 'storeKeyCiphertext', 'storeKeyUpdatedAt'],
      ],
    ),
  );

  // SSE-KMS: S3 uses the bucket's key on the caller's behalf, so vended sessions need it. The key is the
  // bucket's own by construction; a bucket on the platform key would hand vended sessions the key of the
  // tables and platform secrets, so refuse to build that.
  const storageKey = resources.storageBucket.encryptionKey;
  if (!storageKey) throw new Error('the managed storage bucket must be SSE-KMS encrypted with its own key');
  if (storageKey === resources.platformKey)
    throw new Error('the managed storage bucket must not be encrypted with the platform key');

  resources.tenantStorageRoles.grantVend(fn);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VendExternalStorage',
      // Customers' roles live in their own accounts; the ExternalId the tenant was given is required.
      actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      resources: [`arn:${Stack.of(fn.role).partition}:iam::*:role/*`],
      conditions: { Null: { 'sts:ExternalId': 'false' } },
    }),
  );
  // Managed-location session policies and tenant role grants name the key (shared/store/storage-vendor.ts).
  fn.function.addEnvironment(ENV_VARS.storageKeyArn, storageKey.keyArn);
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/*]',
    reason:
      "External storage locations are reached through roles in customers' accounts, registered at run time; AssumeRole is allowed only with an ExternalId (sts:ExternalId), which each customer role's trust policy must require.",
  });
};
