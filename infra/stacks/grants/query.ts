import type { AreaGrants } from './area-resources.js';
import { grantAuthorization, grantRateWindows, routeRateLimitNames } from './common.js';

/**
 * Queries (functions/query): the authorizer's lookups; connection items, tenant records (members,
 * instances, storage locations, API key metadata, audit events) and the `connection.queried` audit events
 * only through tenant-scoped sessions; and the tenant keys to decrypt a connection's password in memory.
 * (TenantKeys has no decrypt-only grant; each key's policy still pins the tenant's encryption context.)
 * No direct table access, no platform key. Customer databases are reached over the network, not IAM.
 * The rate windows of its routes' limits (the connection test's).
 */
export const queryGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantRateWindows(fn, resources, routeRateLimitNames('query'));
  resources.tenantData.grantAssume(fn.role);
  resources.tenantKeys.grantUse(fn.role);
};
