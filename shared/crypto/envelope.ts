import { AsyncLocalStorage } from 'node:async_hooks';
import type { NodeCachingMaterialsManager } from '@aws-crypto/caching-materials-manager-node';
import type { KMS } from '@aws-sdk/client-kms';
import type { FunctionRuntime } from '../aws/runtime.js';
import { BoundedCache, bytesFor, type CacheStats } from '../domain/bounded-cache.js';
import { ENCRYPTION_CONTEXT_KEYS } from '../domain/key-context.js';
import { assertTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import { HttpProblemError, isTransientAwsError, ServiceUnavailableError } from '../errors.js';
import { logger, registerCache } from '../observability.js';
import type { MaterialsCache } from './envelope-sdk.js';
import { TenantKeyUnavailableError } from './tenant-key-unavailable.js';

// The directory of tenant keys (shared/store/tenant-key-directory.ts) throws it without loading this module.
export { TenantKeyUnavailableError };

/**
 * The one algorithm suite: AES-256-GCM with HKDF-SHA512 and key commitment, without ECDSA signatures
 * (`ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY`; ./envelope-sdk.ts checks the SDK's enum agrees
 * when it loads).
 */
export const ENVELOPE_SUITE = 0x0478;

/**
 * The Encryption SDK and the KMS client (./envelope-sdk.ts), loaded at the first encrypt or decrypt, not
 * at cold start: most requests of the functions that hold a cipher never use it.
 */
type EnvelopeSdk = typeof import('./envelope-sdk.js');
let envelopeSdk: Promise<EnvelopeSdk> | undefined;
const loadSdk = (): Promise<EnvelopeSdk> => {
  envelopeSdk ??= import('./envelope-sdk.js');
  return envelopeSdk;
};

/** Whose key protects a ciphertext: a tenant (its id) or the platform (`'platform'`). */
export const PLATFORM_KEY_OWNER = 'platform';

/** What a ciphertext is bound to besides its tenant: the kind of secret and the record holding it. */
export interface RecordBinding {
  /** Kind of secret, kebab-case: `connection-password`, `totp-secret`, … */
  purpose: string;
  /** Id of the record that stores the ciphertext. */
  recordId: string;
}

/** The KMS key and the context `tenantId` a ciphertext is bound to. */
export interface KeyOwner {
  /** A tenant id or `'platform'`; becomes the `tenantId` of the encryption context. */
  tenantId: string;
  keyArn: string;
}

/** Data-key cache bounds (DESIGN.md §4): a cached key serves at most 5 minutes and 10,000 messages. */
export interface EnvelopeCacheLimits {
  /** ≤ 300,000 ms. */
  maxAgeMs: number;
  /** ≤ 10,000 messages per cached data key. */
  maxMessagesEncrypted: number;
  maxBytesEncrypted: number;
  /** Cache entries per key owner (distinct encryption contexts and decrypted data keys). */
  entriesPerOwner: number;
  /** Key owners (tenants) with a cache at once; the least recently used is dropped. */
  maxOwners: number;
}

export const DEFAULT_CACHE_LIMITS: EnvelopeCacheLimits = {
  maxAgeMs: 5 * 60_000,
  maxMessagesEncrypted: 10_000,
  maxBytesEncrypted: 100 * 1024 * 1024,
  entriesPerOwner: 100,
  maxOwners: 200,
};

/**
 * A cached data key's materials as the SDK holds them (the plaintext data key, its encrypted copy, the
 * encryption context and the SDK's objects around them), estimated: 100 per owner and 200 owners stay
 * within 40 MiB.
 */
export const DATA_KEY_ENTRY_BYTES = 2048;
/** A materials manager and its keyring, estimated. */
const MANAGER_BYTES = 2048;

/** Largest ciphertext body `decrypt` accepts (secrets are small; this bounds memory on hostile input). */
export const MAX_PLAINTEXT_BYTES = 64 * 1024;

/**
 * A ciphertext that is not bound to the record, purpose and tenant it was read for (moved, tampered,
 * another tenant's, or not one of ours). Not an HTTP error: it means stored data is wrong, so it is a 500.
 */
export class CiphertextBindingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CiphertextBindingError';
  }
}

/** KMS refused a call for a reason that is neither the key's state nor a throttle (e.g. access denied). */
export class KmsRefusedError extends Error {
  constructor(operation: string, cause: unknown) {
    super(`KMS refused ${operation}: ${cause instanceof Error ? cause.name : 'unknown error'}`, { cause });
    this.name = 'KmsRefusedError';
  }
}

/** Invalid purpose or record id: a programming error in the caller, not user input. */
export class RecordBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordBindingError';
  }
}

/** Counts of KMS calls made by a cipher, by operation (for metrics and the bench). */
export interface KmsCallCounts {
  GenerateDataKey: number;
  Encrypt: number;
  Decrypt: number;
}

const KEY_STATE_ERRORS = new Set(['DisabledException', 'KMSInvalidStateException', 'NotFoundException']);
const CIPHERTEXT_ERRORS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

interface KmsCallLog {
  errors: Error[];
}

// KMS errors of the current encrypt/decrypt. The SDK's keyring swallows decrypt errors into one message
// string, so the original error (its name decides 409 vs 503 vs 500) is recorded here on the way through.
const kmsCallLog = new AsyncLocalStorage<KmsCallLog>();

export interface EnvelopeCipherOptions {
  /**
   * The aggregated `KMS` client (the SDK's keyring calls its `generateDataKey`/`decrypt` methods), or how to
   * get it at first use (`envelopeCipherFor` loads the client with the SDK).
   */
  kms: KMS | (() => Promise<KMS>);
  limits?: Partial<EnvelopeCacheLimits>;
}

/**
 * Envelope encryption with the AWS Encryption SDK: a KMS keyring on the owner's key, the committing
 * non-signing suite, encryption context `{tenantId, purpose, recordId}` compared with the expected one on
 * decrypt, and a bounded cache of data keys per owner. Ciphertexts are base64 strings.
 */
export class EnvelopeCipher {
  readonly #limits: EnvelopeCacheLimits;
  readonly #kmsSource: KMS | (() => Promise<KMS>);
  #kms: KMS | undefined;
  readonly #managers: BoundedCache<NodeCachingMaterialsManager>;
  readonly #calls: KmsCallCounts = { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 };
  readonly #dataKeys = { hits: 0, misses: 0, puts: 0 };
  #materials: MaterialsCache | undefined;
  readonly #dataKeyStats: { stats(): CacheStats };

  constructor(options: EnvelopeCipherOptions) {
    this.#kmsSource = options.kms;
    this.#limits = { ...DEFAULT_CACHE_LIMITS, ...options.limits };
    const l = this.#limits;
    if (!(l.maxAgeMs > 0 && l.maxAgeMs <= 300_000)) throw new RangeError('maxAgeMs must be in (0, 300000]');
    if (!(l.maxMessagesEncrypted >= 1 && l.maxMessagesEncrypted <= 10_000))
      throw new RangeError('maxMessagesEncrypted must be in [1, 10000]');
    if (!(l.entriesPerOwner >= 1 && l.maxOwners >= 1)) throw new RangeError('cache sizes must be positive');
    // A materials manager per key owner (small: its keyring), all sharing one data-key cache.
    this.#managers = new BoundedCache<NodeCachingMaterialsManager>({
      name: 'materials managers (one per key owner)',
      maxEntries: l.maxOwners,
      maxBytes: bytesFor(l.maxOwners, MANAGER_BYTES),
      sizeOf: () => MANAGER_BYTES,
    });
    registerCache(this.#managers);
    const capacity = l.maxOwners * l.entriesPerOwner;
    // Held by this cipher: the registry holds caches weakly.
    this.#dataKeyStats = {
      stats: () => ({
        name: 'data keys',
        maxEntries: capacity,
        maxBytes: capacity * DATA_KEY_ENTRY_BYTES,
        // The SDK's cache does not say how full it is: at most what was put in, at most its capacity.
        entries: Math.min(this.#dataKeys.puts, capacity),
        bytes: Math.min(this.#dataKeys.puts, capacity) * DATA_KEY_ENTRY_BYTES,
        hits: this.#dataKeys.hits,
        misses: this.#dataKeys.misses,
        evictions: Math.max(0, this.#dataKeys.puts - capacity),
      }),
    };
    registerCache(this.#dataKeyStats);
  }

  /** KMS calls made so far. */
  kmsCalls(): Readonly<KmsCallCounts> {
    return { ...this.#calls };
  }

  /** Encrypts `plaintext` under the owner's key, bound to `{tenantId, purpose, recordId}`; returns base64. */
  async encrypt(owner: KeyOwner, binding: RecordBinding, plaintext: string | Uint8Array): Promise<string> {
    const context = encryptionContext(owner, binding);
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (bytes.byteLength > MAX_PLAINTEXT_BYTES)
      throw new RangeError('plaintext is too large to encrypt here');
    const { esdk, manager } = await this.#sdkFor(owner);
    const result = await this.#withKms(owner, 'encrypt', () =>
      esdk.encrypt(manager, bytes, { encryptionContext: context, suiteId: ENVELOPE_SUITE }),
    );
    if (result.messageHeader.suiteId !== ENVELOPE_SUITE)
      throw new Error('Encryption SDK used an unexpected algorithm suite');
    return result.result.toString('base64');
  }

  /**
   * Decrypts a base64 ciphertext made by `encrypt` for exactly this owner and binding. A ciphertext of
   * another record, purpose, tenant or key, or with another suite, throws CiphertextBindingError.
   */
  async decrypt(owner: KeyOwner, binding: RecordBinding, ciphertext: string): Promise<Buffer> {
    const expected = encryptionContext(owner, binding);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(ciphertext))
      throw new CiphertextBindingError('The stored ciphertext is not base64');
    const message = Buffer.from(ciphertext, 'base64');
    const { esdk, manager } = await this.#sdkFor(owner);
    let result: Awaited<ReturnType<EnvelopeSdk['esdk']['decrypt']>>;
    try {
      result = await this.#withKms(owner, 'decrypt', () =>
        esdk.decrypt(manager, message, { maxBodySize: MAX_PLAINTEXT_BYTES }),
      );
    } catch (error) {
      if (
        error instanceof HttpProblemError ||
        error instanceof KmsRefusedError ||
        error instanceof CiphertextBindingError
      )
        throw error;
      throw new CiphertextBindingError('The ciphertext could not be decrypted with this key', {
        cause: error,
      });
    }
    const { plaintext, messageHeader } = result;
    // The SDK authenticates the header's context but does not compare it with anything: we must.
    if (messageHeader.suiteId !== ENVELOPE_SUITE || !sameContext(messageHeader.encryptionContext, expected)) {
      plaintext.fill(0);
      throw new CiphertextBindingError('The ciphertext is bound to another tenant, purpose or record');
    }
    return plaintext;
  }

  async #withKms<T>(owner: KeyOwner, operation: 'encrypt' | 'decrypt', run: () => Promise<T>): Promise<T> {
    const log: KmsCallLog = { errors: [] };
    try {
      return await kmsCallLog.run(log, run);
    } catch (error) {
      const kmsError = log.errors.at(-1);
      if (!kmsError) throw error;
      if (KEY_STATE_ERRORS.has(kmsError.name)) {
        if (owner.tenantId === PLATFORM_KEY_OWNER) {
          // Without the platform key nobody can sign in with MFA: an outage of the platform, not a tenant state.
          logger.error('platform key unavailable', { error: kmsError.name });
          throw new ServiceUnavailableError(
            30,
            'A platform key is unavailable; nothing was changed.',
            kmsError,
          );
        }
        logger.warn('tenant key unavailable', { tenantId: owner.tenantId, error: kmsError.name });
        throw new TenantKeyUnavailableError(kmsError);
      }
      if (isTransientAwsError(kmsError) || kmsError.name === 'KeyUnavailableException')
        throw new ServiceUnavailableError(
          5,
          'The key service is busy or unavailable; nothing was changed. Try again.',
          kmsError,
        );
      if (operation === 'decrypt' && CIPHERTEXT_ERRORS.has(kmsError.name))
        throw new CiphertextBindingError('KMS rejected the encrypted data key for this context', {
          cause: kmsError,
        });
      throw new KmsRefusedError(operation, kmsError);
    }
  }

  /** The SDK (loaded at first use) and the owner's materials manager. */
  async #sdkFor(
    owner: KeyOwner,
  ): Promise<{ esdk: EnvelopeSdk['esdk']; manager: NodeCachingMaterialsManager }> {
    const sdk = await loadSdk();
    if (!this.#kms) {
      const source = this.#kmsSource;
      this.#kms = typeof source === 'function' ? await source() : source;
    }
    return { esdk: sdk.esdk, manager: this.#manager(owner, sdk) };
  }

  #manager(owner: KeyOwner, sdk: EnvelopeSdk): NodeCachingMaterialsManager {
    const id = `${owner.tenantId}\u0000${owner.keyArn}`;
    const existing = this.#managers.get(id);
    if (existing) return existing;
    this.#materials ??= this.#countedPuts(
      sdk.materialsCache(this.#limits.maxOwners * this.#limits.entriesPerOwner, (found) => {
        if (found) this.#dataKeys.hits++;
        else this.#dataKeys.misses++;
      }),
    );
    const manager = sdk.cachingManager({
      keyArn: owner.keyArn,
      client: () => this.#recordingClient(),
      cache: this.#materials,
      maxAgeMs: this.#limits.maxAgeMs,
      maxMessagesEncrypted: this.#limits.maxMessagesEncrypted,
      maxBytesEncrypted: this.#limits.maxBytesEncrypted,
      // Its own partition of the cache: a tenant's data keys never serve another tenant even if contexts collided.
      partition: id,
    });
    this.#managers.set(id, manager);
    return manager;
  }

  #countedPuts(cache: MaterialsCache): MaterialsCache {
    const counts = this.#dataKeys;
    return {
      ...cache,
      putEncryptionMaterial(...args: Parameters<MaterialsCache['putEncryptionMaterial']>) {
        counts.puts++;
        cache.putEncryptionMaterial(...args);
      },
      putDecryptionMaterial(...args: Parameters<MaterialsCache['putDecryptionMaterial']>) {
        counts.puts++;
        cache.putDecryptionMaterial(...args);
      },
    };
  }

  #recordingClient() {
    const kms = this.#kms;
    if (!kms) throw new Error('the KMS client is made before the first materials manager');
    const calls = this.#calls;
    const track = async <T>(operation: keyof KmsCallCounts, call: () => Promise<T>): Promise<T> => {
      calls[operation]++;
      try {
        return await call();
      } catch (error) {
        if (error instanceof Error) kmsCallLog.getStore()?.errors.push(error);
        throw error;
      }
    };
    // Delegates to the aggregated client's methods, the interface the keyring expects.
    return {
      generateDataKey: (input: Parameters<KMS['generateDataKey']>[0]) =>
        track('GenerateDataKey', () => kms.generateDataKey(input)),
      encrypt: (input: Parameters<KMS['encrypt']>[0]) => track('Encrypt', () => kms.encrypt(input)),
      decrypt: (input: Parameters<KMS['decrypt']>[0]) => track('Decrypt', () => kms.decrypt(input)),
    };
  }
}

const PURPOSE = /^[a-z][a-z0-9-]{0,63}$/;

function encryptionContext(owner: KeyOwner, binding: RecordBinding): Record<string, string> {
  if (!owner.tenantId || !owner.keyArn)
    throw new RecordBindingError('A key owner needs a tenant id and a key');
  if (!PURPOSE.test(binding.purpose)) throw new RecordBindingError('purpose must be kebab-case, ≤ 64 chars');
  if (!binding.recordId || binding.recordId.length > 256)
    throw new RecordBindingError('recordId must be 1–256 characters');
  const context = { tenantId: owner.tenantId, purpose: binding.purpose, recordId: binding.recordId };
  // Key policies allow exactly these keys (shared/domain/key-policy.ts); keep the two in step.
  if (Object.keys(context).join() !== ENCRYPTION_CONTEXT_KEYS.join())
    throw new Error('encryption context keys out of step with the key policy');
  return context;
}

function sameContext(actual: Readonly<Record<string, string>>, expected: Record<string, string>): boolean {
  const keys = Object.keys(actual);
  if (keys.length !== Object.keys(expected).length) return false;
  return keys.every((key) => Object.hasOwn(expected, key) && actual[key] === expected[key]);
}

/** Where a tenant's key ARN comes from (the tenant item; shared/store/tenant-key-directory.ts). */
export interface TenantKeyDirectory {
  /** The ARN of the scope's tenant key; throws TenantKeyUnavailableError if the tenant has none. */
  keyArnFor(scope: TenantScope): Promise<string>;
}

export interface TenantCryptoOptions {
  cipher: EnvelopeCipher;
  keys: TenantKeyDirectory;
}

/**
 * Secrets of a tenant, under its own key and reached only through a TenantScope, bound to
 * `{tenantId, purpose, recordId}` (platform secrets use PlatformCrypto).
 */
export class TenantCrypto {
  readonly #options: TenantCryptoOptions;

  constructor(options: TenantCryptoOptions) {
    this.#options = options;
  }

  /** Encrypts for the scope's tenant; returns base64 ciphertext. */
  async encrypt(scope: TenantScope, binding: RecordBinding, plaintext: string | Uint8Array): Promise<string> {
    return this.#options.cipher.encrypt(await this.#owner(scope), binding, plaintext);
  }

  /** Decrypts a ciphertext made for exactly this tenant and binding. */
  async decrypt(scope: TenantScope, binding: RecordBinding, ciphertext: string): Promise<Buffer> {
    return this.#options.cipher.decrypt(await this.#owner(scope), binding, ciphertext);
  }

  async #owner(target: TenantScope): Promise<KeyOwner> {
    assertTenantScope(target);
    if (target.tenantId === PLATFORM_KEY_OWNER)
      throw new Error('A tenant cannot use the platform key owner id');
    return { tenantId: target.tenantId, keyArn: await this.#options.keys.keyArnFor(target) };
  }
}

/** Encryption and decryption of platform secrets (TOTP secrets) under the platform key. */
export interface PlatformCrypto {
  /** Encrypts a platform secret bound to `{tenantId: 'platform', purpose, recordId}`; returns base64. */
  encryptPlatformSecret(binding: RecordBinding, plaintext: string): Promise<string>;
  /** Decrypts a platform secret for exactly this binding; throws CiphertextBindingError otherwise. */
  decryptPlatformSecret(binding: RecordBinding, ciphertext: string): Promise<string>;
}

/** Platform-secret encryption with the given cipher and platform key. */
export function platformCrypto(options: { cipher: EnvelopeCipher; platformKeyArn: string }): PlatformCrypto {
  const owner: KeyOwner = { tenantId: PLATFORM_KEY_OWNER, keyArn: options.platformKeyArn };
  return {
    encryptPlatformSecret: (binding, plaintext) => options.cipher.encrypt(owner, binding, plaintext),
    decryptPlatformSecret: async (binding, ciphertext) => {
      const plaintext = await options.cipher.decrypt(owner, binding, ciphertext);
      const text = plaintext.toString('utf8');
      plaintext.fill(0);
      return text;
    },
  };
}

/**
 * An EnvelopeCipher on the function's aggregated KMS client (the emulator's endpoint locally), made with the
 * Encryption SDK at the first encrypt or decrypt.
 */
export function envelopeCipherFor(runtime: FunctionRuntime): EnvelopeCipher {
  return new EnvelopeCipher({ kms: async () => (await loadSdk()).kmsOf(runtime) });
}

/** Platform-secret encryption of a function, under its runtime's PLATFORM_KEY_ARN; call once at module load. */
export function platformCryptoFor(
  runtime: FunctionRuntime,
  cipher: EnvelopeCipher = envelopeCipherFor(runtime),
): PlatformCrypto {
  return platformCrypto({ cipher, platformKeyArn: runtime.require('platformKeyArn') });
}
