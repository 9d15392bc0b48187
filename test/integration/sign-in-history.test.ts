import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';

const platformDynamo = () => functionRuntime().dynamo;

import { mailsTo, takeMail } from '../../infra/local/inbox-reader.js';
import { platformCryptoFor } from '../../shared/crypto/envelope.js';
import { SIGN_IN_HISTORY_MS } from '../../shared/domain/sign-in-history.js';
import { mailFor } from '../../shared/mail/function-mail.js';
import { AccountEmailService } from '../../shared/services/account-email.js';
import { IdentityService, type SignInNotices } from '../../shared/services/identity.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import type { UserRecord } from '../../shared/store/identity-records.js';
import { IdentityStore } from '../../shared/store/identity-store.js';
import { encodeCursor } from '../../shared/store/pagination.js';
import { DynamoRateLimiter } from '../../shared/store/rate-limiter.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import {
  acceptInvitation,
  addMember,
  createTenant,
  enableMfa,
  inboxApi,
  invite,
  signUp,
  type TestUser,
} from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';

const api = useTestApi();

const identityTable = () => process.env.IDENTITY_TABLE!;

async function signIns(user: TestUser, query = '') {
  const res = await api.request('GET', `/v1/me/sign-ins${query}`, { token: user.token });
  expect(res.status, res.text).toBe(200);
  return res.body as { items: Record<string, string>[]; nextCursor: string | null };
}

async function login(body: Record<string, unknown>, options: { sourceIp?: string; ua?: string } = {}) {
  return api.request('POST', '/v1/auth/login', {
    body,
    sourceIp: options.sourceIp,
    headers: options.ua ? { 'user-agent': options.ua } : {},
  });
}

/** Every item of the identity table in user partitions (profiles, attempts, devices). */
async function userPartitionItems() {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await platformDynamo().send(
      new ScanCommand({ TableName: identityTable(), ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []).filter((i) => String(i.pk).startsWith('USER#')));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

describe('GET /v1/me/sign-ins', () => {
  it('lists successes and failures on the account, newest first, with address, agent, method and session', async () => {
    // Prepare
    const user = await signUp(api, 'history');
    const wrong = await login(
      { email: user.email, password: 'not-the-password-at-all' },
      { sourceIp: '127.9.1.7', ua: 'curious/1.0' },
    );
    expect(wrong.status).toBe(401);
    const right = await login(
      { email: user.email, password: user.password },
      { sourceIp: '127.9.2.8', ua: 'me/2.0' },
    );
    expect(right.status).toBe(200);

    // Act
    const { items, nextCursor } = await signIns(user);

    // Assess: the fixture's own sign-in, then the two above, newest first.
    expect(nextCursor).toBeNull();
    expect(items).toHaveLength(3);
    expect(items[0]).toEqual({
      at: expect.any(String),
      ip: '127.9.2.8',
      userAgent: 'me/2.0',
      method: 'password',
      result: 'succeeded',
      sessionId: right.body.token.split('.')[1],
    });
    expect(items[1]).toEqual({
      at: expect.any(String),
      ip: '127.9.1.7',
      userAgent: 'curious/1.0',
      method: 'password',
      result: 'failed',
      reason: 'bad-credentials',
    });
    expect(items[2]).toMatchObject({ result: 'succeeded', sessionId: user.token.split('.')[1] });
    expect(Date.parse(items[0]!.at!)).toBeGreaterThanOrEqual(Date.parse(items[1]!.at!));
  });

  it('shows a right password without the code, a wrong code and an MFA sign-in', async () => {
    // Prepare
    const user = await signUp(api, 'history-mfa');
    const mfa = await enableMfa(api, user);
    expect((await login({ email: user.email, password: user.password })).body.type).toMatch(/mfa-required$/);
    const bad = await login({ email: user.email, password: user.password, mfaCode: '000000' });
    expect(bad.status).toBe(401);
    const good = await login({
      email: user.email,
      password: user.password,
      recoveryCode: mfa.recoveryCodes[0],
    });
    expect(good.status, good.text).toBe(200);

    // Act
    const { items } = await signIns({ ...user, token: good.body.token });

    // Assess
    expect(items.slice(0, 3).map((i) => [i.result, i.method, i.reason])).toEqual([
      ['succeeded', 'password+recovery-code', undefined],
      ['failed', 'password+totp', 'bad-second-factor'],
      ['second-factor-required', 'password', undefined],
    ]);
  });

  it('pages with an opaque cursor that cannot be pointed at another account', async () => {
    // Prepare
    const user = await signUp(api, 'history-pages');
    const other = await signUp(api, 'history-other');
    for (let i = 0; i < 3; i++)
      expect((await login({ email: user.email, password: `wrong-password-${i}!!` })).status).toBe(401);

    // Act
    const first = await signIns(user, '?limit=2');
    const second = await signIns(user, `?limit=2&cursor=${first.nextCursor}`);
    const forged = encodeCursor({ pk: `USER#${other.userId}`, sk: 'SIGN-IN#0' })!;
    const refused = await api.request('GET', `/v1/me/sign-ins?cursor=${forged}`, { token: user.token });
    const badLimit = await api.request('GET', '/v1/me/sign-ins?limit=0', { token: user.token });
    const longCursor = await api.request('GET', `/v1/me/sign-ins?cursor=${'a'.repeat(2049)}`, {
      token: user.token,
    });

    // Assess
    expect(first.items).toHaveLength(2);
    expect(second.items).toHaveLength(2);
    expect([...first.items, ...second.items].map((i) => i.result)).toEqual([
      'failed',
      'failed',
      'failed',
      'succeeded',
    ]);
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ path: 'query.cursor', message: 'Invalid cursor' }]);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.errors[0].path).toBe('query.limit');
    expect(longCursor.status).toBe(400);
    expect(longCursor.body.errors[0].path).toBe('query.cursor');
    // The other account's history holds only its own sign-in.
    expect((await signIns(other)).items).toHaveLength(1);
  });

  it('a failed sign-in on an unknown address writes nothing to any account', async () => {
    // Prepare
    const before = await userPartitionItems();

    // Act
    const res = await login({ email: `nobody-${Date.now()}@example.test`, password: 'whatever-password-1' });

    // Assess
    expect(res.status).toBe(401);
    expect(problemType(res)).toBe('invalid-credentials');
    const after = await userPartitionItems();
    expect(after.length).toBe(before.length);
    expect(after.some((i) => String(i.pk).startsWith('USER#~'))).toBe(false);
  });

  it('hides attempts older than 90 days that TTL has not deleted yet', async () => {
    // Prepare: an attempt 91 days old, written as the store writes them.
    const user = await signUp(api, 'history-old');
    const store = new IdentityStore(platformDynamo(), identityTable());
    await store.signIns.record({
      userId: user.userId,
      at: Date.now() - SIGN_IN_HISTORY_MS - 86_400_000,
      ip: '127.0.0.9',
      userAgent: 'long ago',
      method: 'password',
      result: 'failed',
      reason: 'bad-credentials',
    });

    // Act
    const { items } = await signIns(user);

    // Assess
    expect(items.map((i) => i.userAgent)).not.toContain('long ago');
    expect(items).toHaveLength(1);
  });

  it('stores attempts with a 90-day expiry and no secret', async () => {
    // Act
    const user = await signUp(api, 'history-ttl');

    // Assess: one attempt, kept 90 days, without the password or the token's secret
    const { Items } = await platformDynamo().send(
      new QueryCommand({
        TableName: identityTable(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sk)',
        ExpressionAttributeValues: { ':pk': `USER#${user.userId}`, ':sk': 'SIGN-IN#' },
      }),
    );
    expect(Items).toHaveLength(1);
    const ttlMs = (Items![0]!.ttl as number) * 1000;
    expect(ttlMs - (Items![0]!.at as number)).toBeGreaterThanOrEqual(SIGN_IN_HISTORY_MS);
    expect(ttlMs - (Items![0]!.at as number)).toBeLessThan(SIGN_IN_HISTORY_MS + 1000);
    expect(JSON.stringify(Items)).not.toContain(user.password);
    expect(JSON.stringify(Items)).not.toContain(user.token.split('.')[2]);
  });
});

describe('new-device notices', () => {
  function service(notices: SignInNotices, identity = new IdentityStore(platformDynamo(), identityTable())) {
    const audit = auditRecorderFor(functionRuntime(), {
      tenantClients: tenantDataClientsFor(functionRuntime()),
    });
    return new IdentityService({
      identity,
      lookups: new AuthLookups(platformDynamo(), {
        identity: identityTable(),
        tenantData: process.env.TENANT_DATA_TABLE!,
      }),
      audit,
      secrets: platformCryptoFor(functionRuntime()),
      email: new AccountEmailService({
        identity,
        audit,
        ...mailFor(functionRuntime()),
        rateLimiter: new DynamoRateLimiter(identity.rateWindows),
      }),
      signInNotices: notices,
    });
  }

  it('tells the owner once per new device, not for the device the account was registered from', async () => {
    // Prepare
    const told: { user: UserRecord; signIn: { ip: string; userAgent: string } }[] = [];
    const identity = service({ newDevice: async (user, signIn) => void told.push({ user, signIn }) });
    const email = `device-${Date.now()}@example.test`;
    const password = 'a-long-enough-password';
    const home = { ip: '127.44.1.10', userAgent: 'home-browser/1' };
    await identity.register({ email, password, name: 'D' }, home);

    // Act
    await identity.login({ email, password }, home);
    await identity.login({ email, password }, { ...home, ip: '127.44.1.99' }); // same /24
    await identity.login({ email, password }, { ip: '127.45.0.1', userAgent: 'home-browser/1' });
    await identity.login({ email, password }, { ip: '127.45.0.1', userAgent: 'home-browser/1' });
    await identity.login({ email, password }, { ...home, userAgent: 'phone/3' });

    // Assess
    expect(told.map((t) => [t.signIn.ip, t.signIn.userAgent])).toEqual([
      ['127.45.0.1', 'home-browser/1'],
      ['127.44.1.10', 'phone/3'],
    ]);
    expect(told[0]!.user.email).toBe(email);
  });

  it('through the API: a sign-in from another network mails the owner, with the address and agent', async () => {
    // Prepare: signUp registers and signs in from one device, which is known from then on.
    const user = await signUp(api, 'device-mail');
    expect(await mailsTo(inboxApi(), user.email)).toHaveLength(0);

    // Act
    const res = await login(
      { email: user.email, password: user.password },
      { sourceIp: '127.61.0.5', ua: 'elsewhere/9' },
    );
    const again = await login(
      { email: user.email, password: user.password },
      { sourceIp: '127.61.0.6', ua: 'elsewhere/9' },
    );

    // Assess: one notice, for the first sign-in from the new device only.
    expect(res.status).toBe(200);
    expect(again.status).toBe(200);
    const notice = await takeMail(inboxApi(), user.email, /^New sign-in to your Strongroom account/);
    expect(notice.text).toContain('127.61.0.5');
    expect(notice.text).toContain('elsewhere/9');
    expect(notice.text).not.toContain(res.body.token);
    expect(await mailsTo(inboxApi(), user.email)).toHaveLength(0);
  });

  it('a failing notice does not fail the sign-in', async () => {
    // Prepare: a service whose new-device notice fails
    const identity = service({
      newDevice: async () => {
        throw new Error('mail is down');
      },
    });
    const email = `device-fail-${Date.now()}@example.test`;
    await identity.register(
      { email, password: 'a-long-enough-password', name: 'D' },
      { ip: '127.46.0.1', userAgent: 'a' },
    );

    // Act
    const signedIn = await identity.login(
      { email, password: 'a-long-enough-password' },
      { ip: '127.47.0.1', userAgent: 'b' },
    );

    // Assess
    expect(signedIn.token).toMatch(/^srs\./);
  });

  it('a failing device write does not fail the sign-in either (the session exists already)', async () => {
    // Prepare: DynamoDB refuses the known-device write.
    const store = new IdentityStore(platformDynamo(), identityTable());
    store.signIns.rememberDevice = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const told: string[] = [];
    const identity = service({ newDevice: async (user) => void told.push(user.userId) }, store);
    const email = `device-write-${Date.now()}@example.test`;
    await identity.register(
      { email, password: 'a-long-enough-password', name: 'D' },
      { ip: '127.48.0.1', userAgent: 'a' },
    );
    // Act
    const signedIn = await identity.login(
      { email, password: 'a-long-enough-password' },
      { ip: '127.49.0.1', userAgent: 'b' },
    );
    // Assess
    expect(signedIn.token).toMatch(/^srs\./);
    expect(told).toEqual([]);
  });
});

describe('GET /v1/tenants', () => {
  it('lists my tenants by name with my role in each, and nobody else’s', async () => {
    // Prepare
    const owner = await signUp(api, 'mine-owner');
    const me = await signUp(api, 'mine-me');
    const stranger = await signUp(api, 'mine-stranger');
    const zeta = await createTenant(api, me, 'Zeta works');
    const alpha = await createTenant(api, owner, 'Alpha labs');
    await addMember(api, owner, alpha, me, 'viewer');
    await createTenant(api, stranger, 'Not mine');

    // Act
    const res = await api.request('GET', '/v1/tenants', { token: me.token });

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((t: Record<string, unknown>) => [t.tenantId, t.name, t.role])).toEqual([
      [alpha, 'Alpha labs', 'viewer'],
      [zeta, 'Zeta works', 'owner'],
    ]);
    expect(res.body.items[0]).toEqual({
      tenantId: alpha,
      name: 'Alpha labs',
      plan: expect.any(String),
      createdAt: expect.any(String),
      settings: expect.any(Object),
      role: 'viewer',
      joinedAt: expect.any(String),
    });
  });

  it('an account with no tenant gets an empty list; a removal or a deletion takes the tenant off at once', async () => {
    // Prepare
    const owner = await signUp(api, 'gone-owner');
    const member = await signUp(api, 'gone-member');
    const tenantId = await createTenant(api, owner, 'Short lived');
    const invitationId = await invite(api, owner, tenantId, member.email, 'admin');
    expect((await api.request('GET', '/v1/tenants', { token: member.token })).body.items).toEqual([]);
    await acceptInvitation(api, member, invitationId);
    expect((await api.request('GET', '/v1/tenants', { token: member.token })).body.items).toHaveLength(1);

    // Act: the member is removed; then the owner deletes the tenant.
    const removed = await api.request('DELETE', `/v1/tenants/${tenantId}/members/${member.userId}`, {
      token: owner.token,
    });
    expect(removed.status, removed.text).toBe(204);
    const memberAfterRemoval = await api.request('GET', '/v1/tenants', { token: member.token });
    const { recoveryCodes } = await enableMfa(api, owner);
    const deleted = await api.request('DELETE', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      body: { recoveryCode: recoveryCodes[0] },
    });

    // Assess
    expect(memberAfterRemoval.body.items).toEqual([]);
    expect(deleted.status, deleted.text).toBe(204);
    expect((await api.request('GET', '/v1/tenants', { token: owner.token })).body.items).toEqual([]);
  });
});
