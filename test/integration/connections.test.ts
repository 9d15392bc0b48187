import { randomBytes } from 'node:crypto';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';

const api = useTestApi();
let acme: TenantWithRoles;
let globex: TenantWithRoles;
const createdPasswords: string[] = [];
// Everything the process writes for the whole file.
const output = captureOutputOfFile({ logLevel: 'DEBUG' });

const db = functionRuntime().dynamo;

/** A password nobody could find in a log or table by chance. */
function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}-Ünïcode`;
  createdPasswords.push(password);
  return password;
}

async function scan(table: string) {
  const { Items } = await db.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return Items ?? [];
}

async function createConnection(t: TenantWithRoles, overrides: Record<string, unknown> = {}) {
  const password = newPassword();
  const res = await api.request('POST', `/v1/tenants/${t.tenantId}/connections`, {
    token: t.users.owner.token,
    body: {
      name: 'Warehouse',
      host: '127.0.0.1',
      port: 5432,
      database: 'app',
      user: 'reader',
      password,
      ...overrides,
    },
  });
  expect(res.status, res.text).toBe(201);
  return { id: res.body.connectionId as string, password, body: res.body };
}

beforeAll(async () => {
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
}, 120_000);

describe('connections: create and read, masked', () => {
  it('stores a connection an owner creates and shows it masked to every member', async () => {
    // Act
    const created = await createConnection(acme, { tlsMode: 'require', schema: 'analytics' });

    // Assess
    expect(created.body).toMatchObject({
      name: 'Warehouse',
      host: '127.0.0.1',
      port: 5432,
      database: 'app',
      user: 'reader',
      schema: 'analytics',
      tlsMode: 'require',
      caCertificate: null,
      password: '********',
      rules: null,
      createdBy: acme.users.owner.userId,
    });
    for (const role of ['viewer', 'reviewer', 'editor', 'admin', 'owner'] as const) {
      const read = await api.request('GET', `/v1/tenants/${acme.tenantId}/connections/${created.id}`, {
        token: acme.users[role].token,
      });
      expect(read.status, role).toBe(200);
      expect(read.body.password).toBe('********');
      expect(read.text).not.toContain(created.password);
      expect(read.headers.get('cache-control')).toBe('no-store');
    }
    const list = await api.request('GET', `/v1/tenants/${acme.tenantId}/connections?limit=100`, {
      token: acme.users.viewer.token,
    });
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { connectionId: string }) => c.connectionId)).toContain(created.id);
    expect(list.text).not.toContain(created.password);
  });

  it('keeps only ciphertext bound to tenant and record in the raw item, and audits the creation', async () => {
    // Prepare
    const { id, password } = await createConnection(acme);

    // Act: the raw item and the audit events
    const items = (await scan(process.env.TENANT_DATA_TABLE!)).filter((i) => i.connectionId === id);

    // Assess: no form of the password in the item; the ciphertext's header names tenant, purpose and record
    expect(items).toHaveLength(1);
    const raw = JSON.stringify(items[0]);
    for (const form of [
      password,
      Buffer.from(password).toString('base64'),
      Buffer.from(password).toString('base64url'),
      Buffer.from(password).toString('hex'),
      encodeURIComponent(password),
      password.slice(0, 12),
    ])
      expect(raw).not.toContain(form);
    const ciphertext = Buffer.from(String(items[0]!.passwordCiphertext), 'base64');
    expect(ciphertext.readUInt16BE(1)).toBe(0x0478);
    // The authenticated header names the tenant, purpose and record it belongs to.
    for (const bound of [acme.tenantId, 'connection-password', id])
      expect(ciphertext.includes(Buffer.from(bound))).toBe(true);

    // Assess: one creation event, without the password
    const events = (await scan(process.env.AUDIT_TABLE!)).filter(
      (e) => e.pk === acme.tenantId && e.resource?.id === id,
    );
    expect(events.map((e) => e.action)).toEqual(['connection.created']);
    expect(JSON.stringify(events)).not.toContain(password);
    expect(events[0]!.details.after).toMatchObject({ host: '127.0.0.1', passwordSet: true });
  });

  it('refuses writes below admin (403) and bad input (400 naming the field), writing nothing', async () => {
    // Prepare
    const before = (await scan(process.env.TENANT_DATA_TABLE!)).length;

    // Act / Assess: each role below admin
    for (const role of ['viewer', 'reviewer', 'editor'] as const) {
      const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
        token: acme.users[role].token,
        body: { name: 'x', host: 'db.example.com', database: 'd', user: 'u', password: newPassword() },
      });
      expect(res.status, role).toBe(403);
    }

    // Act / Assess: bad input
    const bad = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
      token: acme.users.admin.token,
      body: {
        name: '',
        host: 'db.example.com',
        port: 70000,
        database: 'd',
        user: 'u',
        tlsMode: 'prefer',
        extra: 1,
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.extra',
      'body.name',
      'body.password',
      'body.port',
      'body.tlsMode',
    ]);

    // Act / Assess: the metadata address
    const metadata = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
      token: acme.users.admin.token,
      body: { name: 'm', host: '169.254.169.254', database: 'd', user: 'u', password: newPassword() },
    });
    expect(metadata.status).toBe(400);
    expect(metadata.body.errors[0].path).toBe('body.host');

    // Act / Assess: a CA certificate without verify-full
    const caWithoutVerify = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
      token: acme.users.admin.token,
      body: {
        name: 'm',
        host: 'db.example.com',
        database: 'd',
        user: 'u',
        password: newPassword(),
        caCertificate: 'nope',
      },
    });
    expect(caWithoutVerify.status).toBe(400);
    expect(caWithoutVerify.body.errors[0].path).toBe('body.caCertificate');

    // Assess: nothing written
    expect((await scan(process.env.TENANT_DATA_TABLE!)).length).toBe(before);
  });

  it("answers 404 for another tenant's connection ids and changes nothing", async () => {
    // Prepare
    const { id } = await createConnection(acme);
    const asGlobex = (method: string, path: string, body?: unknown) =>
      api.request(method, path, { token: globex.users.owner.token, ...(body ? { body } : {}) });

    // Act / Assess: through Acme's path (not a member) and through Globex's own path (not its connection).
    for (const tenantId of [acme.tenantId, globex.tenantId]) {
      const base = `/v1/tenants/${tenantId}/connections/${id}`;
      expect((await asGlobex('GET', base)).status).toBe(404);
      expect((await asGlobex('PATCH', base, { name: 'stolen' })).status).toBe(404);
      expect((await asGlobex('POST', `${base}/reveal`)).status).toBe(404);
      expect((await asGlobex('DELETE', base)).status).toBe(404);
    }

    // Assess: the connection unchanged
    const still = await api.request('GET', `/v1/tenants/${acme.tenantId}/connections/${id}`, {
      token: acme.users.viewer.token,
    });
    expect(still.body.name).toBe('Warehouse');
  });
});

describe('connections: reveal', () => {
  it('reveals the password to the owner, audited; admin, editor, reviewer and viewer get 403', async () => {
    // Prepare
    const { id, password } = await createConnection(acme);
    const path = `/v1/tenants/${acme.tenantId}/connections/${id}/reveal`;

    // Act / Assess: each role below owner
    for (const role of ['admin', 'editor', 'reviewer', 'viewer'] as const) {
      const refused = await api.request('POST', path, { token: acme.users[role].token });
      expect(refused.status, role).toBe(403);
      expect(refused.text).not.toContain(password);
    }

    // Act
    const revealed = await api.request('POST', path, { token: acme.users.owner.token });

    // Assess: the password, not cached, and one reveal event without it
    expect(revealed.status).toBe(200);
    expect(revealed.body).toEqual({ connectionId: id, password });
    expect(revealed.headers.get('cache-control')).toBe('no-store');
    const events = (await scan(process.env.AUDIT_TABLE!)).filter(
      (e) => e.pk === acme.tenantId && e.resource?.id === id && e.action === 'connection.revealed',
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.actor.userId).toBe(acme.users.owner.userId);
    expect(JSON.stringify(events)).not.toContain(password);
  });

  it("refuses an owner's API key (reveal needs a signed-in session)", async () => {
    // Prepare: an owner's key with the reveal scope
    const { id } = await createConnection(acme);
    const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'script', scopes: ['connections:read', 'connections:reveal'] },
    });
    expect(key.status, key.text).toBe(201);

    // Act
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections/${id}/reveal`, {
      token: key.body.key,
    });

    // Assess
    expect(res.status).toBe(403);
    expect(problemType(res)).toBe('session-required');
  });

  it('fails closed when a ciphertext is moved to another record or another tenant', async () => {
    // Prepare: the ciphertext of one connection planted on a sibling and on another tenant's
    const source = await createConnection(acme);
    const sibling = await createConnection(acme);
    const foreign = await createConnection(globex);
    const table = process.env.TENANT_DATA_TABLE!;
    const items = await scan(table);
    const ciphertextOf = (id: string) => items.find((i) => i.connectionId === id)!.passwordCiphertext;
    const plant = (tenantId: string, id: string) =>
      db.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: tenantId, sk: `CONNECTION#${id}` },
          UpdateExpression: 'SET passwordCiphertext = :c',
          ExpressionAttributeValues: { ':c': ciphertextOf(source.id) },
        }),
      );
    await plant(acme.tenantId, sibling.id);
    await plant(globex.tenantId, foreign.id);

    // Act
    const moved = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections/${sibling.id}/reveal`, {
      token: acme.users.owner.token,
    });
    const crossTenant = await api.request(
      'POST',
      `/v1/tenants/${globex.tenantId}/connections/${foreign.id}/reveal`,
      {
        token: globex.users.owner.token,
      },
    );

    // Assess: refused without the password, and no reveal recorded
    for (const res of [moved, crossTenant]) {
      expect(res.status).toBe(500);
      expect(res.text).not.toContain(source.password);
    }
    const reveals = (await scan(process.env.AUDIT_TABLE!)).filter(
      (e) => e.action === 'connection.revealed' && [sibling.id, foreign.id].includes(e.resource?.id),
    );
    expect(reveals).toEqual([]);
  });
});

describe('connections: update and delete', () => {
  it('lets an admin replace the password and set query rules, but never read the password back', async () => {
    // Prepare
    const { id } = await createConnection(acme);
    const replacement = newPassword();
    const rules = {
      readOnly: true,
      deniedTables: ['salaries'],
      hiddenColumns: [{ table: 'users', columns: ['email'] }],
    };

    // Act
    const patched = await api.request('PATCH', `/v1/tenants/${acme.tenantId}/connections/${id}`, {
      token: acme.users.admin.token,
      body: { password: replacement, rules },
    });

    // Assess: masked, the rules set; the owner reveals the new password; one event without it
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.password).toBe('********');
    expect(patched.body.rules).toEqual(rules);
    expect(patched.text).not.toContain(replacement);
    const revealed = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections/${id}/reveal`, {
      token: acme.users.owner.token,
    });
    expect(revealed.body.password).toBe(replacement);
    const updates = (await scan(process.env.AUDIT_TABLE!)).filter(
      (e) => e.resource?.id === id && e.action === 'connection.updated',
    );
    expect(updates).toHaveLength(1);
    expect(updates[0]!.details).toMatchObject({ changed: ['rules', 'password'], password: 'replaced' });
    expect(JSON.stringify(updates)).not.toContain(replacement);
  });

  it('needs the password again to move the connection to another host, port or TLS setting', async () => {
    // Prepare
    const { id } = await createConnection(acme);
    const path = `/v1/tenants/${acme.tenantId}/connections/${id}`;

    // Act / Assess: a new host without the password
    const moved = await api.request('PATCH', path, {
      token: acme.users.admin.token,
      body: { host: 'evil.example.com' },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.errors).toEqual([{ path: 'body.password', message: 'Required when changing host' }]);

    // Act / Assess: a rename
    const renamed = await api.request('PATCH', path, {
      token: acme.users.admin.token,
      body: { name: 'Renamed' },
    });
    expect(renamed.status).toBe(200);

    // Assess: the host unchanged
    const read = await api.request('GET', path, { token: acme.users.viewer.token });
    expect(read.body).toMatchObject({ name: 'Renamed', host: '127.0.0.1' });
  });

  it('deletes a connection with its ciphertext, audited; editors cannot', async () => {
    // Prepare
    const { id } = await createConnection(acme);
    const path = `/v1/tenants/${acme.tenantId}/connections/${id}`;

    // Act / Assess: an editor
    expect((await api.request('DELETE', path, { token: acme.users.editor.token })).status).toBe(403);

    // Act: an admin
    const deleted = await api.request('DELETE', path, { token: acme.users.admin.token });

    // Assess: gone, with its item, and audited
    expect(deleted.status).toBe(204);
    expect((await api.request('GET', path, { token: acme.users.owner.token })).status).toBe(404);
    expect((await scan(process.env.TENANT_DATA_TABLE!)).some((i) => i.connectionId === id)).toBe(false);
    const events = (await scan(process.env.AUDIT_TABLE!))
      .filter((e) => e.resource?.id === id)
      .map((e) => e.action);
    expect(events.sort()).toEqual(['connection.created', 'connection.deleted']);
  });
});

describe('connections: logs', () => {
  it('never wrote a created password to the logs, in any form', () => {
    // Act
    const all = output.text();

    // Assess: sanity: the capture saw the logger's output (the moved-ciphertext 500s are logged as errors).
    expect(all).toContain('CiphertextBindingError');
    expect(createdPasswords.length).toBeGreaterThan(10);
    for (const password of createdPasswords) {
      expect(all).not.toContain(password);
      expect(all).not.toContain(Buffer.from(password).toString('base64'));
      expect(all).not.toContain(JSON.stringify(password).slice(1, -1));
    }
  });
});
