import type { AsyncMembers } from '../../../shared/aws/loaded-on-use.js';
import type { FunctionRuntime } from '../../../shared/aws/runtime.js';
import type { TenantKeyProvisioner } from '../../../shared/crypto/tenant-key-provisioner.js';
import type { HostPolicy } from '../../../shared/domain/connection-host.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import type { AuthLookups } from '../../../shared/store/auth-lookups.js';
import type { IdentityRecords } from '../../../shared/store/identity-records.js';
import type { TenantDataClients } from '../../../shared/store/tenant-data-client.js';
import type { TenantStorageAccess } from '../../../shared/store/tenant-storage-access.js';

/**
 * What the tenants function's cold start made (../handler.ts) that its route groups' services use: each group's
 * module in this folder is loaded, one chunk, by the first request to one of its routes.
 */
export interface TenantsInit {
  runtime: FunctionRuntime;
  identity: IdentityRecords;
  tenantClients: TenantDataClients;
  audit: AuditStore;
  lookups: AuthLookups;
  /** Tenant keys (KMS), loaded by the first tenant creation or deletion. */
  keys: TenantKeyProvisioner;
  /** Tenant storage roles (IAM), loaded by the first member change or deletion that revokes access. */
  storageAccess: AsyncMembers<TenantStorageAccess>;
  hostPolicy: HostPolicy;
}
