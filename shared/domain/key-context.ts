/**
 * The names tenant key policies (key-policy.ts, which re-exports them) share with the code that uses the
 * keys: the encryption-context keys and purposes, and the tag naming a key's tenant. Apart from the policy
 * builders, so that the functions encrypting and decrypting under tenant keys load these and not the builders.
 */

/** The encryption-context keys every Strongroom ciphertext carries (shared/crypto/envelope.ts). */
export const ENCRYPTION_CONTEXT_KEYS = ['tenantId', 'purpose', 'recordId'] as const;

/**
 * The encryption context purpose of an S3-compatible store's key pair (shared/store/store-key-pairs.ts); its
 * `recordId` is the location id (`l_…`).
 */
export const STORE_KEY_PAIR_PURPOSE = 'storage-store-key';

/** The encryption context purpose and record id of a tenant IdP's client secret (shared/store/tenant-sso-store.ts). */
export const OIDC_CLIENT_SECRET_CONTEXT = { purpose: 'oidc-client-secret', recordId: 'sso' } as const;

/** The tag naming a tenant key's tenant: tenant storage roles find their tenant's key by it. */
export const TENANT_KEY_TAG = 'tenantId';
