import { STSClient } from '@aws-sdk/client-sts';
import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { storeClientConfig } from '../../shared/connectors/s3-compatible.js';
import { envelopeCipherFor, TenantCrypto } from '../../shared/crypto/envelope.js';
import { NotFoundError } from '../../shared/errors.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFor,
  identityStoreFor,
  implementForTenant,
  rateLimiterFor,
  tenantCaller,
} from '../../shared/http/auth.js';
import type { Authorizer } from '../../shared/http/auth-context.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import type { RouteDef } from '../../shared/http/route.js';
import * as routes from '../../shared/schemas/storage.js';
import { PATH_NOT_FOUND, StorageService } from '../../shared/services/storage.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { StoragePathOwners } from '../../shared/store/storage-path-owners.js';
import type { StorageProbes } from '../../shared/store/storage-probe.js';
import { StorageStore } from '../../shared/store/storage-store.js';
import { StorageCredentialVendor } from '../../shared/store/storage-vendor.js';
import { StoreKeyPairs } from '../../shared/store/store-key-pairs.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantItemKeyDirectory } from '../../shared/store/tenant-key-directory.js';
import { tenantStorageAccessFor } from '../../shared/store/tenant-storage-access.js';
import { TenantStore } from '../../shared/store/tenant-store.js';

const runtime = functionRuntime();

/**
 * The S3 client and the location checks' probes and verifier are loaded by the first request that registers
 * or checks a location (shared/aws/loaded-on-use.ts): vending, the hot path, never uses them.
 */
const lazyProbes: StorageProbes = (credentials, where) => {
  let session: ReturnType<StorageProbes> | undefined;
  const loaded = loadedOnUse(async () => {
    session = (await import('../../shared/store/storage-probe.js')).storageProbes(credentials, where);
    return session;
  });
  return {
    list: loaded.list,
    put: loaded.put,
    get: loaded.get,
    delete: loaded.delete,
    close: () => session?.close(),
  };
};
const identity = identityStoreFor(runtime);
const tenantClients = tenantDataClientsFor(runtime);
const platform = runtime.dynamo;
const tenantDataTable = runtime.require('tenantDataTable');
const managedBucket = runtime.require('storageBucket');
const storageKeyArn = runtime.require('storageKeyArn');
const sts = runtime.client(STSClient);
// S3-compatible stores are addresses tenants chose: the deployment's outbound rules (outbound-http.ts).
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
// This function is the one that creates tenant storage roles (never deletes them), granting the managed
// bucket's tenant prefix and its key.
const access = tenantStorageAccessFor(runtime, { tenantClients, vending: true });
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
const vendor = new StorageCredentialVendor({
  sts,
  storageKeyArn,
  maxCacheEntries: cacheEntries,
  storeSts: (endpoint, region, keyPair) =>
    new STSClient(storeClientConfig(endpoint, region, keyPair, hostPolicy)),
  recordIssue: (scope, userId, kind, untilMs) => access.recordIssue(scope, userId, kind, untilMs),
});
const members = new TenantStore(tenantClients, tenantDataTable);
const audit = auditRecorderFor(runtime, { tenantClients, platformClient: platform });
const service = new StorageService({
  store: new StorageStore({
    tenantClients,
    platformClient: platform,
    tenantDataTable,
    identityTable: runtime.require('identityTable'),
  }),
  vendor,
  access,
  // Managed objects are written under the tenant's own key: the vend names it (session policy and `sse`).
  tenantKeys,
  audit,
  managedBucket,
  // Location deletion only: the S3 client and the purge are loaded by the first deletion.
  objects: loadedOnUse(async () => {
    const [{ S3Client }, { ManagedObjects }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('../../shared/store/managed-objects.js'),
    ]);
    return new ManagedObjects({ s3: runtime.client(S3Client), bucket: managedBucket });
  }),
  reservedBuckets: [managedBucket, runtime.optional('exportBucket')].filter((b): b is string => !!b),
  region: runtime.require('region'),
  // The emulator in local mode is reached at its own address, buckets in the path; AWS needs no hint.
  s3Endpoint: runtime.optional('endpoint')
    ? { endpoint: runtime.optional('endpoint'), pathStyle: true }
    : undefined,
  platformAccountId: runtime.require('tenantStorageBoundaryArn').split(':')[4],
  verifier: loadedOnUse(
    async () => new (await import('../../shared/store/storage-verifier.js')).ExternalRootVerifier(sts),
  ),
  pathOwners: new StoragePathOwners(platform, runtime.require('identityTable')),
  members,
  probes: lazyProbes,
  hostPolicy,
  // The Encryption SDK is loaded by the first store location's encrypt or decrypt (envelopeCipherFor).
  storeKeys: new StoreKeyPairs(
    new TenantCrypto({
      cipher: envelopeCipherFor(runtime),
      keys: tenantKeys,
    }),
  ),
  storeVerifier: loadedOnUse(
    async () => new (await import('../../shared/store/store-check.js')).StoreVerifier(hostPolicy),
  ),
  signingTally: identity.rateWindows,
  // An endpoint of its own is the local emulator, which enforces no IAM (the self-test says so).
  enforcesIam: runtime.optional('endpoint') === undefined,
});

/**
 * The LaminDB route names no tenant: once the path has named one, the caller is authorized for it exactly as
 * on a tenant route (membership, API key's tenant, MFA policy, storage:read-credentials).
 */
const laminAsTenantRoute: RouteDef = {
  ...routes.laminStorageCredentials,
  auth: { kind: 'tenant', permission: 'storage:read-credentials' },
};

/** Instances, storage locations, credential vending and revocation: `/v1/tenants/{t}/(instances|storage-*)`. */
export const handler = createApiHandler({
  runtime,
  area: 'storage',
  allRoutes: routes.storageRoutes,
  authorizer,
  rateLimiter: rateLimiterFor(identity),
  onRefused: auditRefusalsTo(audit),
  routes: [
    implementForTenant(routes.listInstances, 200, (caller, req) => service.listInstances(caller, req.query)),
    implementForTenant(routes.createInstance, 201, (caller, req) => service.createInstance(caller, req.body)),
    implementForTenant(routes.listStorageLocations, 200, (caller, req) =>
      service.listLocations(caller, req.query),
    ),
    implementForTenant(routes.createStorageLocation, 201, (caller, req) =>
      service.registerLocation(caller, req.body),
    ),
    implementForTenant(routes.getStorageExternalId, 200, async (caller) => ({
      externalId: await service.externalId(caller),
    })),
    implementForTenant(routes.updateStorageLocation, 200, (caller, req) =>
      service.updateLocation(caller, req.params.locationId, req.body),
    ),
    implementForTenant(routes.deleteStorageLocation, 200, (caller, req) =>
      service.deleteLocation(caller, req.params.locationId),
    ),
    implementForTenant(routes.vendStorageCredentials, 200, (caller, req) => service.vend(caller, req.body)),
    implement(routes.laminStorageCredentials, async (req) => {
      const tenantId = await service.tenantOfPath(req.body.path, 'body.path');
      const auth = await authorizer.authorize(req.event, laminAsTenantRoute, { tenantId }).catch((error) => {
        // Not a member, or a key of another tenant: the same answer as an unregistered path.
        throw error instanceof NotFoundError ? new NotFoundError(PATH_NOT_FOUND) : error;
      });
      return { status: 200, body: await service.laminCredentials(tenantCaller({ ...req, auth }), req.body) };
    }),
    implementForTenant(routes.loadIcebergStorageCredentials, 200, (caller, req) =>
      service.icebergCredentials(caller, req.params.locationId, req.query),
    ),
    implementForTenant(routes.validateStorageLocation, 200, (caller, req) =>
      service.validateLocation(caller, req.params.locationId),
    ),
    implementForTenant(routes.signStorageRequest, 200, (caller, req) =>
      service.sign(caller, req.params.locationId, req.body),
    ),
    implementForTenant(routes.revokeStorageCredentials, 200, (caller, req) =>
      service.revoke(caller, req.body.userId),
    ),
  ],
});
