import { expect, inject } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import type { Role } from '../../shared/domain/permissions.js';
import { freshLoopbackIp, type TestApi } from './local-api.js';

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  token: string;
}

let counter = 0;

/** The integration run's mail inbox (MailDev's REST API). */
export const inboxApi = () => inject('mailApiUrl');

/**
 * Registers a new user through the real routes (each user from its own loopback address), verifies the
 * address with the link mailed to it, and signs in.
 */
export async function signUp(api: TestApi, label = 'user'): Promise<TestUser> {
  const user = await signUpUnverified(api, label);
  const mail = await takeMail(inboxApi(), user.email, /^Verify your e-mail/);
  const verified = await api.request('POST', '/v1/auth/verify-email', {
    body: { token: linkIn(mail, '/verify-email').token },
  });
  expect(verified.status, verified.text).toBe(200);
  return user;
}

/** Registers and signs in a new user whose address is not verified (its verification mail stays in the inbox). */
export async function signUpUnverified(api: TestApi, label = 'user'): Promise<TestUser> {
  counter++;
  const email = `${label}-${counter}-${Date.now()}@example.test`;
  const password = `pw-${label}-${counter}-long-enough!`;
  // Registered and signed in from one device (address and agent), as people do: no new-device notice.
  const sourceIp = freshLoopbackIp();
  const reg = await api.request('POST', '/v1/auth/register', {
    body: { email, password, name: `${label} ${counter}` },
    sourceIp,
  });
  expect(reg.status, reg.text).toBe(202);
  const login = await api.request('POST', '/v1/auth/login', { body: { email, password }, sourceIp });
  expect(login.status, login.text).toBe(200);
  return { userId: login.body.user.userId, email, password, token: login.body.token };
}

export interface EnabledMfa {
  secret: string;
  recoveryCodes: string[];
  /** When the confirmation code was taken: that step and earlier ones are used up. */
  confirmedAt: number;
}

/**
 * Enrols and confirms TOTP in the user's session (which becomes an MFA session; their other sessions are
 * revoked).
 */
export async function enableMfa(api: TestApi, user: TestUser): Promise<EnabledMfa> {
  const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: user.token });
  expect(enrol.status, enrol.text).toBe(201);
  const confirmedAt = Date.now();
  const confirm = await api.request('POST', '/v1/me/mfa/totp/confirm', {
    token: user.token,
    body: { code: totpCodeAt(enrol.body.secret, confirmedAt), currentPassword: user.password },
  });
  expect(confirm.status, confirm.text).toBe(200);
  return { secret: enrol.body.secret, recoveryCodes: confirm.body.recoveryCodes, confirmedAt };
}

/** Creates a tenant owned by `owner`. */
export async function createTenant(api: TestApi, owner: TestUser, name = 'Acme'): Promise<string> {
  const res = await api.request('POST', '/v1/tenants', { token: owner.token, body: { name } });
  expect(res.status, res.text).toBe(201);
  return res.body.tenantId;
}

/** Invites `email` to the tenant with `role` as `inviter` (a session or an API key); the invitation id. */
export async function invite(
  api: TestApi,
  inviter: { token: string },
  tenantId: string,
  email: string,
  role: Role,
): Promise<string> {
  const res = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
    token: inviter.token,
    body: { email, role },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.invitationId;
}

/** Accepts an invitation as the invitee (it must be in their list). */
export async function acceptInvitation(api: TestApi, invitee: TestUser, invitationId: string) {
  const mine = await api.request('GET', '/v1/me/invitations', { token: invitee.token });
  expect(mine.status, mine.text).toBe(200);
  expect(mine.body.items.map((i: { invitationId: string }) => i.invitationId)).toContain(invitationId);
  const res = await api.request('POST', `/v1/me/invitations/${invitationId}/accept`, {
    token: invitee.token,
  });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** Makes `user` a member with `role`: `inviter` (the owner, usually) invites, the user accepts. */
export async function addMember(
  api: TestApi,
  inviter: { token: string },
  tenantId: string,
  user: TestUser,
  role: Role,
) {
  await acceptInvitation(api, user, await invite(api, inviter, tenantId, user.email, role));
}

export interface TenantWithRoles {
  tenantId: string;
  users: Record<Role, TestUser>;
}

/** A tenant with one user per role (the owner created it). */
export async function tenantWithEveryRole(api: TestApi, name = 'Acme'): Promise<TenantWithRoles> {
  const owner = await signUp(api, 'owner');
  const tenantId = await createTenant(api, owner, name);
  const users = { owner } as Record<Role, TestUser>;
  for (const role of ['admin', 'editor', 'reviewer', 'viewer'] as const) {
    users[role] = await signUp(api, role);
    await addMember(api, owner, tenantId, users[role], role);
  }
  return { tenantId, users };
}
