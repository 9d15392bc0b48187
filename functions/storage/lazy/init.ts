import type { FunctionRuntime } from '../../../shared/aws/runtime.js';
import type { HostPolicy } from '../../../shared/domain/connection-host.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import type { IdentityRecords } from '../../../shared/store/identity-records.js';
import type { TenantDataClients } from '../../../shared/store/tenant-data-client.js';
import type { TenantItemKeyDirectory } from '../../../shared/store/tenant-key-directory.js';

/**
 * What the storage function's cold start made (../handler.ts) that its route groups' services use: their
 * shared deps (./deps.ts) are made, once, by the first request to any of them; each group's module here is
 * loaded, one chunk, by the first request to one of its routes.
 */
export interface StorageInit {
  runtime: FunctionRuntime;
  identity: IdentityRecords;
  tenantClients: TenantDataClients;
  audit: AuditStore;
  /** The tenant keys the authorizer's reads of tenant items told it (managed vends name the tenant's key). */
  tenantKeys: TenantItemKeyDirectory;
  /** S3-compatible stores are addresses tenants chose: the deployment's outbound rules (outbound-http.ts). */
  hostPolicy: HostPolicy;
  /** The credential vendor's cache bound (STORAGE_CREDENTIAL_CACHE_ENTRIES, checked at cold start). */
  cacheEntries: number;
}
