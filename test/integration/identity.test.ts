import { GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { clientConfig, functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { tenantStorageRoleName } from '../../shared/domain/tenant-storage-role.js';
import {
  acceptInvitation,
  addMember,
  createTenant,
  enableMfa,
  signUp,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { problemType, type TestApi, useTestApi } from '../support/local-api.js';

const api = useTestApi();

async function scanAll(table: string) {
  const { Items } = await functionRuntime().dynamo.send(new ScanCommand({ TableName: table }));
  return Items ?? [];
}

describe('registration', () => {
  it('answers a new and a taken address (in any case) the same, and leaves the taken account alone', async () => {
    // Prepare
    const email = `Case.${Date.now()}@Example.test`;
    // Act
    const first = await api.request('POST', '/v1/auth/register', {
      body: { email, password: 'a-long-password-1', name: 'C' },
    });
    const again = await api.request('POST', '/v1/auth/register', {
      body: { email: email.toLowerCase(), password: 'a-long-password-2', name: 'C2' },
    });
    // Assess
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.text).toBe(first.text);
    expect(first.body).toEqual({ message: expect.any(String) });
    const original = await api.request('POST', '/v1/auth/login', {
      body: { email: email.toLowerCase(), password: 'a-long-password-1' },
    });
    expect(original.status).toBe(200);
    expect(original.body.user).toMatchObject({ email: email.toLowerCase(), name: 'C' });
    const hijack = await api.request('POST', '/v1/auth/login', {
      body: { email, password: 'a-long-password-2' },
    });
    expect(hijack.status).toBe(401);
    const users = (await scanAll(process.env.IDENTITY_TABLE!)).filter(
      (i) => i.sk === 'PROFILE' && i.email === email.toLowerCase(),
    );
    expect(users).toHaveLength(1);
  });

  it('names every bad field with 400', async () => {
    // Act
    const res = await api.request('POST', '/v1/auth/register', {
      body: { email: 'not-an-email', password: 'short', extra: 1 },
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['body.email', 'body.extra', 'body.name', 'body.password']);
  });

  it('refuses passwords over 256 characters, malformed JSON, wrong media type and oversized bodies', async () => {
    // Act / Assess: an overlong password
    const long = await api.request('POST', '/v1/auth/register', {
      body: { email: 'x@example.test', password: 'p'.repeat(257), name: 'X' },
    });
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([{ path: 'body.password', message: 'At most 256 characters' }]);

    // Act / Assess: malformed JSON
    const malformed = await api.request('POST', '/v1/auth/register', { rawBody: '{"email":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ path: 'body', message: 'Malformed JSON' }]);

    // Act / Assess: a form body
    const form = await api.request('POST', '/v1/auth/register', {
      rawBody: 'email=a',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);

    // Act / Assess: an oversized body
    const huge = await api.request('POST', '/v1/auth/register', {
      body: { email: 'x@example.test', password: 'p'.repeat(70_000), name: 'X' },
    });
    expect(huge.status).toBe(413);
  });

  it('allows three registrations per IP per 30 minutes, then 429 with Retry-After', async () => {
    // Prepare
    const sourceIp = '127.9.0.1';
    const statuses: number[] = [];
    let last: Awaited<ReturnType<TestApi['request']>> | undefined;

    // Act: four registrations from one address
    for (let i = 0; i < 4; i++) {
      last = await api.request('POST', '/v1/auth/register', {
        sourceIp,
        body: { email: `rl-${i}-${Date.now()}@example.test`, password: 'a-long-password-1', name: 'R' },
      });
      statuses.push(last.status);
    }

    // Assess
    expect(statuses).toEqual([202, 202, 202, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('counts taken addresses against the same per-IP limit', async () => {
    // Prepare: a taken address
    const taken = await signUp(api, 'taken');
    const sourceIp = '127.9.0.3';
    const statuses: number[] = [];

    // Act: four registrations of it from one address
    for (let i = 0; i < 4; i++) {
      const res = await api.request('POST', '/v1/auth/register', {
        sourceIp,
        body: { email: taken.email, password: 'a-long-password-1', name: 'R' },
      });
      statuses.push(res.status);
    }

    // Assess
    expect(statuses).toEqual([202, 202, 202, 429]);
  });
});

describe('sign-in', () => {
  it('answers an unknown e-mail exactly like a wrong password', async () => {
    // Prepare
    const user = await signUp(api, 'enum');

    // Act: a wrong password, and an unknown address
    const wrong = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: 'wrong-password-123' },
    });
    const unknown = await api.request('POST', '/v1/auth/login', {
      body: { email: `nobody-${Date.now()}@example.test`, password: 'wrong-password-123' },
    });

    // Assess: alike but for each answer's own request id.
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    // Alike but for each answer's own request id.
    const { requestId: wrongId, ...wrongBody } = wrong.body;
    const { requestId: unknownId, ...unknownBody } = unknown.body;
    expect(unknownBody).toEqual(wrongBody);
    expect([wrongId, unknownId]).toEqual([
      wrong.headers.get('x-request-id'),
      unknown.headers.get('x-request-id'),
    ]);
  });

  it('refuses a sixth login from one IP within 15 minutes', async () => {
    // Prepare
    const user = await signUp(api, 'ip');
    const sourceIp = '127.9.0.2';
    const statuses: number[] = [];

    // Act: six sign-ins from one address
    for (let i = 0; i < 6; i++) {
      const res = await api.request('POST', '/v1/auth/login', {
        sourceIp,
        body: { email: user.email, password: user.password },
      });
      statuses.push(res.status);
    }

    // Assess
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("backs off a network after ten failures for an account, even with the right password, but not the owner's", async () => {
    // Prepare: ten wrong passwords from addresses of one /24
    const user = await signUp(api, 'brute');
    for (let i = 0; i < 10; i++) {
      const res = await api.request('POST', '/v1/auth/login', {
        sourceIp: `127.20.0.${i + 1}`,
        body: { email: user.email, password: `guess-number-${i}` },
      });
      expect(res.status).toBe(401);
    }
    // Act
    const sameNetwork = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.20.0.99',
      body: { email: user.email, password: user.password },
    });
    const owner = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.21.0.1',
      body: { email: user.email, password: user.password },
    });
    // Assess
    expect(sameNetwork.status).toBe(429);
    expect(Number(sameNetwork.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(owner.status).toBe(200);
  });

  it('stores only hashes of passwords and session tokens', async () => {
    // Prepare
    const user = await signUp(api, 'hash');

    // Act
    const items = JSON.stringify(await scanAll(process.env.IDENTITY_TABLE!));

    // Assess: no password or token secret stored; the password as an argon2id hash
    expect(items).not.toContain(user.password);
    expect(items).not.toContain(user.token.split('.')[2]);
    expect(items).toContain('$argon2id$v=19$m=19456,t=2,p=1$');
  });

  it('takes credentials only from the Authorization header', async () => {
    // Prepare
    const user = await signUp(api, 'hdr');

    // Act / Assess: a token in the query, a forged one, the real one in the header
    const inQuery = await api.request('GET', `/v1/me?access_token=${encodeURIComponent(user.token)}`);
    expect(inQuery.status).toBe(401);
    const forged = await api.request('GET', '/v1/me', { token: `${user.token.slice(0, -2)}xx` });
    expect(forged.status).toBe(401);
    const ok = await api.request('GET', '/v1/me', { token: user.token });
    expect(ok.status).toBe(200);
    expect(ok.body.user.userId).toBe(user.userId);
  });
});

describe('sessions', () => {
  it('lists sessions, revokes one, revokes all others, and logs out', async () => {
    // Prepare: three sessions, one from a second device
    const user = await signUp(api, 'sess');
    const second = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
      headers: { 'user-agent': 'second-device' },
    });
    const third = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });

    // Act / Assess: the list
    const list = await api.request('GET', '/v1/me/sessions', { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(3);
    expect(list.body.items.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect(list.body.items.map((s: { userAgent: string }) => s.userAgent)).toContain('second-device');

    // Act / Assess: revoke the second
    const secondId = second.body.token.split('.')[1];
    const revoke = await api.request('DELETE', `/v1/me/sessions/${secondId}`, { token: user.token });
    expect(revoke.status).toBe(204);
    expect((await api.request('GET', '/v1/me', { token: second.body.token })).status).toBe(401);

    // Act / Assess: revoke all others
    const others = await api.request('DELETE', '/v1/me/sessions', { token: user.token });
    expect(others.body).toEqual({ revoked: 1 });
    expect((await api.request('GET', '/v1/me', { token: third.body.token })).status).toBe(401);

    // Act / Assess: log out
    const logout = await api.request('POST', '/v1/auth/logout', { token: user.token });
    expect(logout.status).toBe(204);
    expect((await api.request('GET', '/v1/me', { token: user.token })).status).toBe(401);
  });

  it("cannot revoke another user's session (404, and it keeps working)", async () => {
    // Prepare
    const a = await signUp(api, 'sa');
    const b = await signUp(api, 'sb');

    // Act
    const res = await api.request('DELETE', `/v1/me/sessions/${b.token.split('.')[1]}`, { token: a.token });

    // Assess: not found, and b's session still works
    expect(res.status).toBe(404);
    expect((await api.request('GET', '/v1/me', { token: b.token })).status).toBe(200);
  });

  it('changing the password revokes every other session and needs the current password', async () => {
    // Prepare: a second session
    const user = await signUp(api, 'pw');
    const other = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });

    // Act / Assess: a wrong current password
    const wrong = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: { currentPassword: 'not-my-password', newPassword: 'a-brand-new-password' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0].path).toBe('body.currentPassword');

    // Act: the right one
    const res = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: { currentPassword: user.password, newPassword: 'a-brand-new-password' },
    });

    // Assess: the other session revoked, this one kept, the old password refused
    expect(res.status).toBe(200);
    expect(res.body.revokedSessions).toBe(1);
    expect((await api.request('GET', '/v1/me', { token: other.body.token })).status).toBe(401);
    expect((await api.request('GET', '/v1/me', { token: user.token })).status).toBe(200);
    const oldLogin = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(oldLogin.status).toBe(401);
  });
});

describe('TOTP MFA', () => {
  it('enrols, confirms, requires a code at sign-in, refuses a replay, and accepts a recovery code once', async () => {
    // Prepare
    const user = await signUp(api, 'mfa');

    // Act / Assess: enrol; the secret is not stored in the clear
    const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: user.token });
    expect(enrol.status).toBe(201);
    expect(enrol.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Strongroom:/);
    const secret: string = enrol.body.secret;
    const rawIdentity = JSON.stringify(await scanAll(process.env.IDENTITY_TABLE!));
    expect(rawIdentity).not.toContain(secret);

    // Act / Assess: confirm with a wrong code, then the current one
    const bad = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code: '000000', currentPassword: user.password },
    });
    expect(bad.status).toBe(401);
    const now = Date.now();
    const confirm = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code: totpCodeAt(secret, now), currentPassword: user.password },
    });
    expect(confirm.status).toBe(200);
    expect(confirm.body.recoveryCodes).toHaveLength(10);

    // Act / Assess: sign-in without a code
    const noCode = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(noCode.status).toBe(401);
    expect(problemType(noCode)).toBe('mfa-required');

    // Act / Assess: the confirmation used the current step: the same code, and the previous step's, are
    // refused now.
    const replay = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, mfaCode: totpCodeAt(secret, now) },
    });
    expect(replay.status).toBe(401);
    expect(problemType(replay)).toBe('invalid-mfa-code');
    const next = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, mfaCode: totpCodeAt(secret, now + 30_000) },
    });
    expect(next.status).toBe(200);
    const nextAgain = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, mfaCode: totpCodeAt(secret, now + 30_000) },
    });
    expect(nextAgain.status).toBe(401);

    // Act / Assess: a recovery code works once
    const recovery = confirm.body.recoveryCodes[0].toUpperCase();
    const withRecovery = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, recoveryCode: recovery },
    });
    expect(withRecovery.status).toBe(200);
    const recoveryAgain = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, recoveryCode: recovery },
    });
    expect(recoveryAgain.status).toBe(401);

    // Act / Assess: removal without a code, then with a recovery code
    const removeWithoutCode = await api.request('DELETE', '/v1/me/mfa/totp', { token: user.token, body: {} });
    expect(removeWithoutCode.status).toBe(400);
    const remove = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: user.token,
      body: { recoveryCode: confirm.body.recoveryCodes[1] },
    });
    expect(remove.status).toBe(204);
    const plain = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(plain.status).toBe(200);
  });

  it('counts wrong codes at MFA removal against the account, so a stolen session cannot guess codes', async () => {
    // Prepare
    const user = await signUp(api, 'guess');
    await enableMfa(api, user);

    // Act: eleven wrong codes at removal
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await api.request('DELETE', '/v1/me/mfa/totp', {
        token: user.token,
        body: { code: String(100000 + i) },
      });
      statuses.push(res.status);
    }

    // Assess: ten 401s, then 429, and MFA still on
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user.mfaEnabled).toBe(true);
  });

  it('a tenant requiring MFA refuses members without it with 403 mfa-enrolment-required', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'MfaCorp');

    // Act
    const set = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: users.admin.token,
      body: { settings: { requireMfa: true } },
    });

    // Assess
    expect(set.status).toBe(200);
    const res = await api.request('GET', `/v1/tenants/${tenantId}`, { token: users.viewer.token });
    expect(res.status).toBe(403);
    expect(problemType(res)).toBe('mfa-enrolment-required');
  });

  it('keeps settings a change leaves out, and returns a session limit set to null to the platform default', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'LimitsCorp');
    const patch = (settings: unknown) =>
      api.request('PATCH', `/v1/tenants/${tenantId}`, { token: users.admin.token, body: { settings } });

    // Act / Assess: both limits set
    const set = await patch({ sessionIdleSeconds: 900, sessionAbsoluteSeconds: 3600 });
    expect(set.status, set.text).toBe(200);
    expect(set.body.settings).toEqual({
      requireMfa: false,
      sessionIdleSeconds: 900,
      sessionAbsoluteSeconds: 3600,
    });

    // Act / Assess: a change without them keeps them
    const kept = await patch({ requireMfa: false });
    expect(kept.body.settings).toEqual(set.body.settings);

    // Act / Assess: null clears one
    const cleared = await patch({ sessionIdleSeconds: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.settings).toEqual({ requireMfa: false, sessionAbsoluteSeconds: 3600 });
    const read = await api.request('GET', `/v1/tenants/${tenantId}`, { token: users.viewer.token });
    expect(read.body.settings).toEqual({ requireMfa: false, sessionAbsoluteSeconds: 3600 });

    // Act / Assess: requireMfa is a switch, not a limit: null is refused, as are limits out of range.
    expect((await patch({ requireMfa: null })).status).toBe(400);
    expect((await patch({ sessionIdleSeconds: 299 })).status).toBe(400);
  });
});

describe('tenants and members', () => {
  it('the creator owns the new tenant and sees it in /v1/me', async () => {
    // Prepare
    const owner = await signUp(api, 'creator');

    // Act
    const tenantId = await createTenant(api, owner, 'Mine');

    // Assess: the creator is the owner, and the tenant has its own key
    const me = await api.request('GET', '/v1/me', { token: owner.token });
    expect(me.body.memberships).toEqual([{ tenantId, role: 'owner' }]);
    const raw = (await scanAll(process.env.TENANT_DATA_TABLE!)).find(
      (i) => i.pk === tenantId && i.sk === 'TENANT',
    );
    expect(raw?.keyArn).toMatch(/^arn:aws:kms:/);
  });

  it('answers 404 to a non-member and for an unknown tenant, 403 to a lower role', async () => {
    // Prepare
    const a = await tenantWithEveryRole(api, 'A');
    const stranger = await signUp(api, 'stranger');

    // Act / Assess: a stranger, an unknown tenant
    expect((await api.request('GET', `/v1/tenants/${a.tenantId}`, { token: stranger.token })).status).toBe(
      404,
    );
    expect(
      (await api.request('GET', '/v1/tenants/t_00000000000000000000000000', { token: stranger.token }))
        .status,
    ).toBe(404);

    // Act / Assess: an editor renames, an admin changes the plan, the owner does
    const viewerPatch = await api.request('PATCH', `/v1/tenants/${a.tenantId}`, {
      token: a.users.editor.token,
      body: { name: 'X' },
    });
    expect(viewerPatch.status).toBe(403);
    const adminPlan = await api.request('PATCH', `/v1/tenants/${a.tenantId}`, {
      token: a.users.admin.token,
      body: { plan: 'team' },
    });
    expect(adminPlan.status).toBe(403);
    const ownerPlan = await api.request('PATCH', `/v1/tenants/${a.tenantId}`, {
      token: a.users.owner.token,
      body: { plan: 'team' },
    });
    expect(ownerPlan.status).toBe(200);
    expect(ownerPlan.body.plan).toBe('team');
  });

  it('enforces who may grant what, keeps an owner, and applies removals on the next request', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Roles');
    const newcomer = await signUp(api, 'newcomer');
    const base = `/v1/tenants/${tenantId}/members`;

    // Act / Assess: roles below admin invite
    for (const role of ['editor', 'reviewer', 'viewer'] as const) {
      const res = await api.request('POST', base, {
        token: users[role].token,
        body: { email: newcomer.email, role: 'viewer' },
      });
      expect(res.status, role).toBe(403);
    }

    // Act / Assess: an admin grants admin, then editor
    const adminGrantsAdmin = await api.request('POST', base, {
      token: users.admin.token,
      body: { email: newcomer.email, role: 'admin' },
    });
    expect(adminGrantsAdmin.status).toBe(403);
    expect(problemType(adminGrantsAdmin)).toBe('role-not-grantable');
    const adminGrantsEditor = await api.request('POST', base, {
      token: users.admin.token,
      body: { email: newcomer.email, role: 'editor' },
    });
    expect(adminGrantsEditor.status).toBe(201);
    await acceptInvitation(api, newcomer, adminGrantsEditor.body.invitationId);

    // Act / Assess: inviting a member again answers like any invitation; accepting it is what says "already a
    // member".
    const duplicate = await api.request('POST', base, {
      token: users.admin.token,
      body: { email: newcomer.email, role: 'viewer' },
    });
    expect(duplicate.status).toBe(201);
    const again = await api.request('POST', `/v1/me/invitations/${duplicate.body.invitationId}/accept`, {
      token: newcomer.token,
    });
    expect(again.status).toBe(409);
    expect(problemType(again)).toBe('already-member');

    // Act / Assess: an admin demotes the owner; the last owner steps down
    const adminDemotesOwner = await api.request('PATCH', `${base}/${users.owner.userId}`, {
      token: users.admin.token,
      body: { role: 'viewer' },
    });
    expect(adminDemotesOwner.status).toBe(403);
    const lastOwner = await api.request('PATCH', `${base}/${users.owner.userId}`, {
      token: users.owner.token,
      body: { role: 'admin' },
    });
    expect(lastOwner.status).toBe(409);
    expect(problemType(lastOwner)).toBe('last-owner');

    // Act / Assess: a removal applies on the next request
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: newcomer.token })).status).toBe(200);
    const remove = await api.request('DELETE', `${base}/${newcomer.userId}`, { token: users.admin.token });
    expect(remove.status).toBe(204);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: newcomer.token })).status).toBe(404);

    // Act / Assess: a demotion shows in the list
    const demote = await api.request('PATCH', `${base}/${users.editor.userId}`, {
      token: users.admin.token,
      body: { role: 'viewer' },
    });
    expect(demote.status).toBe(200);
    const list = await api.request('GET', base, { token: users.viewer.token });
    expect(list.status).toBe(200);
    expect(list.body.items.find((m: { userId: string }) => m.userId === users.editor.userId).role).toBe(
      'viewer',
    );
  });

  it('revokes the storage credentials of a member who is removed or demoted, on the tenant’s own role', async () => {
    // Prepare: viewer and editor hold managed-location credentials; the reviewer never vended any.
    const { tenantId, users } = await tenantWithEveryRole(api, 'Revoke');
    const base = `/v1/tenants/${tenantId}/members`;
    const location = await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
      token: users.admin.token,
      body: { managed: true },
    });
    expect(location.status, location.text).toBe(201);
    for (const user of [users.viewer, users.editor]) {
      const vend = await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
        token: user.token,
        body: { location: location.body.locationId, access: 'read' },
      });
      expect(vend.status, vend.text).toBe(200);
    }

    const iam = new IAMClient({ ...clientConfig(), region: process.env.AWS_REGION });
    const roleName = tenantStorageRoleName(tenantId);
    const revocations = async () => {
      const got = await iam
        .send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: 'storage-revocations' }))
        .catch((e: unknown) => e);
      return got instanceof Error
        ? got.name
        : decodeURIComponent((got as { PolicyDocument: string }).PolicyDocument);
    };

    // Act / Assess: removing a member who never held any writes no deny at all.
    expect(
      (await api.request('DELETE', `${base}/${users.reviewer.userId}`, { token: users.admin.token })).status,
    ).toBe(204);
    expect(await revocations()).toBe('NoSuchEntityException');

    // Act: the viewer removed, the editor demoted
    expect(
      (await api.request('DELETE', `${base}/${users.viewer.userId}`, { token: users.admin.token })).status,
    ).toBe(204);
    expect(
      (
        await api.request('PATCH', `${base}/${users.editor.userId}`, {
          token: users.admin.token,
          body: { role: 'viewer' },
        })
      ).status,
    ).toBe(200);

    // Assess: both denied on the tenant's role, the reviewer not
    const policy = await revocations();
    expect(policy).toContain(users.viewer.userId);
    expect(policy).toContain(users.editor.userId);
    expect(policy).not.toContain(users.reviewer.userId);
  });

  it("a member of tenant A cannot touch tenant B's members (404, nothing changed)", async () => {
    // Prepare
    const a = await tenantWithEveryRole(api, 'TA');
    const b = await tenantWithEveryRole(api, 'TB');

    // Act / Assess: through B's path
    const res = await api.request('DELETE', `/v1/tenants/${b.tenantId}/members/${b.users.viewer.userId}`, {
      token: a.users.owner.token,
    });
    expect(res.status).toBe(404);

    // Act / Assess: through A's own path
    const viaOwnTenant = await api.request(
      'DELETE',
      `/v1/tenants/${a.tenantId}/members/${b.users.viewer.userId}`,
      {
        token: a.users.owner.token,
      },
    );
    expect(viaOwnTenant.status).toBe(404);

    // Assess: B's member unchanged
    expect(
      (await api.request('GET', `/v1/tenants/${b.tenantId}`, { token: b.users.viewer.token })).status,
    ).toBe(200);
  });

  it('paginates members with an opaque cursor and refuses a forged one', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Pages');

    // Act / Assess: two pages
    const first = await api.request('GET', `/v1/tenants/${tenantId}/members?limit=2`, {
      token: users.viewer.token,
    });
    expect(first.body.items).toHaveLength(2);
    const second = await api.request(
      'GET',
      `/v1/tenants/${tenantId}/members?limit=10&cursor=${first.body.nextCursor}`,
      {
        token: users.viewer.token,
      },
    );
    expect(second.body.items).toHaveLength(3);

    // Act / Assess: a forged cursor
    const forgedCursor = Buffer.from(
      JSON.stringify({ pk: 't_00000000000000000000000000', sk: 'MEMBER#x' }),
    ).toString('base64url');
    const forged = await api.request('GET', `/v1/tenants/${tenantId}/members?cursor=${forgedCursor}`, {
      token: users.viewer.token,
    });
    expect(forged.status).toBe(400);
    expect(forged.body.errors[0].path).toBe('query.cursor');
  });
});

describe('API keys', () => {
  it('is shown once, scoped to its creator, usable only in its tenant, and revoked at once', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Keys');
    const other = await tenantWithEveryRole(api, 'Other');
    const base = `/v1/tenants/${tenantId}/api-keys`;

    // Act / Assess: a viewer creates; an editor asks beyond its role, or too long a life
    expect(
      (
        await api.request('POST', base, {
          token: users.viewer.token,
          body: { name: 'k', scopes: ['tenant:read'] },
        })
      ).status,
    ).toBe(403);
    const beyond = await api.request('POST', base, {
      token: users.editor.token,
      body: { name: 'k', scopes: ['members:manage'] },
    });
    expect(beyond.status).toBe(400);
    expect(beyond.body.errors[0].path).toBe('body.scopes');
    const tooLong = await api.request('POST', base, {
      token: users.editor.token,
      body: { name: 'k', scopes: ['tenant:read'], expiresInDays: 366 },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].path).toBe('body.expiresInDays');

    // Act
    const created = await api.request('POST', base, {
      token: users.editor.token,
      body: { name: 'ci', scopes: ['tenant:read', 'members:read'] },
    });

    // Assess: shown once, in its format, 90 days, never stored
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(key).toMatch(/^srk\.t_[0-9a-z]{26}\.k_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(new Date(created.body.expiresAt).getTime() - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect(JSON.stringify(await scanAll(process.env.TENANT_DATA_TABLE!))).not.toContain(key.split('.')[3]);

    // Act / Assess
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: key })).status).toBe(200);
    expect((await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: key })).status).toBe(200);
    // Not in its scopes, although the creator could: 403.
    expect((await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { token: key })).status).toBe(403);
    // Another tenant: 404.
    expect((await api.request('GET', `/v1/tenants/${other.tenantId}`, { token: key })).status).toBe(404);
    // Keys cannot mint keys.
    const mint = await api.request('POST', base, {
      token: key,
      body: { name: 'x', scopes: ['tenant:read'] },
    });
    expect(mint.status).toBe(403);

    // Act / Assess
    const list = await api.request('GET', base, { token: users.editor.token });
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].lastUsedAt).not.toBeNull();
    expect(JSON.stringify(list.body)).not.toContain('secretHash');

    // Act / Assess: the creator is removed: the key is revoked with them.
    const keyOfAdmin = await api.request('POST', base, {
      token: users.admin.token,
      body: { name: 'adm', scopes: ['members:read'] },
    });
    await api.request('DELETE', `/v1/tenants/${tenantId}/members/${users.admin.userId}`, {
      token: users.owner.token,
    });
    expect(
      (await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: keyOfAdmin.body.key })).status,
    ).toBe(401);

    // Act / Assess: another member's key needs api-keys:manage.
    const viewerRevokes = await api.request('DELETE', `${base}/${created.body.keyId}`, {
      token: users.viewer.token,
    });
    expect(viewerRevokes.status).toBe(403);
    const revoke = await api.request('DELETE', `${base}/${created.body.keyId}`, {
      token: users.editor.token,
    });
    expect(revoke.status).toBe(204);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: key })).status).toBe(401);
  });

  it("an owner's key scopes follow the creator's current role; below api-keys:create the key is revoked", async () => {
    // Prepare: a second owner's key with two scopes
    const owner = await signUp(api, 'ko');
    const tenantId = await createTenant(api, owner, 'Demote');
    const second = await signUp(api, 'ko2');
    await addMember(api, owner, tenantId, second, 'owner');
    const key = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token: second.token,
      body: { name: 'k', scopes: ['members:read', 'tenant:settings'] },
    });
    const rename = (name: string) =>
      api.request('PATCH', `/v1/tenants/${tenantId}`, { token: key.body.key, body: { name } });
    const demote = (role: string) =>
      api.request('PATCH', `/v1/tenants/${tenantId}/members/${second.userId}`, {
        token: owner.token,
        body: { role },
      });

    // Act / Assess
    expect((await rename('via key')).status).toBe(200);

    // Act / Assess: still allowed to hold keys: the key stays, its effective permissions shrink with the
    // role.
    expect((await demote('editor')).status).toBe(200);
    expect((await rename('again')).status).toBe(403);
    expect(
      (await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: key.body.key })).status,
    ).toBe(200);

    // Act / Assess: below api-keys:create: the key is revoked (and promoting back does not revive it).
    expect((await demote('viewer')).status).toBe(200);
    expect(
      (await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: key.body.key })).status,
    ).toBe(401);
    expect((await demote('owner')).status).toBe(200);
    expect(
      (await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: key.body.key })).status,
    ).toBe(401);

    // Assess: no key left
    const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { token: owner.token });
    expect(keys.body.items).toEqual([]);
  });
});
