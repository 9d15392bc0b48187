/*
 * Linking a provider identity is adding a way into an account, and is held to what adding a passkey is:
 * a verified address, the current password, an MFA session with TOTP on, bound to the session that started
 * it, mailed to the owner, listed and removable. A password reset on an unverified account deletes links
 * (pre-account takeover). Claims from the provider obey the unsafe-text rule. (From the adversarial review
 * of the OIDC work: HIGH-1, MEDIUM-1, L3.)
 */
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { oidcIdentityKey } from '../../shared/domain/item-layout.js';
import { identityHash, OidcStore } from '../../shared/store/oidc-flows.js';
import {
  enableMfa,
  inboxApi,
  signUp,
  signUpUnverified,
  type TestUser,
} from '../support/identity-fixtures.js';
import { setEmailVerified, writeSession } from '../support/identity-items.js';
import { problemType, useTestApi } from '../support/local-api.js';
import {
  callbackBody,
  type ProviderAccount,
  providerAccount,
  useTestOidcProvider,
} from '../support/oidc-provider.js';
import { platformEventsBy } from '../support/table-reads.js';

const idp = useTestOidcProvider();
const api = useTestApi();

const startLink = (
  user: Pick<TestUser, 'token'>,
  currentPassword?: string,
  factor: { recoveryCode?: string } = {},
) =>
  api.request('POST', '/v1/me/oidc/link', {
    token: user.token,
    body: { provider: 'test-idp', ...(currentPassword === undefined ? {} : { currentPassword }), ...factor },
  });

/** Signs in at the provider for a started flow: the callback's body. */
function back(start: { body: { authorizationUrl: string; flowToken: string } }, as: ProviderAccount) {
  return callbackBody(idp, start.body, as);
}
const finish = (body: Record<string, unknown>) => api.request('POST', '/v1/auth/oidc/callback', { body });

/** A sign-in flow through the provider as `as`, finished. */
async function signInThroughProvider(as: ProviderAccount) {
  const start = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } });
  expect(start.status, start.text).toBe(200);
  return finish(await back(start, as));
}

/** Links `as` to `user`'s account with the password; asserts it worked. */
async function link(user: TestUser, as: ProviderAccount) {
  const start = await startLink(user, user.password);
  expect(start.status, start.text).toBe(200);
  const linked = await finish(await back(start, as));
  expect(linked.status, linked.text).toBe(200);
  expect(linked.body.outcome).toBe('linked');
}

const listIdentities = (user: Pick<TestUser, 'token'>) =>
  api.request('GET', '/v1/me/oidc/identities', { token: user.token });

/** Resets the password from the mailed link, as the owner of the address does. */
async function resetFromMail(email: string) {
  const asked = await api.request('POST', '/v1/auth/password-reset', { body: { email } });
  expect(asked.status, asked.text).toBe(202);
  const mail = await takeMail(inboxApi(), email, /^Reset your Strongroom password/);
  const reset = await api.request('POST', '/v1/auth/password-reset/confirm', {
    body: { token: linkIn(mail, '/reset-password').token, newPassword: 'the-owners-new-password-123!' },
  });
  expect(reset.status, reset.text).toBe(200);
}

describe('pre-account takeover through a linked identity', () => {
  it('refuses to start a link on an account whose address is unverified, and links nothing', async () => {
    // Prepare: someone registered an address they do not own (the verification mail is in its owner's inbox)
    const squatted = await signUpUnverified(api, 'link-squat');

    // Act
    const res = await startLink(squatted, squatted.password);

    // Assess: the tenant-creation refusal, nothing stored
    expect(res.status, res.text).toBe(403);
    expect(problemType(res)).toBe('email-unverified');
    expect((await listIdentities(squatted)).body.items).toEqual([]);
  });

  it('a link made while the address was unverified is deleted by the owner’s password reset', async () => {
    // Prepare: an account that got a link while unverified (made before the rule above: verified for the
    // link, unverified again), and the attacker's IdP identity signs in to it
    const victim = await signUpUnverified(api, 'link-victim');
    const attacker = providerAccount();
    await setEmailVerified(victim.userId, true);
    await link(victim, attacker);
    await setEmailVerified(victim.userId, false);
    const before = await signInThroughProvider(attacker);
    expect(before.status, before.text).toBe(200);
    expect(before.body.user.userId).toBe(victim.userId);

    // Act: the owner of the address takes the account back with a reset
    await resetFromMail(victim.email);
    const after = await signInThroughProvider(attacker);

    // Assess: the attacker's identity reaches the victim's account no more (it makes its own new account
    // from its own verified address), and the reset is audited as clearing the sign-in methods
    expect(after.status, after.text).toBe(200);
    expect(after.body.user.userId).not.toBe(victim.userId);
    expect(after.body.user.email).toBe(attacker.email);
    const [resetEvent] = await platformEventsBy('auth.password-reset.completed', victim.userId);
    expect(resetEvent?.details).toMatchObject({ signInMethodsCleared: true });
  });
});

describe('linking needs the password, an MFA session with TOTP, and the session that started it', () => {
  it('refuses a stolen session without the password (missing or wrong: 400 naming the field)', async () => {
    // Prepare: a verified owner whose session token someone else holds
    const owner = await signUp(api, 'link-stolen');

    // Act
    const missing = await startLink(owner);
    const wrong = await startLink(owner, 'not-the-password');

    // Assess
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: 'body.currentPassword' })]);
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([{ path: 'body.currentPassword', message: 'Wrong password' }]);
    expect((await listIdentities(owner)).body.items).toEqual([]);
  });

  it('with TOTP on, refuses a password-only session even with the right password and a code', async () => {
    // Prepare: a TOTP user, and a password-only session under the current epoch (defence in depth)
    const user = await signUp(api, 'link-weak');
    const mfa = await enableMfa(api, user);
    const weakToken = await writeSession(user, { userAgent: 'password-only' });

    // Act (the MFA session also sends a fresh factor, as adding any way into the account asks)
    const weak = await startLink({ token: weakToken }, user.password, { recoveryCode: mfa.recoveryCodes[0] });
    const strong = await startLink(user, user.password, { recoveryCode: mfa.recoveryCodes[1] });

    // Assess
    expect(weak.status).toBe(403);
    expect(problemType(weak)).toBe('mfa-session-required');
    expect(strong.status, strong.text).toBe(200);
  });

  it.each([
    ['signed out', (u: TestUser) => api.request('POST', '/v1/auth/logout', { token: u.token })],
    [
      'changed the password elsewhere',
      (u: TestUser) =>
        api.request('POST', '/v1/me/password', {
          token: u.token,
          body: { currentPassword: u.password, newPassword: 'another-long-password-1' },
        }),
    ],
    [
      'signed out everywhere else',
      (u: TestUser) => api.request('DELETE', '/v1/me/sessions', { token: u.token }),
    ],
  ])('a link is not made when the starting session %s before the callback', async (_what, act) => {
    // Prepare: a link started from one session; a second session of the same owner
    const owner = await signUp(api, 'link-late');
    const start = await startLink(owner, owner.password);
    expect(start.status, start.text).toBe(200);
    const body = await back(start, providerAccount());
    const other = await api.request('POST', '/v1/auth/login', {
      body: { email: owner.email, password: owner.password },
    });
    expect(other.status, other.text).toBe(200);

    // Act: the change, from the session that started the link or (sign out everywhere else) from another
    const actor = _what === 'signed out everywhere else' ? { ...owner, token: other.body.token } : owner;
    const changed = await act(actor);
    expect(changed.status, changed.text).toBeLessThan(300);
    const res = await finish(body);

    // Assess: refused, nothing linked
    expect(res.status, res.text).toBe(401);
    expect(problemType(res)).toBe('oidc-link-session-ended');
    const viewer = _what === 'signed out' ? other.body.token : actor.token;
    expect((await listIdentities({ token: viewer })).body.items).toEqual([]);
  });
});

describe('the owner sees, is told of, and removes links', () => {
  it('mails the owner, audits, lists the link, and unlinks it with the password', async () => {
    // Prepare
    const owner = await signUp(api, 'link-owner');
    const own = providerAccount();

    // Act: link
    await link(owner, own);

    // Assess: a notice, an audit event, the link listed (no subject)
    await takeMail(inboxApi(), owner.email, /^An identity provider was linked/);
    expect(await platformEventsBy('auth.sso.linked', owner.userId)).toHaveLength(1);
    const listed = await listIdentities(owner);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      {
        identityId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        provider: 'platform:test-idp',
        providerName: 'Test IdP',
        email: own.email,
        linkedAt: expect.any(String),
        active: true,
      },
    ]);
    const { identityId } = listed.body.items[0];

    // Act: someone else, a wrong password, and no password try to unlink; then the owner does
    const other = await signUp(api, 'link-other');
    const foreign = await api.request('DELETE', `/v1/me/oidc/identities/${identityId}`, {
      token: other.token,
      body: { currentPassword: other.password },
    });
    const wrong = await api.request('DELETE', `/v1/me/oidc/identities/${identityId}`, {
      token: owner.token,
      body: { currentPassword: 'wrong-password' },
    });
    const malformed = await api.request('DELETE', '/v1/me/oidc/identities/not-an-id', {
      token: owner.token,
      body: { currentPassword: owner.password },
    });
    const removed = await api.request('DELETE', `/v1/me/oidc/identities/${identityId}`, {
      token: owner.token,
      body: { currentPassword: owner.password },
    });

    // Assess: 404 for another's, 400 naming the field, then 204; the identity signs in to the owner no more
    expect(foreign.status).toBe(404);
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([{ path: 'body.currentPassword', message: 'Wrong password' }]);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([expect.objectContaining({ path: 'params.identityId' })]);
    expect(removed.status, removed.text).toBe(204);
    await takeMail(inboxApi(), owner.email, /^An identity provider was unlinked/);
    expect(await platformEventsBy('auth.sso.unlinked', owner.userId)).toHaveLength(1);
    expect((await listIdentities(owner)).body.items).toEqual([]);
    const again = await signInThroughProvider(own);
    expect(again.body.user?.userId).not.toBe(owner.userId);
  });
});

describe('claims from the provider obey the unsafe-text rule', () => {
  it.each([
    ['a bidi override and a zero-width space', 'Admin\u202Egnp.exe\u200B'],
    ['a lone surrogate', 'Odd \uD800 name'],
    ['a control character', 'Bell\u0007'],
    ['an overlong name', 'x'.repeat(201)],
  ])('replaces a display name with %s by the address’s local part (no 500)', async (_what, name) => {
    // Prepare
    const account = providerAccount({ name, email: `safe-name-${Date.now()}@example.test` });

    // Act
    const res = await signInThroughProvider(account);

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.name).toBe(account.email!.slice(0, account.email!.indexOf('@')));
  });

  it.each([
    ['a bidi override', `bidi\u202E-${Date.now()}@example.test`],
    ['a lone surrogate', `odd\uD800-${Date.now()}@example.test`],
    ['no @', 'not-an-address'],
    ['overlong', `${'a'.repeat(250)}@example.test`],
  ])('treats an address with %s as unverified: 403, no account', async (_what, email) => {
    // Prepare
    const account = providerAccount({ email });

    // Act
    const res = await signInThroughProvider(account);

    // Assess
    expect(res.status, res.text).toBe(403);
    expect(problemType(res)).toBe('oidc-email-unverified');
  });
});

describe('a linked identity is bound to its issuer', () => {
  it('a link made under another issuer for the same provider id signs in to nobody and shows inactive', async () => {
    // Prepare: the provider id once named another issuer, where the victim linked an identity whose
    // subject equals one at today's issuer
    const victim = await signUp(api, 'link-issuer');
    const sameSub = providerAccount();
    const oidc = new OidcStore(functionRuntime().dynamo, process.env.IDENTITY_TABLE!);
    await functionRuntime().dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          oidc.identityPut({
            providerKey: 'platform:test-idp',
            issuer: 'https://old-issuer.example',
            subject: sameSub.sub,
            userId: victim.userId,
            email: victim.email,
            linkedAt: new Date().toISOString(),
          }) as never,
        ],
      }),
    );

    // Act: today's issuer's user with that subject signs in
    const res = await signInThroughProvider(sameSub);

    // Assess: not the victim's account (a new one from its own verified address); the old link is listed
    // to the victim as inactive
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.userId).not.toBe(victim.userId);
    const listed = await listIdentities(victim);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ provider: 'platform:test-idp', active: false }),
    ]);
  });

  it('refuses a link whose stored issuer differs from the configured one, even under the current key', async () => {
    // Prepare: an item under today's key naming another issuer (a tampered or migrated item)
    const victim = await signUp(api, 'link-issuer-item');
    const account = providerAccount();
    await functionRuntime().dynamo.send(
      new PutCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Item: {
          ...oidcIdentityKey('platform:test-idp', identityHash(idp.issuer, account.sub)),
          providerKey: 'platform:test-idp',
          issuer: 'https://old-issuer.example',
          subject: account.sub,
          userId: victim.userId,
          email: victim.email,
          linkedAt: new Date().toISOString(),
        },
      }),
    );

    // Act
    const res = await signInThroughProvider(account);

    // Assess
    expect(res.status, res.text).toBe(401);
    expect(problemType(res)).toBe('oidc-token-rejected');
    expect(res.body.token).toBeUndefined();
  });
});
