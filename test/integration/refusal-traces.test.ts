import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/moto.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import { startTestPostgres, type TestPostgres } from '../support/postgres.js';
import { partitionItems } from '../support/table-reads.js';

// Every refusal leaves a trace (issue 17 §5): refused changes, refused queries and failed data sources are
// audited like successful ones; a 502 names the class of failure; a connection can be tried without a
// query; every error answer and its log line carry the request id.

const api = useTestApi();
let pg: TestPostgres;
let acme: TenantWithRoles;
let globex: TenantWithRoles;
const appPassword = `pw-${randomBytes(12).toString('base64url')}`;
/** A TCP server that accepts and never answers: a database that hangs during the handshake. */
let silent: Server;
const silentSockets = new Set<Socket>();
let silentPort: number;
const ids = {} as Record<
  'good' | 'wrongPassword' | 'closedPort' | 'untrusted' | 'noDatabase' | 'silent',
  string
>;

const events = async (tenantId: string, action: string) =>
  (await partitionItems(process.env.AUDIT_TABLE!, tenantId)).filter((e) => e.action === action);

async function connection(name: string, settings: Record<string, unknown>): Promise<string> {
  const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
    token: acme.users.owner.token,
    body: {
      name,
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: 'app',
      password: appPassword,
      ...settings,
    },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.connectionId;
}

beforeAll(async () => {
  pg = await startTestPostgres();
  const admin = await pg.admin();
  await admin.query(`
    CREATE ROLE app LOGIN PASSWORD '${appPassword}';
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);
    INSERT INTO customers (name, email) VALUES ('a', 'a@example.test');
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO app;
  `);
  await admin.end();
  silent = createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  silentPort = await new Promise<number>((resolve) =>
    silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
  );
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  ids.good = await connection('Good', {
    rules: { hiddenColumns: [{ table: 'customers', columns: ['email'] }] },
  });
  ids.wrongPassword = await connection('Wrong password', { password: 'not-the-password' });
  ids.closedPort = await connection('Closed port', { port: await freePort() });
  ids.untrusted = await connection('Untrusted certificate', { tlsMode: 'verify-full' });
  ids.noDatabase = await connection('No database', { database: 'no_such_database' });
  ids.silent = await connection('Silent', { port: silentPort });
}, 180_000);

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await pg?.stop();
});

describe('refused changes are audited in the tenant log', () => {
  it("records a viewer's refused role change and an admin's refused change of the owner, with who, why and whom", async () => {
    // Prepare
    const base = `/v1/tenants/${acme.tenantId}/members`;
    const before = (await events(acme.tenantId, 'auth.action.refused')).length;
    // Act
    const byViewer = await api.request('PATCH', `${base}/${acme.users.editor.userId}`, {
      token: acme.users.viewer.token,
      body: { role: 'admin' },
    });
    const byAdmin = await api.request('PATCH', `${base}/${acme.users.owner.userId}`, {
      token: acme.users.admin.token,
      body: { role: 'viewer' },
    });
    // Assess
    expect([byViewer.status, byAdmin.status]).toEqual([403, 403]);
    const written = (await events(acme.tenantId, 'auth.action.refused')).slice(before);
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({
      actor: { userId: acme.users.viewer.userId },
      details: {
        route: 'changeMemberRole',
        reason: 'permission-missing',
        permission: 'members:manage',
        credential: 'session',
        target: { userId: acme.users.editor.userId },
      },
    });
    expect(written[1]).toMatchObject({
      actor: { userId: acme.users.admin.userId },
      details: {
        route: 'changeMemberRole',
        reason: problemType(byAdmin),
        target: { userId: acme.users.owner.userId },
      },
    });
    const members = await api.request('GET', base, { token: acme.users.owner.token });
    const roles = Object.fromEntries(
      members.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]),
    );
    expect(roles[acme.users.editor.userId]).toBe('editor');
    expect(roles[acme.users.owner.userId]).toBe('owner');
  });

  it("writes nothing to a tenant for a stranger's attempt (404), nor for a member's routine refused read", async () => {
    // Prepare
    const before = {
      acme: (await partitionItems(process.env.AUDIT_TABLE!, acme.tenantId)).length,
      globex: (await partitionItems(process.env.AUDIT_TABLE!, globex.tenantId)).length,
    };
    // Act
    const stranger = await api.request(
      'PATCH',
      `/v1/tenants/${acme.tenantId}/members/${acme.users.editor.userId}`,
      { token: globex.users.owner.token, body: { role: 'admin' } },
    );
    const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'tenant only', scopes: ['tenant:read'] },
    });
    const routineRead = await api.request('GET', `/v1/tenants/${acme.tenantId}/members`, {
      token: key.body.key,
    });
    // Assess
    expect([stranger.status, routineRead.status]).toEqual([404, 403]);
    expect((await partitionItems(process.env.AUDIT_TABLE!, globex.tenantId)).length).toBe(before.globex);
    // Only the key's creation was written to Acme's log.
    const acmeAfter = await partitionItems(process.env.AUDIT_TABLE!, acme.tenantId);
    expect(acmeAfter.slice(before.acme).map((e) => e.action)).toEqual(['api-key.created']);
  });
});

describe('refused and failed queries are audited like executed ones', () => {
  it('records a query the connection rules refuse once, as connection.queried with outcome refused', async () => {
    // Prepare
    const refusalsBefore = (await events(acme.tenantId, 'auth.action.refused')).length;
    const queriesBefore = (await events(acme.tenantId, 'connection.queried')).length;
    // Act
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections/${ids.good}/query`, {
      token: acme.users.viewer.token,
      body: { operation: 'select', table: 'customers', columns: ['email'] },
    });
    // Assess
    expect(res.status).toBe(403);
    expect(problemType(res)).toBe('query-refused');
    const queried = (await events(acme.tenantId, 'connection.queried')).slice(queriesBefore);
    expect(queried).toHaveLength(1);
    expect(queried[0]).toMatchObject({
      actor: { userId: acme.users.viewer.userId },
      resource: { type: 'connection', id: ids.good },
      details: { operation: 'select', table: 'customers', outcome: 'refused' },
    });
    expect(JSON.stringify(queried[0])).not.toContain('a@example.test');
    expect((await events(acme.tenantId, 'auth.action.refused')).length).toBe(refusalsBefore);
  });

  it('answers 502 naming the class of failure, without secrets, and audits the attempt with it', async () => {
    // Prepare
    const before = (await events(acme.tenantId, 'connection.queried')).length;
    const select = { operation: 'select', table: 'customers', columns: ['id'] };
    // Act
    const answers: Record<string, TestResponse> = {};
    for (const name of ['wrongPassword', 'closedPort', 'untrusted', 'noDatabase'] as const) {
      answers[name] = await api.request(
        'POST',
        `/v1/tenants/${acme.tenantId}/connections/${ids[name]}/query`,
        { token: acme.users.viewer.token, body: select },
      );
    }
    // Assess
    const failures = Object.fromEntries(Object.entries(answers).map(([n, r]) => [n, r.body.failure]));
    expect(failures).toEqual({
      wrongPassword: 'authentication-failed',
      closedPort: 'unreachable',
      untrusted: 'tls-refused',
      noDatabase: 'database-not-found',
    });
    for (const res of Object.values(answers)) {
      expect(res.status).toBe(502);
      expect(problemType(res)).toBe('data-source-unavailable');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
      expect(res.text).not.toContain('not-the-password');
      expect(res.text).not.toContain(appPassword);
      expect(res.text).not.toContain('no_such_database');
    }
    const audited = (await events(acme.tenantId, 'connection.queried')).slice(before);
    expect(audited.map((e) => [e.resource.id, e.details.outcome, e.details.failure])).toEqual([
      [ids.wrongPassword, 'failed', 'authentication-failed'],
      [ids.closedPort, 'failed', 'unreachable'],
      [ids.untrusted, 'failed', 'tls-refused'],
      [ids.noDatabase, 'failed', 'database-not-found'],
    ]);
  });
});

describe('POST /v1/tenants/{t}/connections/{id}/test', () => {
  const testPath = (t: TenantWithRoles, id: string) => `/v1/tenants/${t.tenantId}/connections/${id}/test`;

  it('connects, logs in and closes without running a statement, audited as connection.tested', async () => {
    // Prepare
    const admin = await pg.admin();
    // Act
    const res = await api.request('POST', testPath(acme, ids.good), { token: acme.users.admin.token });
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      connectionId: ids.good,
      outcome: 'connected',
      failure: null,
      tls: 'encrypted-unverified',
    });
    expect(res.body.latencyMs).toBeGreaterThanOrEqual(0);
    const sessions = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'strongroom-connection-test'",
    );
    expect(sessions.rows[0].n).toBe(0); // the test's client was closed
    await admin.end();
    const tested = await events(acme.tenantId, 'connection.tested');
    expect(tested.at(-1)).toMatchObject({
      actor: { userId: acme.users.admin.userId },
      resource: { type: 'connection', id: ids.good },
      details: { outcome: 'connected', tls: 'encrypted-unverified' },
    });
  });

  it('reports each class of failure as a 200 with outcome failed, audited, never with a secret', async () => {
    // Act
    const results: Record<string, { outcome: string; failure: string }> = {};
    for (const name of ['wrongPassword', 'closedPort', 'untrusted', 'noDatabase', 'silent'] as const) {
      const res = await api.request('POST', testPath(acme, ids[name]), { token: acme.users.owner.token });
      expect(res.status, `${name}: ${res.text}`).toBe(200);
      expect(res.text).not.toContain('not-the-password');
      results[name] = { outcome: res.body.outcome, failure: res.body.failure };
    }
    // Assess
    expect(results).toEqual({
      wrongPassword: { outcome: 'failed', failure: 'authentication-failed' },
      closedPort: { outcome: 'failed', failure: 'unreachable' },
      untrusted: { outcome: 'failed', failure: 'tls-refused' },
      noDatabase: { outcome: 'failed', failure: 'database-not-found' },
      silent: { outcome: 'failed', failure: 'timeout' },
    });
    const tested = (await events(acme.tenantId, 'connection.tested')).slice(-5);
    expect(tested.map((e) => e.details.failure)).toEqual([
      'authentication-failed',
      'unreachable',
      'tls-refused',
      'database-not-found',
      'timeout',
    ]);
  }, 60_000);

  it("refuses roles below admin (403, recorded) and another tenant's ids (404, nothing written)", async () => {
    // Prepare
    const before = {
      tested: (await events(acme.tenantId, 'connection.tested')).length,
      refused: (await events(acme.tenantId, 'auth.action.refused')).length,
      globex: (await partitionItems(process.env.AUDIT_TABLE!, globex.tenantId)).length,
    };
    // Act
    const below = [];
    for (const role of ['editor', 'reviewer', 'viewer'] as const)
      below.push(await api.request('POST', testPath(acme, ids.good), { token: acme.users[role].token }));
    const foreign = await api.request('POST', testPath(globex, ids.good), {
      token: globex.users.owner.token,
    });
    const malformed = await api.request('POST', testPath(acme, 'c_nope'), { token: acme.users.owner.token });
    // Assess
    expect(below.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(foreign.status).toBe(404);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ path: 'params.connectionId', message: 'Not a connection id' }]);
    expect((await events(acme.tenantId, 'connection.tested')).length).toBe(before.tested);
    expect((await events(acme.tenantId, 'auth.action.refused')).length).toBe(before.refused + 3);
    expect((await partitionItems(process.env.AUDIT_TABLE!, globex.tenantId)).length).toBe(before.globex);
  });
});

describe('request ids', () => {
  it('puts the same id on the error answer and its header, a fresh one per request', async () => {
    // Act
    const ask = () =>
      api.request('POST', `/v1/tenants/${acme.tenantId}/connections/${ids.good}/query`, {
        token: acme.users.viewer.token,
        body: { operation: 'select', table: 'customers', columns: ['email'] },
      });
    const [first, second] = [await ask(), await ask()];
    // Assess
    for (const res of [first, second]) {
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
    }
    expect(first.body.requestId).not.toBe(second.body.requestId);
  });
});
