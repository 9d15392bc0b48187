import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
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
