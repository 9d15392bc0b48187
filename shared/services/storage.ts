import { StorageCredentialRevocation } from './storage-credential-revocation.js';
import { StorageCredentials } from './storage-credentials.js';
import type { StorageServiceDeps } from './storage-deps.js';
import { StorageLocations } from './storage-locations.js';
import { StorageRemoteSigning } from './storage-remote-signing.js';
import { StorageSelfTest } from './storage-self-test.js';

export {
  PATH_NOT_FOUND,
  SigningOnlyLocationError,
  StorageAccessChangedError,
} from './storage-credentials.js';
export type { StorageServiceDeps } from './storage-deps.js';
export {
  type ExternalLocationBody,
  releaseTenantStorage,
  STORE_DEFAULT_REGION,
  type TenantStorageRelease,
} from './storage-locations.js';

/**
 * Instances, storage locations, credential vending and revocation (DESIGN.md §4), all routes in one object. Each
 * route group is a module of its own (credentials, remote signing, locations and instances, the self-test,
 * revocation), all taking these deps: the storage function loads each on its group's first request
 * (functions/storage/lazy/), so a cold start parses none of them.
 */
export class StorageService {
  readonly #credentials: StorageCredentials;
  readonly #signing: StorageRemoteSigning;
  readonly #locations: StorageLocations;
  readonly #selfTest: StorageSelfTest;
  readonly #revocation: StorageCredentialRevocation;

  constructor(deps: StorageServiceDeps) {
    this.#credentials = new StorageCredentials(deps);
    this.#signing = new StorageRemoteSigning(deps);
    this.#locations = new StorageLocations(deps);
    this.#selfTest = new StorageSelfTest(deps);
    this.#revocation = new StorageCredentialRevocation(deps);
  }

  listLocations(
    ...args: Parameters<StorageLocations['listLocations']>
  ): ReturnType<StorageLocations['listLocations']> {
    return this.#locations.listLocations(...args);
  }

  registerLocation(
    ...args: Parameters<StorageLocations['registerLocation']>
  ): ReturnType<StorageLocations['registerLocation']> {
    return this.#locations.registerLocation(...args);
  }

  updateLocation(
    ...args: Parameters<StorageLocations['updateLocation']>
  ): ReturnType<StorageLocations['updateLocation']> {
    return this.#locations.updateLocation(...args);
  }

  externalId(
    ...args: Parameters<StorageLocations['externalId']>
  ): ReturnType<StorageLocations['externalId']> {
    return this.#locations.externalId(...args);
  }

  deleteLocation(
    ...args: Parameters<StorageLocations['deleteLocation']>
  ): ReturnType<StorageLocations['deleteLocation']> {
    return this.#locations.deleteLocation(...args);
  }

  releaseTenant(
    ...args: Parameters<StorageLocations['releaseTenant']>
  ): ReturnType<StorageLocations['releaseTenant']> {
    return this.#locations.releaseTenant(...args);
  }

  resolveLocation(
    ...args: Parameters<StorageCredentials['resolveLocation']>
  ): ReturnType<StorageCredentials['resolveLocation']> {
    return this.#credentials.resolveLocation(...args);
  }

  listInstances(
    ...args: Parameters<StorageLocations['listInstances']>
  ): ReturnType<StorageLocations['listInstances']> {
    return this.#locations.listInstances(...args);
  }

  createInstance(
    ...args: Parameters<StorageLocations['createInstance']>
  ): ReturnType<StorageLocations['createInstance']> {
    return this.#locations.createInstance(...args);
  }

  vend(...args: Parameters<StorageCredentials['vend']>): ReturnType<StorageCredentials['vend']> {
    return this.#credentials.vend(...args);
  }

  sign(...args: Parameters<StorageRemoteSigning['sign']>): ReturnType<StorageRemoteSigning['sign']> {
    return this.#signing.sign(...args);
  }

  tenantOfPath(
    ...args: Parameters<StorageCredentials['tenantOfPath']>
  ): ReturnType<StorageCredentials['tenantOfPath']> {
    return this.#credentials.tenantOfPath(...args);
  }

  laminCredentials(
    ...args: Parameters<StorageCredentials['laminCredentials']>
  ): ReturnType<StorageCredentials['laminCredentials']> {
    return this.#credentials.laminCredentials(...args);
  }

  icebergCredentials(
    ...args: Parameters<StorageCredentials['icebergCredentials']>
  ): ReturnType<StorageCredentials['icebergCredentials']> {
    return this.#credentials.icebergCredentials(...args);
  }

  validateLocation(
    ...args: Parameters<StorageSelfTest['validateLocation']>
  ): ReturnType<StorageSelfTest['validateLocation']> {
    return this.#selfTest.validateLocation(...args);
  }

  endpointHints(
    ...args: Parameters<StorageCredentials['endpointHints']>
  ): ReturnType<StorageCredentials['endpointHints']> {
    return this.#credentials.endpointHints(...args);
  }

  revoke(
    ...args: Parameters<StorageCredentialRevocation['revoke']>
  ): ReturnType<StorageCredentialRevocation['revoke']> {
    return this.#revocation.revoke(...args);
  }
}
