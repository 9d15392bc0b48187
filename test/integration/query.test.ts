import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';
import { seedCustomers, startTestPostgres, type TestPostgres } from '../support/postgres.js';

// Through the local API, as a new user would: an owner registers a connection to a real Postgres, a viewer
// reads with filters and pages, an editor writes, an admin hides a column, and every abuse is refused.

const api = useTestApi();
let pg: TestPostgres;
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let connectionId: string;
const appPassword = `pw-${randomBytes(12).toString('base64url')}`;
// Everything the process writes for the whole file.
const output = captureOutputOfFile({ logLevel: 'DEBUG' });

const queryPath = (t: TenantWithRoles, id = connectionId) =>
  `/v1/tenants/${t.tenantId}/connections/${id}/query`;
const ask = (t: TenantWithRoles, role: keyof TenantWithRoles['users'], body: unknown, id?: string) =>
  api.request('POST', queryPath(t, id), { token: t.users[role].token, body });

beforeAll(async () => {
  pg = await startTestPostgres();
  await seedCustomers(
    pg,
    appPassword,
    `CREATE VIEW slow AS SELECT 1 AS id, pg_sleep(8)::text AS s;
     GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app;`,
  );
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
    token: acme.users.owner.token,
    body: {
      name: 'Shop',
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: 'app',
      password: appPassword,
    },
  });
  expect(created.status, created.text).toBe(201);
  connectionId = created.body.connectionId;
}, 180_000);

afterAll(async () => {
  await pg?.stop();
});

describe('POST /v1/tenants/{t}/connections/{id}/query', () => {
  it('lets a viewer select with filters and pagination', async () => {
    // Act
    const body = {
      operation: 'select',
      table: 'customers',
      columns: ['id', 'name', 'city'],
      where: {
        op: 'and',
        conditions: [
          { op: 'eq', column: 'city', value: 'Paris' },
          { op: 'like', column: 'name', value: 'customer 1', mode: 'startsWith' },
        ],
      },
      orderBy: [{ column: 'id' }],
      limit: 3,
    };
    const first = await ask(acme, 'viewer', body);
    const second = await ask(acme, 'viewer', { ...body, cursor: first.body.nextCursor });

    // Assess
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body).toMatchObject({
      columns: ['id', 'name', 'city'],
      rows: [
        [10, 'customer 10', 'Paris'],
        [12, 'customer 12', 'Paris'],
        [14, 'customer 14', 'Paris'],
      ],
    });
    expect(second.body).toEqual({
      columns: ['id', 'name', 'city'],
      rows: [
        [16, 'customer 16', 'Paris'],
        [18, 'customer 18', 'Paris'],
      ],
      nextCursor: null,
    });
  });

  it('lets an editor insert and update, and refuses a viewer’s write with 403', async () => {
    // Act: an editor inserts a hostile name and updates it; a viewer tries a delete, then reads
    const inserted = await ask(acme, 'editor', {
      operation: 'insert',
      table: 'customers',
      columns: ['name', 'city', 'email'],
      values: [["O'Brien; DROP TABLE customers; --", 'Dublin', 'ob@example.test']],
      returning: ['id', 'name'],
    });
    const updated = await ask(acme, 'editor', {
      operation: 'update',
      table: 'customers',
      set: [{ column: 'tier', value: 9 }],
      where: { op: 'eq', column: 'city', value: 'Dublin' },
    });
    const viewer = await ask(acme, 'viewer', {
      operation: 'delete',
      table: 'customers',
      where: { op: 'eq', column: 'city', value: 'Dublin' },
    });
    const check = await ask(acme, 'viewer', {
      operation: 'select',
      table: 'customers',
      columns: ['name', 'tier'],
      where: { op: 'eq', column: 'city', value: 'Dublin' },
    });

    // Assess: the row as written, updated once, the viewer's write refused
    expect(inserted.status, inserted.text).toBe(200);
    expect(inserted.body).toEqual({
      columns: ['id', 'name'],
      rows: [[26, "O'Brien; DROP TABLE customers; --"]],
      nextCursor: null,
      rowCount: 1,
    });
    expect(updated.body).toMatchObject({ rowCount: 1 });
    expect([viewer.status, problemType(viewer)]).toEqual([403, 'query-refused']);
    expect(check.body.rows).toEqual([["O'Brien; DROP TABLE customers; --", 9]]);
  });

  it('hides a column an admin hides from everyone below admin, in every position', async () => {
    // Prepare
    const patched = await api.request('PATCH', `/v1/tenants/${acme.tenantId}/connections/${connectionId}`, {
      token: acme.users.admin.token,
      body: { rules: { hiddenColumns: [{ table: 'customers', columns: ['email'] }] } },
    });
    expect(patched.status, patched.text).toBe(200);

    // Act
    const viewerAll = await ask(acme, 'viewer', { operation: 'select', table: 'customers', limit: 1 });
    const editorAll = await ask(acme, 'editor', { operation: 'select', table: 'customers', limit: 1 });
    const adminAll = await ask(acme, 'admin', { operation: 'select', table: 'customers', limit: 1 });
    const selected = await ask(acme, 'viewer', {
      operation: 'select',
      table: 'customers',
      columns: ['email'],
    });
    const filtered = await ask(acme, 'editor', {
      operation: 'select',
      table: 'customers',
      where: { op: 'like', column: 'email', value: 'c1' },
    });
    const written = await ask(acme, 'editor', {
      operation: 'update',
      table: 'customers',
      set: [{ column: 'email', value: 'x' }],
      where: { op: 'eq', column: 'id', value: 1 },
    });

    // Assess
    expect(viewerAll.body.columns).toEqual(['id', 'name', 'city', 'tier']);
    expect(editorAll.body.columns).toEqual(['id', 'name', 'city', 'tier']);
    expect(adminAll.body.columns).toEqual(['id', 'name', 'city', 'email', 'tier']);
    for (const res of [selected, filtered, written]) {
      expect(res.status).toBe(403);
      expect(res.body.detail).toBe('Column "email" of table "customers" is hidden');
    }
  });

  it('refuses every abuse with the documented status', async () => {
    // Act: each abuse, and another tenant's and an anonymous caller's requests
    const drop = await ask(acme, 'owner', {
      operation: 'select',
      table: "customers'; DROP TABLE customers; --",
    });
    const unknownColumn = await ask(acme, 'owner', {
      operation: 'select',
      table: 'customers',
      columns: ['nope'],
    });
    const deleteAll = await ask(acme, 'owner', { operation: 'delete', table: 'customers' });
    const nul = await ask(acme, 'owner', {
      operation: 'select',
      table: 'customers',
      where: { op: 'eq', column: 'name', value: 'a\u0000' },
    });
    const deep = await ask(acme, 'owner', { operation: 'select', table: 'customers', where: nested(12) });
    const limit = await ask(acme, 'owner', { operation: 'select', table: 'customers', limit: 5000 });
    const huge = await api.request('POST', queryPath(acme), {
      token: acme.users.owner.token,
      rawBody: JSON.stringify({
        operation: 'select',
        table: 'customers',
        where: { op: 'in', column: 'name', values: ['x'.repeat(10 * 1024 * 1024 - 200)] },
      }),
    });
    const justOver = await api.request('POST', queryPath(acme), {
      token: acme.users.owner.token,
      rawBody: JSON.stringify({
        operation: 'select',
        table: 'customers',
        where: { op: 'eq', column: 'name', value: 'x'.repeat(64 * 1024) },
      }),
    });
    const foreign = await ask(globex, 'owner', { operation: 'select', table: 'customers' });
    const foreignConnection = await api.request(
      'POST',
      `/v1/tenants/${globex.tenantId}/connections/${connectionId}/query`,
      {
        token: globex.users.owner.token,
        body: { operation: 'select', table: 'customers' },
      },
    );
    const anonymous = await api.request('POST', queryPath(acme), {
      body: { operation: 'select', table: 'customers' },
    });

    // Assess: each the documented status and field
    expect([drop.status, drop.body.errors]).toEqual([
      400,
      [{ path: 'body.table', message: `Unknown table "customers'; DROP TABLE customers; --"` }],
    ]);
    expect([unknownColumn.status, unknownColumn.body.errors?.[0]?.path]).toEqual([400, 'body.columns.0']);
    expect([deleteAll.status, deleteAll.body.errors?.[0]?.path]).toEqual([400, 'body.where']);
    expect([nul.status, nul.body.errors?.[0]]).toEqual([
      400,
      { path: 'body.where.value', message: 'Contains a NUL or another control character' },
    ]);
    expect(deep.status).toBe(400);
    expect(deep.body.errors?.[0]?.message).toBe('The where tree is nested deeper than 8 levels');
    expect([limit.status, limit.body.errors?.[0]?.path]).toEqual([400, 'body.limit']);
    expect([huge.status, problemType(huge)]).toEqual([413, 'payload-too-large']);
    expect([justOver.status, problemType(justOver)]).toEqual([413, 'payload-too-large']);
    expect(foreign.status).toBe(404);
    expect(foreignConnection.status).toBe(404);
    expect(anonymous.status).toBe(401);

    // Act / Assess: nothing was deleted
    const still = await ask(acme, 'viewer', {
      operation: 'select',
      table: 'customers',
      columns: ['id'],
      limit: 1000,
    });
    expect(still.body.rows).toHaveLength(26);
  });

  it('holds API keys to their scopes: a read-only key reads but cannot write, a key without query:read gets 403', async () => {
    // Prepare
    const keyWith = async (scopes: string[]) => {
      const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
        token: acme.users.editor.token,
        body: { name: `q-${scopes.join('-')}`, scopes },
      });
      expect(res.status, res.text).toBe(201);
      return res.body.key as string;
    };
    const reader = await keyWith(['query:read']);
    const writer = await keyWith(['query:read', 'query:write']);
    const none = await keyWith(['tenant:read']);
    const write = {
      operation: 'update',
      table: 'customers',
      set: [{ column: 'tier', value: 5 }],
      where: { op: 'eq', column: 'id', value: 2 },
    };

    // Act
    const read = await api.request('POST', queryPath(acme), {
      token: reader,
      body: { operation: 'select', table: 'customers', columns: ['id'], limit: 1 },
    });
    const refused = await api.request('POST', queryPath(acme), { token: reader, body: write });
    const written = await api.request('POST', queryPath(acme), { token: writer, body: write });
    const noScope = await api.request('POST', queryPath(acme), {
      token: none,
      body: { operation: 'select', table: 'customers' },
    });

    // Assess
    expect(read.status).toBe(200);
    expect([refused.status, refused.body.detail]).toEqual([
      403,
      'The update operation needs the query:write permission',
    ]);
    expect(written.body).toMatchObject({ rowCount: 1 });
    expect(noScope.status).toBe(403);
  });

  it('stops a slow query with a 504 problem and keeps serving', async () => {
    // Act: a slow query, then a quick one
    const started = Date.now();
    const slow = await ask(acme, 'viewer', { operation: 'select', table: 'slow' });
    const after = await ask(acme, 'viewer', {
      operation: 'select',
      table: 'customers',
      columns: ['id'],
      limit: 1,
    });

    // Assess: a 504 problem within the time limit, and the next query served
    expect([slow.status, problemType(slow)]).toEqual([504, 'timeout']);
    expect(slow.headers.get('content-type')).toBe('application/problem+json');
    expect(Date.now() - started).toBeLessThan(7_500);
    expect(after.status).toBe(200);
  }, 30_000);

  it('audits queries with their shape, never values, rows or the password', async () => {
    // Act: the audit events of the queries so far
    const { Items } = await functionRuntime().dynamo.send(
      new QueryCommand({
        TableName: functionRuntime().require('auditTable'),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': acme.tenantId, ':p': 'EVENT#' },
      }),
    );
    const queried = (Items ?? []).filter((e) => e.action === 'connection.queried');

    // Assess: their shapes, without values, rows or the password, in the events and the logs
    expect(queried.length).toBeGreaterThanOrEqual(8);
    const insert = queried.find((e) => e.details?.operation === 'insert');
    expect(insert?.details).toEqual({
      operation: 'insert',
      table: 'customers',
      columns: ['name', 'city', 'email', 'id'],
      outcome: 'committed',
      rowCount: 1,
    });
    expect(insert?.resource).toEqual({ type: 'connection', id: connectionId });
    const text = JSON.stringify(queried);
    expect(text).not.toContain("O'Brien");
    expect(text).not.toContain('customer 1');
    expect(text).not.toContain(appPassword);
    expect(output.text()).not.toContain(appPassword);
    expect(output.text()).not.toContain("O'Brien");
  });
});

describe('POST /v1/tenants/{t}/query', () => {
  it('reads the tenant’s own members, and never another tenant’s', async () => {
    // Act: a viewer's read of the owners and admins, one of another tenant's member, and an owner's delete
    const members = await api.request('POST', `/v1/tenants/${acme.tenantId}/query`, {
      token: acme.users.viewer.token,
      body: {
        operation: 'select',
        table: 'members',
        columns: ['userId', 'role'],
        where: { op: 'in', column: 'role', values: ['owner', 'admin'] },
      },
    });
    const crossTenant = await api.request('POST', `/v1/tenants/${acme.tenantId}/query`, {
      token: acme.users.viewer.token,
      body: {
        operation: 'select',
        table: 'members',
        where: { op: 'eq', column: 'userId', value: globex.users.owner.userId },
      },
    });
    const write = await api.request('POST', `/v1/tenants/${acme.tenantId}/query`, {
      token: acme.users.owner.token,
      body: { operation: 'delete', table: 'members', where: { op: 'eq', column: 'role', value: 'viewer' } },
    });

    // Assess: own members only, nothing of the other tenant, and no write
    expect(members.status, members.text).toBe(200);
    expect(members.body.rows.map((r: string[]) => r[1]).sort()).toEqual(['admin', 'owner']);
    expect(members.body.rows.map((r: string[]) => r[0]).sort()).toEqual(
      [acme.users.admin.userId, acme.users.owner.userId].sort(),
    );
    expect(crossTenant.body.rows).toEqual([]);
    expect(write.status).toBe(400);
  });
});

function nested(depth: number): unknown {
  let node: unknown = { op: 'eq', column: 'id', value: 1 };
  for (let i = 0; i < depth; i++) node = { op: 'not', condition: node };
  return node;
}
