import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { compileRecordsQuery, encodeRecordsCursor } from '../../../shared/domain/dynamo-query-compiler.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { SelectQuery } from '../../../shared/domain/query-ast.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { TenantRecordsReader } from '../../../shared/store/tenant-records-reader.js';

const A = 't_01jaaaaaaaaaaaaaaaaaaaaaaa';
const B = 't_01jbbbbbbbbbbbbbbbbbbbbbbb';
const USER = 'u_01jaaaaaaaaaaaaaaaaaaaaaaa';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const scopeA = mintTenantScope({ tenantId: A, userId: USER });
const keys = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl', nowEpochSeconds: 1 };

afterEach(() => ddb.reset());

function reader(options: { maxRequests?: number } = {}) {
  const scopes: string[] = [];
  const r = new TenantRecordsReader({
    tenantClients: {
      forScope: async (scope) => {
        scopes.push(scope.tenantId);
        return client;
      },
    },
    tableNames: { tenantData: 'tenant-data', audit: 'audit' },
    itemsPerRequest: 2,
    ...options,
  });
  return { r, scopes };
}

const compile = (body: unknown, tenantId = A) =>
  compileRecordsQuery(
    SelectQuery().parse(body),
    { tenantId, userId: USER, permissions: permissionsOf('admin') },
    keys,
  );

describe('TenantRecordsReader', () => {
  it('continues a cursor inside the scope’s partition with the scope’s client, and pages across requests', async () => {
    // Prepare
    const ast = SelectQuery().parse({ operation: 'select', table: 'members', columns: ['userId'], limit: 3 });
    const fingerprint = compile(ast).fingerprint;
    const compiled = compile({ ...ast, cursor: encodeRecordsCursor('MEMBER#u_1', fingerprint) });
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ sk: 'MEMBER#u_2', userId: 'u_2' }],
        LastEvaluatedKey: { pk: A, sk: 'MEMBER#u_3' },
      })
      .resolvesOnce({
        Items: [
          { sk: 'MEMBER#u_4', userId: 'u_4' },
          { sk: 'MEMBER#u_5', userId: 'u_5' },
        ],
        LastEvaluatedKey: { pk: A, sk: 'MEMBER#u_5' },
      })
      .resolvesOnce({ Items: [{ sk: 'MEMBER#u_6', userId: 'u_6' }] });
    const { r, scopes } = reader();

    // Act
    const page = await r.select(scopeA, compiled);

    // Assess
    expect(scopes).toEqual([A]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      TableName: 'tenant-data',
      KeyConditionExpression: '#n0 = :v0 AND begins_with(#n1, :v1)',
      ExpressionAttributeValues: { ':v0': A, ':v1': 'MEMBER#' },
      ExclusiveStartKey: { pk: A, sk: 'MEMBER#u_1' },
      Limit: 2,
    });
    expect(page.rows).toEqual([['u_2'], ['u_4'], ['u_5']]);
    expect(page.nextCursor).toBe(encodeRecordsCursor('MEMBER#u_5', fingerprint));
  });

  it('returns a short page with a cursor when the request budget runs out', async () => {
    // Prepare: every page of DynamoDB's answer is empty and continues
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: { pk: A, sk: 'MEMBER#u_9' } });
    const compiled = compile({
      operation: 'select',
      table: 'members',
      where: { op: 'eq', column: 'role', value: 'nobody' },
    });

    // Act
    const page = await reader({ maxRequests: 4 }).r.select(scopeA, compiled);

    // Assess: four requests, no rows, a cursor at where the last one stopped
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 4);
    expect(page.rows).toEqual([]);
    expect(page.nextCursor).toBe(encodeRecordsCursor('MEMBER#u_9', compiled.fingerprint));
  });

  it('stops a page early when the rows would not fit the response, continuing after the last row returned', async () => {
    // Prepare: four 400-byte rows, a 1,000-byte budget
    const big = 'd'.repeat(400);
    ddb.on(QueryCommand).resolves({
      Items: [1, 2, 3, 4].map((i) => ({ sk: `EVENT#0${i}`, id: `e_${i}`, details: { note: big } })),
    });
    const compiled = compileRecordsQuery(
      SelectQuery().parse({ operation: 'select', table: 'auditEvents', columns: ['id', 'details'] }),
      { tenantId: A, userId: USER, permissions: permissionsOf('admin') },
      keys,
    );
    const r = new TenantRecordsReader({
      tenantClients: { forScope: async () => client },
      tableNames: { tenantData: 'tenant-data', audit: 'audit' },
      maxResultBytes: 1_000,
    });

    // Act
    const page = await r.select(scopeA, compiled);

    // Assess: two rows, and a cursor after the second
    expect(page.rows.map((row) => row[0])).toEqual(['e_1', 'e_2']);
    expect(page.nextCursor).toBe(encodeRecordsCursor('EVENT#02', compiled.fingerprint));
  });

  it('refuses a query compiled for another tenant before any call', async () => {
    // Act / Assess
    await expect(
      reader().r.select(scopeA, compile({ operation: 'select', table: 'members' }, B)),
    ).rejects.toThrow('records query is not for this tenant');

    // Assess: no call made
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
  });
});
