/**
 * The AWS Encryption SDK and the aggregated KMS client, behind `await import()` in ./envelope.ts: the SDK is
 * CommonJS that brings every keyring, its own ASN.1 and big-number libraries (about 280 KiB), and the
 * functions that hold envelope ciphers use them on a few routes only. Bundled as a chunk of its own
 * (infra/constructs/bundling.ts), so a cold start neither parses nor runs it until a request encrypts or
 * decrypts.
 */
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  type KeyringNode,
  KmsKeyringNode,
  type NodeAlgorithmSuite,
  NodeCachingMaterialsManager,
} from '@aws-crypto/client-node';
import {
  type DecryptCommandOutput,
  type EncryptCommandOutput,
  type GenerateDataKeyCommandOutput,
  KMS,
} from '@aws-sdk/client-kms';
import type { FunctionRuntime } from '../aws/runtime.js';

/**
 * The one algorithm suite (ENVELOPE_SUITE in ./envelope.ts), read from the enum here and compared at load:
 * a misspelt member is `undefined`, and the SDK would then silently fall back to its default *signing* suite.
 */
if (AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY !== 0x0478)
  throw new Error('Encryption SDK suite constant is not the committing non-signing suite');

// Committing suites only, in both directions; one encrypted data key per message (ours), so a crafted
// message cannot make decrypt attempt many KMS calls.
export const esdk = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 1,
});

/** What the keyring calls: the aggregated client's `generateDataKey`, `encrypt` and `decrypt`. */
export interface KeyringKmsClient {
  generateDataKey(input: Parameters<KMS['generateDataKey']>[0]): Promise<GenerateDataKeyCommandOutput>;
  encrypt(input: Parameters<KMS['encrypt']>[0]): Promise<EncryptCommandOutput>;
  decrypt(input: Parameters<KMS['decrypt']>[0]): Promise<DecryptCommandOutput>;
}

/** The Encryption SDK's materials cache, as `cachingManager` takes it. */
export type MaterialsCache = ReturnType<typeof getLocalCryptographicMaterialsCache<NodeAlgorithmSuite>>;

/**
 * One LRU of data-key materials for every key owner of a cipher, holding at most `capacity` entries, its
 * lookups told to `onLookup` (whether materials were found: a data key KMS need not make or open). One
 * cache, not one per owner: each of the SDK's caches runs a timer that keeps it alive, so a cache made per
 * owner would outlive its owner's eviction, plaintext data keys included. Owners stay apart by partition.
 */
export function materialsCache(capacity: number, onLookup?: (found: boolean) => void): MaterialsCache {
  const cache = getLocalCryptographicMaterialsCache<NodeAlgorithmSuite>(capacity);
  return {
    ...cache,
    getEncryptionMaterial(key: string, plaintextLength: number) {
      const found = cache.getEncryptionMaterial(key, plaintextLength);
      onLookup?.(found !== false);
      return found;
    },
    getDecryptionMaterial(key: string) {
      const found = cache.getDecryptionMaterial(key);
      onLookup?.(found !== false);
      return found;
    },
  };
}

/** A caching materials manager over a KMS keyring on `keyArn`, its entries in `cache` under `partition`. */
export function cachingManager(options: {
  keyArn: string;
  client: () => KeyringKmsClient;
  cache: MaterialsCache;
  maxAgeMs: number;
  maxMessagesEncrypted: number;
  maxBytesEncrypted: number;
  partition: string;
}): NodeCachingMaterialsManager {
  const keyring: KeyringNode = new KmsKeyringNode({
    generatorKeyId: options.keyArn,
    clientProvider: options.client,
  });
  return new NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: options.cache,
    maxAge: options.maxAgeMs,
    maxMessagesEncrypted: options.maxMessagesEncrypted,
    maxBytesEncrypted: options.maxBytesEncrypted,
    partition: options.partition,
  });
}

/** The function's aggregated KMS client (the emulator's endpoint locally). */
export function kmsOf(runtime: FunctionRuntime): KMS {
  return runtime.client(KMS);
}
