import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { ssoTenantOf } from '../../shared/domain/caller.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFor,
  identityRecordsFor,
  implementForTenant,
  rateLimiterFor,
  requirePrincipal,
} from '../../shared/http/auth.js';
import type { AuthContext } from '../../shared/http/auth-context.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import * as ssoRoutes from '../../shared/schemas/tenant-sso.js';
import * as routes from '../../shared/schemas/tenants.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import type { TenantsInit } from './lazy/init.js';

const runtime = functionRuntime();
const identity = identityRecordsFor(runtime);
const tenantClients = tenantDataClientsFor(runtime);
const platform = runtime.dynamo;
const tenantDataTable = runtime.require('tenantDataTable');
const identityTable = runtime.require('identityTable');
// The settings the route groups' services read when they are built (./lazy/*.ts): a missing one still fails
// the cold start, as it did when they were built here.
for (const name of [
  'storageBucket',
  'exportBucket',
  'mailFrom',
  'consoleUrl',
  'platformKeyArn',
  'stage',
  'region',
  'tenantStorageBoundaryArn',
] as const)
  runtime.require(name);
const audit = auditRecorderFor(runtime, { tenantClients, platformClient: platform });

/*
 * What every request needs (the route table, the authorizer, the rate limiter, refusal auditing) is built at
 * cold start. Each route group's service, with the stores and domain modules only it uses, is a module of
 * ./lazy (one chunk each) loaded by the first request to one of its routes (shared/aws/loaded-on-use.ts; a
 * failed load is tried again by the next request), so a cold start parses none of them.
 */
const init: TenantsInit = {
  runtime,
  identity,
  tenantClients,
  audit,
  lookups: new AuthLookups(platform, { identity: identityTable, tenantData: tenantDataTable }),
  // Tenant keys (KMS), export archives (S3 and its presigner) and storage roles (IAM) serve tenant creation,
  // deletion and exports only: each is loaded by the first request that needs it.
  keys: loadedOnUse(async () => (await import('../../shared/crypto/tenant-keys.js')).tenantKeysFor(runtime)),
  // Revokes and removes tenant storage roles; never creates one (that is the storage function's alone).
  storageAccess: loadedOnUse(async () =>
    (await import('../../shared/store/tenant-storage-access.js')).tenantStorageAccessFor(runtime, {
      tenantClients,
    }),
  ),
  hostPolicy: { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' },
};
const service = loadedOnUse(async () => (await import('./lazy/tenancy.js')).tenancyServiceFor(init));
const invitations = loadedOnUse(async () =>
  (await import('./lazy/invitations.js')).invitationServiceFor(init),
);
const deletion = loadedOnUse(async () => (await import('./lazy/deletion.js')).tenantDeletionFor(init));
const sso = loadedOnUse(async () => (await import('./lazy/sso.js')).tenantSsoServiceFor(init));
const exports = loadedOnUse(async () => (await import('./lazy/exports.js')).tenantExportServiceFor(init));

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
    implementForTenant(routes.deleteTenant, 204, (caller, { body }) => deletion.deleteTenant(caller, body)),
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
