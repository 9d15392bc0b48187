import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  DisabledException,
  GenerateDataKeyCommand,
  InvalidCiphertextException,
  KMS,
  KMSClient,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CiphertextBindingError,
  ENVELOPE_SUITE,
  EnvelopeCipher,
  type EnvelopeCipherOptions,
  KmsRefusedError,
  platformCrypto,
  RecordBindingError,
  TenantCrypto,
  TenantKeyUnavailableError,
} from '../../../shared/crypto/envelope.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { ServiceUnavailableError } from '../../../shared/errors.js';

const ACCOUNT = '111122223333';
const TENANT_A = 't_01jabcdefghjkmnpqrstvwxyz0';
const TENANT_B = 't_01jabcdefghjkmnpqrstvwxyz1';
const keyArn = (n: number) =>
  `arn:aws:kms:eu-central-1:${ACCOUNT}:key/0000000${n}-12ab-34cd-56ef-1234567890ab`;
const KEY_A = keyArn(1);
const KEY_B = keyArn(2);
const PLATFORM_KEY = keyArn(9);
const OWNER_A = { tenantId: TENANT_A, keyArn: KEY_A };
const OWNER_B = { tenantId: TENANT_B, keyArn: KEY_B };
const PASSWORD = { purpose: 'connection-password', recordId: 'c_01' };

const kmsMock = mockClient(KMSClient);

/**
 * KMS as the Encryption SDK sees it: GenerateDataKey returns a fresh data key whose ciphertext blob
 * remembers key and context; Decrypt gives the data key back only for the same key and context.
 */
function emulateKms() {
  const canonical = (context: Record<string, string> | undefined) =>
    JSON.stringify(Object.entries(context ?? {}).sort());
  const issued = new Map<string, { keyId: string; context: string; plaintext: Uint8Array }>();
  kmsMock.on(GenerateDataKeyCommand).callsFake((input) => {
    const plaintext = new Uint8Array(randomBytes(input.NumberOfBytes ?? 32));
    const blob = new Uint8Array(randomBytes(64));
    issued.set(Buffer.from(blob).toString('hex'), {
      keyId: input.KeyId,
      context: canonical(input.EncryptionContext),
      plaintext: Uint8Array.from(plaintext),
    });
    return { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: blob };
  });
  kmsMock.on(DecryptCommand).callsFake((input) => {
    const entry = issued.get(Buffer.from(input.CiphertextBlob).toString('hex'));
    if (!entry || entry.keyId !== input.KeyId || entry.context !== canonical(input.EncryptionContext))
      throw new InvalidCiphertextException({ message: 'invalid ciphertext', $metadata: {} });
    return { KeyId: entry.keyId, Plaintext: Uint8Array.from(entry.plaintext) };
  });
}

function cipher(limits?: EnvelopeCipherOptions['limits']) {
  return new EnvelopeCipher({ kms: new KMS({ region: 'eu-central-1' }), limits });
}

function kmsError(name: string) {
  switch (name) {
    case 'DisabledException':
      return new DisabledException({ message: 'disabled', $metadata: {} });
    case 'KMSInvalidStateException':
      return new KMSInvalidStateException({ message: 'pending deletion', $metadata: {} });
    case 'NotFoundException':
      return new NotFoundException({ message: 'gone', $metadata: {} });
    default:
      return new KMSServiceException({
        name,
        message: name,
        $fault: 'client',
        $metadata: { httpStatusCode: name === 'ThrottlingException' ? 400 : 403 },
      });
  }
}

beforeEach(() => {
  kmsMock.reset();
  emulateKms();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('EnvelopeCipher: format', () => {
  it('uses the committing suite without signatures, and the header carries exactly our context', async () => {
    // Act
    const ciphertext = await cipher().encrypt(OWNER_A, PASSWORD, 'correct horse battery staple');

    // Assess: message format v2, suite 0x0478 (ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY).
    const bytes = Buffer.from(ciphertext, 'base64');
    expect(ENVELOPE_SUITE).toBe(0x0478);
    expect(bytes[0]).toBe(0x02);
    expect(bytes.readUInt16BE(1)).toBe(0x0478);
    // A signing suite would add its public key to the encryption context in the header.
    expect(bytes.includes(Buffer.from('aws-crypto-public-key'))).toBe(false);
    expect(bytes.includes(Buffer.from('correct horse'))).toBe(false);
    expect(kmsMock).toHaveReceivedCommandWith(GenerateDataKeyCommand, {
      KeyId: KEY_A,
      EncryptionContext: { tenantId: TENANT_A, purpose: 'connection-password', recordId: 'c_01' },
    });
  });

  it('round-trips strings and bytes', async () => {
    // Prepare
    const c = cipher();

    // Act
    const text = await c.encrypt(OWNER_A, PASSWORD, 'pässwörd ✓');
    const bytes = await c.encrypt(OWNER_A, PASSWORD, new Uint8Array([0, 1, 2, 255]));

    // Assess
    expect((await c.decrypt(OWNER_A, PASSWORD, text)).toString('utf8')).toBe('pässwörd ✓');
    expect([...(await c.decrypt(OWNER_A, PASSWORD, bytes))]).toEqual([0, 1, 2, 255]);
  });

  it('refuses malformed bindings before calling KMS', async () => {
    // Prepare
    const c = cipher();

    // Act / Assess: a malformed purpose, an empty record id, an empty tenant id
    await expect(c.encrypt(OWNER_A, { purpose: 'Bad Purpose', recordId: 'x' }, 'p')).rejects.toBeInstanceOf(
      RecordBindingError,
    );
    await expect(c.encrypt(OWNER_A, { purpose: 'p', recordId: '' }, 'p')).rejects.toBeInstanceOf(
      RecordBindingError,
    );
    await expect(c.encrypt({ tenantId: '', keyArn: KEY_A }, PASSWORD, 'p')).rejects.toBeInstanceOf(
      RecordBindingError,
    );

    // Assess: no KMS call
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('EnvelopeCipher: binding', () => {
  it.each([
    ['another record', OWNER_A, { ...PASSWORD, recordId: 'c_02' }],
    ['another purpose', OWNER_A, { ...PASSWORD, purpose: 'totp-secret' }],
    ['another tenant on the same key', { ...OWNER_A, tenantId: TENANT_B }, PASSWORD],
  ])('a ciphertext read for %s fails', async (_name, owner, binding) => {
    // Prepare
    const c = cipher();
    const ciphertext = await c.encrypt(OWNER_A, PASSWORD, 'secret');

    // Act / Assess
    await expect(c.decrypt(owner, binding, ciphertext)).rejects.toBeInstanceOf(CiphertextBindingError);
  });

  it("another tenant's key never even reaches KMS", async () => {
    // Prepare
    const c = cipher();
    const ciphertext = await c.encrypt(OWNER_A, PASSWORD, 'secret');
    kmsMock.resetHistory();

    // Act / Assess
    await expect(c.decrypt(OWNER_B, PASSWORD, ciphertext)).rejects.toBeInstanceOf(CiphertextBindingError);

    // Assess: no Decrypt asked
    expect(kmsMock).not.toHaveReceivedCommand(DecryptCommand);
  });

  it('a tampered or truncated ciphertext fails', async () => {
    // Prepare: one bit flipped
    const c = cipher();
    const bytes = Buffer.from(await c.encrypt(OWNER_A, PASSWORD, 'secret'), 'base64');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 20]! ^= 1;

    // Act / Assess: flipped, truncated, not base64
    await expect(c.decrypt(OWNER_A, PASSWORD, flipped.toString('base64'))).rejects.toBeInstanceOf(
      CiphertextBindingError,
    );
    await expect(
      c.decrypt(OWNER_A, PASSWORD, bytes.subarray(0, 40).toString('base64')),
    ).rejects.toBeInstanceOf(CiphertextBindingError);
    await expect(c.decrypt(OWNER_A, PASSWORD, 'not base64!')).rejects.toBeInstanceOf(CiphertextBindingError);
  });
});

describe('EnvelopeCipher: data-key cache', () => {
  it('1,000 encrypt+decrypt of one record make one GenerateDataKey and one Decrypt', async () => {
    // Prepare
    const c = cipher();

    // Act / Assess: each round trip
    for (let i = 0; i < 1000; i++) {
      const ciphertext = await c.encrypt(OWNER_A, PASSWORD, `secret ${i}`);
      expect((await c.decrypt(OWNER_A, PASSWORD, ciphertext)).toString()).toBe(`secret ${i}`);
    }

    // Assess: one data key made, one decrypted
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);
    expect(kmsMock).toHaveReceivedCommandTimes(DecryptCommand, 1);
    expect(c.kmsCalls()).toEqual({ GenerateDataKey: 1, Encrypt: 0, Decrypt: 1 });
  }, 60_000);

  it('never reuses a data key across records or tenants (the context is part of the cache key)', async () => {
    // Prepare
    const c = cipher();

    // Act: three bindings
    await c.encrypt(OWNER_A, PASSWORD, 's');
    await c.encrypt(OWNER_A, { ...PASSWORD, recordId: 'c_02' }, 's');
    await c.encrypt(OWNER_B, PASSWORD, 's');

    // Assess
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 3);
  });

  it('stops using a data key after the maximum age', async () => {
    // Prepare: a clock the test moves, keys kept five minutes
    vi.useFakeTimers({ toFake: ['Date'] });
    const c = cipher({ maxAgeMs: 300_000 });

    // Act / Assess: within the age, the key is reused
    await c.encrypt(OWNER_A, PASSWORD, 's');
    vi.advanceTimersByTime(299_000);
    await c.encrypt(OWNER_A, PASSWORD, 's');
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);

    // Act / Assess: past it, a new one is made
    vi.advanceTimersByTime(2_000);
    await c.encrypt(OWNER_A, PASSWORD, 's');
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 2);
  });

  it('stops using a data key after the maximum number of messages', async () => {
    // Prepare
    const c = cipher({ maxMessagesEncrypted: 3 });

    // Act
    for (let i = 0; i < 4; i++) await c.encrypt(OWNER_A, PASSWORD, 's');

    // Assess
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 2);
  });

  it('keeps at most maxOwners × entriesPerOwner data keys in one cache, least recently used dropped first', async () => {
    // Prepare: room for two entries; A's encryption and decryption materials, then B's and a third's
    const c = cipher({ maxOwners: 2, entriesPerOwner: 1 });
    const cA = await c.encrypt(OWNER_A, PASSWORD, 's');
    await c.decrypt(OWNER_A, PASSWORD, cA);
    await c.encrypt(OWNER_B, PASSWORD, 's');
    await c.encrypt({ tenantId: 't_01jabcdefghjkmnpqrstvwxyz2', keyArn: keyArn(3) }, PASSWORD, 's');
    kmsMock.resetHistory();

    // Act
    await c.decrypt(OWNER_A, PASSWORD, cA);

    // Assess: A's key was dropped and is decrypted again
    expect(kmsMock).toHaveReceivedCommandTimes(DecryptCommand, 1);
  });

  it('keeps as many owners as maxOwners says, and an evicted owner’s keys stay within the one bound', async () => {
    // Prepare: two owners, both cached; a third evicts A's manager
    const c = cipher({ maxOwners: 2 });
    await c.encrypt(OWNER_A, PASSWORD, 's');
    await c.encrypt(OWNER_B, PASSWORD, 's');
    kmsMock.resetHistory();

    // Act
    await c.encrypt(OWNER_A, PASSWORD, 's');
    await c.encrypt(OWNER_B, PASSWORD, 's');
    const whileBoth = kmsMock.commandCalls(GenerateDataKeyCommand).length;
    await c.encrypt({ tenantId: 't_01jabcdefghjkmnpqrstvwxyz2', keyArn: keyArn(3) }, PASSWORD, 's');
    kmsMock.resetHistory();
    await c.encrypt(OWNER_A, PASSWORD, 's');

    // Assess: no data key made while both fit; A's key outlived its manager in the shared cache
    expect(whileBoth).toBe(0);
    expect(kmsMock).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 0);
  });

  it.each([
    [{ maxAgeMs: 300_001 }],
    [{ maxAgeMs: 0 }],
    [{ maxMessagesEncrypted: 10_001 }],
    [{ entriesPerOwner: 0 }],
  ])('refuses cache limits beyond the bounds: %o', (limits) => {
    // Act / Assess
    expect(() => cipher(limits)).toThrow(RangeError);
  });
});

describe('EnvelopeCipher: KMS failures', () => {
  it.each(['DisabledException', 'KMSInvalidStateException', 'NotFoundException'])(
    'a tenant key in state %s is a 409 tenant-key-unavailable on encrypt and decrypt',
    async (name) => {
      // Prepare: a ciphertext, then the key in that state
      const c = cipher();
      const ciphertext = await c.encrypt(OWNER_A, PASSWORD, 's');
      kmsMock.on(GenerateDataKeyCommand).rejects(kmsError(name));
      kmsMock.on(DecryptCommand).rejects(kmsError(name));
      const fresh = cipher();

      // Act
      const onEncrypt = await fresh.encrypt(OWNER_A, { ...PASSWORD, recordId: 'c_09' }, 's').catch((e) => e);
      const onDecrypt = await fresh.decrypt(OWNER_A, PASSWORD, ciphertext).catch((e) => e);

      // Assess
      for (const error of [onEncrypt, onDecrypt]) {
        expect(error).toBeInstanceOf(TenantKeyUnavailableError);
        expect(error).toMatchObject({ status: 409, type: 'tenant-key-unavailable' });
      }
    },
  );

  it('a throttled KMS is a 503 with Retry-After on encrypt and decrypt', async () => {
    // Prepare: a ciphertext, then KMS throttles
    const ciphertext = await cipher().encrypt(OWNER_A, PASSWORD, 's');
    kmsMock.on(GenerateDataKeyCommand).rejects(kmsError('ThrottlingException'));
    kmsMock.on(DecryptCommand).rejects(kmsError('ThrottlingException'));
    const c = cipher();

    // Act / Assess: an encrypt and a decrypt
    for (const attempt of [c.encrypt(OWNER_A, PASSWORD, 's'), c.decrypt(OWNER_A, PASSWORD, ciphertext)]) {
      const error = await attempt.catch((e) => e);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error.status).toBe(503);
      expect(error.headers['Retry-After']).toMatch(/^\d+$/);
    }
  });

  it('an access denial is neither a key state nor retryable: a 500-class KmsRefusedError', async () => {
    // Prepare
    kmsMock.on(GenerateDataKeyCommand).rejects(kmsError('AccessDeniedException'));

    // Act / Assess
    await expect(cipher().encrypt(OWNER_A, PASSWORD, 's')).rejects.toBeInstanceOf(KmsRefusedError);
  });

  it('concurrent operations attribute KMS errors to the right call', async () => {
    // Prepare: B's key is disabled
    const c = cipher();
    kmsMock.on(GenerateDataKeyCommand, { KeyId: KEY_B }).rejects(kmsError('DisabledException'));

    // Act
    const [ok, failed] = await Promise.allSettled([
      c.encrypt(OWNER_A, PASSWORD, 's'),
      c.encrypt(OWNER_B, PASSWORD, 's'),
    ]);

    // Assess: A's call succeeds, B's fails with its own error
    expect(ok.status).toBe('fulfilled');
    expect(failed).toMatchObject({ status: 'rejected', reason: expect.any(TenantKeyUnavailableError) });
  });

  it('an unavailable platform key is a platform outage (503), not a tenant conflict', async () => {
    // Prepare: the platform key is disabled
    kmsMock.on(GenerateDataKeyCommand).rejects(kmsError('DisabledException'));
    const platform = platformCrypto({ cipher: cipher(), platformKeyArn: PLATFORM_KEY });

    // Act
    const error = await platform
      .encryptPlatformSecret({ purpose: 'totp-secret', recordId: 'u_1' }, 's')
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(ServiceUnavailableError);
  });
});

describe('TenantCrypto and platform secrets', () => {
  const scopeA = mintTenantScope({ tenantId: TENANT_A, userId: 'u_1' });
  const scopeB = mintTenantScope({ tenantId: TENANT_B, userId: 'u_2' });
  const keys = {
    keyArnFor: async (scope: { tenantId: string }) => (scope.tenantId === TENANT_A ? KEY_A : KEY_B),
  };

  it("encrypts under the scope's tenant key and refuses the ciphertext in another tenant", async () => {
    // Prepare
    const crypto = new TenantCrypto({ cipher: cipher(), keys });

    // Act
    const ciphertext = await crypto.encrypt(scopeA, PASSWORD, 'pw');

    // Assess: under A's key; read back in A, refused in B and as a platform secret
    expect(kmsMock).toHaveReceivedCommandWith(GenerateDataKeyCommand, { KeyId: KEY_A });
    expect((await crypto.decrypt(scopeA, PASSWORD, ciphertext)).toString()).toBe('pw');
    await expect(crypto.decrypt(scopeB, PASSWORD, ciphertext)).rejects.toBeInstanceOf(CiphertextBindingError);
    const platform = platformCrypto({ cipher: cipher(), platformKeyArn: PLATFORM_KEY });
    await expect(platform.decryptPlatformSecret(PASSWORD, ciphertext)).rejects.toBeInstanceOf(
      CiphertextBindingError,
    );
  });

  it('refuses plain objects in place of a TenantScope', async () => {
    // Prepare
    const crypto = new TenantCrypto({ cipher: cipher(), keys });

    // Act / Assess
    await expect(
      crypto.encrypt({ tenantId: TENANT_A, userId: 'u' } as never, PASSWORD, 'pw'),
    ).rejects.toThrow('TenantScope');
  });

  it('binds platform secrets to tenantId "platform" under the platform key', async () => {
    // Prepare
    const platform = platformCrypto({ cipher: cipher(), platformKeyArn: PLATFORM_KEY });
    const totp = { purpose: 'totp-secret', recordId: 'u_1' };

    // Act
    const ciphertext = await platform.encryptPlatformSecret(totp, 'JBSWY3DPEHPK3PXP');

    // Assess: under the platform key with tenantId platform; refused for another record
    expect(kmsMock).toHaveReceivedCommandWith(GenerateDataKeyCommand, {
      KeyId: PLATFORM_KEY,
      EncryptionContext: { tenantId: 'platform', purpose: 'totp-secret', recordId: 'u_1' },
    });
    expect(await platform.decryptPlatformSecret(totp, ciphertext)).toBe('JBSWY3DPEHPK3PXP');
    await expect(
      platform.decryptPlatformSecret({ ...totp, recordId: 'u_2' }, ciphertext),
    ).rejects.toBeInstanceOf(CiphertextBindingError);
  });
});
