import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { clientConfig, platformDynamo } from '../../shared/aws/clients.js';
import { optionalEnv, requireEnv } from '../../shared/aws/config.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import {
  authorizerFromEnv,
  identityStoreFromEnv,
  rateLimiterFromEnv,
  tenantCaller,
} from '../../shared/http/auth.js';
import * as routes from '../../shared/schemas/storage.js';
import { StorageService } from '../../shared/services/storage.js';
import { auditRecorderFromEnv } from '../../shared/store/audit-store.js';
import { StorageStore } from '../../shared/store/storage-store.js';
import {
  StorageCredentialVendor,
  onStorageRevocation,
  storageRevocationsFromEnv,
} from '../../shared/store/storage-vendor.js';
import { ExternalRootVerifier } from '../../shared/store/storage-verifier.js';
import { tenantDataClientsFromEnv } from '../../shared/store/tenant-data-client.js';
import { TenantStore } from '../../shared/store/tenant-store.js';

const identity = identityStoreFromEnv();
const tenantClients = tenantDataClientsFromEnv();
const platform = platformDynamo();
const tenantDataTable = requireEnv('tenantDataTable');
const managedBucket = requireEnv('storageBucket');
const storageRoleArn = requireEnv('storageRoleArn');
const sts = new STSClient(clientConfig());
const vendor = new StorageCredentialVendor({
  sts,
  storageRoleArn,
  storageKeyArn: requireEnv('storageKeyArn'),
});
onStorageRevocation((tenantId, userId) => vendor.dropUser(tenantId, userId));
const members = new TenantStore(tenantClients, tenantDataTable);
const service = new StorageService({
  store: new StorageStore({
    tenantClients,
    platformClient: platform,
    tenantDataTable,
    identityTable: requireEnv('identityTable'),
  }),
  vendor,
  revocations: storageRevocationsFromEnv({ db: platform, iam: new IAMClient(clientConfig()) }),
  audit: auditRecorderFromEnv({ tenantClients, platformClient: platform }),
  managedBucket,
  reservedBuckets: [managedBucket, optionalEnv('exportBucket')].filter((b): b is string => !!b),
  region: requireEnv('region'),
  platformAccountId: storageRoleArn.split(':')[4],
  rateLimiter: rateLimiterFromEnv(identity),
  verifier: new ExternalRootVerifier(sts),
  memberRole: async (_tenantId, userId, caller) =>
    (await members.getMember(caller.access.scope, userId))?.role,
});

/** Instances, storage locations, credential vending and revocation: `/v1/tenants/{t}/(instances|storage-*)`. */
export const handler = createApiHandler({
  area: 'storage',
  allRoutes: routes.storageRoutes,
  authorizer: authorizerFromEnv(identity),
  routes: [
    implement(routes.listInstances, async (req) => ({
      status: 200,
      body: await service.listInstances(tenantCaller(req), req.query),
    })),
    implement(routes.createInstance, async (req) => ({
      status: 201,
      body: await service.createInstance(tenantCaller(req), req.body),
    })),
    implement(routes.listStorageLocations, async (req) => ({
      status: 200,
      body: await service.listLocations(tenantCaller(req), req.query),
    })),
    implement(routes.createStorageLocation, async (req) => ({
      status: 201,
      body: await service.registerLocation(tenantCaller(req), req.body),
    })),
    implement(routes.getStorageExternalId, async (req) => ({
      status: 200,
      body: { externalId: await service.externalId(tenantCaller(req)) },
    })),
    implement(routes.deleteStorageLocation, async (req) => {
      await service.deleteLocation(tenantCaller(req), req.params.locationId);
      return { status: 204 };
    }),
    implement(routes.vendStorageCredentials, async (req) => ({
      status: 200,
      body: await service.vend(tenantCaller(req), req.body),
    })),
    implement(routes.revokeStorageCredentials, async (req) => ({
      status: 200,
      body: await service.revoke(tenantCaller(req), req.body.userId),
    })),
  ],
});
