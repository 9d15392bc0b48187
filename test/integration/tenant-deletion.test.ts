import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { newId } from '../../shared/domain/ids.js';
import { storageNodeKey } from '../../shared/domain/item-layout.js';
import { mintTenantScope, type TenantScope } from '../../shared/domain/tenant-scope.js';
import { tenantStorageRoleName } from '../../shared/domain/tenant-storage-role.js';
import * as z from '../../shared/domain/zod.js';
import type { RouteDef } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { type StorageLocationRecord, StorageStore } from '../../shared/store/storage-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import {
  type EnabledMfa,
  enableMfa,
  type TenantWithRoles,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

/**
 * DELETE /v1/tenants/{tenantId} through the local API: who may, with what proof, and that afterwards
 * nothing of the tenant answers any credential while its audit log and other tenants stay.
 */
const api = useTestApi();
let kms: KMSClient;
const db = functionRuntime().dynamo;

beforeAll(async () => {
  kms = new KMSClient(clientConfig());
});
afterAll(async () => {
  kms.destroy();
});

function deleteTenant(tenantId: string, token: string, body: unknown) {
  return api.request('DELETE', `/v1/tenants/${tenantId}`, { token, body });
}

async function partition(tenantId: string) {
  const { Items } = await db.send(
    new QueryCommand({
      TableName: process.env.TENANT_DATA_TABLE!,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tenantId },
      ConsistentRead: true,
    }),
  );
  // An API key's last-use time moves whenever it authenticates; it is no change of the tenant's data.
  return (Items ?? []).map(({ lastUsedAt: _, ...item }) => item);
}

async function auditActions(tenantId: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, tenantId))
    .map((i) => i.action as string)
    .filter(Boolean);
}

async function keyStateOf(tenantId: string) {
  const { Item } = await db.send(
    new GetCommand({ TableName: process.env.TENANT_DATA_TABLE!, Key: { pk: tenantId, sk: 'TENANT' } }),
  );
  const keyArn = Item!.keyArn as string;
  return {
    keyArn,
    state: async () => (await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata,
  };
}

const ID_PREFIXES = ['t', 'u', 's', 'k', 'm', 'i', 'l', 'c', 'e', 'x', 'r', 'n'];

/** A concrete path for a tenant route: the tenant, and for other parameters any id the schema accepts. */
function concretePath(route: RouteDef, tenantId: string): string {
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'tenantId') return tenantId;
    const schema = route.params;
    for (const prefix of ID_PREFIXES) {
      const candidate = `${prefix}_01jx0000000000000000000000`;
      const probe = schema && z.safeParse(schema, { tenantId, [name]: candidate });
      if (!schema || probe?.success || !probe?.error.issues.some((i) => i.path[0] === name)) return candidate;
    }
    throw new Error(`no id format accepted for ${route.id}.${name}`);
  });
}

/** An external root registered for the tenant straight through the store (the API would verify a customer role). */
async function registerExternalRoot(scope: TenantScope, bucket: string, prefix: string) {
  const tenantClients = tenantDataClientsFor(functionRuntime());
  const store = new StorageStore({
    tenantClients,
    platformClient: db,
    tenantDataTable: process.env.TENANT_DATA_TABLE!,
    identityTable: process.env.IDENTITY_TABLE!,
  });
  const audit = auditRecorderFor(functionRuntime(), { tenantClients });
  const location: StorageLocationRecord = {
    locationId: newId('l'),
    kind: 'external',
    root: `s3://${bucket}/${prefix}`,
    bucket,
    prefix,
    region: 'us-east-1',
    roleArn: 'arn:aws:iam::210987654321:role/lake',
    createdAt: new Date().toISOString(),
    createdBy: scope.userId,
  };
  await store.createExternalLocation(
    scope,
    location,
    { bucket, prefix },
    { value: `strongroom-${newId('x').slice(2)}`, isNew: true, createdAt: location.createdAt },
    audit.auditPut(scope, {
      action: 'storage-location.registered',
      actor: { userId: scope.userId, ip: '127.0.0.1', userAgent: 'test' },
      resource: { type: 'storage-location', id: location.locationId },
    }),
  );
  return location;
}

describe('DELETE /v1/tenants/{tenantId}', () => {
  let acme: TenantWithRoles;
  let globex: TenantWithRoles;
  let mfa: EnabledMfa;

  beforeAll(async () => {
    acme = await tenantWithEveryRole(api, 'Acme');
    globex = await tenantWithEveryRole(api, 'Globex');
    mfa = await enableMfa(api, acme.users.owner);
  });

  it('refuses an owner without MFA with 403 mfa-required-for-deletion and changes nothing', async () => {
    // Prepare
    const before = await partition(globex.tenantId);
    // Act
    const res = await deleteTenant(globex.tenantId, globex.users.owner.token, { mfaCode: '123456' });
    // Assess
    expect(res.status, res.text).toBe(403);
    expect(problemType(res)).toBe('mfa-required-for-deletion');
    expect(await partition(globex.tenantId)).toEqual(before);
    expect((await (await keyStateOf(globex.tenantId)).state())?.KeyState).toBe('Enabled');
  });

  it('refuses an admin (403), an API key even of the owner (403), and a malformed body (400)', async () => {
    // Prepare
    const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'ci', scopes: ['tenant:read', 'tenant:delete'] },
    });
    expect(key.status, key.text).toBe(201);
    const before = await partition(acme.tenantId);
    // Act
    const admin = await deleteTenant(acme.tenantId, acme.users.admin.token, { mfaCode: '123456' });
    const withKey = await deleteTenant(acme.tenantId, key.body.key, { mfaCode: '123456' });
    const both = await deleteTenant(acme.tenantId, acme.users.owner.token, {
      mfaCode: '123456',
      recoveryCode: 'abcdefghij',
    });
    const neither = await deleteTenant(acme.tenantId, acme.users.owner.token, {});
    // Assess
    expect(admin.status).toBe(403);
    expect(withKey.status).toBe(403);
    expect(problemType(withKey)).toBe('session-required');
    expect(both.status).toBe(400);
    expect(both.body.errors).toEqual([
      { path: 'body.mfaCode', message: 'Send exactly one of mfaCode, recoveryCode or stepUpToken' },
    ]);
    expect(neither.status).toBe(400);
    expect(await partition(acme.tenantId)).toEqual(before);
  });

  it("answers another tenant's owner 404, even with a valid code of their own, and changes nothing", async () => {
    // Prepare
    const globexMfa = await enableMfa(api, globex.users.owner);
    const before = await partition(acme.tenantId);
    // Act
    const res = await deleteTenant(acme.tenantId, globex.users.owner.token, {
      recoveryCode: globexMfa.recoveryCodes[0],
    });
    // Assess
    expect(res.status).toBe(404);
    expect(await partition(acme.tenantId)).toEqual(before);
    expect((await (await keyStateOf(acme.tenantId)).state())?.KeyState).toBe('Enabled');
  });

  it('refuses a wrong code and a replayed one (401 invalid-mfa-code), changing nothing', async () => {
    // Prepare
    const before = await partition(acme.tenantId);
    // Act
    const wrong = await deleteTenant(acme.tenantId, acme.users.owner.token, { mfaCode: '000000' });
    // The step used to confirm enrolment is spent.
    const replayed = await deleteTenant(acme.tenantId, acme.users.owner.token, {
      mfaCode: totpCodeAt(mfa.secret, mfa.confirmedAt),
    });
    const unknownRecovery = await deleteTenant(acme.tenantId, acme.users.owner.token, {
      recoveryCode: 'not-a-recovery-code',
    });
    // Assess
    for (const res of [wrong, replayed, unknownRecovery]) {
      expect(res.status, res.text).toBe(401);
      expect(problemType(res)).toBe('invalid-mfa-code');
    }
    expect(await partition(acme.tenantId)).toEqual(before);
    expect(await auditActions(acme.tenantId)).not.toContain('tenant.deleted');
  });

  it('deletes for the owner with a fresh code: no member, key or route reaches it; its key is pending deletion; the audit log stays', async () => {
    // Prepare: data of every kind, and an API key of each member who may create one.
    const owner = acme.users.owner;
    const managed = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: owner.token,
      body: { managed: true },
    });
    expect(managed.status, managed.text).toBe(201);
    const instance = await api.request('POST', `/v1/tenants/${acme.tenantId}/instances`, {
      token: owner.token,
      body: { name: 'lab', defaultStorageRoot: `s3://${managed.body.bucket}/${managed.body.prefix}/lab` },
    });
    expect(instance.status, instance.text).toBe(201);
    const connection = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
      token: owner.token,
      body: {
        name: 'Warehouse',
        host: '127.0.0.1',
        port: 5432,
        database: 'app',
        user: 'reader',
        password: 'a-connection-password',
      },
    });
    expect(connection.status, connection.text).toBe(201);
    const lake = `lake-${Date.now()}`;
    await registerExternalRoot(
      mintTenantScope({ tenantId: acme.tenantId, userId: owner.userId }),
      lake,
      'raw',
    );
    const apiKeys: string[] = [];
    for (const user of [acme.users.owner, acme.users.admin, acme.users.editor]) {
      const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
        token: user.token,
        body: { name: 'k', scopes: ['tenant:read'] },
      });
      expect(key.status, key.text).toBe(201);
      apiKeys.push(key.body.key);
    }
    // A pending invitation is access too: it must not survive to be accepted into a half-deleted tenant.
    const pending = await api.request('POST', `/v1/tenants/${acme.tenantId}/members`, {
      token: owner.token,
      body: { email: 'late@example.test', role: 'owner' },
    });
    expect(pending.status, pending.text).toBe(201);
    const keysBefore = (await partition(acme.tenantId)).filter((i) => String(i.sk).startsWith('APIKEY#'));
    expect(keysBefore.length).toBeGreaterThanOrEqual(apiKeys.length);
    const { keyArn, state } = await keyStateOf(acme.tenantId);
    const globexBefore = await partition(globex.tenantId);
    // The managed location gave the tenant its storage role; an editor holds credentials of it.
    const iam = new IAMClient(clientConfig());
    await iam.send(new GetRoleCommand({ RoleName: tenantStorageRoleName(acme.tenantId) }));
    const vended = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: managed.body.locationId, access: 'read' },
    });
    expect(vended.status, vended.text).toBe(200);

    // Act
    const res = await deleteTenant(acme.tenantId, owner.token, {
      mfaCode: totpCodeAt(mfa.secret, Date.now() + 30_000),
    });

    // Assess
    expect(res.status, res.text).toBe(204);
    expect(await partition(acme.tenantId)).toEqual([]);
    const tenantRoutes = ROUTES.filter((r) => r.auth.kind === 'tenant');
    for (const [role, user] of Object.entries(acme.users)) {
      for (const route of tenantRoutes) {
        const answer = await api.request(route.method, concretePath(route, acme.tenantId), {
          token: user.token,
        });
        expect(answer.status, `${role} ${route.method} ${route.path}`).toBe(404);
      }
      const me = await api.request('GET', '/v1/me', { token: user.token });
      expect(me.status).toBe(200);
      expect(me.body.memberships.map((m: { tenantId: string }) => m.tenantId)).not.toContain(acme.tenantId);
    }
    for (const key of apiKeys) {
      const answer = await api.request('GET', `/v1/tenants/${acme.tenantId}`, { token: key });
      expect(answer.status).toBe(401);
    }
    const metadata = await state();
    expect(metadata?.KeyState).toBe('PendingDeletion');
    expect(metadata?.Arn).toBe(keyArn);
    const actions = await auditActions(acme.tenantId);
    expect(actions).toContain('tenant.deleted');
    expect(actions.filter((a) => a === 'api-key.revoked')).toHaveLength(keysBefore.length);
    expect(actions.filter((a) => a === 'storage-location.removed')).toHaveLength(2);
    // The external root is free again and every credential vended for the tenant is denied.
    const { Item: node } = await db.send(
      new GetCommand({ TableName: process.env.IDENTITY_TABLE!, Key: storageNodeKey(lake, 'raw') }),
    );
    expect(node?.owner).toBeUndefined();
    // The tenant's storage role is gone: its sessions have no policy left that allows anything.
    const role = await iam
      .send(new GetRoleCommand({ RoleName: tenantStorageRoleName(acme.tenantId) }))
      .catch((e: unknown) => e);
    expect((role as Error).name).toBe('NoSuchEntityException');
    // Another tenant is untouched.
    expect(await partition(globex.tenantId)).toEqual(globexBefore);
    const other = await api.request('GET', `/v1/tenants/${globex.tenantId}`, {
      token: globex.users.owner.token,
    });
    expect(other.status).toBe(200);

    // A second attempt finds no tenant.
    const again = await deleteTenant(acme.tenantId, owner.token, { recoveryCode: mfa.recoveryCodes[0] });
    expect(again.status).toBe(404);
  });
});
