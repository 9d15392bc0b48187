import { beforeAll, describe, expect, it } from 'vitest';
import { unsafeTextReason } from '../../shared/domain/text.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { createTenant, signUp, type TestUser } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { concretePath } from '../support/route-paths.js';

/**
 * No string field of any route accepts characters that hide or reorder text or cannot be stored: unpaired
 * surrogates (which used to reach DynamoDB and answer 500), NUL and other controls, bidi overrides and
 * zero-width characters. The check is one mechanism for every route, so these sweep the route list.
 */
const api = useTestApi();
let owner: TestUser;
let tenantId: string;

beforeAll(async () => {
  owner = await signUp(api, 'text-owner');
  tenantId = await createTenant(api, owner, 'Text Co');
});

const BAD = {
  'lone surrogate': '\uD800x',
  NUL: 'a\u0000b',
  'bidi override': 'Acme\u202Egnp.exe',
  'zero-width space': 'ad\u200Bmin',
} as const;

/** Further characters that render as nothing (so a name can pose as another), refused in names. */
const INVISIBLE_IN_NAMES = {
  'soft hyphen': 'Ac\u00ADme',
  'combining grapheme joiner': 'Ac\u034Fme',
  'Khmer inherent vowel': 'Ac\u17B4me',
  'deprecated format control': 'Ac\u206Ame',
  'variation selector after a letter': 'Ac\uFE0Fme',
  'interlinear annotation': 'Ac\uFFF9me',
  'line separator': 'Ac\u2028me',
  'Mongolian free variation selector outside Mongolian': 'Ac\u180Bme',
} as const;

/** The raw JSON of a body holding `value` (a lone surrogate must be sent as an escape: UTF-8 cannot carry it). */
const rawJson = (fields: Record<string, string>) =>
  JSON.stringify(fields).replace(/[\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

async function snapshot() {
  const [tenant, me] = await Promise.all([
    api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token }),
    api.request('GET', '/v1/me', { token: owner.token }),
  ]);
  return { tenant: tenant.body, me: me.body };
}

describe('unsafe characters in any string field', () => {
  it('are refused in every body field of every route with a body, naming the field, changing nothing', async () => {
    // Prepare
    const before = await snapshot();
    const withBody = ROUTES.filter((r) => r.body);
    expect(withBody.length).toBeGreaterThan(10);

    // Act / Assess: each bad string as the name of each route's body
    for (const route of withBody) {
      for (const [label, value] of Object.entries(BAD)) {
        const res = await api.request(route.method, concretePath(route, tenantId), {
          token: owner.token,
          rawBody: rawJson({ name: value }),
        });
        const where = `${label}: ${route.method} ${route.path}`;
        expect(res.status, where).toBe(400);
        expect(res.headers.get('content-type'), where).toBe('application/problem+json');
        expect(res.body.errors, where).toContainEqual({ path: 'body.name', message: expect.any(String) });
      }
    }

    // Assess: nothing changed
    expect(await snapshot()).toEqual(before);
  });

  it('are refused in query parameters and path parameters', async () => {
    // Prepare
    const listing = ROUTES.filter((r) => r.query && r.method === 'GET' && r.auth.kind === 'tenant');
    expect(listing.length).toBeGreaterThan(3);

    // Act / Assess: a bidi override in the cursor of each tenant listing
    for (const route of listing) {
      const res = await api.request(
        'GET',
        `${concretePath(route, tenantId)}?cursor=${encodeURIComponent('x\u202Ey')}`,
        {
          token: owner.token,
        },
      );
      expect(res.status, route.path).toBe(400);
      expect(res.body.errors, route.path).toContainEqual({
        path: 'query.cursor',
        message: 'Contains a bidirectional control character',
      });
    }

    // Act / Assess: a zero-width space in a path parameter
    const member = await api.request(
      'DELETE',
      `/v1/tenants/${tenantId}/members/${encodeURIComponent('u_\u200B')}`,
      {
        token: owner.token,
      },
    );
    expect(member.status).toBe(400);
    expect(member.body.errors).toContainEqual({
      path: 'params.userId',
      message: 'Contains an invisible (zero-width) character',
    });
  });

  it('in names: the display name, the tenant name, in each form seen in attacks', async () => {
    // Act / Assess: each bad string in a tenant rename and a sign-up's name
    for (const [label, value] of Object.entries({ ...BAD, ...INVISIBLE_IN_NAMES })) {
      const rename = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
        token: owner.token,
        rawBody: rawJson({ name: `Acme ${value}` }),
      });
      expect(rename.status, label).toBe(400);
      expect(rename.body.errors[0].path, label).toBe('body.name');
      const register = await api.request('POST', '/v1/auth/register', {
        rawBody: rawJson({
          email: `t-${Date.now()}@example.test`,
          password: 'a long passphrase',
          name: value,
        }),
      });
      expect(register.status, label).toBe(400);
      expect(register.body.errors[0].path, label).toBe('body.name');
    }

    // Assess: the name is unchanged
    const tenant = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });
    expect(tenant.body.name).toBe('Text Co');
  });

  it('keeps names with emoji sequences and scripts that need joiners', async () => {
    // Act
    const res = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      body: { name: 'Lab 👩\u200D🔬 می\u200Cخواهم' },
    });

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.name).toBe('Lab 👩\u200D🔬 می\u200Cخواهم');

    // The name back, for the tests that follow.
    await api.request('PATCH', `/v1/tenants/${tenantId}`, { token: owner.token, body: { name: 'Text Co' } });
  });

  it('keeps a User-Agent with controls out of the session list and the audit log (made safe, not refused)', async () => {
    // Prepare: C1 controls as Latin-1 bytes (HTTP clients refuse anything above U+00FF in a header).
    const userAgent = 'Mozilla/5.0 \x9b2J\x9b31mAdmin console\x85';

    // Act: sign in and rename with that agent
    const login = await api.request('POST', '/v1/auth/login', {
      body: { email: owner.email, password: owner.password },
      headers: { 'user-agent': userAgent },
    });
    expect(login.status, login.text).toBe(200);
    const token = login.body.token as string;
    const rename = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token,
      body: { name: 'Text Co' },
      headers: { 'user-agent': userAgent },
    });
    expect(rename.status, rename.text).toBe(200);

    // Assess: what the session list and the audit log show
    const sessions = await api.request('GET', '/v1/me/sessions', { token });
    const events = await api.request('GET', `/v1/tenants/${tenantId}/audit-events`, { token });
    const current = sessions.body.items.find((s: { current: boolean }) => s.current);
    // Each control is replaced, the rest kept (how the bytes decode is the HTTP stack's business).
    expect(current.userAgent).toMatch(/^Mozilla\/5\.0 .*\uFFFD2J.*\uFFFD31mAdmin console.*\uFFFD$/);
    const agents: string[] = [
      ...sessions.body.items.map((s: { userAgent: string }) => s.userAgent),
      ...events.body.items.map((e: { actor: { userAgent: string } }) => e.actor.userAgent),
    ];
    expect(agents).toContain(current.userAgent);
    expect(agents.filter((ua) => unsafeTextReason(ua) !== undefined)).toEqual([]);
  });

  it('answers a body nested past any schema with a 400, not a stack overflow', async () => {
    // Act
    const res = await api.request('PATCH', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      rawBody: `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toBe('Nested deeper than 32 levels');
  });
});
