import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { NotFoundError } from '../../shared/errors.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFor,
  identityRecordsFor,
  implementForTenant,
  rateLimiterFor,
  tenantCaller,
} from '../../shared/http/auth.js';
import type { Authorizer } from '../../shared/http/auth-context.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import type { RouteDef } from '../../shared/http/route.js';
import * as routes from '../../shared/schemas/storage.js';
import { PATH_NOT_FOUND } from '../../shared/services/storage-path-not-found.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantItemKeyDirectory } from '../../shared/store/tenant-key-directory.js';
import type { StorageInit } from './lazy/init.js';

const runtime = functionRuntime();
const identity = identityRecordsFor(runtime);
const tenantClients = tenantDataClientsFor(runtime);
const platform = runtime.dynamo;
const tenantDataTable = runtime.require('tenantDataTable');
// The settings the route groups' shared deps read when they are made (./lazy/deps.ts, and the tenant storage
// access it makes): a missing one still fails the cold start, as it did when they were made here.
for (const name of [
  'storageBucket',
  'storageKeyArn',
  'identityTable',
  'region',
  'stage',
  'tenantStorageBoundaryArn',
] as const)
  runtime.require(name);
const cacheEntries = Number(runtime.optional('storageCredentialCacheEntries') ?? 2000);
if (!Number.isSafeInteger(cacheEntries) || cacheEntries < 0)
  throw new Error('STORAGE_CREDENTIAL_CACHE_ENTRIES must be a whole number of entries');
const tenantKeys = new TenantItemKeyDirectory({ clients: tenantClients, tableName: tenantDataTable });
const bearer = authorizerFor(runtime, { identity });
/**
 * The tenant item the authorizer read names the tenant's key: the directory keeps it, so a managed vend
 * (whose session policy and `sse` hint name that key) does not read the item again.
 */
const authorizer: Authorizer = {
  async authorize(event, route, params) {
    const context = await bearer.authorize(event, route, params);
    if (context.tenant && context.tenantRecord?.keyArn)
      tenantKeys.remember(context.tenant.scope, context.tenantRecord.keyArn);
    return context;
  },
};
const audit = auditRecorderFor(runtime, { tenantClients, platformClient: platform });
const init: StorageInit = {
  runtime,
  identity,
  tenantClients,
  audit,
  tenantKeys,
  // S3-compatible stores are addresses tenants chose: the deployment's outbound rules (outbound-http.ts).
  hostPolicy: { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' },
  cacheEntries,
};

/*
 * What every request needs (the route table, the authorizer, the rate limiter, refusal auditing, the settings)
 * is built at cold start. Each route group's service (shared/services/storage-*.ts: credentials, remote
 * signing, locations and instances, the self-test, revocation) is a module of ./lazy (one chunk each) loaded
 * by the first request to one of its routes (shared/aws/loaded-on-use.ts; a failed load is tried again by the
 * next request). The deps they share (the registry, the tenant's storage role, the credential vendor and its
 * cache, the members: ./lazy/deps.ts) are made once, by the first of them, so a location change or a
 * revocation still drops the vendor's cached credentials.
 */
/** Vends, and LaminDB's and Iceberg's forms of them: the hot path. */
const credentials = loadedOnUse(async () => (await import('./lazy/credentials.js')).credentialsFor(init));
const signing = loadedOnUse(async () => (await import('./lazy/signing.js')).signingFor(init));
const locations = loadedOnUse(async () => (await import('./lazy/locations.js')).locationsFor(init));
const selfTest = loadedOnUse(async () => (await import('./lazy/self-test.js')).selfTestFor(init));
const revocation = loadedOnUse(async () => (await import('./lazy/revocation.js')).revocationFor(init));

let laminAsTenant: RouteDef | undefined;
/**
 * The LaminDB route names no tenant: once the path has named one, the caller is authorized for it exactly as
 * on a tenant route (membership, API key's tenant, MFA policy, storage:read-credentials). Made by the first
 * LaminDB request: the spread reads the route's schemas, which are built on first use.
 */
const laminAsTenantRoute = (): RouteDef =>
  (laminAsTenant ??= {
    ...routes.laminStorageCredentials,
    auth: { kind: 'tenant', permission: 'storage:read-credentials' },
  });

/** Instances, storage locations, credential vending and revocation: `/v1/tenants/{t}/(instances|storage-*)`. */
export const handler = createApiHandler({
  runtime,
  area: 'storage',
  allRoutes: routes.storageRoutes,
  authorizer,
  rateLimiter: rateLimiterFor(identity),
  onRefused: auditRefusalsTo(audit),
  routes: [
    implementForTenant(routes.listInstances, 200, (caller, req) =>
      locations.listInstances(caller, req.query),
    ),
    implementForTenant(routes.createInstance, 201, (caller, req) =>
      locations.createInstance(caller, req.body),
    ),
    implementForTenant(routes.listStorageLocations, 200, (caller, req) =>
      locations.listLocations(caller, req.query),
    ),
    implementForTenant(routes.createStorageLocation, 201, (caller, req) =>
      locations.registerLocation(caller, req.body),
    ),
    implementForTenant(routes.getStorageExternalId, 200, async (caller) => ({
      externalId: await locations.externalId(caller),
    })),
    implementForTenant(routes.updateStorageLocation, 200, (caller, req) =>
      locations.updateLocation(caller, req.params.locationId, req.body),
    ),
    implementForTenant(routes.deleteStorageLocation, 200, (caller, req) =>
      locations.deleteLocation(caller, req.params.locationId),
    ),
    implementForTenant(routes.vendStorageCredentials, 200, (caller, req) =>
      credentials.vend(caller, req.body),
    ),
    implement(routes.laminStorageCredentials, async (req) => {
      const tenantId = await credentials.tenantOfPath(req.body.path, 'body.path');
      const auth = await authorizer
        .authorize(req.event, laminAsTenantRoute(), { tenantId })
        .catch((error) => {
          // Not a member, or a key of another tenant: the same answer as an unregistered path.
          throw error instanceof NotFoundError ? new NotFoundError(PATH_NOT_FOUND) : error;
        });
      return {
        status: 200,
        body: await credentials.laminCredentials(tenantCaller({ ...req, auth }), req.body),
      };
    }),
    implementForTenant(routes.loadIcebergStorageCredentials, 200, (caller, req) =>
      credentials.icebergCredentials(caller, req.params.locationId, req.query),
    ),
    implementForTenant(routes.validateStorageLocation, 200, (caller, req) =>
      selfTest.validateLocation(caller, req.params.locationId),
    ),
    implementForTenant(routes.signStorageRequest, 200, (caller, req) =>
      signing.sign(caller, req.params.locationId, req.body),
    ),
    implementForTenant(routes.revokeStorageCredentials, 200, (caller, req) =>
      revocation.revoke(caller, req.body.userId),
    ),
  ],
});
