import type { AreaGrants } from './area-resources.js';
import { grantAuthorization, grantPlatformAudit, grantPlatformSecrets } from './common.js';

/**
 * Sign-up, sign-in, sessions, password and MFA (functions/auth): the identity table, the authorizer's
 * lookups, platform audit events, TOTP secrets under the platform key, and tenant-scoped sessions for the
 * audit events it records in a user's tenants.
 */
export const authGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantPlatformAudit(fn, resources);
  grantPlatformSecrets(fn, resources);
  resources.tenantData.grantAssume(fn.role);
};
