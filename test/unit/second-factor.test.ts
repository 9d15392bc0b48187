import { describe, expect, it, vi } from 'vitest';
import type { PlatformCrypto } from '../../shared/crypto/envelope.js';
import { newTotpSecret, totpCodeAt } from '../../shared/crypto/totp.js';
import { hashSecret, normaliseRecoveryCode } from '../../shared/domain/credentials.js';
import type { AuditRecorder } from '../../shared/http/audit-seam.js';
import { ACCOUNT_FAILURE_LIMIT, SecondFactorVerifier } from '../../shared/services/second-factor.js';
import type { IdentityStore, UserRecord } from '../../shared/store/identity-store.js';

const U = 'u_01jx0000000000000000000001';
const NOW = Date.parse('2026-11-22T12:00:00Z');
const origin = { ip: '203.0.113.9', userAgent: 'test', purpose: 'tenant.delete' };

/** An in-memory identity store with the same consume semantics as the DynamoDB one (conditional writes). */
function fixture(user: Partial<UserRecord> = {}) {
  const secret = newTotpSecret();
  const record: UserRecord = {
    userId: U,
    email: 'owner@example.test',
    name: 'Owner',
    passwordHash: 'x',
    createdAt: '2026-01-01T00:00:00Z',
    mfaEnabled: true,
    totpCiphertext: 'ciphertext',
    recoveryCodeHashes: new Set([hashSecret(normaliseRecoveryCode('abcde-fghij'))]),
    ...user,
  };
  let failures = 0;
  const identity = {
    getUser: vi.fn(async (id: string) => (id === U ? record : undefined)),
    consumeTotpStep: vi.fn(async (_id: string, step: number) => {
      if (record.totpLastStep !== undefined && record.totpLastStep >= step) return false;
      record.totpLastStep = step;
      return true;
    }),
    consumeRecoveryCode: vi.fn(
      async (_id: string, hash: string) => record.recoveryCodeHashes?.delete(hash) ?? false,
    ),
    rateCount: vi.fn(async () => failures),
    incrementRate: vi.fn(async () => ++failures),
    retryAfter: vi.fn(() => 1800),
  };
  const secrets: PlatformCrypto = {
    encryptPlatformSecret: vi.fn(),
    decryptPlatformSecret: vi.fn(async () => secret),
  };
  const audit = { recordPlatform: vi.fn(async () => {}) } as unknown as AuditRecorder & {
    recordPlatform: ReturnType<typeof vi.fn>;
  };
  const verifier = new SecondFactorVerifier({
    identity: identity as unknown as IdentityStore,
    audit,
    secrets,
    now: () => NOW,
  });
  return { verifier, identity, audit, secret, record };
}

describe('fresh second factor (SecondFactorVerifier.confirm)', () => {
  it('accepts a current code once: the same code again is a replay (401)', async () => {
    // Prepare
    const { verifier, secret, audit } = fixture();
    const code = totpCodeAt(secret, NOW);
    // Act
    const first = await verifier.confirm(U, { mfaCode: code }, origin);
    const replay = verifier.confirm(U, { mfaCode: code }, origin);
    // Assess
    expect(first).toBe('verified');
    await expect(replay).rejects.toMatchObject({
      status: 401,
      type: expect.stringMatching(/invalid-mfa-code$/),
    });
    expect(audit.recordPlatform).toHaveBeenCalledWith(
      expect.objectContaining({
        action: 'auth.sign-in.failed',
        details: { reason: 'bad-second-factor', purpose: 'tenant.delete' },
      }),
    );
    expect(JSON.stringify(audit.recordPlatform.mock.calls)).not.toContain(code);
  });

  it('accepts a recovery code once, whatever its case', async () => {
    const { verifier } = fixture();
    expect(await verifier.confirm(U, { recoveryCode: 'ABCDE-FGHIJ' }, origin)).toBe('verified');
    await expect(verifier.confirm(U, { recoveryCode: 'abcde-fghij' }, origin)).rejects.toMatchObject({
      status: 401,
    });
  });

  it('says mfa-not-enabled for a user without MFA, consuming and counting nothing', async () => {
    const { verifier, identity } = fixture({ mfaEnabled: false, totpCiphertext: undefined });
    expect(await verifier.confirm(U, { mfaCode: '123456' }, origin)).toBe('mfa-not-enabled');
    expect(identity.consumeTotpStep).not.toHaveBeenCalled();
    expect(identity.incrementRate).not.toHaveBeenCalled();
  });

  it('counts wrong codes against the account’s sign-in budget and answers 429 once it is spent, even to a right code', async () => {
    // Prepare
    const { verifier, identity, secret } = fixture();
    for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++)
      await expect(verifier.confirm(U, { mfaCode: '000000' }, origin)).rejects.toMatchObject({ status: 401 });
    // Act
    const blocked = verifier.confirm(U, { mfaCode: totpCodeAt(secret, NOW) }, origin);
    // Assess
    await expect(blocked).rejects.toMatchObject({ status: 429 });
    expect(identity.incrementRate).toHaveBeenCalledWith('login-account', 'owner@example.test', 3600, NOW);
    expect(identity.consumeTotpStep).not.toHaveBeenCalled();
  });

  it('answers 401 for an unknown user', async () => {
    const { verifier } = fixture();
    await expect(
      verifier.confirm('u_01jx0000000000000000000009', { mfaCode: '123456' }, origin),
    ).rejects.toMatchObject({ status: 401 });
  });
});
