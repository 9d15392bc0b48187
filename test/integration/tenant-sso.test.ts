/*
 * A tenant's own OpenID provider (issue 16 item 1): its owners configure it (the secret encrypted under the
 * tenant's key, never returned), people of its allowed domains sign up, sign in and link through it, and a
 * tenant that enforces it refuses its members' other sessions and the keys those minted. Runs against a real
 * OpenID provider (oidc-provider) on loopback.
 */

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { linkIn, mailsTo, takeMail } from '../../infra/local/inbox-reader.js';
import { freePort } from '../../infra/local/moto.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { parseBearer } from '../../shared/domain/credentials.js';
import { SSO_PROVIDER_SK, sessionKey, TENANT_SK, userKey } from '../../shared/domain/item-layout.js';
import { PERMISSIONS, roleHas } from '../../shared/domain/permissions.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import {
  addMember,
  createTenant,
  enableMfa,
  inboxApi,
  invite,
  signUp,
  type TestUser,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import {
  callbackBody,
  type ProviderAccount,
  providerAccount,
  useTestOidcProvider,
} from '../support/oidc-provider.js';
import { concretePath } from '../support/route-paths.js';
import { partitionItems, platformEventsBy } from '../support/table-reads.js';

// The same provider is also the platform's `test-idp`: a platform sign-in through it is not the tenant's.
const idp = useTestOidcProvider();
const api = useTestApi();
const TENANT_TABLE = () => process.env.TENANT_DATA_TABLE!;
const IDENTITY_TABLE = () => process.env.IDENTITY_TABLE!;
const AUDIT_TABLE = () => process.env.AUDIT_TABLE!;

function sessionIdOf(token: string): string {
  const parsed = parseBearer(token);
  if (parsed?.kind !== 'session') throw new Error('not a session token');
  return parsed.sessionId;
}
const DOMAIN = 'corp.example.test';

/** A fresh account at the provider with an address in the tenant's allowed domain. */
const corpAccount = (overrides: Partial<ProviderAccount> = {}) => {
  const account = providerAccount(overrides);
  return { ...account, email: account.email!.replace(/@.*$/, `@${DOMAIN}`), ...overrides };
};

const ssoBody = (overrides: Record<string, unknown> = {}) => ({
  issuer: idp.issuer,
  clientId: idp.clientId,
  clientSecret: idp.clientSecret,
  allowedDomains: [DOMAIN],
  enforced: false,
  ...overrides,
});

const putSso = (token: string, tenantId: string, body: Record<string, unknown>) =>
  api.request('PUT', `/v1/tenants/${tenantId}/sso`, { token, body });

/** The tenant's SSO item and tenant item, straight from the table. */
async function stored(tenantId: string) {
  const items = await partitionItems(TENANT_TABLE(), tenantId);
  return {
    sso: items.find((i) => i.sk === SSO_PROVIDER_SK),
    tenant: items.find((i) => i.sk === TENANT_SK)!,
  };
}

const finish = (body: Record<string, unknown>) => api.request('POST', '/v1/auth/oidc/callback', { body });

/** A sign-in through the tenant's IdP as `account`, finished. */
async function signInThroughTenant(tenantId: string, account: ProviderAccount): Promise<TestResponse> {
  const start = await api.request('POST', '/v1/auth/oidc/start', { body: { tenantId } });
  expect(start.status, start.text).toBe(200);
  return finish(await callbackBody(idp, start.body, account));
}

/** Links the tenant's IdP as `account` to `user`'s account (password proof); asserts it worked. */
async function linkTenantIdp(user: TestUser, tenantId: string, account: ProviderAccount) {
  const start = await api.request('POST', '/v1/me/oidc/link', {
    token: user.token,
    body: { tenantId, currentPassword: user.password },
  });
  expect(start.status, start.text).toBe(200);
  const linked = await finish(await callbackBody(idp, start.body, account));
  expect(linked.status, linked.text).toBe(200);
  expect(linked.body.outcome).toBe('linked');
}

/** A tenant whose owner configured its IdP (not enforced) and holds a session signed in through it. */
async function tenantWithIdp() {
  const owner = await signUp(api, 'sso-owner');
  const tenantId = await createTenant(api, owner, 'Corp');
  const put = await putSso(owner.token, tenantId, ssoBody());
  expect(put.status, put.text).toBe(200);
  const ownerAtIdp = corpAccount();
  await linkTenantIdp(owner, tenantId, ownerAtIdp);
  const signedIn = await signInThroughTenant(tenantId, ownerAtIdp);
  expect(signedIn.status, signedIn.text).toBe(200);
  expect(signedIn.body.user.userId).toBe(owner.userId);
  return { owner, tenantId, ownerAtIdp, ssoToken: signedIn.body.token as string };
}

describe('a tenant’s own identity provider: configuration', () => {
  it('stores the provider with its secret encrypted, never returns the secret, and audits the change', async () => {
    // Prepare
    const owner = await signUp(api, 'sso-config');
    const tenantId = await createTenant(api, owner, 'Corp');

    // Act
    const put = await putSso(
      owner.token,
      tenantId,
      ssoBody({ allowedDomains: [DOMAIN, 'Other.Example.Test'] }),
    );
    const get = await api.request('GET', `/v1/tenants/${tenantId}/sso`, { token: owner.token });

    // Assess: the answer, the stored item (ciphertext only) and the audit event
    expect(put.status, put.text).toBe(200);
    const expected = {
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecretSet: true,
      allowedDomains: [DOMAIN, 'other.example.test'],
      enforced: false,
      updatedAt: expect.any(String),
      updatedBy: owner.userId,
    };
    expect(put.body).toEqual(expected);
    expect(get.status).toBe(200);
    expect(get.body).toEqual(expected);
    for (const res of [put, get]) expect(res.text).not.toContain(idp.clientSecret);
    const { sso, tenant } = await stored(tenantId);
    expect(sso).toMatchObject({ issuer: idp.issuer, enforced: false, version: 1 });
    expect(typeof sso!.clientSecretCiphertext).toBe('string');
    expect(JSON.stringify(sso)).not.toContain(idp.clientSecret);
    expect(tenant.ssoEnforced).toBeUndefined();
    const audit = await api.request('GET', `/v1/tenants/${tenantId}/audit-events`, { token: owner.token });
    const event = audit.body.items.find((e: { action: string }) => e.action === 'tenant.sso.configured');
    expect(event).toMatchObject({
      details: { after: { issuer: idp.issuer, enforced: false }, clientSecretChanged: true },
    });
    expect(audit.text).not.toContain(idp.clientSecret);
    expect(audit.text).not.toContain(sso!.clientSecretCiphertext);

    // Act: a change of domains only keeps the stored secret
    const again = await putSso(owner.token, tenantId, ssoBody({ clientSecret: undefined }));

    // Assess
    expect(again.status, again.text).toBe(200);
    const after = await stored(tenantId);
    expect(after.sso!.clientSecretCiphertext).toBe(sso!.clientSecretCiphertext);
    expect(after.sso!.version).toBe(2);
  });

  it('refuses malformed, oversized and missing input naming the field, and changes nothing', async () => {
    // Prepare
    const owner = await signUp(api, 'sso-invalid');
    const tenantId = await createTenant(api, owner, 'Corp');
    const cases: [Record<string, unknown>, string][] = [
      [ssoBody({ issuer: 'http://idp.example.test' }), 'body.issuer'],
      [ssoBody({ issuer: 'not a url' }), 'body.issuer'],
      [ssoBody({ issuer: 'https://idp.example.test:22' }), 'body.issuer'],
      [ssoBody({ issuer: 'https://idp.example.test:0/realm' }), 'body.issuer'],
      [ssoBody({ issuer: `${idp.issuer}?x=1` }), 'body.issuer'],
      [ssoBody({ clientId: 'c'.repeat(257) }), 'body.clientId'],
      [ssoBody({ clientId: '' }), 'body.clientId'],
      [ssoBody({ clientSecret: 's'.repeat(1025) }), 'body.clientSecret'],
      [ssoBody({ clientSecret: undefined }), 'body.clientSecret'],
      [ssoBody({ allowedDomains: [] }), 'body.allowedDomains'],
      [ssoBody({ allowedDomains: ['*.corp.example.test'] }), 'body.allowedDomains.0'],
      [
        ssoBody({ allowedDomains: Array.from({ length: 21 }, (_, i) => `d${i}.example.test`) }),
        'body.allowedDomains',
      ],
      [ssoBody({ enforced: 'yes' }), 'body.enforced'],
      [ssoBody({ extra: 1 }), 'body.extra'],
      // Discovery: the document names the issuer without the trailing slash
      [ssoBody({ issuer: `${idp.issuer}/` }), 'body.issuer'],
    ];

    for (const [body, path] of cases) {
      // Act
      const res = await putSso(owner.token, tenantId, body);

      // Assess
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        res.text,
      ).toContain(path);
    }
    expect((await stored(tenantId)).sso).toBeUndefined();
  });

  it('answers 503 naming the issuer when its discovery document cannot be fetched', async () => {
    // Prepare: an issuer on a port nobody listens on
    const owner = await signUp(api, 'sso-down');
    const tenantId = await createTenant(api, owner, 'Corp');

    // Act
    const res = await putSso(
      owner.token,
      tenantId,
      ssoBody({ issuer: `http://127.0.0.1:${await freePort()}` }),
    );

    // Assess
    expect(res.status, res.text).toBe(503);
    expect(problemType(res)).toBe('oidc-issuer-unreachable');
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'body.issuer' })]);
    expect((await stored(tenantId)).sso).toBeUndefined();
  });

  it('lets only owners’ sessions reach it: lower roles 403, API keys 403, another tenant’s id 404, nothing changes', async () => {
    // Prepare: a tenant with every role and a configured IdP; the owner's full-scope key; a stranger's tenant
    const { tenantId, users } = await tenantWithEveryRole(api, 'Corp');
    expect((await putSso(users.owner.token, tenantId, ssoBody())).status).toBe(200);
    const key = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token: users.owner.token,
      body: { name: 'all', scopes: ['tenant:read', 'tenant:sso'], expiresInDays: 1 },
    });
    expect(key.status, key.text).toBe(201);
    const stranger = await signUp(api, 'sso-stranger');
    const strangersTenant = await createTenant(api, stranger, 'Other');
    const before = await stored(tenantId);

    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', ssoBody({ allowedDomains: ['evil.example.test'] })],
      ['DELETE', undefined],
    ] as const) {
      for (const role of ['admin', 'editor', 'reviewer', 'viewer'] as const) {
        // Act
        const res = await api.request(method, `/v1/tenants/${tenantId}/sso`, {
          token: users[role].token,
          body,
        });
        // Assess
        expect(res.status, `${method} as ${role}`).toBe(403);
        expect(problemType(res)).toBe('forbidden');
      }
      // Act: the owner's key that holds tenant:sso
      const byKey = await api.request(method, `/v1/tenants/${tenantId}/sso`, { token: key.body.key, body });
      // Assess
      expect(byKey.status, `${method} by key`).toBe(403);
      expect(problemType(byKey)).toBe('session-required');

      // Act: the stranger names this tenant, and the owner names the stranger's
      const foreign = await api.request(method, `/v1/tenants/${tenantId}/sso`, {
        token: stranger.token,
        body,
      });
      const other = await api.request(method, `/v1/tenants/${strangersTenant}/sso`, {
        token: users.owner.token,
        body,
      });
      // Assess
      expect(foreign.status, `${method} by a stranger`).toBe(404);
      expect(other.status, `${method} on another tenant`).toBe(404);
    }
    const after = await stored(tenantId);
    expect(after.sso).toEqual(before.sso);
    expect(after.tenant).toEqual(before.tenant);
    expect((await stored(strangersTenant)).sso).toBeUndefined();
  });

  it('removes the provider and its enforcement; sign-in through it then names body.tenantId', async () => {
    // Prepare
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    expect(
      (await putSso(ssoToken, tenantId, ssoBody({ clientSecret: undefined, enforced: true }))).status,
    ).toBe(200);

    // Act
    const removed = await api.request('DELETE', `/v1/tenants/${tenantId}/sso`, { token: ssoToken });
    const again = await api.request('DELETE', `/v1/tenants/${tenantId}/sso`, { token: ssoToken });
    const start = await api.request('POST', '/v1/auth/oidc/start', { body: { tenantId } });
    const passwordSession = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });

    // Assess
    expect(removed.status, removed.text).toBe(204);
    expect(again.status).toBe(404);
    const { sso, tenant } = await stored(tenantId);
    expect(sso).toBeUndefined();
    expect(tenant.ssoEnforced).toBeUndefined();
    expect(start.status).toBe(400);
    expect(start.body.errors).toEqual([expect.objectContaining({ path: 'body.tenantId' })]);
    expect(passwordSession.status).toBe(200);
  });
});

describe('a tenant’s own identity provider: sign-in', () => {
  it('mails no link confirmation to an existing account: a tenant names its provider as it likes', async () => {
    // Prepare: a tenant calls its provider "Google" and lists the victim's domain
    const victim = await signUp(api, 'mail-link-victim');
    const owner = await signUp(api, 'sso-phisher');
    const tenantId = await createTenant(api, owner, 'Google');
    const put = await putSso(owner.token, tenantId, ssoBody({ allowedDomains: ['example.test'] }));
    expect(put.status, put.text).toBe(200);

    // Act: a sign-in through it asserting the victim's address
    const res = await signInThroughTenant(tenantId, providerAccount({ email: victim.email }));

    // Assess: the link is refused as before, and no mail reached the victim
    expect(res.status, res.text).toBe(409);
    expect(problemType(res)).toBe('oidc-link-required');
    await new Promise((r) => setTimeout(r, 500));
    const mails = await mailsTo(inboxApi(), victim.email);
    expect(mails.filter((m) => /^Confirm signing in/.test(m.subject))).toEqual([]);
  });

  it('vouches for an address in its own tenant only: another tenant’s invitation to it cannot be seen or taken', async () => {
    // Prepare: an owner lists a domain (no proof it is theirs) and signs in through their IdP as an address
    // of it nobody has registered; a victim tenant invites that address as admin; the attacker's own
    // tenant invites it too
    const { owner, tenantId } = await tenantWithIdp();
    const target = corpAccount();
    const victim = await signUp(api, 'victim-owner');
    const victimTenantId = await createTenant(api, victim, 'VictimCorp');
    const invite = async (token: string, t: string) => {
      const res = await api.request('POST', `/v1/tenants/${t}/members`, {
        token,
        body: { email: target.email, role: 'admin' },
      });
      expect(res.status, res.text).toBe(201);
      return res.body.invitationId as string;
    };
    const victimInvitation = await invite(victim.token, victimTenantId);
    const ownInvitation = await invite(owner.token, tenantId);
    const signedIn = await signInThroughTenant(tenantId, target);
    expect(signedIn.status, signedIn.text).toBe(200);
    const token = signedIn.body.token as string;

    // Act
    const listed = await api.request('GET', '/v1/me/invitations', { token });
    const takeVictim = await api.request('POST', `/v1/me/invitations/${victimInvitation}/accept`, { token });
    const ownTenant = await api.request('POST', '/v1/tenants', { token, body: { name: 'Mine' } });
    const takeOwn = await api.request('POST', `/v1/me/invitations/${ownInvitation}/accept`, { token });
    const victimMembers = await api.request('GET', `/v1/tenants/${victimTenantId}/members`, {
      token: victim.token,
    });

    // Assess: only the vouching tenant's invitation exists for this session; the victim tenant is untouched
    expect(signedIn.body.user.emailVerified).toBe(false);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items.map((i: { invitationId: string }) => i.invitationId)).toEqual([ownInvitation]);
    expect(takeVictim.status, takeVictim.text).toBe(404);
    expect(ownTenant.status, ownTenant.text).toBe(403);
    expect(takeOwn.status, takeOwn.text).toBe(201);
    expect(victimMembers.body.items.map((m: { email: string }) => m.email)).toEqual([victim.email]);
  });

  it('makes accounts for verified addresses of its allowed domains, with an sso session bound to it', async () => {
    // Prepare
    const { tenantId } = await tenantWithIdp();
    const alice = corpAccount();

    // Act
    const res = await signInThroughTenant(tenantId, alice);

    // Assess
    expect(res.status, res.text).toBe(200);
    // The tenant's owner chose the domain without proving it: the address is not verified for the platform
    expect(res.body.user).toMatchObject({ email: alice.email, emailVerified: false });
    const session = (await partitionItems(IDENTITY_TABLE(), sessionKey(sessionIdOf(res.body.token)).pk))[0];
    expect(session).toMatchObject({
      userId: res.body.user.userId,
      authMethod: 'sso',
      ssoProvider: `tenant:${tenantId}`,
    });
    // Its session acts in that tenant only: the account's own routes refuse it
    const sessions = await api.request('GET', '/v1/me/sessions', { token: res.body.token });
    expect(sessions.status, sessions.text).toBe(403);
    expect(problemType(sessions)).toBe('sso-session-scope');
  });

  it('refuses addresses outside its allowed domains and unverified ones: 403, no account, recorded', async () => {
    // Prepare
    const { tenantId } = await tenantWithIdp();
    const outsider = providerAccount({ email: `someone-${Date.now()}@elsewhere.example.test` });
    const unverified = corpAccount({ email_verified: false });

    for (const account of [outsider, unverified]) {
      // Act
      const res = await signInThroughTenant(tenantId, account);

      // Assess: refused; the address is still free to register
      expect(res.status, res.text).toBe(403);
      expect(problemType(res)).toBe('oidc-domain-not-allowed');
      const register = await api.request('POST', '/v1/auth/register', {
        body: { email: account.email, password: 'a-long-enough-password-1', name: 'Someone' },
      });
      expect(register.status, register.text).toBe(202);
    }
  });

  it('links only addresses of its allowed domains', async () => {
    // Prepare
    const { tenantId } = await tenantWithIdp();
    const user = await signUp(api, 'sso-link');
    const start = await api.request('POST', '/v1/me/oidc/link', {
      token: user.token,
      body: { tenantId, currentPassword: user.password },
    });
    expect(start.status, start.text).toBe(200);

    // Act
    const res = await finish(await callbackBody(idp, start.body, providerAccount()));

    // Assess
    expect(res.status, res.text).toBe(403);
    expect(problemType(res)).toBe('oidc-domain-not-allowed');
    const identities = await api.request('GET', '/v1/me/oidc/identities', { token: user.token });
    expect(identities.body.items).toEqual([]);
  });
});

describe('a tenant’s own identity provider: enforcement', () => {
  it('answers the user’s other tenant exactly as a stranger’s (404), on every tenant route, for its sessions and the keys they minted, and writes to neither tenant’s audit log (review11 F4)', async () => {
    // Prepare: the owner of Corp (signed in through Corp's IdP, and a key that session minted) is also an
    // admin of Other; Stranger's tenant has nothing to do with them
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    const other = await signUp(api, 'sso-other-owner');
    const otherTenantId = await createTenant(api, other, 'Other');
    await addMember(api, other, otherTenantId, owner, 'admin');
    const stranger = await signUp(api, 'sso-stranger');
    const strangerTenantId = await createTenant(api, stranger, 'Stranger');
    const minted = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token: ssoToken,
      body: { name: 'sso key', scopes: PERMISSIONS.filter((p) => roleHas('admin', p)), expiresInDays: 1 },
    });
    expect(minted.status, minted.text).toBe(201);
    const auditBefore = await Promise.all(
      [otherTenantId, strangerTenantId].map((t) => partitionItems(AUDIT_TABLE(), t)),
    );
    const withoutRequestId = ({ requestId: _, ...rest }: Record<string, unknown>) => rest;
    const tenantRoutes = ROUTES.filter((r) => r.auth.kind === 'tenant');
    expect(tenantRoutes.length).toBeGreaterThan(20);

    for (const [credential, token] of [
      ['session', ssoToken],
      ['key', minted.body.key as string],
    ] as const) {
      for (const route of tenantRoutes) {
        // Act: the same request to the member's other tenant and to a stranger's
        const member = await api.request(route.method, concretePath(route, otherTenantId), { token });
        const notMember = await api.request(route.method, concretePath(route, strangerTenantId), { token });

        // Assess: 404 both, the same problem apart from its requestId
        const what = `${credential} ${route.method} ${route.path}`;
        expect(member.status, `${what}: ${member.text}`).toBe(404);
        expect(notMember.status, what).toBe(404);
        expect(withoutRequestId(member.body), what).toEqual(withoutRequestId(notMember.body));
      }
    }

    // Assess: nothing written to either tenant's audit log; the user's password session still reaches Other
    const auditAfter = await Promise.all(
      [otherTenantId, strangerTenantId].map((t) => partitionItems(AUDIT_TABLE(), t)),
    );
    expect(auditAfter).toEqual(auditBefore);
    const byPassword = await api.request('GET', `/v1/tenants/${otherTenantId}/members`, {
      token: owner.token,
    });
    expect(byPassword.status, byPassword.text).toBe(200);
    const inOwn = await api.request('GET', `/v1/tenants/${tenantId}/members`, { token: ssoToken });
    expect(inOwn.status, inOwn.text).toBe(200);
  });

  it('keeps its sessions out of the account: account routes answer 403 sso-session-scope, account reads show its tenant only', async () => {
    // Prepare: Corp's owner (verified, linked to Corp's IdP) is also an admin of Other and invited to Third;
    // Corp's IdP operator signs in as them
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    const other = await signUp(api, 'sso-acct-other');
    const otherTenantId = await createTenant(api, other, 'Other');
    await addMember(api, other, otherTenantId, owner, 'admin');
    const third = await signUp(api, 'sso-acct-third');
    const thirdTenantId = await createTenant(api, third, 'Third');
    const thirdInvitation = await invite(api, third, thirdTenantId, owner.email, 'viewer');
    const identityId = (await api.request('GET', '/v1/me/oidc/identities', { token: owner.token })).body
      .items[0].identityId as string;
    const sso = (method: string, path: string, body?: Record<string, unknown>) =>
      api.request(method, path, { token: ssoToken, ...(body ? { body } : {}) });

    // Act: reads, then every account route the operator could abuse
    const me = await sso('GET', '/v1/me');
    const tenants = await sso('GET', '/v1/tenants');
    const invitations = await sso('GET', '/v1/me/invitations');
    const takeThird = await sso('POST', `/v1/me/invitations/${thirdInvitation}/accept`);
    const refused = {
      listSessions: await sso('GET', '/v1/me/sessions'),
      revokeOthers: await sso('DELETE', '/v1/me/sessions'),
      signIns: await sso('GET', '/v1/me/sign-ins'),
      password: await sso('POST', '/v1/me/password', {
        currentPassword: owner.password,
        newPassword: 'an operator-chosen password',
      }),
      enrolTotp: await sso('POST', '/v1/me/mfa/totp'),
      passkeys: await sso('GET', '/v1/me/passkeys'),
      stepUp: await sso('POST', '/v1/me/step-up/passkey/options'),
      identities: await sso('GET', '/v1/me/oidc/identities'),
      unlink: await sso('DELETE', `/v1/me/oidc/identities/${identityId}`, {
        currentPassword: owner.password,
      }),
      link: await sso('POST', '/v1/me/oidc/link', { provider: 'test-idp', currentPassword: owner.password }),
      createTenant: await sso('POST', '/v1/tenants', { name: 'Operator’s' }),
    };

    // Assess: Corp alone in the account's answers; Third's invitation unseen and untaken
    expect(me.status, me.text).toBe(200);
    expect(me.body.memberships).toEqual([{ tenantId, role: 'owner' }]);
    expect(tenants.body.items.map((t: { tenantId: string }) => t.tenantId)).toEqual([tenantId]);
    expect(invitations.body.items).toEqual([]);
    expect(takeThird.status, takeThird.text).toBe(404);
    for (const [name, res] of Object.entries(refused)) {
      expect(res.status, `${name}: ${res.text}`).toBe(403);
      expect(problemType(res), name).toBe('sso-session-scope');
    }
    // Assess: nothing changed for the account's owner, whose password session sees everything
    const ownerMe = await api.request('GET', '/v1/me', { token: owner.token });
    expect(ownerMe.body.memberships.map((m: { tenantId: string }) => m.tenantId).sort()).toEqual(
      [tenantId, otherTenantId].sort(),
    );
    const ownerInvitations = await api.request('GET', '/v1/me/invitations', { token: owner.token });
    expect(ownerInvitations.body.items.map((i: { invitationId: string }) => i.invitationId)).toEqual([
      thirdInvitation,
    ]);
    const ownerIdentities = await api.request('GET', '/v1/me/oidc/identities', { token: owner.token });
    expect(ownerIdentities.body.items).toHaveLength(1);
    const ownerTenants = await api.request('GET', '/v1/tenants', { token: owner.token });
    expect(ownerTenants.body.items).toHaveLength(2);
    expect((await api.request('GET', '/v1/me/sessions', { token: owner.token })).status).toBe(200);

    // Act / Assess: it can still sign itself out
    expect((await sso('POST', '/v1/auth/logout')).status).toBe(204);
    expect((await sso('GET', '/v1/me')).status).toBe(401);
  });

  it('gets LaminDB credentials for its own tenant’s location, and for the user’s other tenant’s the answer to a stranger (404)', async () => {
    // Prepare: a managed location in Corp and one in another tenant of the same owner
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    const otherTenantId = await createTenant(api, owner, 'Private');
    const rootOf = async (t: string) => {
      const created = await api.request('POST', `/v1/tenants/${t}/storage-locations`, {
        token: owner.token,
        body: { managed: true },
      });
      expect(created.status, created.text).toBe(201);
      return `s3://${created.body.bucket}/${created.body.prefix}`;
    };
    const own = await rootOf(tenantId);
    const elsewhere = await rootOf(otherTenantId);
    const lamin = (root: string) =>
      api.request('POST', '/compat/lamin/storages/credentials', {
        token: ssoToken,
        body: { path: `${root}/raw/x.txt` },
      });

    // Act
    const inOwn = await lamin(own);
    const inOther = await lamin(elsewhere);

    // Assess
    expect(inOwn.status, inOwn.text).toBe(200);
    expect(inOther.status, inOther.text).toBe(404);
    expect(inOther.body.type).toMatch(/not-found$/);
  });

  it('turns on only from a session signed in through it (409 otherwise, nothing changed)', async () => {
    // Prepare: the owner's password session; a session through the platform provider (same issuer)
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    const before = await stored(tenantId);

    // Act: from the password session; and from the IdP session while changing the client
    const fromPassword = await putSso(
      owner.token,
      tenantId,
      ssoBody({ clientSecret: undefined, enforced: true }),
    );
    const retargeted = await putSso(
      ssoToken,
      tenantId,
      ssoBody({ clientId: 'another-client', enforced: true }),
    );

    // Assess
    for (const res of [fromPassword, retargeted]) {
      expect(res.status, res.text).toBe(409);
      expect(problemType(res)).toBe('sso-lockout-guard');
    }
    expect(await stored(tenantId)).toEqual(before);

    // Act: from the session signed in through it
    const fromIdp = await putSso(ssoToken, tenantId, ssoBody({ clientSecret: undefined, enforced: true }));

    // Assess
    expect(fromIdp.status, fromIdp.text).toBe(200);
    expect(fromIdp.body.enforced).toBe(true);
    expect((await stored(tenantId)).tenant.ssoEnforced).toBe(true);
  });

  it('refuses other sessions and keys they minted (403 sso-session-required); its own sessions and keys work', async () => {
    // Prepare: an admin with a password session, keys from a password and from an IdP session, enforcement on
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    const admin = await signUp(api, 'sso-admin');
    await addMember(api, owner, tenantId, admin, 'admin');
    const mintKey = (token: string) =>
      api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
        token,
        body: { name: 'k', scopes: ['tenant:read'], expiresInDays: 1 },
      });
    const passwordKey = await mintKey(owner.token);
    const ssoKey = await mintKey(ssoToken);
    expect(passwordKey.status).toBe(201);
    expect(ssoKey.status).toBe(201);
    expect(
      (await putSso(ssoToken, tenantId, ssoBody({ clientSecret: undefined, enforced: true }))).status,
    ).toBe(200);

    // Act
    const get = (token: string) => api.request('GET', `/v1/tenants/${tenantId}`, { token });
    const [ownerPassword, adminPassword, byPasswordKey, byIdp, bySsoKey] = await Promise.all([
      get(owner.token),
      get(admin.token),
      get(passwordKey.body.key),
      get(ssoToken),
      get(ssoKey.body.key),
    ]);

    // Assess
    for (const res of [ownerPassword, adminPassword, byPasswordKey]) {
      expect(res.status, res.text).toBe(403);
      expect(problemType(res)).toBe('sso-session-required');
    }
    expect(byIdp.status, byIdp.text).toBe(200);
    expect(bySsoKey.status, bySsoKey.text).toBe(200);
    // A refused change is in the tenant's audit log, with why
    const mint = await mintKey(owner.token);
    expect(mint.status).toBe(403);
    expect(problemType(mint)).toBe('sso-session-required');
    const refusals = (await partitionItems(process.env.AUDIT_TABLE!, tenantId)).filter(
      (e) => e.action === 'auth.action.refused' && e.details?.route === 'createApiKey',
    );
    expect(refusals).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ userId: owner.userId }),
        details: expect.objectContaining({ reason: 'sso-session-required', credential: 'session' }),
      }),
    ]);
  });

  it('satisfies the tenant’s requireMfa with a sign-in through its enforced IdP; a platform provider does not', async () => {
    // Prepare: enforcement on, then requireMfa (from the IdP session); the owner's platform-provider identity
    const { owner, tenantId, ssoToken, ownerAtIdp } = await tenantWithIdp();
    expect(
      (await putSso(ssoToken, tenantId, ssoBody({ clientSecret: undefined, enforced: true }))).status,
    ).toBe(200);
    const patch = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: ssoToken,
      body: { settings: { requireMfa: true } },
    });
    expect(patch.status, patch.text).toBe(200);
    const platformStart = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: { provider: 'test-idp', currentPassword: owner.password },
    });
    const platformAccount = { ...ownerAtIdp, sub: `${ownerAtIdp.sub}-platform` };
    expect((await finish(await callbackBody(idp, platformStart.body, platformAccount))).status).toBe(200);
    const platformStartSignIn = await api.request('POST', '/v1/auth/oidc/start', {
      body: { provider: 'test-idp' },
    });
    const platform = await finish(await callbackBody(idp, platformStartSignIn.body, platformAccount));
    expect(platform.status, platform.text).toBe(200);

    // Act
    const byIdp = await api.request('GET', `/v1/tenants/${tenantId}`, { token: ssoToken });
    const byPlatform = await api.request('GET', `/v1/tenants/${tenantId}`, { token: platform.body.token });
    const key = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token: ssoToken,
      body: { name: 'k', scopes: ['tenant:read'], expiresInDays: 1 },
    });

    // Assess
    expect(byIdp.status, byIdp.text).toBe(200);
    expect(byPlatform.status).toBe(403);
    expect(problemType(byPlatform)).toBe('sso-session-required');
    expect(key.status, key.text).toBe(201);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: key.body.key })).status).toBe(200);
  });

  it('lets an owner’s MFA session reach only the IdP settings, to lift enforcement when the IdP fails', async () => {
    // Prepare: enforcement on; then the owner enrols TOTP from the password session (an MFA session now)
    const { owner, tenantId, ssoToken } = await tenantWithIdp();
    expect(
      (await putSso(ssoToken, tenantId, ssoBody({ clientSecret: undefined, enforced: true }))).status,
    ).toBe(200);
    await enableMfa(api, owner);

    // Act
    const tenantRead = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });
    const ssoRead = await api.request('GET', `/v1/tenants/${tenantId}/sso`, { token: owner.token });
    const reEnforce = await putSso(
      owner.token,
      tenantId,
      ssoBody({ clientSecret: undefined, enforced: true }),
    );
    const lift = await putSso(owner.token, tenantId, ssoBody({ clientSecret: undefined, enforced: false }));
    const afterLift = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });

    // Assess
    expect(tenantRead.status).toBe(403);
    expect(problemType(tenantRead)).toBe('sso-session-required');
    expect(ssoRead.status, ssoRead.text).toBe(200);
    expect(reEnforce.status).toBe(409);
    expect(problemType(reEnforce)).toBe('sso-lockout-guard');
    expect(lift.status, lift.text).toBe(200);
    expect((await stored(tenantId)).tenant.ssoEnforced).toBeUndefined();
    expect(afterLift.status, afterLift.text).toBe(200);
  });
});

describe('a tenant’s own identity provider: password reset (review11 F6)', () => {
  const NEW_PASSWORD = 'the-owners-new-password-123!';

  /** The address owner's password reset through the genuine mail; the confirm answer. */
  async function resetByMail(email: string): Promise<TestResponse> {
    const asked = await api.request('POST', '/v1/auth/password-reset', { body: { email } });
    expect(asked.status, asked.text).toBe(202);
    const mail = await takeMail(inboxApi(), email, /^Reset your Strongroom password/);
    return api.request('POST', '/v1/auth/password-reset/confirm', {
      body: { token: linkIn(mail, '/reset-password').token, newPassword: NEW_PASSWORD },
    });
  }

  const identitiesOf = async (token: string) =>
    (await api.request('GET', '/v1/me/oidc/identities', { token })).body.items as { provider: string }[];

  it('the squatter’s session cannot ask for the verification mail; the owner’s reset then leaves the IdP no way in', async () => {
    // Prepare: X's owner lists a domain they do not own; their IdP signs in an unregistered address of it
    const { tenantId } = await tenantWithIdp();
    const squatted = corpAccount();
    const first = await signInThroughTenant(tenantId, squatted);
    expect(first.status, first.text).toBe(200);
    expect(first.body.user.emailVerified).toBe(false);
    const email = first.body.user.email as string;

    // Act: the squatter's session asks for a genuine "Verify your e-mail" mail to the address's owner
    const resend = await api.request('POST', '/v1/me/email/verification', { token: first.body.token });

    // Assess: 403 sso-session-scope, and no mail went out
    expect(resend.status, resend.text).toBe(403);
    expect(problemType(resend)).toBe('sso-session-scope');
    await new Promise((r) => setTimeout(r, 500));
    expect((await mailsTo(inboxApi(), email)).filter((m) => /^Verify your e-mail/.test(m.subject))).toEqual(
      [],
    );

    // Act: the address's owner takes the account over by password reset; the IdP signs in as them again
    const reset = await resetByMail(email);
    const again = await signInThroughTenant(tenantId, squatted);
    const owner = await api.request('POST', '/v1/auth/login', { body: { email, password: NEW_PASSWORD } });

    // Assess: the IdP's way in is gone (the account is verified now and links to X only by mail
    // confirmation, which a tenant's provider never gets); the owner's account has no linked identity
    expect(reset.status, reset.text).toBe(200);
    expect(again.status, again.text).toBe(409);
    expect(problemType(again)).toBe('oidc-link-required');
    expect(owner.status, owner.text).toBe(200);
    expect(owner.body.user).toMatchObject({ userId: first.body.user.userId, emailVerified: true });
    expect(await identitiesOf(owner.body.token)).toEqual([]);
  });

  it('a reset of an account verified while a tenant’s IdP was linked to it removes that link (the squatter’s, verified before the fix)', async () => {
    // Prepare: the squatted account of the chain, verified by its owner's click on a mail the squatter's
    // session could ask for before this fix (written as the verification wrote it)
    const { tenantId } = await tenantWithIdp();
    const squatted = corpAccount();
    const first = await signInThroughTenant(tenantId, squatted);
    expect(first.status, first.text).toBe(200);
    const userId = first.body.user.userId as string;
    await functionRuntime().dynamo.send(
      new UpdateCommand({
        TableName: IDENTITY_TABLE(),
        Key: userKey(userId),
        UpdateExpression: 'SET emailVerifiedAt = :at',
        ExpressionAttributeValues: { ':at': new Date().toISOString() },
      }),
    );
    const whileLinked = await signInThroughTenant(tenantId, squatted);
    expect(whileLinked.status, whileLinked.text).toBe(200);

    // Act: the owner's reset
    const reset = await resetByMail(first.body.user.email);
    const again = await signInThroughTenant(tenantId, squatted);

    // Assess: the link is gone with the reset, and the audit event says so
    expect(reset.status, reset.text).toBe(200);
    expect(again.status, again.text).toBe(409);
    expect(problemType(again)).toBe('oidc-link-required');
    const owner = await api.request('POST', '/v1/auth/login', {
      body: { email: first.body.user.email, password: NEW_PASSWORD },
    });
    expect(await identitiesOf(owner.body.token)).toEqual([]);
    const [completed] = await platformEventsBy('auth.password-reset.completed', userId);
    expect(completed!.details).toMatchObject({
      signInMethodsCleared: false,
      tenantProviderLinksCleared: true,
    });
  });

  it('a verified owner’s reset removes every tenant-IdP link and keeps the platform providers they linked', async () => {
    // Prepare: a verified owner linked to their tenant's IdP and to the platform's provider
    const { owner, tenantId, ownerAtIdp } = await tenantWithIdp();
    const start = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: { provider: 'test-idp', currentPassword: owner.password },
    });
    expect(start.status, start.text).toBe(200);
    const atPlatform = providerAccount();
    const linked = await finish(await callbackBody(idp, start.body, atPlatform));
    expect(linked.status, linked.text).toBe(200);
    expect(await identitiesOf(owner.token)).toHaveLength(2);

    // Act
    const reset = await resetByMail(owner.email);
    const throughTenant = await signInThroughTenant(tenantId, ownerAtIdp);
    const platformStart = await api.request('POST', '/v1/auth/oidc/start', {
      body: { provider: 'test-idp' },
    });
    const throughPlatform = await finish(await callbackBody(idp, platformStart.body, atPlatform));

    // Assess: the tenant's IdP no longer signs in as the owner (its identity, of another address, now makes
    // an account of its own); the platform provider still does
    expect(reset.status, reset.text).toBe(200);
    expect(throughTenant.status, throughTenant.text).toBe(200);
    expect(throughTenant.body.user.userId).not.toBe(owner.userId);
    expect(throughPlatform.status, throughPlatform.text).toBe(200);
    expect(throughPlatform.body.user.userId).toBe(owner.userId);
    expect((await identitiesOf(throughPlatform.body.token)).map((i) => i.provider)).toEqual([
      'platform:test-idp',
    ]);
  });
});
