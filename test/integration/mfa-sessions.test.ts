import { describe, expect, it } from 'vitest';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
import {
  createTenant,
  type EnabledMfa,
  enableMfa,
  signUp,
  type TestUser,
} from '../support/identity-fixtures.js';
import { writeSession } from '../support/identity-items.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

/**
 * MFA is a property of the session, not of the user: `requireMfa`, API keys in an MFA tenant, password
 * change, MFA removal and tenant deletion need a session that proved the second factor.
 */
const api = useTestApi();

/**
 * A password-only session that is still alive after the user enrolled, written straight into the table
 * under the user's current credential epoch (enrolment ends every other session, and a sign-in racing it
 * writes none: this is the defence in depth behind those): one created before sessions recorded their
 * method (`legacy`), or one that somehow got past both.
 */
async function passwordOnlySession(user: TestUser, legacy = false): Promise<string> {
  return writeSession(user, {
    userAgent: 'before-enrolment',
    ...(legacy ? { authMethod: undefined, mfa: undefined } : {}),
  });
}

async function events(logId: string, action: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, logId)).filter((i) => i.action === action);
}

/** A code of the next unused step (the confirmation used the current one). */
const nextCode = (mfa: EnabledMfa, steps = 1) => totpCodeAt(mfa.secret, mfa.confirmedAt + steps * 30_000);

describe('sessions record how they were authenticated', () => {
  it('password, password+totp and password+recovery-code, shown in the session list and the sign-in events', async () => {
    // Prepare
    const user = await signUp(api, 'methods');
    const mfa = await enableMfa(api, user);
    // Act
    const totp = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, mfaCode: nextCode(mfa) },
    });
    const recovery = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, recoveryCode: mfa.recoveryCodes[0] },
    });
    const list = await api.request('GET', '/v1/me/sessions', { token: user.token });
    // Assess
    expect(totp.status).toBe(200);
    expect(recovery.status).toBe(200);
    const byId = new Map(list.body.items.map((s: { sessionId: string }) => [s.sessionId, s]));
    expect(byId.get(user.token.split('.')[1])).toMatchObject({ authMethod: 'password+totp', mfa: true });
    expect(byId.get(totp.body.token.split('.')[1])).toMatchObject({ authMethod: 'password+totp', mfa: true });
    expect(byId.get(recovery.body.token.split('.')[1])).toMatchObject({
      authMethod: 'password+recovery-code',
      mfa: true,
    });
    const signIns = (await events(PLATFORM_LOG_ID, 'auth.sign-in.succeeded'))
      .filter((e) => e.actor.userId === user.userId)
      .map((e) => e.details);
    expect(signIns).toEqual([
      { method: 'password', mfa: false },
      { method: 'password+totp', mfa: true },
      { method: 'password+recovery-code', mfa: true },
    ]);
  });
});

describe('enabling MFA', () => {
  it('needs the current password, upgrades the confirming session and revokes every other one', async () => {
    // Prepare: the user is signed in three times
    const user = await signUp(api, 'enable');
    const other = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    const third = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: user.token });
    const code = totpCodeAt(enrol.body.secret, Date.now());
    // Act
    const withoutPassword = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code },
    });
    const wrongPassword = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code, currentPassword: 'not-the-password-at-all' },
    });
    const confirm = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code, currentPassword: user.password },
    });
    // Assess
    expect(withoutPassword.status).toBe(400);
    expect(withoutPassword.body.errors).toEqual([
      { path: 'body.currentPassword', message: expect.any(String) },
    ]);
    expect(wrongPassword.status).toBe(400);
    expect(wrongPassword.body.errors[0].path).toBe('body.currentPassword');
    expect(confirm.status, confirm.text).toBe(200);
    expect(confirm.body.revokedSessions).toBe(2);
    expect((await api.request('GET', '/v1/me', { token: other.body.token })).status).toBe(401);
    expect((await api.request('GET', '/v1/me', { token: third.body.token })).status).toBe(401);
    const list = await api.request('GET', '/v1/me/sessions', { token: user.token });
    expect(list.body.items).toEqual([
      expect.objectContaining({ current: true, authMethod: 'password+totp', mfa: true }),
    ]);
  });
});

describe("a tenant's requireMfa is enforced on the session", () => {
  it('refuses a password-only session from before enrolment: it can neither read the tenant nor mint a key', async () => {
    // Prepare: the attack of the report. The owner signs in (password only), later enrols, and the tenant
    // turns requireMfa on; the old session must not count as MFA.
    const owner = await signUp(api, 'attack');
    const tenantId = await createTenant(api, owner, 'Strict');
    const before = await api.request('POST', '/v1/auth/login', {
      body: { email: owner.email, password: owner.password },
    });
    await enableMfa(api, owner);
    const survivor = await passwordOnlySession(owner);
    const legacy = await passwordOnlySession(owner, true);
    const set = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      body: { settings: { requireMfa: true } },
    });
    expect(set.status, set.text).toBe(200);
    // Act
    const revokedOld = await api.request('GET', `/v1/tenants/${tenantId}`, { token: before.body.token });
    const reads = await Promise.all(
      [survivor, legacy].map((token) => api.request('GET', `/v1/tenants/${tenantId}`, { token })),
    );
    const mints = await Promise.all(
      [survivor, legacy].map((token) =>
        api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
          token,
          body: { name: 'exfil', scopes: ['tenant:read'], expiresInDays: 90 },
        }),
      ),
    );
    const mfaRead = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });
    // Assess
    expect(revokedOld.status).toBe(401); // enabling MFA revoked it
    for (const res of [...reads, ...mints]) {
      expect(res.status).toBe(403);
      expect(problemType(res)).toBe('mfa-session-required');
    }
    expect(mfaRead.status).toBe(200);
    const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { token: owner.token });
    expect(keys.body.items).toEqual([]);
    const refusals = await events(tenantId, 'auth.action.refused');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({
      actor: { userId: owner.userId },
      details: { route: 'createApiKey', reason: 'mfa-session-required', credential: 'session' },
    });
  });

  it('lets an MFA session mint keys there, and stops keys minted without MFA once the tenant requires it', async () => {
    // Prepare: a key minted by a password-only session, then one minted after enrolment
    const owner = await signUp(api, 'keys');
    const tenantId = await createTenant(api, owner, 'Keys');
    const base = `/v1/tenants/${tenantId}/api-keys`;
    const body = { name: 'k', scopes: ['tenant:read'] };
    const oldKey = await api.request('POST', base, { token: owner.token, body });
    await enableMfa(api, owner);
    const newKey = await api.request('POST', base, { token: owner.token, body });
    // Act
    await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      body: { settings: { requireMfa: true } },
    });
    const withOld = await api.request('GET', `/v1/tenants/${tenantId}`, { token: oldKey.body.key });
    const withNew = await api.request('GET', `/v1/tenants/${tenantId}`, { token: newKey.body.key });
    const mintedNow = await api.request('POST', base, { token: owner.token, body });
    // Assess
    expect(oldKey.body.createdWithMfa).toBe(false);
    expect(newKey.body.createdWithMfa).toBe(true);
    expect(withOld.status).toBe(403);
    expect(problemType(withOld)).toBe('mfa-session-required');
    expect(withOld.body.detail).toMatch(/API key/);
    expect(withNew.status).toBe(200);
    expect(mintedNow.status).toBe(201);
    expect(mintedNow.body.createdWithMfa).toBe(true);
  });
});

describe('sensitive actions need an MFA session', () => {
  it('password change: MFA session, current password and a code; refusals are recorded', async () => {
    // Prepare
    const user = await signUp(api, 'pwmfa');
    const mfa = await enableMfa(api, user);
    const other = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, recoveryCode: mfa.recoveryCodes[1] },
    });
    const stale = await passwordOnlySession(user);
    const change = (token: string, extra: Record<string, string>) =>
      api.request('POST', '/v1/me/password', {
        token,
        body: { currentPassword: user.password, newPassword: 'a-new-password-for-me', ...extra },
      });
    // Act
    const fromStale = await change(stale, { mfaCode: nextCode(mfa) });
    const withoutCode = await change(user.token, {});
    const bothFactors = await change(user.token, { mfaCode: '123456', recoveryCode: mfa.recoveryCodes[0]! });
    const replayed = await change(user.token, { mfaCode: nextCode(mfa, 0) }); // the confirmation's code
    const ok = await change(user.token, { mfaCode: nextCode(mfa) });
    // Assess
    expect(fromStale.status).toBe(403);
    expect(problemType(fromStale)).toBe('mfa-session-required');
    expect(withoutCode.status).toBe(400);
    expect(withoutCode.body.errors).toEqual([{ path: 'body.mfaCode', message: expect.any(String) }]);
    expect(bothFactors.status).toBe(400);
    expect(replayed.status).toBe(401);
    expect(problemType(replayed)).toBe('invalid-mfa-code');
    expect(ok.status, ok.text).toBe(200);
    expect((await api.request('GET', '/v1/me', { token: other.body.token })).status).toBe(401);
    const refused = (await events(PLATFORM_LOG_ID, 'auth.action.refused')).filter(
      (e) => e.actor.userId === user.userId,
    );
    expect(refused.map((e) => e.details)).toEqual([
      { purpose: 'password.change', reason: 'mfa-session-required' },
    ]);
  });

  it('MFA removal and tenant deletion refuse a password-only session even with a right code', async () => {
    // Prepare
    const owner = await signUp(api, 'rmmfa');
    const tenantId = await createTenant(api, owner, 'Stay');
    const mfa = await enableMfa(api, owner);
    const stale = await passwordOnlySession(owner, true);
    // Act
    const remove = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: stale,
      body: { code: nextCode(mfa) },
    });
    const deletion = await api.request('DELETE', `/v1/tenants/${tenantId}`, {
      token: stale,
      body: { mfaCode: nextCode(mfa) },
    });
    const removeWithMfaSession = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: owner.token,
      body: { code: nextCode(mfa) },
    });
    // Assess
    expect(remove.status).toBe(403);
    expect(problemType(remove)).toBe('mfa-session-required');
    expect(deletion.status).toBe(403);
    expect(problemType(deletion)).toBe('mfa-session-required');
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token })).status).toBe(200);
    expect(removeWithMfaSession.status, removeWithMfaSession.text).toBe(204);
    const refused = (await events(PLATFORM_LOG_ID, 'auth.action.refused'))
      .filter((e) => e.actor.userId === owner.userId)
      .map((e) => e.details.purpose);
    expect(refused.sort()).toEqual(['mfa.remove', 'tenant.delete']);
  });
});
