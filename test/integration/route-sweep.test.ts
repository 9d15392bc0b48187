import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, lowestRoleFor, roleRank } from '../../shared/domain/permissions.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { type TestApi, startTestApi } from '../support/local-api.js';
import { concretePath } from '../support/route-paths.js';

/**
 * Sweeps every route of the one route list: the guarantees below hold for routes added later too.
 * Authorization runs before the body is read, so none of these needs a valid body.
 */
let api: TestApi;
let tenant: TenantWithRoles;
let other: TenantWithRoles;

beforeAll(async () => {
  api = await startTestApi();
  tenant = await tenantWithEveryRole(api, 'Sweep');
  other = await tenantWithEveryRole(api, 'Elsewhere');
});
afterAll(async () => {
  await api.close();
});

const authenticated = ROUTES.filter((r) => r.auth.kind !== 'none');
const tenantRoutes = ROUTES.filter((r) => r.auth.kind === 'tenant');

describe('every authenticated route', () => {
  it('answers 401 without a credential and with a malformed one', async () => {
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
    for (const route of tenantRoutes) {
      const res = await api.request(route.method, concretePath(route, tenant.tenantId), {
        token: other.users.owner.token,
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(404);
      expect(res.body.type).toMatch(/not-found$/);
    }
  });
});
