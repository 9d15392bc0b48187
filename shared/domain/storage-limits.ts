/** What the storage routes accept (credential access and lifetimes, older KMS keys); the policies are shared/domain/storage-policy.ts. */

export const STORAGE_ACCESS = ['read', 'write'] as const;
export type StorageAccess = (typeof STORAGE_ACCESS)[number];

/** Credential lifetimes accepted by the vending API (seconds). 3600 is also STS's role-chaining ceiling. */
export const MIN_CREDENTIAL_SECONDS = 900;
export const MAX_CREDENTIAL_SECONDS = 3600;
export const DEFAULT_CREDENTIAL_SECONDS = 900;
/**
 * External-location credentials are sessions of the customer's own role, which Strongroom cannot deny, so
 * nothing can revoke them before they expire: they are vended for STS's minimum, 15 minutes, and no longer.
 */
export const EXTERNAL_MAX_CREDENTIAL_SECONDS = 900;

/**
 * How many older keys an external location may name. Each costs about 90 characters of the 2,048 STS allows
 * the session policy; four keep the largest location the API accepts well inside it (a test measures it).
 */
export const MAX_PREVIOUS_KMS_KEYS = 4;
