import { beforeAll, describe, expect, it } from 'vitest';
import { takeMail } from '../../infra/local/inbox-reader.js';
import { freePort } from '../../infra/local/moto.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { countingCalls, failingCall, installAwsCallTap, signatureOf } from '../support/aws-call-tap.js';
import { enableMfa, inboxApi, signUp, type TestUser } from '../support/identity-fixtures.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import {
  callbackBody,
  type ProviderAccount,
  providerAccount,
  useTestOidcProvider,
} from '../support/oidc-provider.js';
import { partitionItems, platformEventsBy } from '../support/table-reads.js';

// Configured as local mode does it (STRONGROOM_OIDC_PROVIDERS): the client secret goes into Secrets
// Manager, and the functions get only its ARN.
const idp = useTestOidcProvider(async () => [
  // A provider nobody answers for: its flows cannot start.
  {
    id: 'down-idp',
    name: 'Down IdP',
    issuer: `http://127.0.0.1:${await freePort()}`,
    clientId: 'c',
    clientSecret: 'down-secret',
  },
]);
beforeAll(() => {
  expect(idp.env.OIDC_PROVIDERS).toMatch(/"clientSecretArn":"arn:aws:secretsmanager:/);
  expect(idp.env.OIDC_PROVIDERS).not.toContain(idp.clientSecret);
});
const api = useTestApi();

/**
 * Starts a flow (a sign-in, or with `linker` a link from its session with its password), signs in at the
 * provider, answers the callback's parts.
 */
async function throughProvider(account: ProviderAccount, linker?: Pick<TestUser, 'token' | 'password'>) {
  const start = await api.request('POST', linker ? '/v1/me/oidc/link' : '/v1/auth/oidc/start', {
    body: linker ? { provider: 'test-idp', currentPassword: linker.password } : { provider: 'test-idp' },
    token: linker?.token,
  });
  expect(start.status, start.text).toBe(200);
  return {
    ...(await callbackBody(idp, start.body, account)),
    authorizationUrl: new URL(start.body.authorizationUrl),
  };
}

const finish = (body: Record<string, unknown>, sourceIp?: string) =>
  api.request('POST', '/v1/auth/oidc/callback', { body, sourceIp });

/** The parts of a callback, without the test-only authorization URL. */
const callbackOf = ({ authorizationUrl: _, ...parts }: Awaited<ReturnType<typeof throughProvider>>) => parts;

describe('OIDC sign-in with a platform provider', () => {
  it('lists the platform providers without their secrets', async () => {
    // Act
    const res = await api.request('GET', '/v1/auth/oidc/providers');

    // Assess: names only
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        { id: 'down-idp', name: 'Down IdP' },
        { id: 'test-idp', name: 'Test IdP' },
      ],
    });
    expect(res.text).not.toContain(idp.clientSecret);
  });

  it('asks for the code with PKCE (S256), state and nonce, and makes a verified account with an sso session', async () => {
    // Prepare: someone new, with a verified address at the provider
    const account = providerAccount();

    // Act
    const parts = await throughProvider(account);
    const res = await finish(callbackOf(parts));

    // Assess: the authorization request, then the session and the account it signed in to
    const query = parts.authorizationUrl.searchParams;
    expect(query.get('code_challenge_method')).toBe('S256');
    expect(query.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.get('state')).toBe(parts.state);
    expect(query.get('redirect_uri')).toBe(TEST_CONSOLE_URL);
    expect(res.status, res.text).toBe(200);
    expect(res.body.outcome).toBe('signed-in');
    expect(res.body.user).toMatchObject({ email: account.email, emailVerified: true, name: account.name });
    const sessions = await api.request('GET', '/v1/me/sessions', { token: res.body.token });
    expect(sessions.status).toBe(200);
    expect(sessions.body.items).toEqual([
      expect.objectContaining({ authMethod: 'sso', mfa: false, current: true }),
    ]);
    const history = await api.request('GET', '/v1/me/sign-ins', { token: res.body.token });
    expect(history.body.items).toEqual([expect.objectContaining({ method: 'sso', result: 'succeeded' })]);

    // Act: the same identity signs in again
    const again = await finish(callbackOf(await throughProvider(account)));

    // Assess: the same account
    expect(again.status, again.text).toBe(200);
    expect(again.body.user.userId).toBe(res.body.user.userId);
  });

  it('refuses a replayed state, and a state finished with another client’s flow token', async () => {
    // Prepare: a flow finished once
    const account = providerAccount();
    const parts = callbackOf(await throughProvider(account));
    const first = await finish(parts);
    expect(first.status, first.text).toBe(200);

    // Act: the same callback again
    const replay = await finish(parts);

    // Assess
    expect(replay.status).toBe(400);
    expect(problemType(replay)).toBe('oidc-state-invalid');
    expect(replay.body.errors).toEqual([expect.objectContaining({ path: 'body.state' })]);

    // Prepare: a fresh flow, and someone else's flow token
    const fresh = callbackOf(await throughProvider(account));
    const foreign = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } });

    // Act
    const stolen = await finish({ ...fresh, flowToken: foreign.body.flowToken });
    const own = await finish(fresh);

    // Assess: the wrong token neither worked nor spent the flow
    expect(stolen.status).toBe(400);
    expect(problemType(stolen)).toBe('oidc-state-invalid');
    expect(own.status, own.text).toBe(200);
  });

  const tampered: [string, (p: Record<string, unknown>) => Record<string, unknown>][] = [
    ['wrong audience', (p) => ({ ...p, aud: 'some-other-client' })],
    ['wrong issuer', (p) => ({ ...p, iss: 'https://evil.example.test' })],
    ['missing nonce', ({ nonce: _, ...p }) => p],
    ['incorrect nonce', (p) => ({ ...p, nonce: 'not-the-nonce-of-this-flow' })],
    [
      'expired token',
      (p) => ({ ...p, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }),
    ],
  ];
  it.each(tampered)('refuses an ID token with %s, and signs no one in', async (_name, change) => {
    // Prepare: the provider mis-issues (signed with its real key)
    const account = providerAccount();
    idp.tamper((payload) => ({ payload: change(payload) }));

    // Act
    const parts = callbackOf(await throughProvider(account));
    const res = await finish(parts);
    idp.tamper(undefined);

    // Assess: 401, and the identity has no account (a correct sign-in later makes a new one)
    expect(res.status, res.text).toBe(401);
    expect(problemType(res)).toBe('oidc-token-rejected');
    expect(res.body.token).toBeUndefined();
  });

  it('refuses a token signed with another algorithm than the pinned one (HS256 with the client secret)', async () => {
    // Prepare
    const account = providerAccount();
    idp.tamper((payload) => ({ payload, header: { alg: 'HS256' }, hmacSecret: idp.clientSecret }));

    // Act
    const res = await finish(callbackOf(await throughProvider(account)));
    idp.tamper(undefined);

    // Assess
    expect(res.status, res.text).toBe(401);
    expect(problemType(res)).toBe('oidc-token-rejected');
  });

  it.each([
    ['false', false],
    ['the string "true"', 'true'],
    ['absent', undefined],
  ])('makes no account from an address whose email_verified is %s', async (_name, verified) => {
    // Prepare
    const account = providerAccount({ email_verified: verified });

    // Act
    const res = await finish(callbackOf(await throughProvider(account)));

    // Assess: refused, and the address is still free to register
    expect(res.status, res.text).toBe(403);
    expect(problemType(res)).toBe('oidc-email-unverified');
    const register = await api.request('POST', '/v1/auth/register', {
      body: { email: account.email, password: 'a-long-enough-password', name: 'Owner' },
    });
    const login = await api.request('POST', '/v1/auth/login', {
      body: { email: account.email, password: 'a-long-enough-password' },
    });
    expect(register.status).toBe(202);
    expect(login.status, login.text).toBe(200);
  });
});

describe('linking a provider identity to an existing account', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await signUp(api, 'link-owner');
  });

  it('refuses to sign in to an existing account through a provider identity with its address (no takeover)', async () => {
    // Prepare: an attacker registered the owner's address at the provider, verified or not
    const attacker = providerAccount({ email: owner.email, email_verified: true });

    // Act
    const res = await finish(callbackOf(await throughProvider(attacker)));

    // Assess: 409, no session, and the owner sees the attempt
    expect(res.status, res.text).toBe(409);
    expect(problemType(res)).toBe('oidc-link-required');
    expect(res.body.token).toBeUndefined();
    const history = await api.request('GET', '/v1/me/sign-ins', { token: owner.token });
    expect(history.body.items[0]).toMatchObject({
      method: 'sso',
      result: 'failed',
      reason: 'sso-link-required',
    });
    const sessions = await api.request('GET', '/v1/me/sessions', { token: owner.token });
    expect(sessions.body.items).toHaveLength(1);
  });

  it('links with proof (the owner signed in starts the link), then signs the owner in through the provider', async () => {
    // Prepare: the owner's own account at the provider, under another address
    const own = providerAccount();

    // Act: link, from the owner's session
    const linked = await finish(callbackOf(await throughProvider(own, owner)));

    // Assess
    expect(linked.status, linked.text).toBe(200);
    expect(linked.body).toMatchObject({ outcome: 'linked', user: { userId: owner.userId } });
    expect(linked.body.token).toBeUndefined();
    const notice = await takeMail(inboxApi(), owner.email, /identity provider was linked/);
    expect(notice.text).toContain('it can now sign in through that provider');

    // Act: sign in through the provider
    const signedIn = await finish(callbackOf(await throughProvider(own)));

    // Assess: the owner's account, with an sso session
    expect(signedIn.status, signedIn.text).toBe(200);
    expect(signedIn.body.user.userId).toBe(owner.userId);
  });

  it('refuses to link an identity with an unverified address, and one linked to someone else', async () => {
    // Prepare
    const unverified = providerAccount({ email_verified: false });
    const taken = providerAccount();
    const first = await finish(callbackOf(await throughProvider(taken)));
    expect(first.status).toBe(200);

    // Act
    const refusedUnverified = await finish(callbackOf(await throughProvider(unverified, owner)));
    const refusedTaken = await finish(callbackOf(await throughProvider(taken, owner)));

    // Assess
    expect(refusedUnverified.status).toBe(403);
    expect(problemType(refusedUnverified)).toBe('oidc-email-unverified');
    expect(refusedTaken.status).toBe(409);
    expect(problemType(refusedTaken)).toBe('oidc-identity-linked-elsewhere');
  });

  it('asks an account with TOTP on for its code, and makes an MFA session with it', async () => {
    // Prepare: an account with a linked identity, then MFA turned on
    const user = await signUp(api, 'link-mfa');
    const own = providerAccount();
    expect((await finish(callbackOf(await throughProvider(own, user)))).status).toBe(200);
    const mfa = await enableMfa(api, user);

    // Act: without the code, with a wrong one, with the right one, with a recovery code
    const withoutCode = await finish(callbackOf(await throughProvider(own)));
    const code = totpCodeAt(mfa.secret, mfa.confirmedAt + 30_000);
    const wrongCode = await finish({
      ...callbackOf(await throughProvider(own)),
      mfaCode: code === '000000' ? '111111' : '000000',
    });
    const withCode = await finish({ ...callbackOf(await throughProvider(own)), mfaCode: code });
    const withRecovery = await finish({
      ...callbackOf(await throughProvider(own)),
      recoveryCode: mfa.recoveryCodes[0],
    });

    // Assess
    expect(withoutCode.status).toBe(401);
    expect(problemType(withoutCode)).toBe('mfa-required');
    expect(wrongCode.status).toBe(401);
    expect(problemType(wrongCode)).toBe('invalid-mfa-code');
    expect(withRecovery.status, withRecovery.text).toBe(200);
    const history = await api.request('GET', '/v1/me/sign-ins', { token: withRecovery.body.token });
    expect(
      history.body.items
        .slice(0, 4)
        .map((i: { method: string; result: string }) => `${i.method} ${i.result}`),
    ).toEqual([
      'sso+recovery-code succeeded',
      'sso+totp succeeded',
      'sso+totp failed',
      'sso second-factor-required',
    ]);
    expect(withCode.status, withCode.text).toBe(200);
    const sessions = await api.request('GET', '/v1/me/sessions', { token: withCode.body.token });
    expect(sessions.body.items.find((s: { current: boolean }) => s.current)).toMatchObject({
      authMethod: 'sso+totp',
      mfa: true,
    });
  });

  it('answers 503 with Retry-After when the provider cannot be reached, and starts nothing', async () => {
    // Act
    const res = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'down-idp' } });

    // Assess
    expect(res.status, res.text).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.body.flowToken).toBeUndefined();
  });

  it('starts a link only from a session, and names a bad provider field', async () => {
    // Act
    const anonymous = await api.request('POST', '/v1/me/oidc/link', {
      body: { provider: 'test-idp', currentPassword: 'x' },
    });
    const unknown = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'nope' } });
    const malformed = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'Not Valid!' } });
    const badCallback = await finish({ state: 'x', code: 'y', flowToken: 'z' });

    // Assess
    expect(anonymous.status).toBe(401);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ path: 'body.provider' })]);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([expect.objectContaining({ path: 'body.provider' })]);
    expect(badCallback.status).toBe(400);
    expect(badCallback.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.flowToken',
      'body.state',
    ]);
  });
});

describe('an account made from a provider identity: one transaction with its first session', () => {
  beforeAll(() => installAwsCallTap());

  /** A DynamoDB key attribute in either form (document client, or low-level `{ S: … }`). */
  const plain = (value: any): string =>
    value && typeof value === 'object' && 'S' in value ? value.S : value;
  /** The keys a transaction puts, as `pk|sk`. */
  const putKeys = (items: Record<string, any>[]) =>
    items.flatMap((i) => (i.Put ? [`${plain(i.Put.Item.pk)}|${plain(i.Put.Item.sk)}`] : []));

  it.each(['server-error', 'timeout', 'throttling', 'lost-race'] as const)(
    'POST /v1/auth/oidc/callback whose one transaction fails (%s): no account, no session; a new flow makes both',
    async (kind) => {
      // Prepare: the transaction of an account made from an identity, seen in a sign-up that succeeds
      let made: TestResponse | undefined;
      const seen = await countingCalls(async () => {
        made = await finish(callbackOf(await throughProvider(providerAccount())));
      });
      expect(made?.status, made?.text).toBe(200);
      const writes = seen.filter((c) => c.command === 'TransactWriteItemsCommand');
      expect(writes).toHaveLength(1);
      const items = writes[0]!.input.TransactItems as Record<string, any>[];
      // Profile, address claim, link, device, session, audit event, history entry; no check on the new profile
      expect(items).toHaveLength(7);
      expect(items.filter((i) => i.ConditionCheck)).toEqual([]);
      expect(putKeys(items).map((k) => k.split('|')[1]!.replace(/#.*/, '#'))).toEqual(
        expect.arrayContaining(['PROFILE', 'SESSION']),
      );
      const account = providerAccount();
      const parts = callbackOf(await throughProvider(account));

      // Act: the same kind of callback with that transaction failing
      const run = await failingCall({ signature: signatureOf(writes[0]!), occurrence: 1 }, kind, () =>
        finish(parts),
      );

      // Assess: 503 with Retry-After (409 for a lost race); not one of its items exists
      expect(run.injected).toBeDefined();
      if (kind === 'lost-race') {
        expect(run.result.status, run.result.text).toBe(409);
        expect(problemType(run.result)).toBe('oidc-sign-in-raced');
      } else {
        expect(run.result.status, run.result.text).toBe(503);
        expect(run.result.headers.get('retry-after')).toMatch(/^\d+$/);
      }
      const keys = putKeys(run.injected!.input.TransactItems);
      expect(keys.length).toBe(7);
      for (const key of keys) {
        const [pk, sk] = key.split('|') as [string, string];
        const table = key.includes('EVENT#') ? process.env.AUDIT_TABLE! : process.env.IDENTITY_TABLE!;
        expect(
          (await partitionItems(table, pk)).filter((i) => i.sk === sk),
          key,
        ).toEqual([]);
      }
      const userId = /u_[0-9a-z]{26}/.exec(JSON.stringify(run.injected!.input))![0];
      expect(await platformEventsBy('auth.sign-in.succeeded', userId)).toEqual([]);

      // Act: the client starts again (the flow was spent): the provider is asked again
      const again = await finish(callbackOf(await throughProvider(account)));

      // Assess: an account with its one session, one link and one sign-in event
      expect(again.status, again.text).toBe(200);
      expect(again.body.user.email).toBe(account.email);
      const sessions = await api.request('GET', '/v1/me/sessions', { token: again.body.token });
      expect(sessions.body.items).toHaveLength(1);
      const identities = await api.request('GET', '/v1/me/oidc/identities', { token: again.body.token });
      expect(identities.body.items).toHaveLength(1);
      expect(await platformEventsBy('auth.sign-in.succeeded', again.body.user.userId)).toHaveLength(1);
    },
  );
});
