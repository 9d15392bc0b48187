import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import {
  lowestRoleFor,
  PERMISSIONS,
  type Permission,
  ROLES,
  roleRank,
} from '../../shared/domain/permissions.js';
import { isAuditedRefusal } from '../../shared/http/refusals.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { concretePath } from '../support/route-paths.js';

/**
 * Sweeps every route of the one route list: the guarantees below hold for routes added later too.
 * Authorization runs before the body is read, so none of these needs a valid body.
 */
const api = useTestApi();
let tenant: TenantWithRoles;
let other: TenantWithRoles;

beforeAll(async () => {
  tenant = await tenantWithEveryRole(api, 'Sweep');
  other = await tenantWithEveryRole(api, 'Elsewhere');
});

const authenticated = ROUTES.filter((r) => r.auth.kind !== 'none');
const tenantRoutes = ROUTES.filter((r) => r.auth.kind === 'tenant');

describe('every authenticated route', () => {
  it('answers 401 without a credential and with a malformed one', async () => {
    // Act / Assess: each authenticated route, without a token and with a malformed one
    for (const route of authenticated) {
      const path = concretePath(route, tenant.tenantId);
      const none = await api.request(route.method, path);
      expect(none.status, `${route.method} ${route.path}`).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      const bad = await api.request(route.method, path, { token: 'srs.not-a-token' });
      expect(bad.status, `${route.method} ${route.path}`).toBe(401);
    }
  });
});

describe('every tenant route', () => {
  it('answers 403 to each role below the one its permission needs', async () => {
    // Act / Assess: each tenant route, as each role below the one it needs
    expect(tenantRoutes.length).toBeGreaterThan(5);
    for (const route of tenantRoutes) {
      if (route.auth.kind !== 'tenant') continue;
      const needed = lowestRoleFor(route.auth.permission);
      for (const role of ROLES.filter((r) => roleRank(r) < roleRank(needed))) {
        const res = await api.request(route.method, concretePath(route, tenant.tenantId), {
          token: tenant.users[role].token,
        });
        expect(res.status, `${role} ${route.method} ${route.path}`).toBe(403);
      }
    }
  });

  it("answers 404 to another tenant's owner, whatever the route", async () => {
    // Act / Assess: each tenant route
    for (const route of tenantRoutes) {
      const res = await api.request(route.method, concretePath(route, tenant.tenantId), {
        token: other.users.owner.token,
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(404);
      expect(res.body.type).toMatch(/not-found$/);
    }
  });
});

/**
 * Every item of the tenant's partition in the tenant-data and audit tables (less API keys' last use), and
 * apart from the `except` items, which it returns on their own.
 */
async function tenantItems(
  tenantId: string,
  except: (item: Record<string, unknown>) => boolean = () => false,
): Promise<{ state: string; excepted: Record<string, unknown>[] }> {
  const db = functionRuntime().dynamo;
  const items: Record<string, unknown>[] = [];
  for (const table of [process.env.TENANT_DATA_TABLE!, process.env.AUDIT_TABLE!]) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': tenantId },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const { lastUsedAt: _, ...item } of page.Items ?? []) items.push(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  const kept = items.filter((item) => !except(item));
  return {
    state: JSON.stringify(kept.sort((a, b) => `${a.sk}`.localeCompare(`${b.sk}`))),
    excepted: items.filter(except),
  };
}

describe('API keys on every route', () => {
  /** An owner's key holding every scope but `missing`. */
  async function ownerKeyWithout(missing: Permission | undefined): Promise<string> {
    const res = await api.request('POST', `/v1/tenants/${tenant.tenantId}/api-keys`, {
      token: tenant.users.owner.token,
      body: { name: `all but ${missing ?? 'nothing'}`, scopes: PERMISSIONS.filter((p) => p !== missing) },
    });
    expect(res.status, res.text).toBe(201);
    return res.body.key;
  }

  it("answers 403 to an owner's key holding every scope but the route's permission, changes nothing, and audits each refused change", async () => {
    const keys = new Map<Permission, string>();
    for (const route of tenantRoutes) {
      if (route.auth.kind !== 'tenant' || keys.has(route.auth.permission)) continue;
      keys.set(route.auth.permission, await ownerKeyWithout(route.auth.permission));
    }
    // Keys are used once first, so their last-use writes cannot pass for a change the sweep made.
    for (const key of keys.values()) await api.request('GET', '/v1/me', { token: key });
    const isRefusal = (item: Record<string, unknown>) => item.action === 'auth.action.refused';
    const before = await tenantItems(tenant.tenantId, isRefusal);
    // Act
    for (const route of tenantRoutes) {
      if (route.auth.kind !== 'tenant') continue;
      const res = await api.request(route.method, concretePath(route, tenant.tenantId), {
        token: keys.get(route.auth.permission)!,
        body: {},
      });
      expect(res.status, `${route.method} ${route.path} without ${route.auth.permission}`).toBe(403);
      expect(res.body.requestId, `${route.method} ${route.path}`).toBe(res.headers.get('x-request-id'));
    }
    // Assess: nothing changed but the refusal events: one per refused change or audit-trail read
    const after = await tenantItems(tenant.tenantId, isRefusal);
    expect(after.state).toBe(before.state);
    const audited = tenantRoutes.filter(isAuditedRefusal);
    expect(audited.length).toBeGreaterThan(20);
    expect(tenantRoutes.filter((r) => !isAuditedRefusal(r)).every((r) => r.method === 'GET')).toBe(true);
    const written = after.excepted.slice(before.excepted.length);
    expect(written.map((e) => (e.details as { route: string }).route).sort()).toEqual(
      audited.map((r) => r.id).sort(),
    );
    for (const event of written) {
      const route = audited.find((r) => r.id === (event.details as { route: string }).route)!;
      expect(event).toMatchObject({
        actor: { userId: tenant.users.owner.userId },
        details:
          route.auth.kind === 'tenant' && route.auth.sessionOnly
            ? { reason: 'session-required', credential: 'api-key' }
            : {
                reason: 'permission-missing',
                credential: 'api-key',
                permission: route.auth.kind === 'tenant' ? route.auth.permission : undefined,
              },
      });
    }
  });

  it('answers 403 to a key with every scope on routes that take a signed-in session only', async () => {
    // Prepare: an owner's key with every scope, the routes that take a session only, and the refusals so far
    const key = await ownerKeyWithout(undefined);
    const sessionOnly = ROUTES.filter(
      (r) => r.auth.kind === 'session' || (r.auth.kind === 'tenant' && r.auth.sessionOnly),
    );
    expect(sessionOnly.length).toBeGreaterThan(10);
    const isRefusal = (item: Record<string, unknown>) => item.action === 'auth.action.refused';
    const before = await tenantItems(tenant.tenantId, isRefusal);

    // Act / Assess: each of those routes, through the key
    for (const route of sessionOnly) {
      const res = await api.request(route.method, concretePath(route, tenant.tenantId), {
        token: key,
        body: {},
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(403);
      expect(res.body.type, `${route.method} ${route.path}`).toMatch(/session-required$/);
    }

    // Assess: nothing changed but the refusals of the tenant's own routes, written to its audit log
    const after = await tenantItems(tenant.tenantId, isRefusal);
    expect(after.state).toBe(before.state);
    const written = after.excepted.slice(before.excepted.length);
    expect(written.map((e) => (e.details as { route: string }).route).sort()).toEqual(
      sessionOnly
        .filter((r) => r.auth.kind === 'tenant')
        .map((r) => r.id)
        .sort(),
    );
    expect(written.every((e) => (e.details as { reason: string }).reason === 'session-required')).toBe(true);
  });
});
