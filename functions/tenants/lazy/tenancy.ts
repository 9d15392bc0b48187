import { TenancyService } from '../../../shared/services/tenancy.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';
import type { TenantsInit } from './init.js';

/** Tenants, members and API keys. */
export function tenancyServiceFor(init: TenantsInit): TenancyService {
  const { runtime, identity, keys, audit, storageAccess, lookups } = init;
  const tenants = new TenantStore(init.tenantClients, runtime.require('tenantDataTable'));
  return new TenancyService({ tenants, identity, keys, audit, storageAccess, lookups });
}
