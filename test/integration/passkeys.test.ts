import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { userKey } from '../../shared/domain/item-layout.js';
import { createTenant, enableMfa, inboxApi, signUp, type TestUser } from '../support/identity-fixtures.js';
import { writeSession } from '../support/identity-items.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { type CeremonyOverrides, SoftwareAuthenticator } from '../support/passkey-authenticator.js';
import { platformEventsBy } from '../support/table-reads.js';

/**
 * Passkeys through the real routes, answered by a software authenticator (real P-256 keys, CBOR and
 * signatures): registering several, naming and removing them, signing in without a password as an MFA
 * session, and every way an answer can be wrong (another origin or relying party, no user verification,
 * a replayed challenge, a counter going backwards, another account's credential, a removed passkey, a
 * session too weak for the change).
 */
// The relying party the test functions derive from CONSOLE_URL (no PASSKEY_* override in these tests).
const ORIGIN = new URL(TEST_CONSOLE_URL).origin;
const RP_ID = new URL(TEST_CONSOLE_URL).hostname;

const api = useTestApi();
const authenticator = () => new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });

async function registrationOptions(user: { token: string }) {
  const res = await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token });
  expect(res.status, res.text).toBe(200);
  return res.body as { challengeId: string; options: Record<string, any> };
}

/** Registers a passkey of `device` on the user's account, in the user's session. */
async function addPasskey(
  user: TestUser,
  device: SoftwareAuthenticator,
  name = 'Laptop',
  overrides: CeremonyOverrides = {},
  factor: { mfaCode?: string; recoveryCode?: string; stepUpToken?: string } = {},
) {
  const { challengeId, options } = await registrationOptions(user);
  return api.request('POST', '/v1/me/passkeys', {
    token: user.token,
    body: {
      challengeId,
      credential: device.register(options, overrides),
      name,
      currentPassword: user.password,
      ...factor,
    },
  });
}

async function signInOptions() {
  const res = await api.request('POST', '/v1/auth/passkeys/options');
  expect(res.status, res.text).toBe(200);
  return res.body as { challengeId: string; options: Record<string, any> };
}

async function passkeySignIn(device: SoftwareAuthenticator, overrides: CeremonyOverrides = {}) {
  const { challengeId, options } = await signInOptions();
  return api.request('POST', '/v1/auth/passkeys/sign-in', {
    body: { challengeId, credential: device.assert(options, overrides) },
  });
}

async function passkeysOf(user: { token: string }) {
  const res = await api.request('GET', '/v1/me/passkeys', { token: user.token });
  expect(res.status, res.text).toBe(200);
  return res.body.items as { passkeyId: string; name: string; lastUsedAt: string | null }[];
}

async function signInsOf(user: { token: string }) {
  const res = await api.request('GET', '/v1/me/sign-ins', { token: user.token });
  expect(res.status, res.text).toBe(200);
  return res.body.items as { method: string; result: string; reason?: string }[];
}

/** Everything stored in the user's partition but the sign-in history (passkeys, profile, devices). */
async function accountItems(userId: string) {
  const { Items } = await functionRuntime().dynamo.send(
    new QueryCommand({
      TableName: process.env.IDENTITY_TABLE!,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': userKey(userId).pk },
      ConsistentRead: true,
    }),
  );
  return JSON.stringify((Items ?? []).filter((i) => !`${i.sk}`.startsWith('SIGN-IN#')));
}

/** A step-up token of session `token` (removing the account's last second factor needs one). */
async function stepUpToken(token: string, device: SoftwareAuthenticator): Promise<string> {
  const options = await api.request('POST', '/v1/me/step-up/passkey/options', { token });
  expect(options.status, options.text).toBe(200);
  const res = await api.request('POST', '/v1/me/step-up/passkey', {
    token,
    body: { challengeId: options.body.challengeId, credential: device.assert(options.body.options) },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.stepUpToken as string;
}

/** A user who signed in with a password, with a passkey registered in that session. */
async function userWithPasskey(label: string) {
  const user = await signUp(api, label);
  const device = authenticator();
  const added = await addPasskey(user, device);
  expect(added.status, added.text).toBe(201);
  return { user, device, passkeyId: added.body.passkey.passkeyId as string };
}

describe('registering passkeys', () => {
  it('adds several, lists them without key material, renames one; each addition ends the other sessions and mails the owner', async () => {
    // Prepare: a second session of the user, which the first addition must end
    const user = await signUp(api, 'pk-owner');
    const other = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(other.status).toBe(200);
    const laptop = authenticator();
    const phone = authenticator();

    // Act
    const first = await addPasskey(user, laptop, 'Laptop');
    // The account has a second factor now: further changes come from a session that proved it
    const strong = { ...user, token: (await passkeySignIn(laptop)).body.token as string };
    // ... and with a fresh one of it: a step-up with the first passkey
    const second = await addPasskey(
      strong,
      phone,
      'Phone',
      {},
      {
        stepUpToken: await stepUpToken(strong.token, laptop),
      },
    );
    const renamed = await api.request('PATCH', `/v1/me/passkeys/${second.body.passkey.passkeyId}`, {
      token: strong.token,
      body: { name: '  Work phone ' },
    });

    // Assess
    expect(first.status, first.text).toBe(201);
    expect(first.body.revokedSessions).toBe(1);
    expect(second.status, second.text).toBe(201);
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.name).toBe('Work phone');
    const list = await api.request('GET', '/v1/me/passkeys', { token: strong.token });
    expect(list.body.items.map((p: { name: string }) => p.name)).toEqual(['Laptop', 'Work phone']);
    expect(Object.keys(list.body.items[0]).sort()).toEqual(
      ['backedUp', 'createdAt', 'deviceType', 'lastUsedAt', 'name', 'passkeyId'].sort(),
    );
    expect(list.text).not.toContain(laptop.credentials[0]!.id);
    expect((await api.request('GET', '/v1/me', { token: other.body.token })).status).toBe(401);
    const mail = await takeMail(inboxApi(), user.email, /passkey was added/);
    expect(mail.text).toContain('Every other session was signed out');
    expect(await platformEventsBy('auth.passkey.registered', user.userId)).toHaveLength(2);
  });

  it.each([
    ['another origin', { origin: 'https://evil.example' }],
    ['another relying party id', { rpId: 'evil.example' }],
    ['no user verification', { userVerified: false }],
  ] as const)(
    'refuses an answer with %s: 400 naming body.credential, nothing stored',
    async (_, overrides) => {
      // Prepare
      const user = await signUp(api, 'pk-bent');
      const before = await accountItems(user.userId);
      // Act
      const res = await addPasskey(user, authenticator(), 'Bent', overrides);
      // Assess
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors).toEqual([
        { path: 'body.credential', message: 'The authenticator’s answer did not verify' },
      ]);
      expect(await accountItems(user.userId)).toBe(before);
      expect(await platformEventsBy('auth.passkey.refused', user.userId)).toHaveLength(1);
    },
  );

  it('answers a challenge once, only in the session that asked for it, and only with the right password', async () => {
    // Prepare
    const user = await signUp(api, 'pk-challenge');
    const second = await signUp(api, 'pk-challenge-b');
    const device = authenticator();
    const { challengeId, options } = await registrationOptions(user);
    const credential = device.register(options);
    const body = { challengeId, credential, name: 'Laptop', currentPassword: user.password };

    // Act
    const wrongPassword = await api.request('POST', '/v1/me/passkeys', {
      token: user.token,
      body: { ...body, currentPassword: 'not the password at all' },
    });
    const otherUser = await api.request('POST', '/v1/me/passkeys', {
      token: second.token,
      body: { ...body, currentPassword: second.password },
    });
    const replay = await api.request('POST', '/v1/me/passkeys', { token: user.token, body });

    // Assess: the wrong password spends nothing; the other account's attempt spends the challenge
    expect(wrongPassword.status).toBe(400);
    expect(wrongPassword.body.errors[0].path).toBe('body.currentPassword');
    expect(otherUser.status).toBe(400);
    expect(problemType(otherUser)).toBe('passkey-challenge-invalid');
    expect(replay.status).toBe(400);
    expect(problemType(replay)).toBe('passkey-challenge-invalid');
    expect(await passkeysOf(user)).toEqual([]);
    expect(await passkeysOf(second)).toEqual([]);
  });

  it('refuses malformed and oversized input naming the field', async () => {
    // Prepare: registration options, a credential, and each bad body with the field it must name
    const user = await signUp(api, 'pk-input');
    const { challengeId, options } = await registrationOptions(user);
    const credential = authenticator().register(options);
    const cases = [
      [{ challengeId, credential, name: '', currentPassword: user.password }, 'body.name'],
      [{ challengeId, credential, name: 'x'.repeat(65), currentPassword: user.password }, 'body.name'],
      [{ challengeId: 'not base64url!', credential, name: 'a', currentPassword: 'p' }, 'body.challengeId'],
      [
        { challengeId, credential: { ...credential, type: 'password' }, name: 'a', currentPassword: 'p' },
        'body.credential.type',
      ],
      [
        {
          challengeId,
          credential: { ...credential, response: { clientDataJSON: 'a'.repeat(5000) } },
          name: 'a',
          currentPassword: 'p',
        },
        'body.credential.response.clientDataJSON',
      ],
      [{ challengeId, name: 'a', currentPassword: 'p' }, 'body.credential'],
    ] as const;

    // Act / Assess
    for (const [body, path] of cases) {
      const res = await api.request('POST', '/v1/me/passkeys', { token: user.token, body });
      expect(res.status, path).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        path,
      ).toContain(path);
    }

    // Assess: no passkey stored
    expect(await passkeysOf(user)).toEqual([]);
  });
});

describe('signing in with a passkey', () => {
  it('starts an MFA session (method passkey) without a password, recorded in the history and the audit log', async () => {
    // Prepare
    const { user, device, passkeyId } = await userWithPasskey('pk-signin');
    // Act
    const res = await passkeySignIn(device);
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({ userId: user.userId, email: user.email });
    const session = { token: res.body.token as string };
    const sessions = await api.request('GET', '/v1/me/sessions', { token: session.token });
    const current = sessions.body.items.find((s: { current: boolean }) => s.current);
    expect(current).toMatchObject({ authMethod: 'passkey', mfa: true });
    expect((await signInsOf(session))[0]).toMatchObject({ method: 'passkey', result: 'succeeded' });
    expect((await passkeysOf(session)).find((p) => p.passkeyId === passkeyId)?.lastUsedAt).not.toBeNull();
    const [event] = await platformEventsBy('auth.sign-in.succeeded', user.userId).then((e) =>
      e.filter((x) => x.details.method === 'passkey'),
    );
    expect(event?.details).toEqual({ method: 'passkey', mfa: true, passkeyId });
  });

  it("satisfies a tenant's MFA requirement, where the same account's password session is refused", async () => {
    // Prepare: the owner turns requireMfa on from a passkey session
    const { user, device } = await userWithPasskey('pk-tenant');
    const tenantId = await createTenant(api, user, 'Passkey tenant');
    const passkeySession = (await passkeySignIn(device)).body.token as string;
    const set = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: passkeySession,
      body: { settings: { requireMfa: true } },
    });
    expect(set.status, set.text).toBe(200);
    const password = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    // Act
    const withPasskey = await api.request('GET', `/v1/tenants/${tenantId}`, { token: passkeySession });
    const withPassword = await api.request('GET', `/v1/tenants/${tenantId}`, { token: password.body.token });
    // Assess
    expect(withPasskey.status).toBe(200);
    expect(withPassword.status).toBe(403);
    expect(problemType(withPassword)).toBe('mfa-session-required');
  });

  it('takes a cookie session only from the console’s own origin', async () => {
    // Prepare
    const { device } = await userWithPasskey('pk-cookie');
    const { challengeId, options } = await signInOptions();
    const body = { challengeId, credential: device.assert(options), session: 'cookie' };

    // Act / Assess: asked from another site
    const crossSite = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body,
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);

    // Act / Assess: from the console's own origin, with a new challenge
    const again = await signInOptions();
    const sameOrigin = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId: again.challengeId, credential: device.assert(again.options), session: 'cookie' },
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.status, sameOrigin.text).toBe(200);
    expect(sameOrigin.body.token).toBeUndefined();
    expect(sameOrigin.headers.get('set-cookie')).toMatch(/^__Host-strongroom-session=srs\./);
  });

  it.each([
    ['another origin', { origin: 'https://evil.example' }],
    ['another relying party id', { rpId: 'evil.example' }],
    ['no user verification', { userVerified: false }],
  ] as const)(
    'refuses an answer with %s: 401, no session, a failure in the history',
    async (_, overrides) => {
      // Prepare
      const { user, device } = await userWithPasskey('pk-bent-signin');
      const sessionsBefore = (await api.request('GET', '/v1/me/sessions', { token: user.token })).body.items;
      // Act
      const res = await passkeySignIn(device, overrides);
      // Assess
      expect(res.status, res.text).toBe(401);
      expect(problemType(res)).toBe('invalid-passkey');
      expect((await api.request('GET', '/v1/me/sessions', { token: user.token })).body.items).toEqual(
        sessionsBefore,
      );
      expect((await signInsOf(user))[0]).toMatchObject({
        method: 'passkey',
        result: 'failed',
        reason: 'bad-credentials',
      });
    },
  );

  it('answers each challenge once: a replayed answer and a reused challenge are refused', async () => {
    // Prepare
    const { device } = await userWithPasskey('pk-replay');
    const { challengeId, options } = await signInOptions();
    const credential = device.assert(options);
    // Act
    const first = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId, credential },
    });
    const replay = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId, credential },
    });
    const reused = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId, credential: device.assert(options) },
    });
    const unknown = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId: 'AAAAAAAAAAAAAAAAAAAAAA', credential: device.assert(options) },
    });
    // Assess
    expect(first.status, first.text).toBe(200);
    for (const res of [replay, reused, unknown]) {
      expect(res.status).toBe(400);
      expect(problemType(res)).toBe('passkey-challenge-invalid');
    }
  });

  it('refuses a challenge issued for registration', async () => {
    // Prepare: a challenge issued for registration
    const { user, device } = await userWithPasskey('pk-ceremony');
    const { challengeId, options } = await registrationOptions(user);

    // Act
    const res = await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId, credential: device.assert({ ...options, rpId: RP_ID }) },
    });

    // Assess
    expect(res.status).toBe(400);
    expect(problemType(res)).toBe('passkey-challenge-invalid');
  });

  it('refuses a counter that does not move forward (a cloned authenticator), and logs which check failed', async () => {
    // Prepare: one sign-in with counter 5
    const { user, device } = await userWithPasskey('pk-counter');
    expect((await passkeySignIn(device, { counter: 5 })).status).toBe(200);
    // Act
    const same = await passkeySignIn(device, { counter: 5 });
    const lower = await passkeySignIn(device, { counter: 3 });
    const higher = await passkeySignIn(device, { counter: 6 });
    // Assess
    expect(same.status).toBe(401);
    expect(lower.status).toBe(401);
    expect(higher.status, higher.text).toBe(200);
    const failed = await platformEventsBy('auth.sign-in.failed', user.userId);
    expect(failed.map((e) => e.details.check)).toEqual(['counter', 'counter']);
  });

  it("refuses another account's credential, either way round", async () => {
    // Prepare: two accounts, each with its own passkey on one authenticator
    const victim = await userWithPasskey('pk-victim');
    const attacker = await userWithPasskey('pk-attacker');
    const victimHandle = victim.device.credentials[0]!.userHandle;
    const attackerCredential = attacker.device.credentials[0]!.id;
    // Act: the attacker's credential claiming the victim's account
    const claimed = await passkeySignIn(attacker.device, { userHandle: victimHandle });
    // Assess: audited below, but nothing in the victim's own history (anyone can name an account id)
    expect((await signInsOf(victim.user)).filter((e) => e.result === 'failed')).toEqual([]);
    // Act: the victim's credential id, signed with the attacker's key, on the victim's account
    attacker.device.credentials.push({
      ...victim.device.credentials[0]!,
      privateKey: attacker.device.credentials[0]!.privateKey,
    });
    const forged = await passkeySignIn(attacker.device, {
      credentialId: victim.device.credentials[0]!.id,
      signWith: attackerCredential,
    });
    // Assess
    expect(claimed.status).toBe(401);
    expect(problemType(claimed)).toBe('invalid-passkey');
    expect(forged.status).toBe(401);
    const failed = await platformEventsBy('auth.sign-in.failed', victim.user.userId);
    expect(failed.map((e) => e.details.check).sort()).toEqual(['signature', 'unknown-credential']);
  });

  it('refuses a removed passkey, and its removal ends the sessions it signed in', async () => {
    // Prepare: two sessions signed in with the passkey; the removal comes from the first (an MFA session:
    // the account's only second factor is that passkey, so it also steps up)
    const { user, device, passkeyId } = await userWithPasskey('pk-removed');
    const removing = (await passkeySignIn(device)).body.token as string;
    const passkeySession = (await passkeySignIn(device)).body.token as string;
    const stepUp = await stepUpToken(removing, device);
    // Act
    const removed = await api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, {
      token: removing,
      body: { currentPassword: user.password, stepUpToken: stepUp },
    });
    const after = await passkeySignIn(device);
    // Assess: the other passkey session and the password session ended
    expect(removed.status, removed.text).toBe(200);
    expect(removed.body.revokedSessions).toBe(2);
    expect((await api.request('GET', '/v1/me', { token: passkeySession })).status).toBe(401);
    expect((await api.request('GET', '/v1/me', { token: user.token })).status).toBe(401);
    expect(after.status).toBe(401);
    expect(problemType(after)).toBe('invalid-passkey');
    expect(await passkeysOf({ token: removing })).toEqual([]);
    await takeMail(inboxApi(), user.email, /passkey was removed/);
  });
});

describe('who may change passkeys', () => {
  it("answers 404 to another account's passkey id, and changes nothing", async () => {
    // Prepare
    const owner = await userWithPasskey('pk-404-owner');
    const other = await signUp(api, 'pk-404-other');
    const before = await accountItems(owner.user.userId);

    // Act: another account renames and removes it
    const rename = await api.request('PATCH', `/v1/me/passkeys/${owner.passkeyId}`, {
      token: other.token,
      body: { name: 'mine now' },
    });
    const remove = await api.request('DELETE', `/v1/me/passkeys/${owner.passkeyId}`, {
      token: other.token,
      body: { currentPassword: other.password },
    });

    // Assess: 404 both, and the owner's items unchanged
    expect(rename.status).toBe(404);
    expect(remove.status).toBe(404);
    expect(await accountItems(owner.user.userId)).toBe(before);
  });

  it('with MFA on, refuses a password-only session (even with the right password) and accepts an MFA one', async () => {
    // Prepare: a TOTP user, and a password-only session written under the current epoch (as if it had
    // got past the revocation at enrolment: the defence in depth)
    const user = await signUp(api, 'pk-strength');
    const mfa = await enableMfa(api, user);
    const weak = { ...user, token: await writeSession(user, { userAgent: 'password-only' }) };
    const device = authenticator();

    // Act
    const weakAdd = await addPasskey(weak, device, 'Laptop', {}, { recoveryCode: mfa.recoveryCodes[0]! });
    const strongAdd = await addPasskey(user, device, 'Laptop', {}, { recoveryCode: mfa.recoveryCodes[1]! });

    // Assess
    expect(weakAdd.status).toBe(403);
    expect(problemType(weakAdd)).toBe('mfa-session-required');
    expect(strongAdd.status, strongAdd.text).toBe(201);

    // Act: a password-only session again (the addition moved the epoch), now trying to remove it
    const weakToken2 = await writeSession(user, { userAgent: 'password-only' });
    const weakRemove = await api.request('DELETE', `/v1/me/passkeys/${strongAdd.body.passkey.passkeyId}`, {
      token: weakToken2,
      body: { currentPassword: user.password },
    });
    expect(weakRemove.status).toBe(403);
    expect(problemType(weakRemove)).toBe('mfa-session-required');
    expect(await passkeysOf(user)).toHaveLength(1);
  });

  it('wants the current password to remove a passkey', async () => {
    // Prepare: a session signed in with the passkey (removing the only second factor needs one)
    const { user, device, passkeyId } = await userWithPasskey('pk-remove-password');
    const strong = { token: (await passkeySignIn(device)).body.token as string };
    const stepUp = await stepUpToken(strong.token, device);

    // Act
    const res = await api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, {
      token: strong.token,
      body: { currentPassword: 'not the password at all', stepUpToken: stepUp },
    });

    // Assess: the field named, the passkey kept, and the token not spent (the password is checked first)
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('body.currentPassword');
    expect(await passkeysOf(strong)).toHaveLength(1);

    // Act / Assess: with the right password, the same token works
    const retried = await api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, {
      token: strong.token,
      body: { currentPassword: user.password, stepUpToken: stepUp },
    });
    expect(retried.status, retried.text).toBe(200);
  });
});
