import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { PERMISSIONS, type Permission } from '../../shared/domain/permissions.js';
import { INVITATION_LIMITS } from '../../shared/services/invitations.js';
import {
  acceptInvitation,
  addMember,
  createTenant,
  inboxApi,
  invite,
  signUp,
  type TestUser,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

const api = useTestApi();

/** The tenant's items of one kind, straight from the table. */
async function items(tenantId: string, prefix: string) {
  const { Items } = await functionRuntime().dynamo.send(
    new QueryCommand({
      TableName: process.env.TENANT_DATA_TABLE!,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': tenantId, ':prefix': prefix },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

/** The tenant's audit events (every one is written with the change it records). */
async function auditActions(tenantId: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, tenantId)).filter(
    (i) => typeof i.action === 'string',
  );
}

async function createKey(user: TestUser, tenantId: string, scopes: readonly Permission[], name = 'k') {
  const res = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
    token: user.token,
    body: { name, scopes },
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { key: string; keyId: string };
}

describe("an owner's key with members:manage but not members:manage-admins-owners", () => {
  it('cannot invite, promote, demote, remove or withdraw owners and admins (403, nothing changed but the refusals in the audit log)', async () => {
    // Prepare: a co-owner, an owner invitation, and an owner's key with every permission but
    // members:manage-admins-owners
    const { tenantId, users } = await tenantWithEveryRole(api, 'Attack');
    const coOwner = await signUp(api, 'co-owner');
    await addMember(api, users.owner, tenantId, coOwner, 'owner');
    const ownerInvite = await invite(api, users.owner, tenantId, 'future-owner@example.test', 'owner');
    const key = await createKey(
      users.owner,
      tenantId,
      PERMISSIONS.filter((p) => p !== 'members:manage-admins-owners'),
    );
    const base = `/v1/tenants/${tenantId}`;
    const before = JSON.stringify([await items(tenantId, 'MEMBER#'), await items(tenantId, 'INVITE#')]);
    const auditBefore = (await auditActions(tenantId)).length;

    // Act: each attack on an owner or admin through the key
    const attacks = [
      ['POST', `${base}/members`, { email: 'attacker@example.test', role: 'owner' }],
      ['POST', `${base}/members`, { email: 'attacker@example.test', role: 'admin' }],
      ['PATCH', `${base}/members/${users.editor.userId}`, { role: 'owner' }],
      ['PATCH', `${base}/members/${users.editor.userId}`, { role: 'admin' }],
      ['PATCH', `${base}/members/${coOwner.userId}`, { role: 'viewer' }],
      ['PATCH', `${base}/members/${users.admin.userId}`, { role: 'viewer' }],
      ['DELETE', `${base}/members/${coOwner.userId}`, undefined],
      ['DELETE', `${base}/members/${users.owner.userId}`, undefined],
      ['DELETE', `${base}/members/${users.admin.userId}`, undefined],
      ['DELETE', `${base}/invitations/${ownerInvite}`, undefined],
    ] as const;
    for (const [method, path, body] of attacks) {
      const res = await api.request(method, path, { token: key.key, ...(body ? { body } : {}) });

      // Assess: each refused; members and invitations unchanged, one refusal event each
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(403);
      expect(problemType(res)).toBe('role-not-grantable');
    }
    expect(JSON.stringify([await items(tenantId, 'MEMBER#'), await items(tenantId, 'INVITE#')])).toBe(before);
    const written = (await auditActions(tenantId)).slice(auditBefore);
    expect(written).toHaveLength(attacks.length);
    for (const event of written)
      expect(event).toMatchObject({
        action: 'auth.action.refused',
        actor: { userId: users.owner.userId, apiKeyId: key.keyId },
        details: { reason: 'role-not-grantable', credential: 'api-key' },
      });

    // Act / Assess: the same key manages the roles below admin, and an owner's session all of them.
    expect(
      (
        await api.request('PATCH', `${base}/members/${users.viewer.userId}`, {
          token: key.key,
          body: { role: 'editor' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await api.request('PATCH', `${base}/members/${coOwner.userId}`, {
          token: users.owner.token,
          body: { role: 'admin' },
        })
      ).status,
    ).toBe(200);
  });
});

describe('API keys end with their creator’s access', () => {
  it('removal revokes every key the member created (more than one transaction holds); re-adding does not revive them', async () => {
    // Prepare: an editor with 50 keys, and an owner's key
    const owner = await signUp(api, 'rk-owner');
    const tenantId = await createTenant(api, owner, 'Revoke keys');
    const member = await signUp(api, 'rk-member');
    await addMember(api, owner, tenantId, member, 'editor');
    const keys = [];
    for (let i = 0; i < 50; i++) keys.push(await createKey(member, tenantId, ['tenant:read'], `k${i}`));
    const ownerKey = await createKey(owner, tenantId, ['tenant:read']);

    // Assess: the member's keys work before
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: keys[0]!.key })).status).toBe(200);

    // Act
    const removed = await api.request('DELETE', `/v1/tenants/${tenantId}/members/${member.userId}`, {
      token: owner.token,
    });

    // Assess: every key of the member gone and audited as revoked, the owner's kept
    expect(removed.status, removed.text).toBe(204);
    const left = await items(tenantId, 'APIKEY#');
    expect(left.map((k) => k.keyId)).toEqual([ownerKey.keyId]);
    const revoked = (await auditActions(tenantId)).filter((e) => e.action === 'api-key.revoked');
    expect(revoked.map((e) => e.resource.id).sort()).toEqual(keys.map((k) => k.keyId).sort());
    expect(revoked.every((e) => e.details.reason === 'member-removed')).toBe(true);

    // Act / Assess: re-adding the member does not revive them
    await addMember(api, owner, tenantId, member, 'editor');
    for (const key of [keys[0]!, keys[49]!]) {
      const res = await api.request('GET', `/v1/tenants/${tenantId}`, { token: key.key });
      expect(res.status).toBe(401);
    }

    // Act / Assess: new keys of the new membership work; the owner's key never stopped.
    const fresh = await createKey(member, tenantId, ['tenant:read']);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: fresh.key })).status).toBe(200);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: ownerKey.key })).status).toBe(200);
  });

  it('a key left behind by a removal that failed half-way (its item not deleted) still never works again', async () => {
    // Prepare: a member's key, removed with the member, then put back
    const owner = await signUp(api, 'lb-owner');
    const tenantId = await createTenant(api, owner, 'Left behind');
    const member = await signUp(api, 'lb-member');
    await addMember(api, owner, tenantId, member, 'admin');
    const key = await createKey(member, tenantId, ['tenant:read']);
    const [item] = await items(tenantId, `APIKEY#${key.keyId}`);
    await api.request('DELETE', `/v1/tenants/${tenantId}/members/${member.userId}`, { token: owner.token });
    // Put the key item back as if its delete had been lost, then re-add the member.
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    await functionRuntime().dynamo.send(
      new PutCommand({ TableName: process.env.TENANT_DATA_TABLE!, Item: item! }),
    );

    // Act
    await addMember(api, owner, tenantId, member, 'admin');

    // Assess
    const res = await api.request('GET', `/v1/tenants/${tenantId}`, { token: key.key });
    expect(res.status).toBe(401);
    expect(problemType(res)).toBe('api-key-revoked');
  });
});

describe('GET /v1/me through an API key', () => {
  it("shows the key's tenant, its effective scopes and id, never the creator's other memberships", async () => {
    // Prepare: a user in three tenants, with a key for the third
    const user = await signUp(api, 'me-key');
    const first = await createTenant(api, user, 'First');
    const second = await createTenant(api, user, 'Second');
    const owner = await signUp(api, 'me-key-owner');
    const third = await createTenant(api, owner, 'Third');
    await addMember(api, owner, third, user, 'editor');
    const key = await createKey(user, third, ['tenant:read', 'members:read', 'storage:write-credentials']);

    // Act / Assess: through the session, every membership
    const viaSession = await api.request('GET', '/v1/me', { token: user.token });
    expect(viaSession.body.memberships.map((m: { tenantId: string }) => m.tenantId).sort()).toEqual(
      [first, second, third].sort(),
    );
    expect(viaSession.body.apiKey).toBeUndefined();

    // Act / Assess: through the key, its tenant and scopes only
    const viaKey = await api.request('GET', '/v1/me', { token: key.key });
    expect(viaKey.status).toBe(200);
    expect(viaKey.body.memberships).toEqual([{ tenantId: third, role: 'editor' }]);
    expect(viaKey.body.apiKey).toEqual({
      keyId: key.keyId,
      tenantId: third,
      scopes: ['tenant:read', 'members:read', 'storage:write-credentials'],
    });
    expect(JSON.stringify(viaKey.body)).not.toContain(first);
    expect(JSON.stringify(viaKey.body)).not.toContain(second);

    // Act / Assess: demoted to reviewer: the scopes shrink... and below api-keys:create the key is gone
    // altogether.
    await api.request('PATCH', `/v1/tenants/${third}/members/${user.userId}`, {
      token: owner.token,
      body: { role: 'reviewer' },
    });
    expect((await api.request('GET', '/v1/me', { token: key.key })).status).toBe(401);
  });
});

describe('invitations', () => {
  it('answer the same whether the address is unknown, registered, or already a member', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Uniform');
    const registered = await signUp(api, 'registered');

    // Act: invite an unknown, a registered and a member's address
    const answers = [];
    for (const email of ['nobody-yet@example.test', registered.email, users.viewer.email]) {
      const res = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
        token: users.admin.token,
        body: { email, role: 'viewer' },
      });
      answers.push(res);
    }

    // Assess: the same status, keys and headers each time, nothing of the account, and no membership
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201]);
    const shapes = answers.map((a) => ({
      keys: Object.keys(a.body).sort(),
      invitedBy: a.body.invitedBy,
      role: a.body.role,
      headers: [...a.headers.keys()].sort(),
    }));
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);
    // Nothing in the answer is about the address's account.
    expect(JSON.stringify(answers[1]!.body)).not.toContain(registered.userId);
    // Nobody became a member by being invited.
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: registered.token })).status).toBe(
      404,
    );

    // Act / Assess: the member learns it on accepting (409), and the spent invitation leaves both lists.
    const mine = await api.request('GET', '/v1/me/invitations', { token: users.viewer.token });
    const spent = await api.request('POST', `/v1/me/invitations/${mine.body.items[0].invitationId}/accept`, {
      token: users.viewer.token,
    });
    expect(spent.status).toBe(409);
    expect(problemType(spent)).toBe('already-member');
    expect(
      (await api.request('GET', '/v1/me/invitations', { token: users.viewer.token })).body.items,
    ).toEqual([]);
    const pending = await api.request('GET', `/v1/tenants/${tenantId}/invitations`, {
      token: users.admin.token,
    });
    expect(pending.body.items.map((i: { email: string }) => i.email).sort()).toEqual(
      ['nobody-yet@example.test', registered.email].sort(),
    );
  });

  it('an unknown address sees its invitation once it registers, with tenant, inviter, role and expiry; accepting is audited', async () => {
    // Prepare: an invitation of an address nobody has registered yet
    const owner = await signUp(api, 'inv-owner');
    const tenantId = await createTenant(api, owner, 'Invites & Co');
    const email = `later-${Date.now()}@example.test`;
    const invitationId = await invite(api, owner, tenantId, email.toUpperCase(), 'owner');

    // Assess: it is pending
    const pending = await api.request('GET', `/v1/tenants/${tenantId}/invitations`, { token: owner.token });
    expect(pending.body.items).toEqual([
      expect.objectContaining({ invitationId, email, role: 'owner', invitedBy: expect.any(Object) }),
    ]);

    // Act: the address registers
    const reg = await api.request('POST', '/v1/auth/register', {
      body: { email, password: 'a long enough password', name: 'Later' },
    });
    expect(reg.status).toBe(202);

    // Act: the new account proves the address with the link mailed to it before it may see the invitation.
    const link = linkIn(await takeMail(inboxApi(), email, /^Verify/), '/verify-email');
    expect((await api.request('POST', '/v1/auth/verify-email', { body: { token: link.token } })).status).toBe(
      200,
    );
    const login = await api.request('POST', '/v1/auth/login', {
      body: { email, password: 'a long enough password' },
    });
    const later: TestUser = { userId: login.body.user.userId, email, password: '', token: login.body.token };

    // Assess: the invitation with tenant, inviter, role and a seven-day expiry
    const mine = await api.request('GET', '/v1/me/invitations', { token: later.token });
    expect(mine.status).toBe(200);
    expect(mine.body.items).toHaveLength(1);
    const [item] = mine.body.items;
    expect(item).toMatchObject({
      invitationId,
      tenant: { tenantId, name: 'Invites & Co' },
      role: 'owner',
      invitedBy: { email: owner.email },
    });
    const days = (Date.parse(item.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    // Act / Assess: accepting
    const accepted = await acceptInvitation(api, later, invitationId);
    expect(accepted).toMatchObject({ tenant: { tenantId }, member: { userId: later.userId, role: 'owner' } });

    // Act / Assess: a second owner (the owner count moved in the same transaction): the first may now step
    // down.
    const stepDown = await api.request('PATCH', `/v1/tenants/${tenantId}/members/${owner.userId}`, {
      token: owner.token,
      body: { role: 'admin' },
    });
    expect(stepDown.status).toBe(200);
    expect((await api.request('GET', '/v1/me/invitations', { token: later.token })).body.items).toEqual([]);
    expect(await items(tenantId, 'INVITE#')).toEqual([]);
    const actions = (await auditActions(tenantId)).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'member.invited',
        'invitation.accepted',
        'member.added',
        'member.role-changed',
      ]),
    );

    // Act / Assess: accepting twice: the invitation is gone.
    const twice = await api.request('POST', `/v1/me/invitations/${invitationId}/accept`, {
      token: later.token,
    });
    expect(twice.status).toBe(404);
  });

  it('cannot be seen, accepted or declined by anyone else; declining removes it', async () => {
    // Prepare
    const owner = await signUp(api, 'd-owner');
    const tenantId = await createTenant(api, owner, 'Decline');
    const invitee = await signUp(api, 'd-invitee');
    const other = await signUp(api, 'd-other');
    const invitationId = await invite(api, owner, tenantId, invitee.email, 'editor');

    // Act / Assess: another user sees, accepts and declines nothing
    expect((await api.request('GET', '/v1/me/invitations', { token: other.token })).body.items).toEqual([]);
    for (const verb of ['accept', 'decline']) {
      const res = await api.request('POST', `/v1/me/invitations/${invitationId}/${verb}`, {
        token: other.token,
      });
      expect(res.status, verb).toBe(404);
    }
    expect(await items(tenantId, 'INVITE#')).toHaveLength(1);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: other.token })).status).toBe(404);

    // Act / Assess: the invitee declines
    const declined = await api.request('POST', `/v1/me/invitations/${invitationId}/decline`, {
      token: invitee.token,
    });
    expect(declined.status).toBe(204);
    expect(await items(tenantId, 'INVITE#')).toEqual([]);
    const accept = await api.request('POST', `/v1/me/invitations/${invitationId}/accept`, {
      token: invitee.token,
    });
    expect(accept.status).toBe(404);
    expect((await auditActions(tenantId)).map((e) => e.action)).toContain('invitation.declined');
  });

  it('stop working when they expire, when the inviter loses the right to grant the role, or when the key that sent them is revoked', async () => {
    // Prepare: four invitations, from an admin, a second admin, a key, and one about to expire
    const { tenantId, users } = await tenantWithEveryRole(api, 'Stale');
    const [a, b, c, d] = [
      await signUp(api, 'st-a'),
      await signUp(api, 'st-b'),
      await signUp(api, 'st-c'),
      await signUp(api, 'st-d'),
    ];
    const admin2 = await signUp(api, 'st-admin2');
    await addMember(api, users.owner, tenantId, admin2, 'admin');
    const expired = await invite(api, users.admin, tenantId, a.email, 'viewer');
    const fromAdmin = await invite(api, users.admin, tenantId, b.email, 'editor');
    const adminKey = await createKey(users.owner, tenantId, ['members:manage', 'members:read']);
    const fromKey = await invite(api, { token: adminKey.key }, tenantId, c.email, 'viewer');
    const raced = await invite(api, admin2, tenantId, d.email, 'viewer');
    const pendingIds = async () =>
      (
        await api.request('GET', `/v1/tenants/${tenantId}/invitations`, { token: users.owner.token })
      ).body.items.map((i: { invitationId: string }) => i.invitationId);

    // Act / Assess: one expires
    await functionRuntime().dynamo.send(
      new UpdateCommand({
        TableName: process.env.TENANT_DATA_TABLE!,
        Key: { pk: tenantId, sk: `INVITE#${expired}` },
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );
    expect((await api.request('GET', '/v1/me/invitations', { token: a.token })).body.items).toEqual([]);
    expect(await pendingIds()).not.toContain(expired);

    // Act / Assess: the admin who sent one is demoted to editor (who may grant nothing): it is withdrawn with
    // them.
    await api.request('PATCH', `/v1/tenants/${tenantId}/members/${users.admin.userId}`, {
      token: users.owner.token,
      body: { role: 'editor' },
    });
    expect(await pendingIds()).not.toContain(fromAdmin);
    const withdrawn = (await auditActions(tenantId)).find(
      (e) => e.action === 'invitation.revoked' && e.resource.id === fromAdmin,
    );
    expect(withdrawn?.details.reason).toBe('inviter-demoted');

    // Act: the key that sent another is revoked.
    await api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${adminKey.keyId}`, {
      token: users.owner.token,
    });

    // Act: a demotion that lands after the withdrawal ran (here: written straight to the table) is caught by
    // the
    // acceptance transaction itself.
    await functionRuntime().dynamo.send(
      new UpdateCommand({
        TableName: process.env.TENANT_DATA_TABLE!,
        Key: { pk: tenantId, sk: `MEMBER#${admin2.userId}` },
        UpdateExpression: 'SET #role = :editor',
        ExpressionAttributeNames: { '#role': 'role' },
        ExpressionAttributeValues: { ':editor': 'editor' },
      }),
    );

    // Assess: all four refused on accepting
    expect(await pendingIds()).toEqual(expect.arrayContaining([fromKey, raced]));
    for (const [user, id] of [
      [a, expired],
      [b, fromAdmin],
      [c, fromKey],
      [d, raced],
    ] as const) {
      const res = await api.request('POST', `/v1/me/invitations/${id}/accept`, { token: user.token });
      expect(res.status, user.email).toBe(404);
      expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: user.token })).status).toBe(404);
    }
  });

  it('from a removed member are withdrawn with them', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Removed sender');
    const invitee = await signUp(api, 'rs-invitee');
    const id = await invite(api, users.admin, tenantId, invitee.email, 'viewer');

    // Act
    const removed = await api.request('DELETE', `/v1/tenants/${tenantId}/members/${users.admin.userId}`, {
      token: users.owner.token,
    });

    // Assess: the invitation is gone
    expect(removed.status).toBe(204);
    expect((await api.request('GET', '/v1/me/invitations', { token: invitee.token })).body.items).toEqual([]);
    expect(await items(tenantId, 'INVITE#')).toEqual([]);
    const res = await api.request('POST', `/v1/me/invitations/${id}/accept`, { token: invitee.token });
    expect(res.status).toBe(404);
  });

  it('are withdrawn by members:manage within the grant rule, and replaced when the address is invited again', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Withdraw');
    const email = 'twice@example.test';
    const first = await invite(api, users.owner, tenantId, email, 'admin');
    const base = `/v1/tenants/${tenantId}/invitations`;

    // Act / Assess: an admin may not withdraw an admin invitation; the owner may, once
    const adminTries = await api.request('DELETE', `${base}/${first}`, { token: users.admin.token });
    expect(adminTries.status).toBe(403);
    expect((await api.request('DELETE', `${base}/${first}`, { token: users.owner.token })).status).toBe(204);
    expect((await api.request('DELETE', `${base}/${first}`, { token: users.owner.token })).status).toBe(404);

    // Act / Assess: inviting the address twice more keeps the last invitation only
    const second = await invite(api, users.admin, tenantId, email, 'viewer');
    const third = await invite(api, users.admin, tenantId, email, 'editor');
    const listed = await api.request('GET', base, { token: users.admin.token });
    expect(listed.body.items.map((i: { invitationId: string }) => i.invitationId)).toEqual([third]);
    expect(second).not.toBe(third);

    // Act / Assess: another tenant's invitation id: 404, and it stays.
    const other = await tenantWithEveryRole(api, 'Withdraw other');
    const foreign = await api.request('DELETE', `/v1/tenants/${other.tenantId}/invitations/${third}`, {
      token: other.users.owner.token,
    });
    expect(foreign.status).toBe(404);
    expect(await items(tenantId, 'INVITE#')).toHaveLength(1);

    // Act / Assess: an editor may not list them
    expect((await api.request('GET', base, { token: users.editor.token })).status).toBe(403);
  });

  it(`are limited to ${INVITATION_LIMITS.perInviter.limit} an hour per inviter (429 with Retry-After)`, async () => {
    // Prepare: the inviter's hourly budget spent
    const owner = await signUp(api, 'rl-owner');
    const tenantId = await createTenant(api, owner, 'Limited');
    for (let i = 0; i < INVITATION_LIMITS.perInviter.limit; i++)
      await invite(api, owner, tenantId, `rl-${i}@example.test`, 'viewer');

    // Act
    const over = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
      token: owner.token,
      body: { email: 'one-more@example.test', role: 'viewer' },
    });

    // Assess: refused with Retry-After, nothing more stored
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await items(tenantId, 'INVITE#')).toHaveLength(INVITATION_LIMITS.perInviter.limit);
  });

  it('need a signed-in session on the invitee side and a valid body on the tenant side', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Shapes');
    const key = await createKey(users.owner, tenantId, ['members:read']);

    // Act / Assess: a key on the invitee side
    expect((await api.request('GET', '/v1/me/invitations', { token: key.key })).status).toBe(403);

    // Act / Assess: a bad body
    const bad = await api.request('POST', `/v1/tenants/${tenantId}/members`, {
      token: users.owner.token,
      body: { email: 'not-an-address', role: 'emperor' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.email', 'body.role']);

    // Act / Assess: a bad invitation id
    const badId = await api.request('POST', '/v1/me/invitations/n_nope/accept', {
      token: users.viewer.token,
    });
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].path).toBe('params.invitationId');
  });
});
