import type { HostResolver } from '../connectors/outbound-http.js';
import type { HostPolicy } from '../domain/connection-host.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { ManagedObjects } from '../store/managed-objects.js';
import type { RateWindows } from '../store/rate-windows.js';
import type { StoragePathOwners } from '../store/storage-path-owners.js';
import type { StorageProbes } from '../store/storage-probe.js';
import type { StorageStore } from '../store/storage-store.js';
import type { StorageCredentialVendor } from '../store/storage-vendor.js';
import type { ExternalRootVerifier } from '../store/storage-verifier.js';
import type { StoreCheck } from '../store/store-check.js';
import type { StoreKeyPairs } from '../store/store-key-pairs.js';
import type { TenantStorageAccess } from '../store/tenant-storage-access.js';
import type { TenantStore } from '../store/tenant-store.js';

/**
 * What the storage service's route groups use (functions/storage/lazy/deps.ts makes them): each group's
 * module (storage-credentials, storage-remote-signing, storage-locations, storage-self-test,
 * storage-credential-revocation) takes the same deps, so the storage function can load each group on its
 * first request.
 */
export interface StorageServiceDeps {
  store: StorageStore;
  vendor: StorageCredentialVendor;
  /** The tenant's storage role, revocations and holdings (shared/store/tenant-storage-access.ts). */
  access: TenantStorageAccess;
  /**
   * The tenant's own KMS key (the TENANT item's `keyArn`, shared/store/tenant-key-directory.ts): managed
   * objects are written under it, so shredding it leaves every copy unreadable.
   */
  tenantKeys: { keyArnFor(scope: TenantScope): Promise<string> };
  audit: AuditRecorder;
  /** The platform bucket for managed locations. */
  managedBucket: string;
  /** The objects of managed locations there: location deletion deletes them, every version. */
  objects?: Pick<ManagedObjects, 'purge'>;
  /** Buckets no tenant may register as external (the managed and export buckets). */
  reservedBuckets: readonly string[];
  /**
   * The platform's own AWS account: no external location may name a role there (the storage and
   * tenant-data roles trust this function, so such a registration must not even be attempted).
   */
  platformAccountId?: string;
  /**
   * Proves a tenant controls an external root before it is registered (role trust with the ExternalId,
   * list permission, bucket owned by the role's account). Without it, registration trusts the caller.
   */
  verifier?: Pick<ExternalRootVerifier, 'verify'>;
  /** The region tenants are homed in (managed locations, default for external ones). */
  region: string;
  /**
   * Where clients reach S3, told with every vend: an endpoint only when it is not AWS's default (the emulator
   * in local mode), and whether buckets go in the path. Absent: AWS's default endpoints, virtual-hosted style.
   */
  s3Endpoint?: { endpoint?: string; pathStyle: boolean };
  /** Who registered the external root containing a path (the global registry), for routes named by path. */
  pathOwners?: Pick<StoragePathOwners, 'ownerOf'>;
  /**
   * The tenant's members: their role for the revocation route's "not above your own" rule, and the vend's
   * re-read after STS (role and storage fence; see STORAGE_FENCE_MS).
   */
  members: Pick<TenantStore, 'getMember'>;
  /** Counts signatures per caller, location and access for the aggregated audit (remote signing). */
  signingTally?: Pick<RateWindows, 'tally'>;
  /** S3 requests with vended credentials, for the self-test (validateLocation). */
  probes?: StorageProbes;
  /**
   * Whether the store enforces IAM: false against the local emulator, where the self-test reports the checks
   * only IAM could pass or fail as not judged rather than passing them.
   */
  enforcesIam?: boolean;
  /**
   * Where S3-compatible stores may be (ALLOW_PRIVATE_NETWORKS; shared/connectors/outbound-http.ts rules): their
   * endpoints are checked at registration, and every connection to them again (s3-compatible.ts).
   */
  hostPolicy?: HostPolicy;
  /** DNS for store endpoints at registration (a seam for tests). */
  resolveHost?: HostResolver;
  /** S3-compatible stores' key pairs, under the tenant's key (purpose storage-store-key). */
  storeKeys?: Pick<StoreKeyPairs, 'encrypt' | 'decrypt'>;
  /** Proves a store's key pair (and STS, when named) reaches the root before it is registered or rotated. */
  storeVerifier?: { verify(check: StoreCheck): Promise<void> };
  now?: () => number;
}
