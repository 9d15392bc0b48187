import type { AreaGrants } from './area-resources.js';
import { grantAuthorization } from './common.js';

/**
 * Data-source connections (functions/connections): the authorizer's lookups; connection items and their
 * audit events (written in the same transaction, or alone for a reveal) only through tenant-scoped
 * sessions; and Encrypt/Decrypt/GenerateDataKey on tenant keys for connection passwords (each key's policy
 * adds the tenant's encryption context). No platform key, no key administration, no direct table access.
 */
export const connectionsGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  resources.tenantKeys.grantUse(fn.role);
};
