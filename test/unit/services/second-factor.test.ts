import { describe, expect, it, vi } from 'vitest';
import type { PlatformCrypto } from '../../../shared/crypto/envelope.js';
import { newTotpSecret, totpCodeAt } from '../../../shared/crypto/totp.js';
import type { Principal } from '../../../shared/domain/caller.js';
import { hashSecret, normaliseRecoveryCode } from '../../../shared/domain/credentials.js';
import { SIGN_IN_LIMITS } from '../../../shared/domain/sign-in-limits.js';
import { FailureBudgets } from '../../../shared/services/failure-budgets.js';
import { SecondFactorVerifier } from '../../../shared/services/second-factor.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import type { UserRecord } from '../../../shared/store/identity-records.js';
import type { IdentityStore } from '../../../shared/store/identity-store.js';
import type { RateWindows, Reservation } from '../../../shared/store/rate-windows.js';

const U = 'u_01jx0000000000000000000001';
const NOW = Date.parse('2026-11-22T12:00:00Z');
const origin = { ip: '203.0.113.9', userAgent: 'test', purpose: 'tenant.delete' };
const mfaSession: Pick<Principal, 'kind' | 'userId' | 'mfa' | 'credentialId'> = {
  kind: 'session',
  userId: U,
  mfa: true,
  credentialId: 's_01hz0000000000000000000000',
};
const NETWORK_LIMIT = SIGN_IN_LIMITS.networkFailures.limit;
const TOTP_HOURLY = SIGN_IN_LIMITS.accountTotpFailures[0].limit;

/**
 * In-memory counters with the store's contract: a slot is taken by one synchronous check-and-add (as a
 * DynamoDB conditional write is atomic), so concurrent callers interleave only between awaits.
 */
function memoryWindows() {
  const counts = new Map<string, number>();
  const windows: Pick<RateWindows, 'reserve' | 'add' | 'estimate'> = {
    reserve: async (name, key, limit): Promise<Reservation> => {
      await Promise.resolve();
      const id = `${name}|${key}`;
      const count = counts.get(id) ?? 0;
      if (count >= limit) return { granted: false, retryAfterSeconds: 1800 };
      counts.set(id, count + 1);
      return {
        granted: true,
        slot: { release: async () => void counts.set(id, (counts.get(id) ?? 1) - 1) },
      };
    },
    add: async (name, key) => void counts.set(`${name}|${key}`, (counts.get(`${name}|${key}`) ?? 0) + 1),
    estimate: async (name, key) => counts.get(`${name}|${key}`) ?? 0,
  };
  return { windows, counts };
}

/** An identity store with the same consume semantics as the DynamoDB one (conditional writes). */
function fixture(user: Partial<UserRecord> = {}) {
  const secret = newTotpSecret();
  const record: UserRecord = {
    userId: U,
    email: 'Owner@Example.test',
    name: 'Owner',
    passwordHash: 'x',
    createdAt: '2026-01-01T00:00:00Z',
    mfaEnabled: true,
    totpCiphertext: 'ciphertext',
    recoveryCodeHashes: new Set([hashSecret(normaliseRecoveryCode('abcde-fghij'))]),
    ...user,
  };
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
  };
  // Every TOTP check decrypts the secret first: counting decryptions counts evaluated codes.
  const secrets = {
    encryptPlatformSecret: vi.fn(),
    decryptPlatformSecret: vi.fn(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return secret;
    }),
  } satisfies PlatformCrypto;
  const audit = { recordPlatform: vi.fn(async () => {}) } as unknown as AuditRecorder & {
    recordPlatform: ReturnType<typeof vi.fn>;
  };
  const { windows, counts } = memoryWindows();
  const verifier = new SecondFactorVerifier({
    identity: identity as unknown as IdentityStore,
    audit,
    secrets,
    budgets: new FailureBudgets(windows),
    now: () => NOW,
  });
  return { verifier, identity, audit, secret, secrets, record, counts };
}

const statusOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 200 : (outcome.reason as { status: number }).status;

describe('fresh second factor (SecondFactorVerifier.confirm)', () => {
  it('accepts a current code once: the same code again is a replay (401), recorded without the code', async () => {
    // Prepare
    const { verifier, secret, audit } = fixture();
    const code = totpCodeAt(secret, NOW);
    // Act
    const first = await verifier.confirm(mfaSession, { mfaCode: code }, origin);
    const replay = verifier.confirm(mfaSession, { mfaCode: code }, origin);
    // Assess
    expect(first).toBe('verified');
    await expect(replay).rejects.toMatchObject({
      status: 401,
      type: expect.stringMatching(/invalid-mfa-code$/),
    });
    expect(audit.recordPlatform).toHaveBeenCalledWith(
      expect.objectContaining({
        action: 'auth.sign-in.failed',
        details: { reason: 'bad-second-factor', method: 'totp', purpose: 'tenant.delete' },
      }),
    );
    expect(JSON.stringify(audit.recordPlatform.mock.calls)).not.toContain(code);
  });

  it('accepts a recovery code once, whatever its case', async () => {
    // Prepare
    const { verifier } = fixture();

    // Act / Assess: the code, then the same code in lower case
    expect(await verifier.confirm(mfaSession, { recoveryCode: 'ABCDE-FGHIJ' }, origin)).toBe('verified');
    await expect(verifier.confirm(mfaSession, { recoveryCode: 'abcde-fghij' }, origin)).rejects.toMatchObject(
      { status: 401 },
    );
  });

  it('says mfa-not-enabled for a user without MFA, consuming and counting nothing', async () => {
    // Prepare
    const { verifier, identity, counts } = fixture({ mfaEnabled: false, totpCiphertext: undefined });

    // Act / Assess
    expect(await verifier.confirm(mfaSession, { mfaCode: '123456' }, origin)).toBe('mfa-not-enabled');

    // Assess: no step consumed, no failure counted
    expect(identity.consumeTotpStep).not.toHaveBeenCalled();
    expect(counts.size).toBe(0);
  });

  it('refuses a password-only session and an API key with 403 mfa-session-required, recorded, checking nothing', async () => {
    // Prepare
    const { verifier, secret, secrets, audit } = fixture();
    const code = totpCodeAt(secret, NOW);
    // Act
    const passwordOnly = verifier.confirm(
      { kind: 'session', userId: U, mfa: false, credentialId: 's_01hz0000000000000000000000' },
      { mfaCode: code },
      origin,
    );
    const legacy = verifier.confirm(
      { kind: 'session', userId: U, credentialId: 's_01hz0000000000000000000000' },
      { mfaCode: code },
      origin,
    );
    const apiKey = verifier.confirm(
      { kind: 'api-key', userId: U, mfa: true, credentialId: 'k_01hz0000000000000000000000' },
      { mfaCode: code },
      origin,
    );
    // Assess
    for (const refused of [passwordOnly, legacy, apiKey]) {
      await expect(refused).rejects.toMatchObject({
        status: 403,
        type: 'mfa-session-required',
      });
    }
    expect(secrets.decryptPlatformSecret).not.toHaveBeenCalled();
    expect(audit.recordPlatform).toHaveBeenCalledTimes(3);
    expect(audit.recordPlatform).toHaveBeenCalledWith(
      expect.objectContaining({
        action: 'auth.action.refused',
        details: { purpose: 'tenant.delete', reason: 'mfa-session-required' },
      }),
    );
  });

  it('evaluates at most the network budget of 120 concurrent wrong codes; the rest get 429 with Retry-After', async () => {
    // Prepare
    const { verifier, secrets } = fixture();
    // Act
    const outcomes = await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) =>
        verifier.confirm(mfaSession, { mfaCode: String(100000 + i) }, origin),
      ),
    );
    // Assess
    const statuses = outcomes.map(statusOf);
    expect(secrets.decryptPlatformSecret).toHaveBeenCalledTimes(NETWORK_LIMIT);
    expect(statuses.filter((s) => s === 401)).toHaveLength(NETWORK_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(120 - NETWORK_LIMIT);
    const refused = outcomes.find(
      (o) => o.status === 'rejected' && statusOf(o) === 429,
    ) as PromiseRejectedResult;
    expect(refused.reason.headers['Retry-After']).toBe('1800');
  });

  it('bounds codes from many networks by the account-wide TOTP budget, and a right code then too', async () => {
    // Prepare: 120 attempts, each from its own /24
    const { verifier, secrets, secret } = fixture();
    const from = (i: number) => ({ ...origin, ip: `198.${Math.floor(i / 200)}.${i % 200}.7` });
    // Act
    const outcomes = await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) => verifier.confirm(mfaSession, { mfaCode: '000000' }, from(i))),
    );
    const right = verifier.confirm(mfaSession, { mfaCode: totpCodeAt(secret, NOW) }, from(500));
    // Assess
    expect(secrets.decryptPlatformSecret).toHaveBeenCalledTimes(TOTP_HOURLY);
    expect(outcomes.map(statusOf).filter((s) => s === 429)).toHaveLength(120 - TOTP_HOURLY);
    await expect(right).rejects.toMatchObject({ status: 429 });
    expect(secrets.decryptPlatformSecret).toHaveBeenCalledTimes(TOTP_HOURLY);
  });

  it('keeps recovery codes usable when the TOTP budget is spent, and gives back the slots of right answers', async () => {
    // Prepare: the account-wide TOTP budget spent from other networks
    const { verifier, counts } = fixture();
    await Promise.allSettled(
      Array.from({ length: TOTP_HOURLY }, (_, i) =>
        verifier.confirm(mfaSession, { mfaCode: '000000' }, { ...origin, ip: `192.0.${i}.1` }),
      ),
    );
    // Act
    const recovered = await verifier.confirm(mfaSession, { recoveryCode: 'abcde-fghij' }, origin);
    // Assess
    expect(recovered).toBe('verified');
    expect(counts.get('signin-failures|owner@example.test#203.0.113.0/24')).toBe(0);
  });

  it('answers 401 for an unknown user', async () => {
    // Prepare
    const { verifier } = fixture();

    // Act / Assess
    await expect(
      verifier.confirm(
        { ...mfaSession, userId: 'u_01jx0000000000000000000009' },
        { mfaCode: '123456' },
        origin,
      ),
    ).rejects.toMatchObject({ status: 401 });
  });
});
