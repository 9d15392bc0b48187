import type { AreaGrants } from './area-resources.js';
import { TENANT_KEY_USER_ROLE_ARNS_ENV } from '../../../shared/crypto/tenant-keys.js';
import { grantAuthorization, grantPlatformAudit } from './common.js';

/**
 * Tenants, members and API keys (functions/tenants): the authorizer's lookups and identity items
 * (membership mirrors), tenant data through tenant-scoped sessions, platform audit events, and creating and
 * retiring tenant KMS keys (never using them), and revoking the storage credentials of members whose access
 * shrinks.
 */
export const tenantsGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantPlatformAudit(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  resources.tenantKeys.grantProvision(fn.role);
  fn.function.addEnvironment(TENANT_KEY_USER_ROLE_ARNS_ENV, resources.tenantKeys.userRoleArns);
  // Removing or demoting a member revokes the storage credentials they hold (identity list + role policy).
  resources.storageRevocation.grantRevoke(fn);
};
