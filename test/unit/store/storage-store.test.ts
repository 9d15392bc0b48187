import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { storageNodeKey } from '../../../shared/domain/item-layout.js';
import { formatStorageRoot, rootsOverlap, type StorageRoot } from '../../../shared/domain/storage-roots.js';
import { mintTenantScope, type TenantScope } from '../../../shared/domain/tenant-scope.js';
import {
  type StorageLocationRecord,
  StorageRegistrationConflictError,
  StorageStore,
} from '../../../shared/store/storage-store.js';

const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';
const U = 'u_01jx0000000000000000000001';
const ddb = mockClient(DynamoDBDocumentClient);
const platform = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));

function store() {
  return new StorageStore({
    tenantClients: { forScope: async () => platform },
    platformClient: platform,
    tenantDataTable: 'tenant-data',
    identityTable: 'identity',
  });
}

const audit = { Put: { TableName: 'audit', Item: { pk: 'x', sk: 'y' } } };

function location(root: StorageRoot, id: string): StorageLocationRecord {
  return {
    locationId: id,
    kind: 'external',
    root: formatStorageRoot(root),
    bucket: root.bucket,
    prefix: root.prefix,
    region: 'eu-west-1',
    roleArn: 'arn:aws:iam::210987654321:role/r',
    createdAt: '2026-11-22T00:00:00Z',
    createdBy: U,
  };
}

/** Registers the external location `root` for the scope's tenant (its first location, a known ExternalId). */
function registerExternal(scope: TenantScope, root: StorageRoot) {
  return store().createExternalLocation(
    scope,
    location(root, 'l_01jx0000000000000000000001'),
    root,
    { value: 'x', isNew: false, createdAt: '' },
    audit,
  );
}

async function transactionOf(scope: TenantScope, root: StorageRoot) {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  await registerExternal(scope, root);
  return ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
}

const nodeKeyOf = (item: Record<string, any>) => {
  const op = item.Update ?? item.Put ?? item.ConditionCheck;
  return op.TableName === 'identity' ? `${op.Key.pk}` : undefined;
};

beforeEach(() => ddb.reset());

describe('root registry transactions', () => {
  it('registers a root with its node, one node per ancestor, the location, the ExternalId check and the audit', async () => {
    // Prepare
    const scope = mintTenantScope({ tenantId: T1, userId: U });

    // Act
    const items = await transactionOf(scope, { bucket: 'lake', prefix: 'a/b/c' });

    // Assess: the root's node claimed, each ancestor conditioned on no other owner, then the tenant's items and the audit
    expect(items.map(nodeKeyOf).filter(Boolean)).toEqual([
      storageNodeKey('lake', 'a/b/c').pk,
      storageNodeKey('lake', '').pk,
      storageNodeKey('lake', 'a').pk,
      storageNodeKey('lake', 'a/b').pk,
    ]);
    expect(items[0]!.Update!.ConditionExpression).toContain('attribute_not_exists(#owner)');
    expect(items[0]!.Update!.ConditionExpression).toContain(
      'size(descTenants) = :one AND contains(descTenants, :t)',
    );
    for (const ancestor of items.slice(1, 4))
      expect(ancestor.Update!.ConditionExpression).toBe('attribute_not_exists(#owner) OR #owner = :t');
    expect(items.at(-1)).toBe(audit);
    // Tenant items are keyed by the scope's tenant.
    expect(items[4]!.Put!.Item!.pk).toBe(T1);
    expect(items[5]!.ConditionCheck!.Key!.pk).toBe(T1);
  });

  it('any two overlapping roots of different tenants write a common node under a condition (so DynamoDB serialises them)', async () => {
    // Prepare: roots of up to four segments in one bucket
    const segment = fc.constantFrom('a', 'b', 'a2');
    const root = fc.array(segment, { maxLength: 4 }).map((s) => ({ bucket: 'lake', prefix: s.join('/') }));

    // Act / Assess: for every overlapping pair, the upper root's node is in both transactions
    await fc.assert(
      fc.asyncProperty(root, root, async (r1, r2) => {
        fc.pre(rootsOverlap(r1, r2));
        const first = await transactionOf(mintTenantScope({ tenantId: T1, userId: U }), r1);
        const second = await transactionOf(mintTenantScope({ tenantId: T2, userId: U }), r2);
        const shared = first.map(nodeKeyOf).filter((k) => k && second.map(nodeKeyOf).includes(k));
        // The upper root's node is in both: claimed by one, conditioned (owner / descTenants) by the other.
        const upper = r1.prefix.length <= r2.prefix.length ? r1 : r2;
        expect(shared).toContain(storageNodeKey('lake', upper.prefix).pk);
      }),
      { numRuns: 200 },
    );
  });

  it('maps a failed node condition to 409 naming the root, and nothing else', async () => {
    // Prepare: the second item's condition fails
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed' },
          { Code: 'None' },
          { Code: 'None' },
          { Code: 'None' },
        ],
      }),
    );
    const scope = mintTenantScope({ tenantId: T1, userId: U });
    const root = { bucket: 'lake', prefix: 'a/b' };

    // Act
    const error = await registerExternal(scope, root).catch((e: unknown) => e);

    // Assess: a 409 naming the root, not the other tenant
    expect(error).toBeInstanceOf(StorageRegistrationConflictError);
    expect((error as StorageRegistrationConflictError).status).toBe(409);
    expect((error as StorageRegistrationConflictError).reason).toBe('overlaps-other-tenant');
    expect((error as Error).message).toContain('s3://lake/a/b');
    expect((error as Error).message).not.toContain(T2);
  });

  it('a throttled transaction is not a conflict (it surfaces as the AWS error, a 503 upstream)', async () => {
    // Prepare: the transaction is throttled
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }],
      }),
    );
    const scope = mintTenantScope({ tenantId: T1, userId: U });
    const root = { bucket: 'lake', prefix: 'a' };

    // Act
    const error = await registerExternal(scope, root).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TransactionCanceledException);
  });
});
