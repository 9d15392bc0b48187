import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { linkIn, mailsTo, takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { mailTokenKey } from '../../shared/domain/item-layout.js';
import {
  enableMfa,
  inboxApi,
  signUp,
  signUpUnverified,
  type TestUser,
} from '../support/identity-fixtures.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import {
  callbackBody,
  type ProviderAccount,
  providerAccount,
  useTestOidcProvider,
} from '../support/oidc-provider.js';
import { partitionItems, platformEventsBy } from '../support/table-reads.js';

/**
 * E-mail-confirmed linking, against the real oidc-provider and the local SMTP inbox: an OIDC sign-in that
 * asserts a verified address belonging to a verified account (and no link) mails that account a single-use
 * link; confirming it with the account's password links the identity. Unverified accounts never get one
 * (the pre-account takeover), tokens work once, for 30 minutes, for the account they were mailed to.
 */
const idp = useTestOidcProvider();
const api = useTestApi();

const LINK_SUBJECT = /^Confirm signing in to Strongroom with Test IdP/;

/** A sign-in through the provider as `account`, to the callback's answer. */
async function signInThroughProvider(account: ProviderAccount): Promise<TestResponse> {
  const start = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } });
  expect(start.status, start.text).toBe(200);
  return api.request('POST', '/v1/auth/oidc/callback', {
    body: await callbackBody(idp, start.body, account),
  });
}

/** The link-confirmation token mailed to `user` (read from the inbox). */
async function mailedToken(
  user: Pick<TestUser, 'email'>,
): Promise<{ token: string; text: string; html: string }> {
  const mail = await takeMail(inboxApi(), user.email, LINK_SUBJECT);
  return { token: linkIn(mail, '/confirm-sso-link').token, text: mail.text, html: mail.html };
}

const confirm = (body: Record<string, unknown>) =>
  api.request('POST', '/v1/auth/oidc/link/confirm', { body });

async function identitiesOf(user: Pick<TestUser, 'token'>) {
  const res = await api.request('GET', '/v1/me/oidc/identities', { token: user.token });
  expect(res.status, res.text).toBe(200);
  return res.body.items as { provider: string; email: string }[];
}

describe('linking a provider identity confirmed by e-mail', () => {
  it('mails a verified account a single-use link; confirming it with the password links once, and the identity then signs in', async () => {
    // Prepare: a verified account, and an identity at the provider asserting its address (verified)
    const owner = await signUp(api, 'mail-link');
    const identity = providerAccount({ email: owner.email, email_verified: true });

    // Act: the sign-in, then the confirmation with the mailed token
    const refused = await signInThroughProvider(identity);
    const mail = await mailedToken(owner);
    const linked = await confirm({ token: mail.token, currentPassword: owner.password });
    const replay = await confirm({ token: mail.token, currentPassword: owner.password });
    const signedIn = await signInThroughProvider(identity);

    // Assess: 409 first (no session), a mail with only the one-time link, the link, a notice, the replay refused
    expect(refused.status, refused.text).toBe(409);
    expect(problemType(refused)).toBe('oidc-link-required');
    expect(refused.body.token).toBeUndefined();
    expect(mail.text).toContain('Test IdP');
    expect(mail.html).toContain('confirm-sso-link');
    expect(mail.text).not.toContain(identity.sub);
    expect(mail.text.match(/#\/confirm-sso-link\/\S+/g)).toHaveLength(1);
    expect(linked.status, linked.text).toBe(200);
    expect(linked.body).toMatchObject({
      outcome: 'linked',
      provider: 'platform:test-idp',
      user: { userId: owner.userId },
    });
    expect(linked.body.token).toBeUndefined();
    expect(replay.status, replay.text).toBe(400);
    expect(problemType(replay)).toBe('invalid-token');
    expect(replay.body.errors).toEqual([expect.objectContaining({ path: 'body.token' })]);
    const notice = await takeMail(inboxApi(), owner.email, /identity provider was linked/);
    expect(notice.text).toContain('it can now sign in through that provider');
    expect(await identitiesOf(owner)).toEqual([
      expect.objectContaining({ provider: 'platform:test-idp', email: owner.email.toLowerCase() }),
    ]);
    expect(await platformEventsBy('auth.sso.linked', owner.userId)).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({ provider: 'platform:test-idp', confirmedBy: 'email' }),
      }),
    ]);
    expect(await platformEventsBy('auth.sso.link-requested', owner.userId)).toHaveLength(1);
    expect(signedIn.status, signedIn.text).toBe(200);
    expect(signedIn.body.user.userId).toBe(owner.userId);
  });

  it('mails nothing for an unverified account, and answers exactly as for a verified one', async () => {
    // Prepare: an unverified account (someone registered the address first), and a verified one
    const squatter = await signUpUnverified(api, 'mail-link-unverified');
    const verified = await signUp(api, 'mail-link-verified');

    // Act
    const toUnverified = await signInThroughProvider(providerAccount({ email: squatter.email }));
    const toVerified = await signInThroughProvider(providerAccount({ email: verified.email }));

    // Assess: the same answer; a link mail only to the verified account; nothing stored for the other
    const strip = ({ requestId: _, ...body }: Record<string, unknown>) => body;
    expect(toUnverified.status).toBe(409);
    expect(strip(toUnverified.body)).toEqual(strip(toVerified.body));
    await mailedToken(verified);
    await new Promise((r) => setTimeout(r, 500));
    expect((await mailsTo(inboxApi(), squatter.email)).filter((m) => LINK_SUBJECT.test(m.subject))).toEqual(
      [],
    );
    expect(await platformEventsBy('auth.sso.link-requested', squatter.userId)).toEqual([]);
  });

  it('refuses an expired token, a wrong password, another account’s token, and malformed input, linking nothing', async () => {
    // Prepare: two verified accounts, each with a mailed token
    const alice = await signUp(api, 'mail-link-alice');
    const bob = await signUp(api, 'mail-link-bob');
    const aliceIdentity = providerAccount({ email: alice.email });
    await signInThroughProvider(aliceIdentity);
    await signInThroughProvider(providerAccount({ email: bob.email }));
    const aliceToken = (await mailedToken(alice)).token;
    const bobToken = (await mailedToken(bob)).token;
    const [tokenId] = bobToken.split('.');

    // Act: Bob's token with Alice's password, Alice's with a wrong password, Bob's after it expired
    const crossed = await confirm({ token: bobToken, currentPassword: alice.password });
    const wrongPassword = await confirm({ token: aliceToken, currentPassword: 'not-the-password-at-all' });
    await functionRuntime().dynamo.send(
      new UpdateCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Key: mailTokenKey(tokenId!),
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1000 },
      }),
    );
    const expired = await confirm({ token: bobToken, currentPassword: bob.password });
    const malformed = await confirm({ token: 'nope', currentPassword: alice.password });
    const oversized = await confirm({ token: aliceToken, currentPassword: 'x'.repeat(1025) });
    const missing = await confirm({ token: aliceToken });

    // Assess: exact statuses; nothing linked for either account; Alice's token still works afterwards
    for (const res of [crossed, wrongPassword]) {
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors).toEqual([{ path: 'body.currentPassword', message: 'Wrong password' }]);
    }
    expect(expired.status, expired.text).toBe(400);
    expect(problemType(expired)).toBe('invalid-token');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.token']);
    expect(oversized.status).toBe(400);
    expect(oversized.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.currentPassword']);
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.currentPassword']);
    expect(await identitiesOf(alice)).toEqual([]);
    expect(await identitiesOf(bob)).toEqual([]);
    expect(await platformEventsBy('auth.sso.linked', bob.userId)).toEqual([]);
    const ok = await confirm({ token: aliceToken, currentPassword: alice.password });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.user.userId).toBe(alice.userId);
  });

  it('asks an account with TOTP on for a code as well', async () => {
    // Prepare
    const owner = await signUp(api, 'mail-link-mfa');
    const mfa = await enableMfa(api, owner);
    await signInThroughProvider(providerAccount({ email: owner.email }));
    const { token } = await mailedToken(owner);

    // Act
    const withoutCode = await confirm({ token, currentPassword: owner.password });
    const withCode = await confirm({
      token,
      currentPassword: owner.password,
      mfaCode: totpCodeAt(mfa.secret, Date.now() + 30_000),
    });

    // Assess
    expect(withoutCode.status).toBe(400);
    expect(withoutCode.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.mfaCode']);
    expect(withCode.status, withCode.text).toBe(200);
  });

  it('stores only the hash of the token, and mails an address at most 3 times an hour', async () => {
    // Prepare
    const owner = await signUp(api, 'mail-link-limit');

    // Act: four sign-ins with the owner's address
    for (let i = 0; i < 4; i++) {
      const res = await signInThroughProvider(providerAccount({ email: owner.email }));
      expect(res.status).toBe(409);
    }

    // Assess: three mails, three tokens stored as hashes only
    const tokens = [await mailedToken(owner), await mailedToken(owner), await mailedToken(owner)];
    await new Promise((r) => setTimeout(r, 500));
    expect((await mailsTo(inboxApi(), owner.email)).filter((m) => LINK_SUBJECT.test(m.subject))).toEqual([]);
    const requested = await platformEventsBy('auth.sso.link-requested', owner.userId);
    expect(requested).toHaveLength(3);
    for (const { token } of tokens) {
      const [tokenId, secret] = token.split('.');
      const items = await partitionItems(process.env.IDENTITY_TABLE!, mailTokenKey(tokenId!).pk);
      expect(items).toHaveLength(1);
      expect(JSON.stringify(items)).not.toContain(secret);
      expect(items[0]).toMatchObject({ purpose: 'sso-link', userId: owner.userId });
    }
  });
});
