import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { TENANT_RECORD_TYPES } from '../../shared/domain/dynamo-query-compiler.js';
import { permissionsOf, type Role } from '../../shared/domain/permissions.js';
import { SelectQuery, type WhereNode } from '../../shared/domain/query-ast.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import { HttpProblemError } from '../../shared/errors.js';
import { runRecordsQuery } from '../../shared/services/query.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantRecordsReader } from '../../shared/store/tenant-records-reader.js';

// Two tenants' records side by side in the real tables (local emulator). Whatever a records query says,
// it must only ever return tenant A's items: each item carries its tenant's marker in every text field.

const A = 't_01jaaaaaaaaaaaaaaaaaaaaaaa';
const B = 't_01jbbbbbbbbbbbbbbbbbbbbbbb';
const USER_A = 'u_01jaaaaaaaaaaaaaaaaaaaaaaa';
const USER_A2 = 'u_01jaaaaaaaaaaaaaaaaaaaaaa2';
const USER_B = 'u_01jbbbbbbbbbbbbbbbbbbbbbbb';

function itemsOf(tenant: string, marker: string, users: string[]) {
  const tenantData: Record<string, unknown>[] = [];
  const audit: Record<string, unknown>[] = [];
  users.forEach((userId, i) => {
    tenantData.push({
      pk: tenant,
      sk: `MEMBER#${userId}`,
      tenantId: tenant,
      userId,
      role: i === 0 ? 'owner' : 'viewer',
      email: `${marker}-${i}@example.test`,
      name: `${marker} member ${i}`,
      addedAt: '2026-01-01T00:00:00Z',
      addedBy: users[0],
    });
    tenantData.push({
      pk: tenant,
      sk: `APIKEY#k_${marker}${i}`,
      keyId: `k_${marker}${i}`,
      tenantId: tenant,
      name: `${marker} key ${i}`,
      scopes: ['query:read', 'members:read'],
      createdBy: userId,
      createdAt: '2026-01-02T00:00:00Z',
      expiresAt: 1_900_000_000_000,
      secretHash: `HASH-${marker}-${i}`,
    });
  });
  for (let i = 0; i < 7; i++) {
    tenantData.push({
      pk: tenant,
      sk: `INSTANCE#i_${marker}${i}`,
      instanceId: `i_${marker}${i}`,
      name: `${marker}-instance-${i}`,
      defaultStorageRoot: `s3://bucket-${marker}/i${i}`,
      storageLocationId: `l_${marker}`,
      createdAt: '2026-01-03T00:00:00Z',
      createdBy: users[0],
    });
    audit.push({
      pk: tenant,
      sk: `EVENT#01J00000000000000000000${i}${marker.length}`,
      id: `e_${marker}${i}`,
      logId: tenant,
      time: `2026-01-0${i + 1}T00:00:00Z`,
      action: 'member.added',
      actor: { userId: users[0], ip: '127.0.0.1', userAgent: `${marker}-agent` },
      resource: { type: 'member', id: `${marker}-res-${i}` },
      ttl: i === 6 ? 1 : 4_000_000_000,
    });
  }
  tenantData.push({
    pk: tenant,
    sk: `LOCATION#l_${marker}`,
    locationId: `l_${marker}`,
    kind: 'external',
    root: `s3://bucket-${marker}`,
    bucket: `bucket-${marker}`,
    prefix: '',
    region: 'us-east-1',
    roleArn: `arn:aws:iam::111111111111:role/${marker}`,
    createdAt: '2026-01-01T00:00:00Z',
    createdBy: users[0],
    instanceCount: 7,
  });
  tenantData.push({ pk: tenant, sk: 'INSTANCE-NAME#x', instanceId: `i_${marker}0` });
  audit.push({ pk: tenant, sk: 'CHAIN#000000000001', hash: `CHAIN-${marker}` });
  return { tenantData, audit };
}

async function put(table: string, items: Record<string, unknown>[]) {
  for (let i = 0; i < items.length; i += 25)
    await functionRuntime().dynamo.send(
      new BatchWriteCommand({
        RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
}

let reader: TenantRecordsReader;

beforeAll(async () => {
  const a = itemsOf(A, 'AAA', [USER_A, USER_A2]);
  const b = itemsOf(B, 'BBB', [USER_B, USER_A]);
  await put(functionRuntime().require('tenantDataTable'), [...a.tenantData, ...b.tenantData]);
  await put(functionRuntime().require('auditTable'), [...a.audit, ...b.audit]);
  reader = new TenantRecordsReader({
    tenantClients: tenantDataClientsFor(functionRuntime()),
    tableNames: {
      tenantData: functionRuntime().require('tenantDataTable'),
      audit: functionRuntime().require('auditTable'),
    },
    itemsPerRequest: 3,
  });
});

const scopeA = mintTenantScope({ tenantId: A, userId: USER_A });
const callerA = (role: Role, userId = USER_A) => ({
  scope: mintTenantScope({ tenantId: A, userId }),
  permissions: permissionsOf(role),
  actor: { userId, ip: '127.0.0.1', userAgent: 'test' },
});
const query = (role: Role, body: unknown, userId?: string) =>
  runRecordsQuery({ reader }, callerA(role, userId), SelectQuery().parse(body));

describe('records queries', () => {
  it('reads members with filters, ordering and pagination on the tenant partition only', async () => {
    // Act: a first page, the next one, and a filtered read
    const first = await query('viewer', {
      operation: 'select',
      table: 'members',
      columns: ['userId', 'email'],
      orderBy: [{ column: 'userId', direction: 'desc' }],
      limit: 1,
    });
    const second = await query('viewer', {
      operation: 'select',
      table: 'members',
      columns: ['userId', 'email'],
      orderBy: [{ column: 'userId', direction: 'desc' }],
      limit: 1,
      cursor: first.nextCursor,
    });
    const filtered = await query('viewer', {
      operation: 'select',
      table: 'members',
      columns: ['email'],
      where: { op: 'like', column: 'email', value: 'AAA-1', mode: 'startsWith' },
    });

    // Assess
    // Sort-key order, descending: "…aaa" sorts after "…aa2".
    expect(first.rows).toEqual([[USER_A, 'AAA-0@example.test']]);
    expect(second.rows).toEqual([[USER_A2, 'AAA-1@example.test']]);
    expect(filtered.rows).toEqual([['AAA-1@example.test']]);
    expect(scopeA.tenantId).toBe(A);
  });

  it('never returns an API key hash, and shows a non-manager only their own keys', async () => {
    // Act: an editor, an admin, an admin asking for the hash, and a viewer
    const editor = await query('editor', { operation: 'select', table: 'apiKeys' }, USER_A2);
    const admin = await query('admin', { operation: 'select', table: 'apiKeys', columns: ['keyId'] });
    const hash = await query('admin', {
      operation: 'select',
      table: 'apiKeys',
      columns: ['secretHash'],
    }).catch((e) => e);
    const viewer = await query('viewer', { operation: 'select', table: 'apiKeys' }).catch((e) => e);

    // Assess: the editor's own key, the admin's every key, never a hash; the hash column unknown, the viewer
    // refused
    expect(editor.columns).toEqual([
      'keyId',
      'name',
      'scopes',
      'createdBy',
      'createdAt',
      'expiresAt',
      'lastUsedAt',
    ]);
    expect(editor.rows).toEqual([
      [
        'k_AAA1',
        'AAA key 1',
        ['query:read', 'members:read'],
        USER_A2,
        '2026-01-02T00:00:00Z',
        1_900_000_000_000,
        null,
      ],
    ]);
    expect(admin.rows).toEqual([['k_AAA0'], ['k_AAA1']]);
    expect([hash.status, hash.errors]).toEqual([
      400,
      [{ path: 'body.columns.0', message: 'Unknown column "secretHash" of apiKeys' }],
    ]);
    expect([viewer.status, viewer.detail]).toEqual([
      403,
      'Reading apiKeys needs the api-keys:create permission',
    ]);
    expect(JSON.stringify([editor, admin])).not.toContain('HASH-');
  });

  it('reads audit events for reviewers up, skipping expired ones and chain records; viewers get 403', async () => {
    // Act
    const events = await query('reviewer', {
      operation: 'select',
      table: 'auditEvents',
      columns: ['id', 'actorUserAgent', 'resourceId'],
      limit: 50,
    });
    const viewer = await query('viewer', { operation: 'select', table: 'auditEvents' }).catch((e) => e);

    // Assess: the live events only, and the viewer refused
    expect(events.rows.map((r) => r[0])).toEqual([
      'e_AAA0',
      'e_AAA1',
      'e_AAA2',
      'e_AAA3',
      'e_AAA4',
      'e_AAA5',
    ]);
    expect(events.rows[0]).toEqual(['e_AAA0', 'AAA-agent', 'AAA-res-0']);
    expect(viewer.status).toBe(403);
  });

  it('hides a storage location role ARN from those who do not manage locations', async () => {
    // Act: a viewer, a viewer asking for the ARN, an admin asking for it
    const viewer = await query('viewer', { operation: 'select', table: 'storageLocations' });
    const refused = await query('viewer', {
      operation: 'select',
      table: 'storageLocations',
      columns: ['roleArn'],
    }).catch((e) => e);
    const admin = await query('admin', {
      operation: 'select',
      table: 'storageLocations',
      columns: ['roleArn'],
    });

    // Assess
    expect(viewer.columns).not.toContain('roleArn');
    expect(refused.status).toBe(403);
    expect(admin.rows).toEqual([['arn:aws:iam::111111111111:role/AAA']]);
  });

  it("cannot reach another tenant's partition, whatever the AST, filter or cursor says", async () => {
    // Prepare: a cursor forged to point into tenant B
    const forged = Buffer.from(JSON.stringify({ v: 1, k: `MEMBER#${USER_B}`, f: 'x', pk: B })).toString(
      'base64url',
    );

    // Act / Assess
    const cursor = await query('viewer', { operation: 'select', table: 'members', cursor: forged }).catch(
      (e) => e,
    );
    expect([cursor.status, cursor.errors?.[0]?.path]).toEqual([400, 'body.cursor']);

    // Prepare: ASTs over every record type with hostile values and column names
    const hostile = fc.constantFrom(
      B,
      USER_B,
      'BBB',
      `MEMBER#${USER_B}`,
      "' OR pk = 't_",
      '#pk',
      ':v0',
      'pk',
      'sk',
      'AAA',
      '',
      '\u202E',
    );
    const names = (table: string) => [
      ...TENANT_RECORD_TYPES.get(table)!.columns.keys(),
      'pk',
      'sk',
      'tenantId',
      'secretHash',
      'hash',
      '#n0',
    ];
    const ast = fc.constantFrom(...TENANT_RECORD_TYPES.keys()).chain((table) => {
      const column = fc.constantFrom(...names(table));
      const leaf = fc.oneof(
        fc.record({
          op: fc.constantFrom('eq', 'ne', 'lt', 'gte'),
          column,
          value: fc.oneof(hostile, fc.integer()),
        }),
        fc.record({
          op: fc.constant('in'),
          column,
          values: fc.array(hostile, { minLength: 1, maxLength: 4 }),
        }),
        fc.record({
          op: fc.constant('like'),
          column,
          value: hostile,
          mode: fc.constantFrom('contains', 'startsWith', 'exact'),
        }),
        fc.record({ op: fc.constant('isNull'), column }),
      ) as fc.Arbitrary<WhereNode>;
      const where = fc.oneof(
        leaf,
        fc.record({
          op: fc.constantFrom('or', 'and'),
          conditions: fc.array(leaf, { minLength: 1, maxLength: 3 }),
        }),
        fc.record({ op: fc.constant('not'), condition: leaf }),
      );
      return fc.record(
        {
          operation: fc.constant('select'),
          table: fc.constant(table),
          where,
          limit: fc.integer({ min: 1, max: 20 }),
        },
        { requiredKeys: ['operation', 'table', 'where'] },
      );
    });

    // Act / Assess: each answer holds nothing of B, no hash and no chain record; each refusal is a 400 or 403
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(ast, async (body) => {
        try {
          const page = await query('owner', body);
          answered++;
          const text = JSON.stringify(page);
          expect(text).not.toContain('BBB');
          expect(text).not.toContain(B);
          expect(text).not.toContain('HASH-');
          expect(text).not.toContain('CHAIN-');
        } catch (error) {
          expect(error).toBeInstanceOf(HttpProblemError);
          expect([400, 403]).toContain((error as HttpProblemError).status);
        }
      }),
      { numRuns: 120 },
    );

    // Assess: enough of them were answered
    expect(answered).toBeGreaterThan(30);
  }, 120_000);
});
