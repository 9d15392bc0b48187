import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { TenantKeyProvisioner } from '../../../shared/crypto/tenant-key-provisioner.js';
import { TenancyService } from '../../../shared/services/tenancy.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import { IdentityStore } from '../../../shared/store/identity-store.js';
import type { TenantDataClients } from '../../../shared/store/tenant-data-client.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';

const db = mockClient(DynamoDBDocumentClient);
const U1 = 'u_01jx0000000000000000000001';
const KEY = 'arn:aws:kms:eu-central-1:123456789012:key/abc';

function setup() {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const clients = { forScope: async () => doc } as unknown as TenantDataClients;
  const keys = {
    create: vi.fn(async () => ({ keyArn: KEY })),
    checkRetirable: vi.fn(async () => ({ keyArn: KEY, keyId: KEY, state: 'Enabled' })),
    retire: vi.fn(async () => {}),
  } satisfies TenantKeyProvisioner;
  const audit = {
    auditPut: vi.fn(() => ({ Put: { TableName: 'audit', Item: { pk: 'x', sk: 'EVENT#1' } } })),
    platformPut: vi.fn(),
    record: vi.fn(),
    recordPlatform: vi.fn(),
  } as unknown as AuditRecorder;
  const service = new TenancyService({
    tenants: new TenantStore(clients, 'tenantData'),
    identity: new IdentityStore(doc, 'identity'),
    keys,
    audit,
    lookups: { tenantsOf: vi.fn() },
  });
  const creator = {
    principal: { kind: 'session' as const, userId: U1, credentialId: 's_1', mfaEnabled: false },
    ip: '1.1.1.1',
    userAgent: 'ua',
  };
  return { service, keys, creator };
}

describe('tenant creation', () => {
  beforeEach(() => {
    db.reset();
    db.on(GetCommand).resolves({
      Item: {
        pk: `USER#${U1}`,
        sk: 'PROFILE',
        userId: U1,
        email: 'a@b.c',
        name: 'A',
        emailVerifiedAt: '2026-01-01T00:00:00.000Z',
      },
    });
  });

  it('refuses an account whose address is not verified (403 email-unverified) before making a key', async () => {
    // Prepare: a profile without emailVerifiedAt
    const { service, keys, creator } = setup();
    db.on(GetCommand).resolves({
      Item: { pk: `USER#${U1}`, sk: 'PROFILE', userId: U1, email: 'a@b.c', name: 'A' },
    });

    // Act / Assess
    await expect(service.createTenant(creator, 'Acme')).rejects.toMatchObject({
      status: 403,
      type: 'email-unverified',
    });

    // Assess: no key made, nothing written
    expect(keys.create).not.toHaveBeenCalled();
    expect(db).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('writes the tenant, its owner and the audit event in one transaction after creating the key', async () => {
    // Prepare
    const { service, keys, creator } = setup();
    db.on(TransactWriteCommand).resolves({});

    // Act
    const tenant = await service.createTenant(creator, 'Acme');

    // Assess: the key first, then one transaction of the tenant (with the key), the owner and the event
    expect(keys.create).toHaveBeenCalledWith(tenant.tenantId);
    expect(db).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = db.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => i.Put?.Item?.sk)).toEqual(['TENANT', `MEMBER#${U1}`, 'EVENT#1']);
    expect(items[0]!.Put!.Item!.keyArn).toBe(KEY);
    expect(keys.retire).not.toHaveBeenCalled();
  });

  it('writes nothing when the key cannot be created', async () => {
    // Prepare: KMS fails
    const { service, keys, creator } = setup();
    keys.create.mockRejectedValueOnce(Object.assign(new Error('kms down'), { name: 'KMSInternalException' }));

    // Act / Assess
    await expect(service.createTenant(creator, 'Acme')).rejects.toThrow('kms down');

    // Assess: nothing written
    expect(db).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('retires the new key when the tenant transaction fails, and surfaces the original error', async () => {
    // Prepare: the transaction is cancelled
    const { service, keys, creator } = setup();
    db.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'throttled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ThrottlingError' }],
      }),
    );

    // Act / Assess: the transaction's own error
    await expect(service.createTenant(creator, 'Acme')).rejects.toBeInstanceOf(TransactionCanceledException);

    // Assess: the key made for it is retired
    expect(keys.retire).toHaveBeenCalledWith(KEY);
  });
});
