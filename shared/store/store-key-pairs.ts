import type { TenantCrypto } from '../crypto/envelope.js';
import { STORE_KEY_PAIR_PURPOSE } from '../domain/key-context.js';
import type { TenantScope } from '../domain/tenant-scope.js';

/** An S3-compatible store's access key pair, in memory only. */
export interface StoreKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The key pairs of S3-compatible stores, envelope-encrypted under the tenant's key and bound to `{tenantId,
 * purpose: 'storage-store-key', recordId: <location id>}` (a ciphertext moved to another location or tenant
 * does not decrypt). Both halves are one ciphertext: the access key id is as write-only as the secret.
 */
export class StoreKeyPairs {
  constructor(private readonly crypto: Pick<TenantCrypto, 'encrypt' | 'decrypt'>) {}

  /** The base64 ciphertext of `pair` for this location. */
  encrypt(scope: TenantScope, locationId: string, pair: StoreKeyPair): Promise<string> {
    return this.crypto.encrypt(
      scope,
      { purpose: STORE_KEY_PAIR_PURPOSE, recordId: locationId },
      JSON.stringify({ accessKeyId: pair.accessKeyId, secretAccessKey: pair.secretAccessKey }),
    );
  }

  /** The pair of this location's ciphertext (CiphertextBindingError when it was made for another). */
  async decrypt(scope: TenantScope, locationId: string, ciphertext: string): Promise<StoreKeyPair> {
    const plaintext = await this.crypto.decrypt(
      scope,
      { purpose: STORE_KEY_PAIR_PURPOSE, recordId: locationId },
      ciphertext,
    );
    try {
      const { accessKeyId, secretAccessKey } = JSON.parse(plaintext.toString('utf8')) as StoreKeyPair;
      return { accessKeyId, secretAccessKey };
    } finally {
      plaintext.fill(0);
    }
  }
}
