import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
import { SIGN_IN_LIMITS } from '../../shared/domain/sign-in-limits.js';
import { createTenant, enableMfa, signUp, type TestUser } from '../support/identity-fixtures.js';
import { type TestResponse, useTestApi } from '../support/local-api.js';

/**
 * Failure budgets through the HTTP stack: reserved before the password or code is checked (so no number
 * of concurrent attempts gets more checks than the budget), per account and network (so an attacker's
 * network cannot lock the owner out), with an account-wide ceiling on TOTP guesses.
 */
const api = useTestApi();

const NETWORK_LIMIT = SIGN_IN_LIMITS.networkFailures.limit;
const TOTP_HOURLY = SIGN_IN_LIMITS.accountTotpFailures[0].limit;
const UNDER_ATTACK_LIMIT = SIGN_IN_LIMITS.networkFailures.underAttackLimit;

/** Platform-log events about `userId` (the wrong codes checked, the sign-ins made). */
async function platformEvents(userId: string, action: string) {
  const items: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await functionRuntime().dynamo.send(
      new QueryCommand({
        TableName: process.env.AUDIT_TABLE!,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': PLATFORM_LOG_ID },
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.filter((i) => i.action === action && i.actor?.userId === userId);
}

/** A wrong code that is certainly not valid in the current ±1 steps. */
function wrongCode(secret: string, i: number): string {
  const now = Date.now();
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpCodeAt(secret, now + d)));
  for (let n = 100_000 + i * 7; ; n++) if (!valid.has(String(n))) return String(n);
}

function expectStatuses(responses: TestResponse[], evaluated: number) {
  const statuses = responses.map((r) => r.status);
  expect(statuses.filter((s) => s === 401)).toHaveLength(evaluated);
  expect(statuses.filter((s) => s === 429)).toHaveLength(responses.length - evaluated);
  for (const r of responses.filter((r) => r.status === 429))
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
}

async function mfaUser(label: string): Promise<TestUser & { secret: string; recoveryCodes: string[] }> {
  const user = await signUp(api, label);
  const mfa = await enableMfa(api, user);
  return { ...user, secret: mfa.secret, recoveryCodes: mfa.recoveryCodes };
}

describe('concurrent second-factor guessing (password known)', () => {
  it('evaluates at most the network budget of 150 concurrent wrong TOTP codes; the rest get 429', async () => {
    // Prepare
    const user = await mfaUser('race-net');
    // Act: 150 at once, each from its own address of one /24 (the per-address route limit does not bite)
    const responses = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        api.request('POST', '/v1/auth/login', {
          sourceIp: `127.30.0.${i + 1}`,
          body: { email: user.email, password: user.password, mfaCode: wrongCode(user.secret, i) },
        }),
      ),
    );
    // Assess: every evaluated code is a recorded failure
    expectStatuses(responses, NETWORK_LIMIT);
    const evaluated = await platformEvents(user.userId, 'auth.sign-in.failed');
    expect(evaluated).toHaveLength(NETWORK_LIMIT);
    expect(evaluated[0]!.details).toEqual({ reason: 'bad-second-factor', method: 'password+totp' });
  });

  it('bounds 120 concurrent wrong codes from 120 networks by the account-wide budget, and the owner still gets in with a recovery code', async () => {
    // Prepare
    const user = await mfaUser('race-wide');
    // Act
    const responses = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        api.request('POST', '/v1/auth/login', {
          sourceIp: `127.${31 + Math.floor(i / 100)}.${i % 100}.1`,
          body: { email: user.email, password: user.password, mfaCode: wrongCode(user.secret, i) },
        }),
      ),
    );
    const rightCode = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.39.0.1',
      body: {
        email: user.email,
        password: user.password,
        mfaCode: totpCodeAt(user.secret, Date.now() + 30_000),
      },
    });
    const recovery = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.39.0.1',
      body: { email: user.email, password: user.password, recoveryCode: user.recoveryCodes[0] },
    });
    // Assess
    expectStatuses(responses, TOTP_HOURLY);
    expect(await platformEvents(user.userId, 'auth.sign-in.failed')).toHaveLength(TOTP_HOURLY);
    // The account-wide TOTP budget is spent: no code is checked, not even a right one...
    expect(rightCode.status).toBe(429);
    expect(rightCode.body.detail).toMatch(/recovery code/);
    // ...but recovery codes (50 bits each) are outside it.
    expect(recovery.status, recovery.text).toBe(200);
  });

  it('evaluates at most the budget of 120 concurrent wrong codes at MFA removal, and MFA stays on', async () => {
    // Prepare
    const user = await mfaUser('race-remove');
    // Act
    const responses = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        api.request('DELETE', '/v1/me/mfa/totp', {
          token: user.token,
          sourceIp: `127.40.0.${i + 1}`,
          body: { code: wrongCode(user.secret, i) },
        }),
      ),
    );
    // Assess
    expectStatuses(responses, NETWORK_LIMIT);
    const evaluated = await platformEvents(user.userId, 'auth.sign-in.failed');
    expect(evaluated).toHaveLength(NETWORK_LIMIT);
    expect(evaluated.every((e) => e.details.purpose === 'mfa.remove')).toBe(true);
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user.mfaEnabled).toBe(true);
  });

  it('evaluates at most the budget of 120 concurrent wrong codes at tenant deletion, and the tenant stays', async () => {
    // Prepare
    const owner = await mfaUser('race-delete');
    const tenantId = await createTenant(api, owner, 'Keep');
    // Act
    const responses = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        api.request('DELETE', `/v1/tenants/${tenantId}`, {
          token: owner.token,
          sourceIp: `127.41.0.${i + 1}`,
          body: { mfaCode: wrongCode(owner.secret, i) },
        }),
      ),
    );
    // Assess
    expectStatuses(responses, NETWORK_LIMIT);
    const evaluated = await platformEvents(owner.userId, 'auth.sign-in.failed');
    expect(evaluated).toHaveLength(NETWORK_LIMIT);
    expect(evaluated.every((e) => e.details.purpose === 'tenant.delete')).toBe(true);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token })).status).toBe(200);
  });
});

describe('failure budgets are not a lock-out', () => {
  it('lets the owner in from another network while an attacker hammers the account from many', async () => {
    // Prepare: wrong passwords from 60 networks put the account "under attack"; one network spends its budget
    const user = await mfaUser('hammered');
    const attack = (i: number) =>
      api.request('POST', '/v1/auth/login', {
        sourceIp: `127.${50 + Math.floor(i / 200)}.${i % 200}.9`,
        body: { email: user.email, password: `guess-${i}-wrong-password` },
      });
    const first = await Promise.all(Array.from({ length: 60 }, (_, i) => attack(i)));
    expect(first.every((r) => r.status === 401)).toBe(true);
    const spent = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api.request('POST', '/v1/auth/login', {
          sourceIp: `127.49.0.${i + 1}`,
          body: { email: user.email, password: `spend-${i}-wrong-password` },
        }),
      ),
    );
    // Act: the attack goes on while the owner signs in from elsewhere with password and code
    const [owner, ...more] = await Promise.all([
      api.request('POST', '/v1/auth/login', {
        sourceIp: '127.48.0.1',
        body: {
          email: user.email,
          password: user.password,
          mfaCode: totpCodeAt(user.secret, Date.now() + 30_000),
        },
      }),
      ...Array.from({ length: 30 }, (_, i) => attack(100 + i)),
    ]);
    const attackerWithRightPassword = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.49.0.200',
      body: { email: user.email, password: user.password },
    });
    // Assess
    expect(owner!.status, owner!.text).toBe(200);
    // Under attack, a network gets 3 failures, not 10.
    expect(spent.filter((r) => r.status === 401)).toHaveLength(UNDER_ATTACK_LIMIT);
    expect(spent.filter((r) => r.status === 429)).toHaveLength(12 - UNDER_ATTACK_LIMIT);
    expect(more.every((r) => r.status === 401)).toBe(true);
    // The spent network is refused before the password is looked at, right or wrong.
    expect(attackerWithRightPassword.status).toBe(429);
    const succeeded = await platformEvents(user.userId, 'auth.sign-in.succeeded');
    expect(succeeded.at(-1)!.details).toEqual({ method: 'password+totp', mfa: true });
  });

  it('gives a fresh network only the smaller budget while the account is under attack', async () => {
    // Prepare: more than 50 wrong passwords in the last hour, from many networks
    const user = await signUp(api, 'slowdown');
    await Promise.all(
      Array.from({ length: 55 }, (_, i) =>
        api.request('POST', '/v1/auth/login', {
          sourceIp: `127.70.${i}.1`,
          body: { email: user.email, password: `guess-${i}-wrong-password` },
        }),
      ),
    );
    // Act: one more network, one attempt at a time
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api.request('POST', '/v1/auth/login', {
        sourceIp: `127.71.0.${i + 1}`,
        body: { email: user.email, password: `next-${i}-wrong-password` },
      });
      statuses.push(res.status);
    }
    const owner = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.72.0.1',
      body: { email: user.email, password: user.password },
    });
    // Assess
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(owner.status).toBe(200);
  });

  it('does not count right answers: the owner may sign in any number of times from one network', async () => {
    // Prepare
    const user = await signUp(api, 'frequent');

    // Act / Assess: more sign-ins than a network's failure budget, all right
    for (let i = 0; i < NETWORK_LIMIT + 2; i++) {
      const res = await api.request('POST', '/v1/auth/login', {
        sourceIp: `127.80.0.${i + 1}`,
        body: { email: user.email, password: user.password },
      });
      expect(res.status, `sign-in ${i + 1}`).toBe(200);
    }
  });
});
