import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { hashSecret, newSecret } from '../../shared/domain/credentials.js';
import { stepUpKey } from '../../shared/domain/item-layout.js';
import { createTenant, enableMfa, signUp, type TestUser } from '../support/identity-fixtures.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import { type CeremonyOverrides, SoftwareAuthenticator } from '../support/passkey-authenticator.js';
import { platformEventsBy } from '../support/table-reads.js';

/**
 * Passkey step-up: a fresh passkey assertion (user verification required, a challenge of this session)
 * becomes a step-up token that one fresh-MFA action of the same session accepts instead of a code — tenant
 * deletion (tenants function), MFA removal and password change (auth function). The token is spent by one
 * conditional delete; every way to misuse it is refused and audited.
 */
const ORIGIN = new URL(TEST_CONSOLE_URL).origin;
const RP_ID = new URL(TEST_CONSOLE_URL).hostname;

const api = useTestApi();

interface PasskeyUser extends TestUser {
  device: SoftwareAuthenticator;
  /** The password session the passkey was added in (not an MFA session). */
  passwordToken: string;
}

function ok(res: TestResponse, status: number, what: string): TestResponse {
  expect(res.status, `${what}: ${res.text}`).toBe(status);
  return res;
}

/** A passkey-only user (no TOTP), signed in with the passkey: `token` is that MFA session. */
async function passkeyOnlyUser(label: string): Promise<PasskeyUser> {
  const user = await signUp(api, label);
  const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
  const options = ok(
    await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token }),
    200,
    'registration options',
  ).body;
  ok(
    await api.request('POST', '/v1/me/passkeys', {
      token: user.token,
      body: {
        challengeId: options.challengeId,
        credential: device.register(options.options),
        name: 'Laptop',
        currentPassword: user.password,
      },
    }),
    201,
    'add passkey',
  );
  return { ...user, device, passwordToken: user.token, token: await passkeySession(device) };
}

/** A new session signed in with the device's passkey. */
async function passkeySession(device: SoftwareAuthenticator): Promise<string> {
  const options = ok(await api.request('POST', '/v1/auth/passkeys/options'), 200, 'sign-in options').body;
  const signedIn = ok(
    await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId: options.challengeId, credential: device.assert(options.options) },
    }),
    200,
    'passkey sign-in',
  );
  return signedIn.body.token;
}

async function stepUpOptions(token: string) {
  return ok(await api.request('POST', '/v1/me/step-up/passkey/options', { token }), 200, 'step-up options')
    .body as { challengeId: string; options: Record<string, any> };
}

/** Steps up in session `token` with `device`; the raw answer. */
async function stepUp(token: string, device: SoftwareAuthenticator, overrides: CeremonyOverrides = {}) {
  const { challengeId, options } = await stepUpOptions(token);
  return api.request('POST', '/v1/me/step-up/passkey', {
    token,
    body: { challengeId, credential: device.assert(options, overrides) },
  });
}

/** A step-up token of session `token`. */
async function stepUpToken(token: string, device: SoftwareAuthenticator): Promise<string> {
  return ok(await stepUp(token, device), 201, 'step-up').body.stepUpToken;
}

const deleteTenant = (token: string, tenantId: string, body: Record<string, unknown>) =>
  api.request('DELETE', `/v1/tenants/${tenantId}`, { token, body });

async function tenantExists(token: string, tenantId: string): Promise<boolean> {
  const res = await api.request('GET', `/v1/tenants/${tenantId}`, { token });
  return res.status === 200;
}

async function stepUpItem(token: string) {
  const { Item } = await functionRuntime().dynamo.send(
    new GetCommand({
      TableName: process.env.IDENTITY_TABLE!,
      Key: stepUpKey(hashSecret(token)),
      ConsistentRead: true,
    }),
  );
  return Item;
}

function expectStepUpRefused(res: TestResponse) {
  expect(res.status, res.text).toBe(401);
  expect(problemType(res)).toBe('step-up-invalid');
  expect(res.body.errors).toEqual([{ path: 'body.stepUpToken', message: expect.any(String) }]);
}

describe('stepping up with a passkey', () => {
  it('lets a passkey-only owner delete a tenant with a step-up token; the token works once and only its hash is stored', async () => {
    // Prepare: a passkey-only owner with two tenants, in a passkey (MFA) session
    const owner = await passkeyOnlyUser('su-owner');
    const first = await createTenant(api, owner, 'First');
    const second = await createTenant(api, owner, 'Second');

    // Act
    const stepped = await stepUp(owner.token, owner.device);
    const token = stepped.body.stepUpToken as string;
    const deleted = await deleteTenant(owner.token, first, { stepUpToken: token });
    const replayed = await deleteTenant(owner.token, second, { stepUpToken: token });

    // Assess: a 5-minute token; the deletion went through, the replay changed nothing
    expect(stepped.status, stepped.text).toBe(201);
    expect(token).toMatch(/^sru_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(stepped.body.expiresAt) - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(Date.parse(stepped.body.expiresAt) - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(deleted.status, deleted.text).toBe(204);
    expect(await tenantExists(owner.token, first)).toBe(false);
    expectStepUpRefused(replayed);
    expect(await tenantExists(owner.token, second)).toBe(true);
    expect(await stepUpItem(token)).toBeUndefined();
    const verified = await platformEventsBy('auth.step-up.verified', owner.userId);
    expect(verified).toHaveLength(1);
    expect(JSON.stringify(verified)).not.toContain(token);
    expect(await platformEventsBy('auth.step-up.used', owner.userId)).toEqual([
      expect.objectContaining({ details: { purpose: 'tenant.delete' } }),
    ]);
    expect(await platformEventsBy('auth.step-up.refused', owner.userId)).toEqual([
      expect.objectContaining({ details: { purpose: 'tenant.delete', reason: 'unknown' } }),
    ]);
  });

  it('two concurrent uses of one token: exactly one succeeds', async () => {
    // Prepare
    const owner = await passkeyOnlyUser('su-race');
    const tenants = [await createTenant(api, owner, 'One'), await createTenant(api, owner, 'Two')];
    const token = await stepUpToken(owner.token, owner.device);

    // Act: both deletions at once with the same token
    const answers = await Promise.all(
      tenants.map((tenantId) => deleteTenant(owner.token, tenantId, { stepUpToken: token })),
    );

    // Assess: one 204, one 401; one tenant left
    expect(answers.map((a) => a.status).sort()).toEqual([204, 401]);
    expectStepUpRefused(answers.find((a) => a.status === 401)!);
    const left = await Promise.all(tenants.map((t) => tenantExists(owner.token, t)));
    expect(left.filter(Boolean)).toHaveLength(1);
  });

  it("refuses another session's token, another user's token and an expired one, spending none of them", async () => {
    // Prepare: the owner's token in one passkey session, a second session of the owner, another user
    const owner = await passkeyOnlyUser('su-owner2');
    const tenantId = await createTenant(api, owner, 'Kept');
    const token = await stepUpToken(owner.token, owner.device);
    const otherSession = await passkeySession(owner.device);
    const stranger = await passkeyOnlyUser('su-stranger');
    const strangersTenant = await createTenant(api, stranger, 'Theirs');
    const expired = `sru_${newSecret()}`;
    await functionRuntime().dynamo.send(
      new PutCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Item: {
          ...stepUpKey(hashSecret(expired)),
          userId: owner.userId,
          sessionId: (await stepUpItem(token))!.sessionId,
          passkeyId: (await stepUpItem(token))!.passkeyId,
          createdAt: new Date(Date.now() - 6 * 60_000).toISOString(),
          expiresAt: Date.now() - 60_000,
        },
      }),
    );

    // Act
    const fromOtherSession = await deleteTenant(otherSession, tenantId, { stepUpToken: token });
    const fromOtherUser = await deleteTenant(stranger.token, strangersTenant, { stepUpToken: token });
    const late = await deleteTenant(owner.token, tenantId, { stepUpToken: expired });
    const unknown = await deleteTenant(owner.token, tenantId, { stepUpToken: `sru_${newSecret()}` });

    // Assess: all refused, nothing deleted, the real token still there and still good in its own session
    for (const res of [fromOtherSession, fromOtherUser, late, unknown]) expectStepUpRefused(res);
    expect(await tenantExists(owner.token, tenantId)).toBe(true);
    expect(await tenantExists(stranger.token, strangersTenant)).toBe(true);
    expect(await stepUpItem(token)).toBeDefined();
    expect(await stepUpItem(expired)).toBeDefined();
    const reasons = [
      ...(await platformEventsBy('auth.step-up.refused', owner.userId)),
      ...(await platformEventsBy('auth.step-up.refused', stranger.userId)),
    ].map((e) => e.details.reason);
    expect(reasons.sort()).toEqual(['expired', 'other-session', 'other-user', 'unknown']);
    expect((await deleteTenant(owner.token, tenantId, { stepUpToken: token })).status).toBe(204);
  });

  it('removes TOTP and changes the password of an account with TOTP and a passkey, each with its own token', async () => {
    // Prepare: TOTP on (an MFA session), then a passkey added in that session
    const user = await signUp(api, 'su-both');
    const mfa = await enableMfa(api, user);
    const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    const options = (await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token }))
      .body;
    ok(
      await api.request('POST', '/v1/me/passkeys', {
        token: user.token,
        body: {
          challengeId: options.challengeId,
          credential: device.register(options.options),
          name: 'Key',
          currentPassword: user.password,
          recoveryCode: mfa.recoveryCodes[0],
        },
      }),
      201,
      'add passkey',
    );

    // Act: a password change with a token, then TOTP removal with another one
    const changed = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: {
        currentPassword: user.password,
        newPassword: 'a-new-password-long-enough',
        stepUpToken: await stepUpToken(user.token, device),
      },
    });
    const removeToken = await stepUpToken(user.token, device);
    const removed = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: user.token,
      body: { stepUpToken: removeToken },
    });

    // Assess
    expect(changed.status, changed.text).toBe(200);
    expect(removed.status, removed.text).toBe(204);
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user.mfaEnabled).toBe(false);
    expect((await platformEventsBy('auth.step-up.used', user.userId)).map((e) => e.details.purpose)).toEqual(
      expect.arrayContaining(['password.change', 'mfa.remove']),
    );
    // A code of the removed secret is no factor any more: the passkey still is one, so the code is checked
    // (and refused), not ignored
    const after = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: {
        currentPassword: 'a-new-password-long-enough',
        newPassword: 'another-password-long-enough',
        mfaCode: totpCodeAt(mfa.secret, Date.now() + 30_000),
      },
    });
    expect(after.status, after.text).toBe(401);
    expect(problemType(after)).toBe('invalid-mfa-code');
    expect((await platformEventsBy('auth.password.changed', user.userId)).length).toBe(1);
  });

  it("a passkey-only account's password change needs an MFA session and a step-up token; a factor the account lacks is refused, not ignored", async () => {
    // Prepare: a passkey-only user (its password session and its passkey session), a token of the latter,
    // and a password-only user
    const user = await passkeyOnlyUser('su-pw');
    const token = await stepUpToken(user.token, user.device);
    const plain = await signUp(api, 'su-plain');
    const change = (session: string, extra: Record<string, unknown>) =>
      api.request('POST', '/v1/me/password', {
        token: session,
        body: { currentPassword: user.password, newPassword: 'a-new-password-long-enough', ...extra },
      });

    // Act: the attack (stolen password session + the password), with and without the stolen token, then
    // the MFA session without a factor, then a password-only account sending a factor
    const passwordOnly = await change(user.passwordToken, {});
    const passwordWithToken = await change(user.passwordToken, { stepUpToken: token });
    const noFactor = await change(user.token, {});
    const plainWithCode = await api.request('POST', '/v1/me/password', {
      token: plain.token,
      body: { currentPassword: plain.password, newPassword: 'a-new-password-long-enough', mfaCode: '123456' },
    });

    // Assess: nothing changed, the token is unspent, the password session still works
    expect(passwordOnly.status, passwordOnly.text).toBe(403);
    expect(problemType(passwordOnly)).toBe('mfa-session-required');
    expect(passwordWithToken.status, passwordWithToken.text).toBe(403);
    expect(problemType(passwordWithToken)).toBe('mfa-session-required');
    expect(noFactor.status, noFactor.text).toBe(400);
    expect(noFactor.body.errors).toEqual([{ path: 'body.stepUpToken', message: expect.any(String) }]);
    expect(plainWithCode.status, plainWithCode.text).toBe(400);
    expect(plainWithCode.body.errors).toEqual([{ path: 'body.mfaCode', message: expect.any(String) }]);
    expect(await stepUpItem(token)).toBeDefined();
    expect(await platformEventsBy('auth.password.changed', user.userId)).toEqual([]);
    expect(await platformEventsBy('auth.password.changed', plain.userId)).toEqual([]);
    expect((await api.request('GET', '/v1/me', { token: user.passwordToken })).status).toBe(200);

    // Act: the passkey session with its token
    const changed = await change(user.token, { stepUpToken: token });

    // Assess: changed once; the password session is signed out; the token is spent
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body.revokedSessions).toBe(1);
    expect((await api.request('GET', '/v1/me', { token: user.passwordToken })).status).toBe(401);
    expect(await stepUpItem(token)).toBeUndefined();
    expect(await platformEventsBy('auth.step-up.used', user.userId)).toEqual([
      expect.objectContaining({ details: { purpose: 'password.change' } }),
    ]);
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user).toMatchObject({ mfaEnabled: false, passkeyCount: 1 });
  });

  it("a passkey-only account's password session cannot change its factors: adding or removing a passkey and confirming TOTP need an MFA session", async () => {
    // Prepare: a passkey-only user; the attacker holds a password session (the password alone signs in)
    const user = await passkeyOnlyUser('su-factors');
    const passkeyId = (await api.request('GET', '/v1/me/passkeys', { token: user.token })).body.items[0]
      .passkeyId as string;
    const attacker = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    const addFrom = async (
      token: string,
      device: SoftwareAuthenticator,
      name: string,
      factor: { stepUpToken?: string } = {},
    ) => {
      const options = await api.request('POST', '/v1/me/passkeys/registration-options', { token });
      if (options.status !== 200) return options;
      return api.request('POST', '/v1/me/passkeys', {
        token,
        body: {
          challengeId: options.body.challengeId,
          credential: device.register(options.body.options),
          name,
          currentPassword: user.password,
          ...factor,
        },
      });
    };

    // Act: the three ways to a second factor of the attacker's own, from the password session
    const added = await addFrom(user.passwordToken, attacker, 'Attacker');
    const removed = await api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, {
      token: user.passwordToken,
      body: { currentPassword: user.password },
    });
    const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: user.passwordToken });
    const confirmed = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.passwordToken,
      body: { code: totpCodeAt(enrol.body.secret, Date.now()), currentPassword: user.password },
    });

    // Assess: each refused 403 mfa-session-required; the account's factors are as they were
    for (const [name, res] of Object.entries({ added, removed, confirmed })) {
      expect(res.status, `${name}: ${res.text}`).toBe(403);
      expect(problemType(res), name).toBe('mfa-session-required');
    }
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user).toMatchObject({ mfaEnabled: false, passkeyCount: 1 });
    expect(await platformEventsBy('auth.passkey.registered', user.userId)).toHaveLength(1);
    expect(await platformEventsBy('auth.mfa.enrolled', user.userId)).toEqual([]);

    // Act / Assess: the owner's passkey (MFA) session can
    const second = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    const ownAdd = await addFrom(user.token, second, 'Phone', {
      stepUpToken: await stepUpToken(user.token, user.device),
    });
    expect(ownAdd.status, ownAdd.text).toBe(201);
  });

  it('refuses a step-up from a session that did not prove a second factor, and an API key on every route that takes a token', async () => {
    // Prepare: the passkey-only owner's password session, and an owner API key
    const owner = await passkeyOnlyUser('su-weak');
    const tenantId = await createTenant(api, owner, 'Keyed');
    const key = ok(
      await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
        token: owner.token,
        body: { name: 'k', scopes: ['tenant:delete', 'tenant:read'] },
      }),
      201,
      'api key',
    ).body.key as string;
    const token = await stepUpToken(owner.token, owner.device);

    // Act
    const weakOptions = await api.request('POST', '/v1/me/step-up/passkey/options', {
      token: owner.passwordToken,
    });
    const keyOptions = await api.request('POST', '/v1/me/step-up/passkey/options', { token: key });
    const keyStepUp = await api.request('POST', '/v1/me/step-up/passkey', {
      token: key,
      body: { challengeId: 'x', credential: {} },
    });
    const keyDelete = await deleteTenant(key, tenantId, { stepUpToken: token });
    const weakDelete = await deleteTenant(owner.passwordToken, tenantId, { stepUpToken: token });

    // Assess: refused with exact statuses; the tenant and the token are still there
    expect(weakOptions.status, weakOptions.text).toBe(403);
    expect(problemType(weakOptions)).toBe('mfa-session-required');
    for (const res of [keyOptions, keyStepUp, keyDelete]) {
      expect(res.status, res.text).toBe(403);
      expect(problemType(res)).toBe('session-required');
    }
    expect(weakDelete.status, weakDelete.text).toBe(403);
    expect(problemType(weakDelete)).toBe('mfa-session-required');
    expect(await tenantExists(owner.token, tenantId)).toBe(true);
    expect(await stepUpItem(token)).toBeDefined();
  });

  it('refuses assertions that do not verify, challenges of another session, and malformed or oversized input, naming the field', async () => {
    // Prepare
    const owner = await passkeyOnlyUser('su-bad');
    const stranger = await passkeyOnlyUser('su-bad-stranger');
    const tenantId = await createTenant(api, owner, 'Bad');

    // Act
    const noUv = await stepUp(owner.token, owner.device, { userVerified: false });
    const wrongOrigin = await stepUp(owner.token, owner.device, { origin: 'https://evil.example' });
    const strangersKey = await stepUp(owner.token, stranger.device);
    const theirs = await stepUpOptions(stranger.token);
    const foreignChallenge = await api.request('POST', '/v1/me/step-up/passkey', {
      token: owner.token,
      body: { challengeId: theirs.challengeId, credential: owner.device.assert(theirs.options) },
    });
    const malformedToken = await deleteTenant(owner.token, tenantId, { stepUpToken: 'sru_short' });
    const twoFactors = await deleteTenant(owner.token, tenantId, {
      stepUpToken: `sru_${newSecret()}`,
      mfaCode: '123456',
    });
    const oversized = await api.request('POST', '/v1/me/step-up/passkey', {
      token: owner.token,
      body: { challengeId: 'a'.repeat(65), credential: {} },
    });

    // Assess
    for (const res of [noUv, wrongOrigin, strangersKey]) {
      expect(res.status, res.text).toBe(401);
      expect(problemType(res)).toBe('invalid-passkey');
      expect(res.body.errors[0].path).toBe('body.credential');
    }
    expect(foreignChallenge.status, foreignChallenge.text).toBe(400);
    expect(problemType(foreignChallenge)).toBe('passkey-challenge-invalid');
    expect(malformedToken.status).toBe(400);
    expect(malformedToken.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.stepUpToken']);
    expect(twoFactors.status).toBe(400);
    expect(twoFactors.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.mfaCode']);
    expect(oversized.status).toBe(400);
    expect(oversized.body.errors.map((e: { path: string }) => e.path)).toContain('body.challengeId');
    expect(await tenantExists(owner.token, tenantId)).toBe(true);
    const checks = (await platformEventsBy('auth.step-up.refused', owner.userId)).map((e) => e.details.check);
    expect(checks.sort()).toEqual(['origin', 'unknown-credential', 'user-verification']);
  });
});

describe('removing the last second factor', () => {
  const removePasskey = (token: string, passkeyId: string, body: Record<string, unknown>) =>
    api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, { token, body });
  const passkeyIdsOf = async (token: string) =>
    ((await api.request('GET', '/v1/me/passkeys', { token })).body.items as { passkeyId: string }[]).map(
      (p) => p.passkeyId,
    );

  it("a stolen passkey session plus the password no longer drops a passkey-only account's last passkey: it needs a step-up token of that session (review11 F1 residual)", async () => {
    // Prepare: a passkey-only owner; the attacker holds one of its passkey sessions (a stolen cookie) and
    // the password. A spent token (used for a tenant deletion), another session's and another user's.
    const owner = await passkeyOnlyUser('su-last');
    const [passkeyId] = await passkeyIdsOf(owner.token);
    const stolen = await passkeySession(owner.device);
    const spent = await stepUpToken(stolen, owner.device);
    const tenantId = await createTenant(api, { ...owner, token: stolen }, 'Spent on');
    ok(await deleteTenant(stolen, tenantId, { stepUpToken: spent }), 204, 'tenant deleted with the token');
    const otherSessions = await stepUpToken(owner.token, owner.device);
    const stranger = await passkeyOnlyUser('su-last-stranger');
    const strangers = await stepUpToken(stranger.token, stranger.device);
    const removalsBefore = await platformEventsBy('auth.passkey.removed', owner.userId);

    // Act: the probe's chain — remove the only passkey, then change the password with no factor
    const noToken = await removePasskey(stolen, passkeyId!, { currentPassword: owner.password });
    const changed = await api.request('POST', '/v1/me/password', {
      token: stolen,
      body: { currentPassword: owner.password, newPassword: 'attacker-owns-this-now!' },
    });

    // Assess: 400 naming body.stepUpToken; the password change still wants a factor (the passkey is there)
    expect(noToken.status, noToken.text).toBe(400);
    expect(noToken.body.errors).toEqual([{ path: 'body.stepUpToken', message: expect.any(String) }]);
    expect(changed.status, changed.text).toBe(400);
    expect(changed.body.errors).toEqual([{ path: 'body.stepUpToken', message: expect.any(String) }]);

    // Act: a spent token, another session's, another user's, one that was never issued, a malformed one
    const refused = {
      spent: await removePasskey(stolen, passkeyId!, { currentPassword: owner.password, stepUpToken: spent }),
      otherSession: await removePasskey(stolen, passkeyId!, {
        currentPassword: owner.password,
        stepUpToken: otherSessions,
      }),
      otherUser: await removePasskey(stolen, passkeyId!, {
        currentPassword: owner.password,
        stepUpToken: strangers,
      }),
      unknown: await removePasskey(stolen, passkeyId!, {
        currentPassword: owner.password,
        stepUpToken: `sru_${newSecret()}`,
      }),
    };
    const malformed = await removePasskey(stolen, passkeyId!, {
      currentPassword: owner.password,
      stepUpToken: 'not-a-token',
    });

    // Assess: each 401 step-up-invalid naming the field (malformed: 400 naming it); the passkey still
    // there, no removal audited, the others' tokens unspent, every refusal in the platform log
    for (const res of Object.values(refused)) expectStepUpRefused(res);
    expect(malformed.status, malformed.text).toBe(400);
    expect(malformed.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.stepUpToken']);
    expect(await passkeyIdsOf(owner.token)).toEqual([passkeyId]);
    expect(await platformEventsBy('auth.passkey.removed', owner.userId)).toEqual(removalsBefore);
    expect(await stepUpItem(otherSessions)).toBeDefined();
    expect(await stepUpItem(strangers)).toBeDefined();
    const reasons = (await platformEventsBy('auth.step-up.refused', owner.userId))
      .concat(await platformEventsBy('auth.step-up.refused', stranger.userId))
      .filter((e) => e.details.purpose === 'passkey.remove')
      .map((e) => e.details.reason);
    expect(reasons.sort()).toEqual(['other-session', 'other-user', 'unknown', 'unknown']);

    // Act: the owner, with a fresh token of the session that removes
    const own = await stepUpToken(stolen, owner.device);
    const removed = await removePasskey(stolen, passkeyId!, {
      currentPassword: owner.password,
      stepUpToken: own,
    });

    // Assess: removed, the token spent for this purpose, the owner mailed as before
    expect(removed.status, removed.text).toBe(200);
    expect(await passkeyIdsOf(stolen)).toEqual([]);
    expect(await stepUpItem(own)).toBeUndefined();
    expect(
      (await platformEventsBy('auth.step-up.used', owner.userId)).map((e) => e.details.purpose),
    ).toContain('passkey.remove');
  });

  it('a passkey that is not the last second factor goes without a token, as before: one of two passkeys, or one beside TOTP', async () => {
    // Prepare: a passkey-only account with two passkeys (the second added from the first's session), and
    // a TOTP account with a passkey
    const two = await passkeyOnlyUser('su-two');
    const second = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    const options = ok(
      await api.request('POST', '/v1/me/passkeys/registration-options', { token: two.token }),
      200,
      'registration options',
    ).body;
    const added = ok(
      await api.request('POST', '/v1/me/passkeys', {
        token: two.token,
        body: {
          challengeId: options.challengeId,
          credential: second.register(options.options),
          name: 'Phone',
          currentPassword: two.password,
          stepUpToken: await stepUpToken(two.token, two.device),
        },
      }),
      201,
      'second passkey',
    );
    const withTotp = await signUp(api, 'su-totp-passkey');
    const withTotpMfa = await enableMfa(api, withTotp);
    const totpDevice = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    const totpOptions = ok(
      await api.request('POST', '/v1/me/passkeys/registration-options', { token: withTotp.token }),
      200,
      'registration options',
    ).body;
    const totpPasskey = ok(
      await api.request('POST', '/v1/me/passkeys', {
        token: withTotp.token,
        body: {
          challengeId: totpOptions.challengeId,
          credential: totpDevice.register(totpOptions.options),
          name: 'Key',
          currentPassword: withTotp.password,
          recoveryCode: withTotpMfa.recoveryCodes[0],
        },
      }),
      201,
      'passkey beside TOTP',
    );

    // Act
    const oneOfTwo = await removePasskey(two.token, added.body.passkey.passkeyId, {
      currentPassword: two.password,
    });
    const besideTotp = await removePasskey(withTotp.token, totpPasskey.body.passkey.passkeyId, {
      currentPassword: withTotp.password,
    });

    // Assess: both removed; the remaining passkey is now the last factor and wants a token
    expect(oneOfTwo.status, oneOfTwo.text).toBe(200);
    expect(besideTotp.status, besideTotp.text).toBe(200);
    expect(await passkeyIdsOf(withTotp.token)).toEqual([]);
    const [last] = await passkeyIdsOf(two.token);
    const lastNoToken = await removePasskey(two.token, last!, { currentPassword: two.password });
    expect(lastNoToken.status, lastNoToken.text).toBe(400);
    expect(lastNoToken.body.errors[0].path).toBe('body.stepUpToken');
  });
});
