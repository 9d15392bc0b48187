import { expect } from 'vitest';
import type { Role } from '../../shared/domain/permissions.js';
import type { TestApi } from './local-api.js';

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  token: string;
}

let counter = 0;

/** Registers and signs in a new user through the real routes (each from its own loopback address). */
export async function signUp(api: TestApi, label = 'user'): Promise<TestUser> {
  counter++;
  const email = `${label}-${counter}-${Date.now()}@example.test`;
  const password = `pw-${label}-${counter}-long-enough!`;
  const reg = await api.request('POST', '/v1/auth/register', {
    body: { email, password, name: `${label} ${counter}` },
  });
  expect(reg.status, reg.text).toBe(201);
  const login = await api.request('POST', '/v1/auth/login', { body: { email, password } });
  expect(login.status, login.text).toBe(200);
  return { userId: reg.body.userId, email, password, token: login.body.token };
}

/** Creates a tenant owned by `owner`. */
export async function createTenant(api: TestApi, owner: TestUser, name = 'Acme'): Promise<string> {
  const res = await api.request('POST', '/v1/tenants', { token: owner.token, body: { name } });
  expect(res.status, res.text).toBe(201);
  return res.body.tenantId;
}

/** Adds `user` to the tenant with `role`, as the owner. */
export async function addMember(api: TestApi, owner: TestUser, tenantId: string, user: TestUser, role: Role) {
  const res = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
    token: owner.token,
    body: { email: user.email, role },
  });
  expect(res.status, res.text).toBe(201);
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
