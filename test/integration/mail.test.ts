import { GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type InboxMail, linkIn, mailsTo, takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
import { mailTokenKey, userKey } from '../../shared/domain/item-layout.js';
import {
  createTenant,
  enableMfa,
  inboxApi,
  invite,
  signUp,
  signUpUnverified,
  type TestUser,
} from '../support/identity-fixtures.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { startSmtpGate } from '../support/smtp-gate.js';
import { partitionItems } from '../support/table-reads.js';

const api = useTestApi();
let gate: Awaited<ReturnType<typeof startSmtpGate>>;

beforeAll(async () => {
  // The API's mail goes through a gate in front of the run's inbox, so a test can make the carrier fail.
  gate = await startSmtpGate(inject('mailSmtpUrl'));
  process.env.MAIL_SMTP_URL = gate.url;
});
afterAll(async () => {
  await gate.close();
});
beforeEach(() => gate.open());

const db = () => functionRuntime().dynamo;

async function platformEvents(action: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, PLATFORM_LOG_ID)).filter((i) => i.action === action);
}

async function profile(userId: string) {
  const { Item } = await db().send(
    new GetCommand({ TableName: process.env.IDENTITY_TABLE!, Key: userKey(userId), ConsistentRead: true }),
  );
  return Item!;
}

async function tokenItem(token: string) {
  const { Item } = await db().send(
    new GetCommand({
      TableName: process.env.IDENTITY_TABLE!,
      Key: mailTokenKey(token.split('.')[0]!),
      ConsistentRead: true,
    }),
  );
  return Item;
}

async function mailTokenItems() {
  const { Items } = await db().send(
    new ScanCommand({
      TableName: process.env.IDENTITY_TABLE!,
      FilterExpression: 'begins_with(pk, :p)',
      ExpressionAttributeValues: { ':p': 'MAIL-TOKEN#' },
    }),
  );
  return Items ?? [];
}

const verify = (token: string) => api.request('POST', '/v1/auth/verify-email', { body: { token } });
const requestReset = (email: string, sourceIp?: string) =>
  api.request('POST', '/v1/auth/password-reset', { body: { email }, ...(sourceIp ? { sourceIp } : {}) });
const confirmReset = (token: string, newPassword: string) =>
  api.request('POST', '/v1/auth/password-reset/confirm', { body: { token, newPassword } });
const login = (email: string, password: string, extra: Record<string, string> = {}) =>
  api.request('POST', '/v1/auth/login', { body: { email, password, ...extra } });

async function verificationLink(user: TestUser): Promise<{ url: string; token: string; mail: InboxMail }> {
  const mail = await takeMail(inboxApi(), user.email, /^Verify your e-mail/);
  return { ...linkIn(mail, '/verify-email'), mail };
}

async function resetLink(email: string) {
  const mail = await takeMail(inboxApi(), email, /^Reset your Strongroom password/);
  return { ...linkIn(mail, '/reset-password'), mail };
}

describe('address verification', () => {
  it('mails a link at sign-up; until it is followed the account can sign in but not create tenants', async () => {
    // Prepare
    const user = await signUpUnverified(api, 'verify');

    // Act / Assess: before the link, the account is unverified and may not create a tenant
    const me = await api.request('GET', '/v1/me', { token: user.token });
    expect(me.body.user.emailVerified).toBe(false);
    const refused = await api.request('POST', '/v1/tenants', { token: user.token, body: { name: 'Early' } });
    expect(refused.status).toBe(403);
    expect(problemType(refused)).toBe('email-unverified');
    expect(refused.body.detail).toMatch(/Verify your e-mail address/);

    // Act
    const link = await verificationLink(user);

    // Assess: the link points at the console, with the token in the fragment; the mail has a text and an HTML
    // part.
    expect(link.url.startsWith(`${TEST_CONSOLE_URL}#/verify-email/`)).toBe(true);
    expect(link.mail.html).toContain(link.url);
    expect(link.mail.from[0]!.address).toBe('no-reply@strongroom.test');

    // Assess: stored hashed: the item has the hash, never the secret.
    const stored = await tokenItem(link.token);
    expect(stored).toMatchObject({ purpose: 'verify-email', userId: user.userId, email: user.email });
    expect(JSON.stringify(stored)).not.toContain(link.token.split('.')[1]);

    // Act: follow the link
    const ok = await verify(link.token);

    // Assess: verified, the token spent, one event without the secret, and tenants allowed
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ email: user.email, verifiedAt: expect.any(String) });
    expect((await api.request('GET', '/v1/me', { token: user.token })).body.user.emailVerified).toBe(true);
    expect(await tokenItem(link.token)).toBeUndefined();
    const events = (await platformEvents('auth.email.verified')).filter((e) => e.resource.id === user.userId);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(link.token.split('.')[1]);
    await createTenant(api, user, 'Now allowed');

    // Act / Assess: the link works once.
    const again = await verify(link.token);
    expect(again.status).toBe(400);
    expect(problemType(again)).toBe('invalid-token');
  });

  it('refuses an expired token, a token for a changed address and a tampered secret, changing nothing', async () => {
    // Prepare: a link whose token has expired
    const expired = await signUpUnverified(api, 'expired');
    const expiredLink = await verificationLink(expired);
    await db().send(
      new UpdateCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Key: mailTokenKey(expiredLink.token.split('.')[0]!),
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );

    // Act / Assess
    const late = await verify(expiredLink.token);
    expect(late.status).toBe(400);
    expect(problemType(late)).toBe('invalid-token');
    expect((await profile(expired.userId)).emailVerifiedAt).toBeUndefined();

    // Prepare: a link for an address the account no longer has
    const moved = await signUpUnverified(api, 'moved');
    const movedLink = await verificationLink(moved);
    await db().send(
      new UpdateCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Key: userKey(moved.userId),
        UpdateExpression: 'SET email = :e',
        ExpressionAttributeValues: { ':e': `elsewhere-${Date.now()}@example.test` },
      }),
    );

    // Act / Assess
    const stale = await verify(movedLink.token);
    expect(stale.status).toBe(400);
    expect(problemType(stale)).toBe('invalid-token');
    expect((await profile(moved.userId)).emailVerifiedAt).toBeUndefined();

    // Assess: the token was not spent by the refused attempt's transaction either.
    expect(await tokenItem(movedLink.token)).toBeDefined();

    // Prepare: a link whose secret is changed in one character
    const other = await signUpUnverified(api, 'tamper');
    const otherLink = await verificationLink(other);
    const [id, secret] = otherLink.token.split('.') as [string, string];
    const flipped = `${id}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;

    // Act / Assess
    const tampered = await verify(flipped);
    expect(tampered.status).toBe(400);
    expect(problemType(tampered)).toBe('invalid-token');
    expect((await profile(other.userId)).emailVerifiedAt).toBeUndefined();
  });

  it("another user's token verifies that user only", async () => {
    // Prepare
    const a = await signUpUnverified(api, 'owner-a');
    const b = await signUpUnverified(api, 'owner-b');
    const aLink = await verificationLink(a);

    // Act / Assess: A's link verifies A, and B stays unverified
    expect((await verify(aLink.token)).status).toBe(200);
    expect((await profile(a.userId)).emailVerifiedAt).toEqual(expect.any(String));
    expect((await profile(b.userId)).emailVerifiedAt).toBeUndefined();
    const bMe = await api.request('GET', '/v1/me', { token: b.token });
    expect(bMe.body.user.emailVerified).toBe(false);
  });

  it('names the field of a malformed or oversized token', async () => {
    // Act / Assess: a malformed, a short and an oversized token
    for (const token of ['nope', `m_${'0'.repeat(26)}.short`, 'x'.repeat(5000)]) {
      const res = await verify(token);
      expect(res.status).toBe(400);
      expect(problemType(res)).toBe('validation-error');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('body.token');
    }

    // Act / Assess: no token
    const missing = await api.request('POST', '/v1/auth/verify-email', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path)).toContain('body.token');
  });

  it('resends a link (the old one keeps working until either is used), three an hour, and 409 once verified', async () => {
    // Prepare
    const user = await signUpUnverified(api, 'resend');
    const first = await verificationLink(user);

    // Act: three resends, then a fourth
    for (let i = 0; i < 3; i++) {
      const res = await api.request('POST', '/v1/me/email/verification', { token: user.token });
      expect(res.status, res.text).toBe(202);
    }

    // Assess: the fourth is refused; three mails; the first link still works
    const limited = await api.request('POST', '/v1/me/email/verification', { token: user.token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await mailsTo(inboxApi(), user.email)).filter((m) => /^Verify/.test(m.subject))).toHaveLength(3);
    const latest = await verificationLink(user);
    expect(latest.token).not.toBe(first.token);
    expect((await verify(first.token)).status).toBe(200);

    // Act / Assess: verified: a later link has nothing to do.
    const spare = await verify(latest.token);
    expect(spare.status).toBe(400);

    // Act / Assess: a verified account asks for a link
    const other = await signUp(api, 'resend-verified');
    const done = await api.request('POST', '/v1/me/email/verification', { token: other.token });
    expect(done.status).toBe(409);
    expect(problemType(done)).toBe('email-already-verified');
  });

  it('an unverified account neither sees nor accepts invitations to its address (403), a verified one does', async () => {
    // Prepare: an invitation to an unverified account's address
    const owner = await signUp(api, 'inviter');
    const tenantId = await createTenant(api, owner, 'Inviting');
    const squatter = await signUpUnverified(api, 'squat');
    const invitationId = await invite(api, owner, tenantId, squatter.email, 'viewer');

    // Act / Assess: listing, accepting and declining are refused
    const list = await api.request('GET', '/v1/me/invitations', { token: squatter.token });
    expect(list.status).toBe(403);
    expect(problemType(list)).toBe('email-unverified');
    for (const action of ['accept', 'decline']) {
      const res = await api.request('POST', `/v1/me/invitations/${invitationId}/${action}`, {
        token: squatter.token,
      });
      expect(res.status).toBe(403);
      expect(problemType(res)).toBe('email-unverified');
    }

    // Assess: not a member
    const members = await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: owner.token });
    expect(members.body.items.map((m: { userId: string }) => m.userId)).not.toContain(squatter.userId);

    // Assess: the invitee was mailed; the mail names the tenant and points at the invitations screen, with no
    // token.
    const invitation = await takeMail(inboxApi(), squatter.email, /invited you to Inviting/);
    expect(invitation.text).toContain(`${TEST_CONSOLE_URL}#/invitations`);
    expect(invitation.text).not.toMatch(/m_[0-9a-z]{26}\./);

    // Act / Assess: once the address is proved, the same invitation works.
    expect((await verify((await verificationLink(squatter)).token)).status).toBe(200);
    const accepted = await api.request('POST', `/v1/me/invitations/${invitationId}/accept`, {
      token: squatter.token,
    });
    expect(accepted.status, accepted.text).toBe(201);
  });

  it('a taken address gets a notice instead of a link, and the answer is the same', async () => {
    // Prepare
    const user = await signUp(api, 'taken');

    // Act: someone registers the address again
    const again = await api.request('POST', '/v1/auth/register', {
      body: { email: user.email, password: 'another-long-password', name: 'Someone' },
    });

    // Assess: the same answer; a notice mailed, no link
    expect(again.status).toBe(202);
    const notice = await takeMail(inboxApi(), user.email, /^Someone tried to create/);
    expect(notice.text).not.toMatch(/verify-email\//);
    expect(await mailsTo(inboxApi(), user.email)).toHaveLength(0);
  });

  it('when the mail cannot be sent: 503, and nothing written (no account, no token, no mail)', async () => {
    // Prepare
    const email = `outage-${Date.now()}@example.test`;
    const tokensBefore = (await mailTokenItems()).length;

    // Act: sign-up while mail is down
    gate.shut();
    const res = await api.request('POST', '/v1/auth/register', {
      body: { email, password: 'a-long-password-x', name: 'Outage' },
    });

    // Assess: no account, no token, no mail
    expect(res.status).toBe(503);
    expect(problemType(res)).toBe('service-unavailable');
    expect(res.body.detail).toMatch(/could not be sent; nothing was changed/);
    gate.open();
    expect((await login(email, 'a-long-password-x')).status).toBe(401);
    expect((await mailTokenItems()).length).toBe(tokensBefore);
    expect(await mailsTo(inboxApi(), email)).toHaveLength(0);

    // Prepare
    const user = await signUpUnverified(api, 'resend-outage');
    await verificationLink(user);
    const before = (await mailTokenItems()).length;

    // Act: a resend while mail is down
    gate.shut();
    const resend = await api.request('POST', '/v1/me/email/verification', { token: user.token });

    // Assess
    expect(resend.status).toBe(503);
    gate.open();
    expect((await mailTokenItems()).length).toBe(before);
    expect(await mailsTo(inboxApi(), user.email)).toHaveLength(0);
  });
});

describe('password reset', () => {
  it('answers a known and an unknown address alike; only the known one gets a mail', async () => {
    // Prepare
    const user = await signUp(api, 'reset-known');
    const unknown = `nobody-${Date.now()}@example.test`;

    // Act
    const known = await requestReset(user.email);
    const none = await requestReset(unknown);

    // Assess: the same answer; one mail, a 30-minute token stored hashed, an event each
    expect(known.status).toBe(202);
    expect(none.status).toBe(202);
    expect(none.text).toBe(known.text);
    expect(await mailsTo(inboxApi(), unknown)).toHaveLength(0);
    const link = await resetLink(user.email);
    expect(link.url.startsWith(`${TEST_CONSOLE_URL}#/reset-password/`)).toBe(true);
    const stored = await tokenItem(link.token);
    expect(stored).toMatchObject({ purpose: 'password-reset', userId: user.userId });
    expect(stored!.expiresAt - Date.parse(stored!.createdAt)).toBe(30 * 60_000);
    expect(JSON.stringify(stored)).not.toContain(link.token.split('.')[1]);
    const requested = await platformEvents('auth.password-reset.requested');
    expect(requested.filter((e) => e.resource.id === user.userId)).toHaveLength(1);
    expect(requested.some((e) => e.resource.id === 'unknown' && e.details.known === false)).toBe(true);
  });

  it('sets the new password once, revokes every session, and the old password and token stop working', async () => {
    // Prepare: a second session
    const user = await signUp(api, 'reset');
    const second = await login(user.email, user.password);
    expect((await requestReset(user.email)).status).toBe(202);
    const link = await resetLink(user.email);

    // Act
    const done = await confirmReset(link.token, 'a-brand-new-password');

    // Assess: every session revoked, the old password refused, the new one works
    expect(done.status, done.text).toBe(200);
    expect(done.body).toEqual({ revokedSessions: 2, mfaEnabled: false });
    for (const token of [user.token, second.body.token])
      expect((await api.request('GET', '/v1/me', { token })).status).toBe(401);
    expect((await login(user.email, user.password)).status).toBe(401);
    expect((await login(user.email, 'a-brand-new-password')).status).toBe(200);

    // Act / Assess: the link a second time
    const reused = await confirmReset(link.token, 'yet-another-password');
    expect(reused.status).toBe(400);
    expect(problemType(reused)).toBe('invalid-token');
    expect((await login(user.email, 'a-brand-new-password')).status).toBe(200);

    // Assess
    const completed = await platformEvents('auth.password-reset.completed');
    expect(completed.filter((e) => e.resource.id === user.userId)).toHaveLength(1);
    const notice = await takeMail(inboxApi(), user.email, /password was reset/);
    expect(notice.text).not.toMatch(/reset-password\//);
  });

  it('refuses an expired token, a verification token, and a token older than a later reset or password change', async () => {
    // Prepare: a reset link that has expired
    const user = await signUp(api, 'reset-stale');
    await requestReset(user.email);
    const expired = await resetLink(user.email);
    await db().send(
      new UpdateCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Key: mailTokenKey(expired.token.split('.')[0]!),
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );

    // Act / Assess
    expect(problemType(await confirmReset(expired.token, 'a-new-password-1'))).toBe('invalid-token');

    // Prepare: a verification link
    const fresh = await signUpUnverified(api, 'wrong-purpose');
    const verification = await verificationLink(fresh);

    // Act / Assess: used as a reset link
    const wrong = await confirmReset(verification.token, 'a-new-password-2');
    expect(wrong.status).toBe(400);
    expect(problemType(wrong)).toBe('invalid-token');
    expect((await login(fresh.email, fresh.password)).status).toBe(200);

    // Prepare: two reset links
    await requestReset(user.email);
    const older = await resetLink(user.email);
    await requestReset(user.email);
    const newer = await resetLink(user.email);

    // Act / Assess: the newer one used, the older one refused
    expect((await confirmReset(newer.token, 'a-new-password-3')).status).toBe(200);
    expect(problemType(await confirmReset(older.token, 'a-new-password-4'))).toBe('invalid-token');
    expect((await login(user.email, 'a-new-password-3')).status).toBe(200);
    await takeMail(inboxApi(), user.email, /password was reset/);

    // Prepare: a reset link, then a password change
    const changer = await signUp(api, 'reset-then-change');
    await requestReset(changer.email);
    const pending = await resetLink(changer.email);
    const changed = await api.request('POST', '/v1/me/password', {
      token: changer.token,
      body: { currentPassword: changer.password, newPassword: 'changed-in-between' },
    });
    expect(changed.status).toBe(200);

    // Act / Assess
    expect(problemType(await confirmReset(pending.token, 'a-new-password-5'))).toBe('invalid-token');
    expect((await login(changer.email, 'changed-in-between')).status).toBe(200);
  });

  it('does not bypass MFA: after a reset, signing in still asks for the code', async () => {
    // Prepare: an account with MFA and a reset link
    const user = await signUp(api, 'reset-mfa');
    const mfa = await enableMfa(api, user);
    await takeMail(inboxApi(), user.email, /turned on/);
    await requestReset(user.email);
    const link = await resetLink(user.email);

    // Act
    const done = await confirmReset(link.token, 'mfa-users-new-password');

    // Assess: the reset keeps MFA, and signing in asks for the code
    expect(done.body).toEqual({ revokedSessions: 1, mfaEnabled: true });
    const noCode = await login(user.email, 'mfa-users-new-password');
    expect(noCode.status).toBe(401);
    expect(problemType(noCode)).toBe('mfa-required');
    const withCode = await login(user.email, 'mfa-users-new-password', {
      mfaCode: totpCodeAt(mfa.secret, mfa.confirmedAt + 30_000),
    });
    expect(withCode.status, withCode.text).toBe(200);
  });

  it('on an account whose address was never verified, a reset also removes the MFA someone else may have set', async () => {
    // Prepare: an unverified account that someone gave MFA, and a reset link
    const squatted = await signUpUnverified(api, 'squatted-mfa');
    await enableMfa(api, squatted);
    await requestReset(squatted.email);
    const link = await resetLink(squatted.email);

    // Act
    const done = await confirmReset(link.token, 'the-real-owners-password');

    // Assess: MFA and its secrets removed, the address verified
    expect(done.body).toEqual({ revokedSessions: 1, mfaEnabled: false });
    const signedIn = await login(squatted.email, 'the-real-owners-password');
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user).toMatchObject({ mfaEnabled: false, emailVerified: true });
    const item = await profile(squatted.userId);
    expect(item.totpCiphertext).toBeUndefined();
    expect(item.recoveryCodeHashes).toBeUndefined();
  });

  it('limits requests per address (known or not: 3 an hour) and per network (10 an hour)', async () => {
    // Prepare
    const user = await signUp(api, 'reset-limit');
    const unknown = `limit-${Date.now()}@example.test`;

    // Act / Assess: for a known and an unknown address, three requests then a refusal
    for (const email of [user.email, unknown]) {
      for (let i = 0; i < 3; i++) expect((await requestReset(email)).status).toBe(202);
      const limited = await requestReset(email);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    }

    // Assess: three mails to the known address, none to the unknown
    expect((await mailsTo(inboxApi(), user.email)).length).toBe(3);
    expect(await mailsTo(inboxApi(), unknown)).toHaveLength(0);

    // Act / Assess: ten addresses from one network, then an eleventh
    const network = `127.77.${Math.floor(Math.random() * 200) + 10}`;
    for (let i = 0; i < 10; i++) {
      const res = await requestReset(`net-${i}-${Date.now()}@example.test`, `${network}.${i + 1}`);
      expect(res.status).toBe(202);
    }
    const blocked = await requestReset(`net-x-${Date.now()}@example.test`, `${network}.200`);
    expect(blocked.status).toBe(429);
  });

  it('names the field of a malformed address, token or password', async () => {
    // Act / Assess: a malformed address, an overlong one
    const bad = await api.request('POST', '/v1/auth/password-reset', { body: { email: 'not-an-address' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain('body.email');
    const long = await api.request('POST', '/v1/auth/password-reset', {
      body: { email: `${'a'.repeat(300)}@example.test` },
    });
    expect(long.status).toBe(400);
    expect(long.body.errors.map((e: { path: string }) => e.path)).toContain('body.email');

    // Prepare
    const user = await signUp(api, 'reset-fields');
    await requestReset(user.email);
    const link = await resetLink(user.email);

    // Act / Assess: a short password
    const short = await confirmReset(link.token, 'short');
    expect(short.status).toBe(400);
    expect(short.body.errors.map((e: { path: string }) => e.path)).toContain('body.newPassword');

    // Act / Assess: a refused body spends nothing: the token still works.
    expect((await confirmReset(link.token, 'long-enough-password')).status).toBe(200);
  });

  it('when the mail cannot be sent: 503, and no token stored', async () => {
    // Prepare
    const user = await signUp(api, 'reset-outage');
    const before = (await mailTokenItems()).length;

    // Act: a reset while mail is down
    gate.shut();
    const res = await requestReset(user.email);

    // Assess: no token, no mail, the password unchanged
    expect(res.status).toBe(503);
    gate.open();
    expect((await mailTokenItems()).length).toBe(before);
    expect(await mailsTo(inboxApi(), user.email)).toHaveLength(0);
    expect((await login(user.email, user.password)).status).toBe(200);
  });
});

describe('security notices', () => {
  it('mails the owner when the password changes and when MFA is turned on or off, with no link that acts', async () => {
    // Prepare
    const user = await signUp(api, 'notices');

    // Act / Assess: a password change mails a notice with no token
    const changed = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: { currentPassword: user.password, newPassword: 'notice-new-password' },
    });
    expect(changed.status).toBe(200);
    const notice = await takeMail(inboxApi(), user.email, /password was changed/);
    expect(notice.text).toMatch(/From address: 127\./);
    expect(notice.text).not.toMatch(/m_[0-9a-z]{26}\./);

    // Act / Assess: MFA on and off mail one each
    user.password = 'notice-new-password';
    const mfa = await enableMfa(api, user);
    await takeMail(inboxApi(), user.email, /authentication was turned on/);
    const removed = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: user.token,
      body: { code: totpCodeAt(mfa.secret, mfa.confirmedAt + 30_000) },
    });
    expect(removed.status, removed.text).toBe(204);
    await takeMail(inboxApi(), user.email, /authentication was turned off/);
  });

  it('a failed notice does not fail or undo the change it reports', async () => {
    // Prepare
    const user = await signUp(api, 'notice-outage');

    // Act: a password change while mail is down
    gate.shut();
    const changed = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: { currentPassword: user.password, newPassword: 'changed-during-outage' },
    });
    gate.open();

    // Assess
    expect(changed.status).toBe(200);
    expect((await login(user.email, 'changed-during-outage')).status).toBe(200);
  });
});

describe('a recipient the mail server refuses', () => {
  const PERMANENT = [
    '550 5.1.1 <x>: Recipient address rejected: no such mailbox',
    '553 5.1.3 Bad address syntax',
  ];
  const TRANSIENT = ['452 4.2.2 Mailbox full', '450 4.7.1 Greylisted, try again later'];

  it.each(PERMANENT)(
    'an invitation whose address is refused for good (%s): 400 naming body.email, nothing written',
    async (reply) => {
      // Prepare: a tenant, and its partitions before
      const owner = await signUp(api, 'refused-inviter');
      const tenantId = await createTenant(api, owner);
      const before = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
      const events = await partitionItems(process.env.AUDIT_TABLE!, tenantId);
      const email = `refused-${Date.now()}@example.test`;

      // Act
      gate.refuseRecipients(reply);
      const res = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
        token: owner.token,
        body: { email, role: 'editor' },
      });
      gate.open();

      // Assess: the field named, no invitation, no event, no mail
      expect(res.status, res.text).toBe(400);
      expect(problemType(res)).toBe('validation-error');
      expect(res.body.errors).toEqual([
        { path: 'body.email', message: 'The mail server refused this address' },
      ]);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId)).toEqual(before);
      expect(await partitionItems(process.env.AUDIT_TABLE!, tenantId)).toEqual(events);
      expect(await mailsTo(inboxApi(), email)).toHaveLength(0);
    },
  );

  it.each(TRANSIENT)(
    'an invitation whose address is refused for now (%s): 503 with Retry-After, nothing written',
    async (reply) => {
      // Prepare
      const owner = await signUp(api, 'deferred-inviter');
      const tenantId = await createTenant(api, owner);
      const before = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
      const email = `deferred-${Date.now()}@example.test`;

      // Act
      gate.refuseRecipients(reply);
      const res = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
        token: owner.token,
        body: { email, role: 'editor' },
      });
      gate.open();

      // Assess: transient: try again later; then it works
      expect(res.status, res.text).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId)).toEqual(before);
      await invite(api, owner, tenantId, email, 'editor');
    },
  );

  it('a sign-up whose address is refused for good: the same 400 for a new and a taken address, nothing written', async () => {
    // Prepare: a taken address, and a new one
    const taken = await signUp(api, 'refused-taken');
    const fresh = `refused-new-${Date.now()}@example.test`;
    const tokensBefore = (await mailTokenItems()).length;

    // Act
    gate.refuseRecipients(PERMANENT[0]!);
    const answers = [];
    for (const email of [fresh, taken.email])
      answers.push(
        await api.request('POST', '/v1/auth/register', {
          body: { email, password: 'a-long-password-x', name: 'Refused' },
        }),
      );
    gate.open();

    // Assess: alike (registration tells no one who has an account), no account made, no token
    for (const res of answers) {
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors).toEqual([
        { path: 'body.email', message: 'The mail server refused this address' },
      ]);
    }
    expect((await login(fresh, 'a-long-password-x')).status).toBe(401);
    expect((await mailTokenItems()).length).toBe(tokensBefore);
  });
});
