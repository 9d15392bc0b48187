import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { guardedFetch } from '../../shared/connectors/outbound-http.js';
import { envelopeCipherFor, platformCryptoFor } from '../../shared/crypto/envelope.js';
import { ssoTenantOf } from '../../shared/domain/caller.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFor,
  identityStoreFor,
  implementForTenant,
  rateLimiterFor,
  requirePrincipal,
} from '../../shared/http/auth.js';
import type { AuthContext } from '../../shared/http/auth-context.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import { mailFor } from '../../shared/mail/function-mail.js';
import * as ssoRoutes from '../../shared/schemas/tenant-sso.js';
import * as routes from '../../shared/schemas/tenants.js';
import { InvitationService } from '../../shared/services/invitations.js';
import { SecondFactorVerifier, secondFactorOf } from '../../shared/services/second-factor.js';
import { TenancyService, TenantDeletionService } from '../../shared/services/tenancy.js';
import { TenantExportService } from '../../shared/services/tenant-export.js';
import { TenantSsoService } from '../../shared/services/tenant-sso.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import { StorageStore } from '../../shared/store/storage-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantSsoStore } from '../../shared/store/tenant-sso-store.js';
import { tenantStorageAccessFor } from '../../shared/store/tenant-storage-access.js';
import { TenantStore } from '../../shared/store/tenant-store.js';

const runtime = functionRuntime();
const identity = identityStoreFor(runtime);
const tenantClients = tenantDataClientsFor(runtime);
const platform = runtime.dynamo;
const tenantDataTable = runtime.require('tenantDataTable');
const tenants = new TenantStore(tenantClients, tenantDataTable);
// Tenant keys (KMS), export archives (S3 and its presigner) and storage roles (IAM) serve tenant creation,
// deletion and exports only: each is loaded by the first request that needs it (shared/aws/loaded-on-use.ts).
const keys = loadedOnUse(async () =>
  (await import('../../shared/crypto/tenant-keys.js')).tenantKeysFor(runtime),
);
const audit = auditRecorderFor(runtime, { tenantClients, platformClient: platform });
// Revokes and removes tenant storage roles; never creates one (that is the storage function's alone).
const storageAccess = tenantStorageAccessFor(runtime, { tenantClients });
const lookups = new AuthLookups(platform, {
  identity: runtime.require('identityTable'),
  tenantData: tenantDataTable,
});
const service = new TenancyService({
  tenants,
  identity,
  keys,
  audit,
  storageAccess,
  lookups,
});
const invitations = new InvitationService({
  tenants,
  identity,
  lookups,
  audit,
  rateLimiter: rateLimiterFor(identity),
  mail: mailFor(runtime),
});
const storage = new StorageStore({
  tenantClients,
  platformClient: platform,
  tenantDataTable,
  identityTable: runtime.require('identityTable'),
});
const deletion = new TenantDeletionService({
  tenants,
  keys,
  audit,
  secondFactors: new SecondFactorVerifier({ identity, audit, secrets: platformCryptoFor(runtime) }),
  storage,
  storageAccess,
  // The managed bucket's objects of the tenant, every version (loaded by the first deletion).
  objects: loadedOnUse(async () => {
    const [{ S3Client }, { ManagedObjects }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('../../shared/store/managed-objects.js'),
    ]);
    return new ManagedObjects({ s3: runtime.client(S3Client), bucket: runtime.require('storageBucket') });
  }),
});

// A tenant's own IdP: its client secret is encrypted under the tenant's key (the key policy lets this role
// only make such ciphertexts), its issuer checked by discovery without reaching private networks.
const cipher = envelopeCipherFor(runtime);
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
const sso = new TenantSsoService({
  store: new TenantSsoStore(tenantClients, tenantDataTable),
  audit,
  encrypt: (owner, binding, plaintext) => cipher.encrypt(owner, binding, plaintext),
  fetch: guardedFetch(hostPolicy),
  hostPolicy,
});

const exportBucket = runtime.require('exportBucket');
const exports = new TenantExportService({
  tenants,
  audit,
  auditLog: audit,
  archives: loadedOnUse(async () => {
    const [{ S3Client }, { TenantExportArchives }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('../../shared/store/tenant-export-archives.js'),
    ]);
    return new TenantExportArchives({ s3: runtime.client(S3Client), bucket: exportBucket });
  }),
});

/** The signed-in caller of a route outside any tenant's path (creating one, the caller's own invitations). */
function signedInCaller(req: { auth: AuthContext; sourceIp: string; userAgent: string }) {
  return { principal: requirePrincipal(req.auth), ip: req.sourceIp, userAgent: req.userAgent };
}

/** Tenants, members and invitations, API keys, exports and deletion: `/v1/tenants*`, `/v1/me/invitations*`. */
export const handler = createApiHandler({
  runtime,
  area: 'tenants',
  allRoutes: routes.tenantRoutes,
  authorizer: authorizerFor(runtime, { identity }),
  // A member refused a change (a missing permission, no second factor where the tenant requires one):
  // the tenant's admins see it in their audit log.
  onRefused: auditRefusalsTo(audit),
  rateLimiter: rateLimiterFor(identity),
  routes: [
    implement(routes.createTenant, async (req) => ({
      status: 201,
      body: await service.createTenant(signedInCaller(req), req.body.name),
    })),
    implement(routes.listMyTenants, async ({ auth }) => ({
      status: 200,
      body: {
        items: await service.listMyTenants(
          requirePrincipal(auth).userId,
          ssoTenantOf(requirePrincipal(auth)),
        ),
      },
    })),
    implementForTenant(routes.getTenant, 200, (caller, { auth }) =>
      service.getTenant(caller, auth.tenantRecord),
    ),
    implementForTenant(routes.updateTenant, 200, (caller, req) => service.updateTenant(caller, req.body)),
    implementForTenant(routes.getTenantDeletion, 200, (caller, { auth }) =>
      deletion.status(caller, auth.tenantRecord),
    ),
    implementForTenant(routes.deleteTenant, 204, (caller, { body }) =>
      // The schema admits exactly one factor: a code, a recovery code or a step-up token.
      deletion.deleteTenant(caller, secondFactorOf(body)!),
    ),
    implementForTenant(ssoRoutes.getTenantSso, 200, (caller) => sso.get(caller)),
    implementForTenant(ssoRoutes.putTenantSso, 200, (caller, { auth, body }) =>
      sso.put(caller, auth.tenantRecord!, body),
    ),
    implementForTenant(ssoRoutes.deleteTenantSso, 204, (caller) => sso.delete(caller)),
    implementForTenant(routes.createExport, 201, (caller) => exports.createExport(caller)),
    implementForTenant(routes.getExport, 200, (caller, req) =>
      exports.getExport(caller, req.params.exportId),
    ),
    implementForTenant(routes.listMembers, 200, (caller, req) => service.listMembers(caller, req.query)),
    implementForTenant(routes.inviteMember, 201, (caller, req) => invitations.invite(caller, req.body)),
    implementForTenant(routes.listInvitations, 200, (caller, req) =>
      invitations.listForTenant(caller, req.query),
    ),
    implementForTenant(routes.revokeInvitation, 204, (caller, req) =>
      invitations.revoke(caller, req.params.invitationId),
    ),
    implement(routes.listMyInvitations, async (req) => ({
      status: 200,
      body: await invitations.listMine(signedInCaller(req)),
    })),
    implement(routes.acceptInvitation, async (req) => ({
      status: 201,
      body: await invitations.accept(signedInCaller(req), req.params.invitationId),
    })),
    implement(routes.declineInvitation, async (req) => {
      await invitations.decline(signedInCaller(req), req.params.invitationId);
      return { status: 204 };
    }),
    implementForTenant(routes.changeMemberRole, 200, (caller, req) =>
      service.changeRole(caller, req.params.userId, req.body.role),
    ),
    implementForTenant(routes.removeMember, 204, (caller, req) =>
      service.removeMember(caller, req.params.userId),
    ),
    implementForTenant(routes.listApiKeys, 200, (caller, req) => service.listApiKeys(caller, req.query)),
    implementForTenant(routes.createApiKey, 201, (caller, req) => service.createApiKey(caller, req.body)),
    implementForTenant(routes.revokeApiKey, 204, (caller, req) =>
      service.revokeApiKey(caller, req.params.keyId),
    ),
  ],
});
