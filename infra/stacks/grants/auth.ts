import { LINK_ADDRESS_LIMIT, RESET_ADDRESS_LIMIT } from '../../../shared/services/account-email.js';
import type { AreaGrants } from './area-resources.js';
import {
  confinedWrite,
  grantAuthorization,
  grantConfinedWrites,
  grantPlatformAudit,
  grantPlatformSecrets,
  grantRateWindows,
  grantSendMail,
  IDENTITY_PARTITIONS,
  ITEM_WRITE_ACTIONS,
  routeRateLimitNames,
  SIGN_IN_BUDGET_NAMES,
} from './common.js';
import { grantOidcClientSecrets } from './oidc.js';

/**
 * Sign-up, sign-in, sessions, password, MFA, passkeys and single sign-on (functions/auth): the authorizer's
 * lookups; the account items of the identity table (users with their password and TOTP state and their
 * passkeys, e-mail claims, sessions) and nothing else there (not the storage-root registry), the one-time
 * tokens it mails, the passkey challenges and step-up tokens it issues, started OIDC flows and linked provider identities; the
 * client secrets of the platform's OpenID providers (read only); the rate windows of its routes and of the sign-in
 * failure budgets; platform audit events; TOTP secrets under the platform key; and tenant-scoped sessions
 * for the audit events it records in a user's tenants.
 */
export const authGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'AccountItems',
    [...ITEM_WRITE_ACTIONS],
    confinedWrite([
      IDENTITY_PARTITIONS.user,
      IDENTITY_PARTITIONS.email,
      IDENTITY_PARTITIONS.session,
      IDENTITY_PARTITIONS.mailToken,
      IDENTITY_PARTITIONS.passkeyChallenge,
      IDENTITY_PARTITIONS.oidcFlow,
      IDENTITY_PARTITIONS.oidcIdentity,
      IDENTITY_PARTITIONS.stepUp,
    ]),
  );
  // "Revoke all other sessions" (and a password change) deletes a user's sessions 25 at a time.
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'SessionBatchRevocation',
    ['dynamodb:BatchWriteItem'],
    confinedWrite([IDENTITY_PARTITIONS.session]),
  );
  grantRateWindows(fn, resources, [
    ...routeRateLimitNames('auth'),
    ...SIGN_IN_BUDGET_NAMES,
    RESET_ADDRESS_LIMIT.name,
    LINK_ADDRESS_LIMIT.name,
  ]);
  grantSendMail(fn, resources);
  grantPlatformAudit(fn, resources);
  grantPlatformSecrets(fn, resources);
  grantOidcClientSecrets(fn, resources);
  // Tenants' own IdPs: their client secrets are decrypted under each tenant's key to run a sign-in.
  resources.tenantKeys.grantOidcClientSecret('decrypt', fn.role);
  resources.tenantData.grantAssume(fn.role);
};
