import { describe, expect, it } from 'vitest';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { enableMfa, signUp, type TestUser } from '../support/identity-fixtures.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import { callbackBody, providerAccount, useTestOidcProvider } from '../support/oidc-provider.js';
import { SoftwareAuthenticator } from '../support/passkey-authenticator.js';
import { platformEventsBy } from '../support/table-reads.js';

/**
 * A new way into an account that has a second factor (another passkey, TOTP beside a passkey, a linked
 * identity provider) needs a fresh one of its factors, as removing one does (review12 F1, F2). Otherwise a
 * stolen MFA session and the password add the thief's factor first, and every "fresh factor" rule after it
 * (password change, TOTP removal, the last passkey, tenant deletion) is answered with the thief's own.
 */
const ORIGIN = new URL(TEST_CONSOLE_URL).origin;
const RP_ID = new URL(TEST_CONSOLE_URL).hostname;
const idp = useTestOidcProvider(async () => []);
const api = useTestApi();

type Factor = { mfaCode?: string; recoveryCode?: string; stepUpToken?: string };

function ok(res: TestResponse, status: number, what: string): TestResponse {
  expect(res.status, `${what}: ${res.text}`).toBe(status);
  return res;
}

const device = () => new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });

async function addPasskey(
  token: string,
  password: string,
  authenticator: SoftwareAuthenticator,
  name: string,
  factor: Factor = {},
) {
  const options = ok(
    await api.request('POST', '/v1/me/passkeys/registration-options', { token }),
    200,
    'registration options',
  ).body;
  return api.request('POST', '/v1/me/passkeys', {
    token,
    body: {
      challengeId: options.challengeId,
      credential: authenticator.register(options.options),
      name,
      currentPassword: password,
      ...factor,
    },
  });
}

async function passkeySession(authenticator: SoftwareAuthenticator): Promise<string> {
  const options = ok(await api.request('POST', '/v1/auth/passkeys/options'), 200, 'sign-in options').body;
  return ok(
    await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId: options.challengeId, credential: authenticator.assert(options.options) },
    }),
    200,
    'passkey sign-in',
  ).body.token;
}

async function stepUpToken(token: string, authenticator: SoftwareAuthenticator): Promise<string> {
  const { challengeId, options } = ok(
    await api.request('POST', '/v1/me/step-up/passkey/options', { token }),
    200,
    'step-up options',
  ).body;
  return ok(
    await api.request('POST', '/v1/me/step-up/passkey', {
      token,
      body: { challengeId, credential: authenticator.assert(options) },
    }),
    201,
    'step-up',
  ).body.stepUpToken;
}

/** A passkey-only account: its passkey, and a session signed in with it (an MFA session). */
async function passkeyOnly(label: string): Promise<TestUser & { owned: SoftwareAuthenticator }> {
  const user = await signUp(api, label);
  const owned = device();
  ok(await addPasskey(user.token, user.password, owned, 'Laptop'), 201, 'own passkey');
  return { ...user, owned, token: await passkeySession(owned) };
}

const me = async (token: string) => ok(await api.request('GET', '/v1/me', { token }), 200, 'me').body.user;

function expectMissingFactor(res: TestResponse, field: 'body.mfaCode' | 'body.stepUpToken') {
  expect(res.status, res.text).toBe(400);
  expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
}

describe('adding a passkey to an account with a second factor', () => {
  it('a passkey-only account: refused without a fresh passkey confirmation, or with one of another session; the owner’s own step-up adds it', async () => {
    // Prepare: a passkey-only victim; the attacker holds a stolen passkey session and the password
    const victim = await passkeyOnly('af-pk');
    const stolen = victim.token;
    const ownSession = await passkeySession(victim.owned);
    const attacker = device();

    // Act: the attacker's passkey with no factor, then with a step-up token of the owner's other session
    const bare = await addPasskey(stolen, victim.password, attacker, 'Mine');
    const otherSessions = await addPasskey(stolen, victim.password, attacker, 'Mine', {
      stepUpToken: await stepUpToken(ownSession, victim.owned),
    });
    const aCode = await addPasskey(stolen, victim.password, attacker, 'Mine', { mfaCode: '123456' });

    // Assess: 400 naming stepUpToken, 401 step-up-invalid, 401 for a code the account cannot have; nothing
    // added and nobody signed out
    expectMissingFactor(bare, 'body.stepUpToken');
    expect(otherSessions.status, otherSessions.text).toBe(401);
    expect(problemType(otherSessions)).toBe('step-up-invalid');
    expect(aCode.status, aCode.text).toBe(401);
    expect((await me(stolen)).passkeyCount).toBe(1);
    expect(await platformEventsBy('auth.passkey.registered', victim.userId)).toHaveLength(1);
    expect((await api.request('GET', '/v1/me', { token: ownSession })).status).toBe(200);

    // Act / Assess: the owner, confirming with the passkey it has, adds a second one
    const phone = device();
    const added = await addPasskey(ownSession, victim.password, phone, 'Phone', {
      stepUpToken: await stepUpToken(ownSession, victim.owned),
    });
    expect(added.status, added.text).toBe(201);
    expect((await me(ownSession)).passkeyCount).toBe(2);
  });

  it('a TOTP account: refused without a code, with a wrong one; a recovery code or a current code adds it', async () => {
    // Prepare: a TOTP account whose MFA session is the attacker's
    const victim = await signUp(api, 'af-totp');
    const mfa = await enableMfa(api, victim);
    const attacker = device();

    // Act
    const bare = await addPasskey(victim.token, victim.password, attacker, 'Mine');
    const wrong = await addPasskey(victim.token, victim.password, attacker, 'Mine', { mfaCode: '000000' });

    // Assess: nothing added
    expectMissingFactor(bare, 'body.mfaCode');
    expect(wrong.status, wrong.text).toBe(401);
    expect(problemType(wrong)).toBe('invalid-mfa-code');
    expect((await me(victim.token)).passkeyCount).toBe(0);
    expect(await platformEventsBy('auth.passkey.registered', victim.userId)).toEqual([]);

    // Act / Assess: the owner's recovery code adds one, spent; then the next code adds another
    const withRecovery = await addPasskey(victim.token, victim.password, device(), 'Key', {
      recoveryCode: mfa.recoveryCodes[0],
    });
    expect(withRecovery.status, withRecovery.text).toBe(201);
    const reused = await addPasskey(victim.token, victim.password, device(), 'Key 2', {
      recoveryCode: mfa.recoveryCodes[0],
    });
    expect(reused.status, reused.text).toBe(401);
    const withCode = await addPasskey(victim.token, victim.password, device(), 'Key 2', {
      mfaCode: totpCodeAt(mfa.secret, Date.now() + 30_000),
    });
    expect(withCode.status, withCode.text).toBe(201);
    expect((await me(victim.token)).passkeyCount).toBe(2);
  });

  it('an account without a second factor adds its first passkey with the password alone, and is told to leave a factor out', async () => {
    // Prepare
    const user = await signUp(api, 'af-first');

    // Act
    const withFactor = await addPasskey(user.token, user.password, device(), 'Laptop', { mfaCode: '123456' });
    const first = await addPasskey(user.token, user.password, device(), 'Laptop');

    // Assess
    expect(withFactor.status, withFactor.text).toBe(400);
    expect(withFactor.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.mfaCode']);
    expect(first.status, first.text).toBe(201);
  });

  it('the review12 chain: a stolen passkey session and the password no longer take a passkey-only account', async () => {
    // Prepare
    const victim = await passkeyOnly('af-chain');
    const [victimPasskey] = ok(
      await api.request('GET', '/v1/me/passkeys', { token: victim.token }),
      200,
      'list',
    ).body.items as { passkeyId: string }[];

    // Act: add the attacker's passkey, then remove the victim's as if it were not the last
    const added = await addPasskey(victim.token, victim.password, device(), 'Mine');
    const removed = await api.request('DELETE', `/v1/me/passkeys/${victimPasskey!.passkeyId}`, {
      token: victim.token,
      body: { currentPassword: victim.password },
    });

    // Assess: neither happened
    expectMissingFactor(added, 'body.stepUpToken');
    expectMissingFactor(removed, 'body.stepUpToken');
    expect((await me(victim.token)).passkeyCount).toBe(1);
  });
});

describe('turning TOTP on beside a passkey', () => {
  it('needs a fresh passkey confirmation; a wrong code of the new secret does not spend it', async () => {
    // Prepare: a passkey-only account, TOTP enrolment started in its passkey session
    const user = await passkeyOnly('af-totp-on');
    const enrol = ok(await api.request('POST', '/v1/me/mfa/totp', { token: user.token }), 201, 'enrol');
    const code = () => totpCodeAt(enrol.body.secret, Date.now());

    // Act: no token; then a token with a wrong code; then the same token with the right code
    const bare = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code: code(), currentPassword: user.password },
    });
    const token = await stepUpToken(user.token, user.owned);
    const wrongCode = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: {
        code: code() === '000000' ? '111111' : '000000',
        currentPassword: user.password,
        stepUpToken: token,
      },
    });
    const confirmed = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code: code(), currentPassword: user.password, stepUpToken: token },
    });

    // Assess
    expectMissingFactor(bare, 'body.stepUpToken');
    expect(wrongCode.status, wrongCode.text).toBe(401);
    expect(problemType(wrongCode)).toBe('invalid-mfa-code');
    expect(confirmed.status, confirmed.text).toBe(200);
    expect((await me(user.token)).mfaEnabled).toBe(true);
    expect((await platformEventsBy('auth.step-up.used', user.userId)).map((e) => e.details.purpose)).toEqual([
      'mfa.enrol',
    ]);
  });
});

describe('linking an identity provider to an account with a second factor', () => {
  it('a passkey-only account: a password session is refused (link and unlink), a passkey session needs a step-up', async () => {
    // Prepare: a passkey-only owner; the attacker signs in with the password alone
    const owner = await passkeyOnly('af-link');
    const passwordSession = ok(
      await api.request('POST', '/v1/auth/login', { body: { email: owner.email, password: owner.password } }),
      200,
      'password sign-in',
    ).body.token as string;
    const link = (token: string, factor: Factor = {}) =>
      api.request('POST', '/v1/me/oidc/link', {
        token,
        body: { provider: 'test-idp', currentPassword: owner.password, ...factor },
      });

    // Act
    const fromPassword = await link(passwordSession);
    const bare = await link(owner.token);
    const started = await link(owner.token, { stepUpToken: await stepUpToken(owner.token, owner.owned) });
    const linked = await api.request('POST', '/v1/auth/oidc/callback', {
      body: await callbackBody(idp, started.body, providerAccount()),
    });

    // Assess: the password session gets 403, the bare passkey session 400, the stepped-up one links
    expect(fromPassword.status, fromPassword.text).toBe(403);
    expect(problemType(fromPassword)).toBe('mfa-session-required');
    expectMissingFactor(bare, 'body.stepUpToken');
    expect(started.status, started.text).toBe(200);
    expect(linked.status, linked.text).toBe(200);
    expect(linked.body.outcome).toBe('linked');

    // Act / Assess: the password session cannot unlink it either
    const [identity] = ok(
      await api.request('GET', '/v1/me/oidc/identities', { token: owner.token }),
      200,
      'list',
    ).body.items as { identityId: string }[];
    const unlink = await api.request('DELETE', `/v1/me/oidc/identities/${identity!.identityId}`, {
      token: passwordSession,
      body: { currentPassword: owner.password },
    });
    expect(unlink.status, unlink.text).toBe(403);
    expect(problemType(unlink)).toBe('mfa-session-required');
    expect(
      ok(await api.request('GET', '/v1/me/oidc/identities', { token: owner.token }), 200, 'list').body.items,
    ).toHaveLength(1);
  });

  it('a TOTP account links with a current code, not without one', async () => {
    // Prepare
    const owner = await signUp(api, 'af-link-totp');
    const mfa = await enableMfa(api, owner);

    // Act
    const bare = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: { provider: 'test-idp', currentPassword: owner.password },
    });
    const withCode = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: {
        provider: 'test-idp',
        currentPassword: owner.password,
        mfaCode: totpCodeAt(mfa.secret, Date.now() + 30_000),
      },
    });

    // Assess
    expectMissingFactor(bare, 'body.mfaCode');
    expect(withCode.status, withCode.text).toBe(200);
  });
});
