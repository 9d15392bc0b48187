import { S3Client } from '@aws-sdk/client-s3';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { platformCryptoFor } from '../../shared/crypto/envelope.js';
import { tenantKeysFor } from '../../shared/crypto/tenant-keys.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFor,
  identityStoreFor,
  rateLimiterFor,
  requirePrincipal,
  tenantCaller,
} from '../../shared/http/auth.js';
import type { AuthContext } from '../../shared/http/auth-context.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import { mailFor } from '../../shared/mail/function-mail.js';
import * as routes from '../../shared/schemas/tenants.js';
import { InvitationService } from '../../shared/services/invitations.js';
import { SecondFactorVerifier } from '../../shared/services/second-factor.js';
import { TenancyService, TenantDeletionService } from '../../shared/services/tenancy.js';
import { TenantExportService } from '../../shared/services/tenant-export.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import { StorageStore } from '../../shared/store/storage-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantExportArchives } from '../../shared/store/tenant-export-archives.js';
import { tenantStorageAccessFor } from '../../shared/store/tenant-storage-access.js';
import { TenantStore } from '../../shared/store/tenant-store.js';

const runtime = functionRuntime();
const identity = identityStoreFor(runtime);
const tenantClients = tenantDataClientsFor(runtime);
const platform = runtime.dynamo;
const tenantDataTable = runtime.require('tenantDataTable');
const tenants = new TenantStore(tenantClients, tenantDataTable);
const keys = tenantKeysFor(runtime);
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
});

const exports = new TenantExportService({
  tenants,
  audit,
  auditLog: audit,
  archives: new TenantExportArchives({
    s3: runtime.client(S3Client),
    bucket: runtime.require('exportBucket'),
  }),
});

/** The signed-in invitee of a `/v1/me/invitations` route. */
function invitee(req: { auth: AuthContext; sourceIp: string; userAgent: string }) {
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
    implement(routes.createTenant, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 201,
      body: await service.createTenant(
        { principal: requirePrincipal(auth), ip: sourceIp, userAgent },
        body.name,
      ),
    })),
    implement(routes.listMyTenants, async ({ auth }) => ({
      status: 200,
      body: { items: await service.listMyTenants(requirePrincipal(auth).userId) },
    })),
    implement(routes.getTenant, async (req) => ({
      status: 200,
      body: await service.getTenant(tenantCaller(req)),
    })),
    implement(routes.updateTenant, async (req) => ({
      status: 200,
      body: await service.updateTenant(tenantCaller(req), req.body),
    })),
    implement(routes.deleteTenant, async (req) => {
      const { mfaCode, recoveryCode } = req.body;
      await deletion.deleteTenant(
        tenantCaller(req),
        mfaCode !== undefined ? { mfaCode } : { recoveryCode: recoveryCode! },
      );
      return { status: 204 };
    }),
    implement(routes.createExport, async (req) => ({
      status: 201,
      body: await exports.createExport(tenantCaller(req)),
    })),
    implement(routes.getExport, async (req) => ({
      status: 200,
      body: await exports.getExport(tenantCaller(req), req.params.exportId),
    })),
    implement(routes.listMembers, async (req) => ({
      status: 200,
      body: await service.listMembers(tenantCaller(req), req.query),
    })),
    implement(routes.inviteMember, async (req) => ({
      status: 201,
      body: await invitations.invite(tenantCaller(req), req.body),
    })),
    implement(routes.listInvitations, async (req) => ({
      status: 200,
      body: await invitations.listForTenant(tenantCaller(req), req.query),
    })),
    implement(routes.revokeInvitation, async (req) => {
      await invitations.revoke(tenantCaller(req), req.params.invitationId);
      return { status: 204 };
    }),
    implement(routes.listMyInvitations, async (req) => ({
      status: 200,
      body: await invitations.listMine(invitee(req)),
    })),
    implement(routes.acceptInvitation, async (req) => ({
      status: 201,
      body: await invitations.accept(invitee(req), req.params.invitationId),
    })),
    implement(routes.declineInvitation, async (req) => {
      await invitations.decline(invitee(req), req.params.invitationId);
      return { status: 204 };
    }),
    implement(routes.changeMemberRole, async (req) => ({
      status: 200,
      body: await service.changeRole(tenantCaller(req), req.params.userId, req.body.role),
    })),
    implement(routes.removeMember, async (req) => {
      await service.removeMember(tenantCaller(req), req.params.userId);
      return { status: 204 };
    }),
    implement(routes.listApiKeys, async (req) => ({
      status: 200,
      body: await service.listApiKeys(tenantCaller(req), req.query),
    })),
    implement(routes.createApiKey, async (req) => ({
      status: 201,
      body: await service.createApiKey(tenantCaller(req), req.body),
    })),
    implement(routes.revokeApiKey, async (req) => {
      await service.revokeApiKey(tenantCaller(req), req.params.keyId);
      return { status: 204 };
    }),
  ],
});
