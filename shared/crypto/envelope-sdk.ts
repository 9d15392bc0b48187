/**
 * The AWS Encryption SDK and the aggregated KMS client, behind `await import()` in ./envelope.ts: the SDK
 * brings its own ASN.1 and big-number libraries (about 280 KiB), and the functions that hold envelope
 * ciphers use them on a few routes only. Bundled as a chunk of its own (infra/constructs/bundling.ts), so a
 * cold start neither parses nor runs it until a request encrypts or decrypts.
 *
 * Imported from the SDK's ES-module packages (encrypt, decrypt, KMS keyring, caching manager), not from
 * `@aws-crypto/client-node`: that one is CommonJS only and re-exports every keyring, the hierarchical
 * keyring's branch key store among them, which `require`s the whole aggregated DynamoDB client. esbuild
 * then kept every DynamoDB command schema, and as the functions' own DynamoDB client shares those modules,
 * they landed in a chunk the cold start loads (about 45 KiB). `esdk` is what `buildClient` returns.
 */
import { getLocalCryptographicMaterialsCache } from '@aws-crypto/cache-material';
import { NodeCachingMaterialsManager } from '@aws-crypto/caching-materials-manager-node';
import { buildDecrypt } from '@aws-crypto/decrypt-node';
import { buildEncrypt } from '@aws-crypto/encrypt-node';
import { KmsKeyringNode } from '@aws-crypto/kms-keyring-node';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  type KeyringNode,
  type NodeAlgorithmSuite,
} from '@aws-crypto/material-management-node';
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
const ESDK_OPTIONS = {
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 1,
} as const;
export const esdk = { ...buildEncrypt(ESDK_OPTIONS), ...buildDecrypt(ESDK_OPTIONS) };

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
