import { loadedOnUse } from '../../../shared/aws/loaded-on-use.js';
import { platformCryptoFor } from '../../../shared/crypto/envelope.js';
import type { TenantCaller } from '../../../shared/domain/caller.js';
import { SecondFactorVerifier, secondFactorOf } from '../../../shared/services/second-factor.js';
import { TenantDeletionService } from '../../../shared/services/tenancy.js';
import { IdentityStore } from '../../../shared/store/identity-store.js';
import { StorageStore } from '../../../shared/store/storage-store.js';
import type { TenantRecord } from '../../../shared/store/tenant-store.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';
import type { TenantsInit } from './init.js';

/** A tenant's deletion and its status: the owner's fresh second factor, then every store of the tenant. */
export function tenantDeletionFor(init: TenantsInit) {
  const { runtime, identity, tenantClients, keys, audit, storageAccess } = init;
  const tenantDataTable = runtime.require('tenantDataTable');
  const storageBucket = runtime.require('storageBucket');
  const deletion = new TenantDeletionService({
    tenants: new TenantStore(tenantClients, tenantDataTable),
    keys,
    audit,
    secondFactors: new SecondFactorVerifier({
      // The factors' records (TOTP steps, recovery codes, step-up tokens): the whole identity store, sharing
      // the function's rate windows.
      identity: new IdentityStore(runtime.dynamo, runtime.require('identityTable'), identity.rateWindows),
      audit,
      secrets: platformCryptoFor(runtime),
    }),
    storage: new StorageStore({
      tenantClients,
      platformClient: runtime.dynamo,
      tenantDataTable,
      identityTable: runtime.require('identityTable'),
    }),
    storageAccess,
    // The managed bucket's objects of the tenant, every version (loaded by the first deletion).
    objects: loadedOnUse(async () => {
      const [{ S3Client }, { ManagedObjects }] = await Promise.all([
        import('@aws-sdk/client-s3'),
        import('../../../shared/store/managed-objects.js'),
      ]);
      return new ManagedObjects({ s3: runtime.client(S3Client), bucket: storageBucket });
    }),
  });
  return {
    status: (caller: TenantCaller, record?: TenantRecord) => deletion.status(caller, record),
    /** The schema admits exactly one factor: a code, a recovery code or a step-up token. */
    deleteTenant: (caller: TenantCaller, body: Parameters<typeof secondFactorOf>[0]) =>
      deletion.deleteTenant(caller, secondFactorOf(body)!),
  };
}
