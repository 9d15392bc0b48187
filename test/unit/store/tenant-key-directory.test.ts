import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TenantKeyUnavailableError } from '../../../shared/crypto/envelope.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { TenantItemKeyDirectory } from '../../../shared/store/tenant-key-directory.js';

const TENANT_A = 't_01jabcdefghjkmnpqrstvwxyz0';
const TENANT_B = 't_01jabcdefghjkmnpqrstvwxyz1';
const KEY_A = 'arn:aws:kms:eu-central-1:111122223333:key/00000001-12ab-34cd-56ef-1234567890ab';
const scopeA = mintTenantScope({ tenantId: TENANT_A, userId: 'u_1' });
const scopeB = mintTenantScope({ tenantId: TENANT_B, userId: 'u_2' });

const ddb = mockClient(DynamoDBDocumentClient);
const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-central-1' }));

beforeEach(() => {
  ddb.reset();
});

function directory(now: () => number = Date.now) {
  const scoped: string[] = [];
  const clients = {
    forScope: async (scope: { tenantId: string }) => {
      scoped.push(scope.tenantId);
      return db;
    },
  };
  return {
    keys: new TenantItemKeyDirectory({ clients: clients as never, tableName: 'tenant-data', now }),
    scoped,
  };
}

describe('TenantItemKeyDirectory', () => {
  it("reads the key ARN from the tenant item through the tenant's scoped client, consistently", async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: { keyArn: KEY_A } });
    const { keys, scoped } = directory();

    // Act
    const arn = await keys.keyArnFor(scopeA);

    // Assess: tenant A's key, from one read through tenant A's client, consistent
    expect(arn).toBe(KEY_A);
    expect(scoped).toEqual([TENANT_A]);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: 'tenant-data',
      Key: { pk: TENANT_A, sk: 'TENANT' },
      ConsistentRead: true,
    });
  });

  it('caches per tenant for the TTL, never across tenants', async () => {
    // Prepare: two tenants with different keys, a clock the test moves
    let now = 0;
    ddb.on(GetCommand, { Key: { pk: TENANT_A, sk: 'TENANT' } }).resolves({ Item: { keyArn: KEY_A } });
    ddb.on(GetCommand, { Key: { pk: TENANT_B, sk: 'TENANT' } }).resolves({ Item: { keyArn: 'arn:b' } });
    const { keys } = directory(() => now);

    // Act: A twice, then B
    await keys.keyArnFor(scopeA);
    await keys.keyArnFor(scopeA);
    const arnB = await keys.keyArnFor(scopeB);

    // Assess: B's own key; one read per tenant
    expect(arnB).toBe('arn:b');
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 2);

    // Act: past the TTL, A again
    now += 5 * 60_000 + 1;
    await keys.keyArnFor(scopeA);

    // Assess: A is read again
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 3);
  });

  it.each([
    ['no tenant item', {}],
    ['a tenant item without a key', { Item: { name: 'legacy' } }],
  ])('%s is a 409 tenant-key-unavailable', async (_name, output) => {
    // Prepare
    ddb.on(GetCommand).resolves(output);
    const { keys } = directory();

    // Act / Assess
    await expect(keys.keyArnFor(scopeA)).rejects.toBeInstanceOf(TenantKeyUnavailableError);
  });
});
