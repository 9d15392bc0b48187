import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { NotFoundError } from '../../../shared/errors.js';
import type { TenantDataClients } from '../../../shared/store/tenant-data-client.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const T1 = 't_01jx0000000000000000000001';
const scope = mintTenantScope({ tenantId: T1, userId: 'u_01jx0000000000000000000001' });
const store = () => {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return new TenantStore({ forScope: async () => db } as unknown as TenantDataClients, 'tenant-data');
};
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('TenantStore.updateTenant', () => {
  beforeEach(() => ddb.reset());

  it('answers 404 when the tenant was deleted before the update landed (found by fault injection: was a 500)', async () => {
    // Prepare: the tenant item's attribute_exists condition fails in the transaction
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));

    // Act
    const update = store().updateTenant(scope, { name: 'Renamed' }, []);

    // Assess
    await expect(update).rejects.toBeInstanceOf(NotFoundError);
  });

  it('passes a throttled transaction on (the API answers 503)', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(cancelled('ThrottlingError', 'None'));

    // Act / Assess
    await expect(store().updateTenant(scope, { name: 'Renamed' }, [])).rejects.toBeInstanceOf(
      TransactionCanceledException,
    );
  });
});

describe('TenantStore.addDeletedObjects', () => {
  beforeEach(() => ddb.reset());

  it('answers 404 when the tenant is no longer closing or there (found by fault injection: was a 500)', async () => {
    // Prepare: the closingAt condition fails (a concurrent deletion request finished the tenant)
    ddb
      .on(UpdateCommand)
      .rejects(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      );

    // Act
    const added = store().addDeletedObjects(scope, 3);

    // Assess
    await expect(added).rejects.toBeInstanceOf(NotFoundError);
  });

  it('returns the new total, and passes other failures on (the API answers 503)', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolvesOnce({ Attributes: { objectsDeleted: 1003 } });

    // Act / Assess: the total
    expect(await store().addDeletedObjects(scope, 3)).toBe(1003);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression: 'ADD objectsDeleted :n',
      ConditionExpression: 'attribute_exists(closingAt)',
      ExpressionAttributeValues: { ':n': 3 },
    });

    // Act / Assess: throttling passes through
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(store().addDeletedObjects(scope, 3)).rejects.toThrow('slow');
  });
});

describe('TenantStore.createInvitation', () => {
  beforeEach(() => ddb.reset());
  const invitation = {
    invitationId: 'n_01jx0000000000000000000001',
    tenantId: T1,
    email: 'invitee@example.test',
    role: 'viewer' as const,
    invitedBy: { userId: 'u_01jx0000000000000000000001', email: 'owner@example.test', name: 'Owner' },
    createdAt: '2026-12-02T00:00:00.000Z',
    expiresAt: Date.parse('2026-12-09T00:00:00.000Z'),
  };
  const audit = { Put: { TableName: 'audit', Item: { pk: T1, sk: 'EVENT#1' } } };

  it('answers 404 when the tenant was deleted before the invitation landed (found by fault injection: was a 500)', async () => {
    // Prepare: the tenant item's attribute_exists check fails in the transaction
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None'));

    // Act
    const created = store().createInvitation(scope, invitation, [], audit);

    // Assess
    await expect(created).rejects.toBeInstanceOf(NotFoundError);
  });

  it('passes a throttled or conflicting transaction on (the API answers 503)', async () => {
    for (const codes of [
      ['ThrottlingError', 'None', 'None'],
      ['None', 'TransactionConflict', 'None'],
    ]) {
      // Prepare
      ddb.reset();
      ddb.on(TransactWriteCommand).rejects(cancelled(...codes));

      // Act / Assess
      await expect(store().createInvitation(scope, invitation, [], audit)).rejects.toBeInstanceOf(
        TransactionCanceledException,
      );
    }
  });
});
