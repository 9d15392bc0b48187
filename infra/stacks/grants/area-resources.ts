import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { PlatformOidcProvider } from '../../../shared/domain/oidc.js';
import type { TableDef } from '../../../shared/store/tables.js';
import type { MailIdentity } from '../../constructs/mail-identity.js';
import type { StrongroomFunction } from '../../constructs/strongroom-function.js';
import type { TenantDataRole } from '../../constructs/tenant-data-role.js';
import type { TenantKeys } from '../../constructs/tenant-keys.js';
import type { TenantStorageRoles } from '../../constructs/tenant-storage-roles.js';

/**
 * What an area's grants may give its function. Tenant data (the tenant-data table and tenant events in
 * the audit table) is reached through `tenantData.grantAssume`, whose sessions are confined to one
 * tenant's partition; granting those tables to a function role directly bypasses that boundary and needs
 * a reason in the grant file.
 */
export interface AreaResources {
  stage: string;
  platformKey: kms.IKey;
  /** The audit MAC key: GenerateMac only for the sealing roles (sequencer, daily job), VerifyMac for verifiers. */
  auditMacKey: kms.IKey;
  tables: Record<TableDef['id'], dynamodb.ITable>;
  storageBucket: s3.IBucket;
  exportBucket: s3.IBucket;
  tenantData: TenantDataRole;
  /** The per-tenant keys made at run time: used by some areas, provisioned and retired by the tenants area. */
  tenantKeys: TenantKeys;
  /** The per-tenant storage roles: created and assumed by the storage area, revoked on and removed by others. */
  tenantStorageRoles: TenantStorageRoles;
  /** The SES identity mail is sent from: only the areas that mail are granted it. */
  mail: MailIdentity;
  /** The platform's OpenID providers: the auth function may read their client secrets, and no others. */
  oidcProviders: readonly PlatformOidcProvider[];
}

/** An area's IAM: called once with the area's function after it is created. */
export type AreaGrants = (fn: StrongroomFunction, resources: AreaResources) => void;
