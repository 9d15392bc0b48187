import { STSClient } from '@aws-sdk/client-sts';
import { loadedOnUse } from '../../../shared/aws/loaded-on-use.js';
import { storeClientConfig } from '../../../shared/connectors/s3-compatible.js';
import { envelopeCipherFor, TenantCrypto } from '../../../shared/crypto/envelope.js';
import type { StorageServiceDeps } from '../../../shared/services/storage-deps.js';
import { StoragePathOwners } from '../../../shared/store/storage-path-owners.js';
import type { StorageProbes } from '../../../shared/store/storage-probe.js';
import { StorageStore } from '../../../shared/store/storage-store.js';
import { StorageCredentialVendor } from '../../../shared/store/storage-vendor.js';
import { StoreKeyPairs } from '../../../shared/store/store-key-pairs.js';
import { tenantStorageAccessFor } from '../../../shared/store/tenant-storage-access.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';
import type { StorageInit } from './init.js';

/**
 * The S3 client and the location checks' probes and verifier are loaded by the first request that registers
 * or checks a location (shared/aws/loaded-on-use.ts): vending, the hot path, never uses them.
 */
function lazyProbes(): StorageProbes {
  return (credentials, where) => {
    let session: ReturnType<StorageProbes> | undefined;
    const loaded = loadedOnUse(async () => {
      session = (await import('../../../shared/store/storage-probe.js')).storageProbes(credentials, where);
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
}

/**
 * What every route group's service uses (shared/services/storage-deps.ts): the registry, the tenant's storage
 * role and its revocations, the credential vendor (one per process: its cache is dropped by location changes
 * and revocations), the members, the store key pairs. Made once, by the first request of any group.
 */
export function storageDepsFor(init: StorageInit): StorageServiceDeps {
  const { runtime, tenantClients, tenantKeys, audit, hostPolicy } = init;
  const platform = runtime.dynamo;
  const tenantDataTable = runtime.require('tenantDataTable');
  const managedBucket = runtime.require('storageBucket');
  const sts = runtime.client(STSClient);
  // This function is the one that creates tenant storage roles (never deletes them), granting the managed
  // bucket's tenant prefix and its key.
  const access = tenantStorageAccessFor(runtime, { tenantClients, vending: true });
  const vendor = new StorageCredentialVendor({
    sts,
    storageKeyArn: runtime.require('storageKeyArn'),
    maxCacheEntries: init.cacheEntries,
    storeSts: (endpoint, region, keyPair) =>
      new STSClient(storeClientConfig(endpoint, region, keyPair, hostPolicy)),
    recordIssue: (scope, userId, kind, untilMs) => access.recordIssue(scope, userId, kind, untilMs),
  });
  return {
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
        import('../../../shared/store/managed-objects.js'),
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
      async () => new (await import('../../../shared/store/storage-verifier.js')).ExternalRootVerifier(sts),
    ),
    pathOwners: new StoragePathOwners(platform, runtime.require('identityTable')),
    members: new TenantStore(tenantClients, tenantDataTable),
    probes: lazyProbes(),
    hostPolicy,
    // The Encryption SDK is loaded by the first store location's encrypt or decrypt (envelopeCipherFor).
    storeKeys: new StoreKeyPairs(
      new TenantCrypto({
        cipher: envelopeCipherFor(runtime),
        keys: tenantKeys,
      }),
    ),
    storeVerifier: loadedOnUse(
      async () => new (await import('../../../shared/store/store-check.js')).StoreVerifier(hostPolicy),
    ),
    signingTally: init.identity.rateWindows,
    // An endpoint of its own is the local emulator, which enforces no IAM (the self-test says so).
    enforcesIam: runtime.optional('endpoint') === undefined,
  };
}

let made: StorageServiceDeps | undefined;

/** The deps, made by the first call (the first request of any route group) and the same object after. */
export function storageDepsOf(init: StorageInit): StorageServiceDeps {
  made ??= storageDepsFor(init);
  return made;
}
