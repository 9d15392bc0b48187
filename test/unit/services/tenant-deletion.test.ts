import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import { KmsTenantKeys, RETIRED_KEY_PENDING_DAYS } from '../../../shared/crypto/tenant-keys.js';
import type { TenantCaller } from '../../../shared/domain/caller.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { UnauthorizedError } from '../../../shared/errors.js';
import { createApiHandler, implement } from '../../../shared/http/api.js';
import { tenantCaller } from '../../../shared/http/auth.js';
import type { Authorizer } from '../../../shared/http/auth-context.js';
import { deleteTenant as deleteTenantRoute, tenantRoutes } from '../../../shared/schemas/tenants.js';
import { TenantDeletionService } from '../../../shared/services/tenancy.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import { TenantDataClients } from '../../../shared/store/tenant-data-client.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);

const T = 't_01jx0000000000000000000001';
const OWNER = 'u_01jx0000000000000000000001';
const OTHER = 'u_01jx0000000000000000000002';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-central-1:123456789012:key/${KEY_ID}`;
const TABLE = 'tenant-data';
const throttled = (name = 'ThrottlingException') => Object.assign(new Error('Rate exceeded'), { name });

let keyState: 'Enabled' | 'Disabled' | 'PendingDeletion';

function ownerCaller(overrides: Partial<TenantCaller['principal']> = {}): TenantCaller {
  return {
    access: {
      scope: mintTenantScope({ tenantId: T, userId: OWNER }),
      roleCeiling: 'owner',
      permissions: permissionsOf('owner'),
    },
    principal: {
      kind: 'session',
      userId: OWNER,
      credentialId: 's_1',
      mfaEnabled: true,
      authMethod: 'password+totp',
      mfa: true,
      ...overrides,
    },
    ip: '203.0.113.9',
    userAgent: 'test',
  };
}

function fixture(objects?: { purge: ReturnType<typeof vi.fn> }) {
  const clients = new TenantDataClients({
    sts: new STSClient({ region: 'eu-central-1' }),
    roleArn: 'arn:aws:iam::123456789012:role/tenant-data',
    tables: {
      tenantDataTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/tenant-data',
      auditTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/audit',
      auditChainTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/audit-chain',
    },
  });
  const tenants = new TenantStore(clients, TABLE);
  const keys = new KmsTenantKeys({
    kms: new KMSClient({ region: 'eu-central-1' }),
    stage: 'test',
    accountId: '123456789012',
    partition: 'aws',
    applicationRoleArns: ['arn:aws:iam::123456789012:role/connections'],
  });
  const audit = {
    auditPut: vi.fn((_scope, event) => ({
      Put: { TableName: 'audit', Item: { pk: T, sk: 'EVENT#1', action: event.action } },
    })),
    platformPut: vi.fn(),
    record: vi.fn(),
    recordPlatform: vi.fn(),
  } as unknown as AuditRecorder & { auditPut: ReturnType<typeof vi.fn> };
  const secondFactors = { confirm: vi.fn(async () => 'verified' as const) };
  // The tenant's storage: its role closed, then its one location released with its audit event.
  const storageAccess = {
    closeTenant: vi.fn(async () => ({ revokedBefore: '2026-12-01T00:00:00.000Z', role: 'removed' as const })),
  };
  const storage = {
    releaseAllLocations: vi.fn(async (_scope: unknown, auditFor: (location: never) => unknown) => {
      auditFor({ locationId: 'l_1', kind: 'managed', root: 's3://bucket/tenants/t/l_1' } as never);
      return 1;
    }),
  };
  const service = new TenantDeletionService({
    tenants,
    keys,
    audit,
    secondFactors,
    storage,
    storageAccess,
    ...(objects ? { objects } : {}),
  });
  const spies = {
    items: vi.spyOn(tenants, 'deleteTenantItems'),
    retire: vi.spyOn(keys, 'retire'),
    final: vi.spyOn(tenants, 'deleteTenant'),
  };
  return { service, tenants, keys, audit, secondFactors, storage, storageAccess, spies };
}

const transactions = () =>
  ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input as TransactWriteCommandInput);
const deletedSks = (input: TransactWriteCommandInput) =>
  (input.TransactItems ?? []).flatMap((i) => (i.Delete ? [i.Delete.Key?.sk as string] : []));
/** The final transaction: the only one that deletes the tenant item. */
const finalTransactions = () => transactions().filter((t) => deletedSks(t).includes('TENANT'));

/** One failure to inject into the next call of a step (then that step works again). */
let failOnce: Partial<
  Record<'get' | 'assume' | 'items' | 'final' | 'tags' | 'describe' | 'disable' | 'schedule', Error>
>;
function maybeFail(step: keyof typeof failOnce) {
  const error = failOnce[step];
  if (!error) return;
  delete failOnce[step];
  throw error;
}

beforeEach(() => {
  ddb.reset();
  kms.reset();
  sts.reset();
  keyState = 'Enabled';
  failOnce = {};
  sts.on(AssumeRoleCommand).callsFake(async () => {
    maybeFail('assume');
    return {
      Credentials: {
        AccessKeyId: 'ASIAEXAMPLE',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    };
  });
  ddb.on(GetCommand).callsFake(async () => {
    maybeFail('get');
    return {
      Item: { pk: T, sk: 'TENANT', tenantId: T, name: 'Acme', plan: 'team', keyArn: KEY_ARN, ownerCount: 2 },
    };
  });
  // The partition as the queries see it (deletes do not change it here, which only makes retries harder).
  const partition = ['APIKEY#k_1', 'CONNECTION#c_1', `MEMBER#${OWNER}`, `MEMBER#${OTHER}`, 'TENANT'];
  ddb.on(QueryCommand).callsFake(async (input: { ExpressionAttributeValues: Record<string, string> }) => {
    const prefix = input.ExpressionAttributeValues[':prefix'] ?? '';
    return {
      Items: partition
        .filter((sk) => sk.startsWith(prefix))
        .map((sk) => ({
          pk: T,
          sk,
          ...(sk.startsWith('APIKEY#') ? { keyId: sk.slice(7), createdBy: OTHER } : {}),
        })),
    };
  });
  ddb.on(TransactWriteCommand).callsFake(async (input: TransactWriteCommandInput) => {
    maybeFail(deletedSks(input).includes('TENANT') ? 'final' : 'items');
    return {};
  });
  kms.on(ListResourceTagsCommand).callsFake(async () => {
    maybeFail('tags');
    return {
      Tags: [
        { TagKey: 'tenantId', TagValue: T },
        { TagKey: 'strongroom:stage', TagValue: 'test' },
      ],
    };
  });
  kms.on(DescribeKeyCommand).callsFake(async () => {
    maybeFail('describe');
    return { KeyMetadata: { KeyId: KEY_ID, Arn: KEY_ARN, KeyState: keyState } };
  });
  kms.on(DisableKeyCommand).callsFake(async () => {
    maybeFail('disable');
    keyState = 'Disabled';
    return {};
  });
  kms.on(ScheduleKeyDeletionCommand).callsFake(async () => {
    maybeFail('schedule');
    keyState = 'PendingDeletion';
    return {};
  });
});

describe('tenant deletion', () => {
  it('verifies the code, cuts other access, releases storage, deletes the rest, retires the key, and deletes the tenant last', async () => {
    // Prepare
    const { service, secondFactors, storage, storageAccess, spies, audit } = fixture();

    // Act
    await service.deleteTenant(ownerCaller(), { mfaCode: '123456' });

    // Assess
    expect(secondFactors.confirm).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'session', userId: OWNER, mfa: true }),
      { mfaCode: '123456' },
      expect.objectContaining({ purpose: 'tenant.delete' }),
    );
    // Access items first (nobody else can vend or register behind the revocation), then storage, the rest,
    // the key, and the tenant last.
    const order = [
      secondFactors.confirm.mock.invocationCallOrder[0]!,
      spies.items.mock.invocationCallOrder[0]!,
      storageAccess.closeTenant.mock.invocationCallOrder[0]!,
      storage.releaseAllLocations.mock.invocationCallOrder[0]!,
      spies.items.mock.invocationCallOrder[1]!,
      spies.retire.mock.invocationCallOrder[0]!,
      spies.final.mock.invocationCallOrder[0]!,
    ];
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(spies.items.mock.calls[0]![2]).toEqual(['MEMBER#', 'APIKEY#', 'INVITE#']);
    expect(spies.items.mock.calls[1]![2]).toBeUndefined();
    expect(storageAccess.closeTenant).toHaveBeenCalledWith(expect.objectContaining({ tenantId: T }));
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: T }),
      expect.objectContaining({
        action: 'storage-location.removed',
        actor: expect.objectContaining({ userId: OWNER, ip: '203.0.113.9' }),
      }),
    );
    // Other members first; never the tenant item or the caller's own membership before the last step.
    // The first write marks the tenant closing with its tenant.deletion-started event, after the key checks.
    const [mark, ...writes] = transactions();
    expect(mark!.TransactItems![0]!.Update).toMatchObject({
      Key: { pk: T, sk: 'TENANT' },
      UpdateExpression: 'SET closingAt = :at, closingBy = :by',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(closingAt)',
      ExpressionAttributeValues: { ':by': OWNER },
    });
    expect(mark!.TransactItems![1]).toEqual({
      Put: { TableName: 'audit', Item: { pk: T, sk: 'EVENT#1', action: 'tenant.deletion-started' } },
    });
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: T }),
      expect.objectContaining({
        action: 'tenant.deletion-started',
        resource: { type: 'tenant', id: T },
        details: { before: { name: 'Acme', plan: 'team' }, apiKeys: 1 },
      }),
    );
    const firstWrite = ddb.commandCalls(TransactWriteCommand)[0]!;
    for (const check of [ListResourceTagsCommand, DescribeKeyCommand] as const)
      expect(kms.commandCalls(check)[0]!.calledBefore(firstWrite), check.name).toBe(true);
    expect(writes.map(deletedSks)).toEqual([
      ['APIKEY#k_1'],
      [`MEMBER#${OTHER}`],
      ['APIKEY#k_1'],
      ['APIKEY#k_1', 'CONNECTION#c_1', `MEMBER#${OTHER}`],
      ['TENANT', `MEMBER#${OWNER}`],
    ]);
    for (const write of writes.slice(0, -1))
      for (const item of (write.TransactItems ?? []).filter((i) => i.Delete))
        expect(item.Delete?.Key?.pk).toBe(T);
    const final = writes.at(-1)!.TransactItems!;
    expect(final[2]).toEqual({
      Put: { TableName: 'audit', Item: { pk: T, sk: 'EVENT#1', action: 'tenant.deleted' } },
    });
    expect(final[1]!.Delete!.ConditionExpression).toBe('#role = :owner');
    // Every key is revoked with its own event before anything else is deleted.
    expect(writes[0]!.TransactItems![1]).toEqual({
      Put: { TableName: 'audit', Item: { pk: T, sk: 'EVENT#1', action: 'api-key.revoked' } },
    });
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: T }),
      expect.objectContaining({
        action: 'api-key.revoked',
        resource: { type: 'api-key', id: 'k_1' },
        details: expect.objectContaining({ reason: 'tenant-deleted' }),
      }),
    );
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: T }),
      expect.objectContaining({ action: 'tenant.deleted', resource: { type: 'tenant', id: T } }),
      { plan: 'team' },
    );
    expect(kms).toHaveReceivedCommandWith(DisableKeyCommand, { KeyId: KEY_ID });
    expect(kms).toHaveReceivedCommandWith(ScheduleKeyDeletionCommand, {
      KeyId: KEY_ID,
      PendingWindowInDays: RETIRED_KEY_PENDING_DAYS,
    });
    expect(RETIRED_KEY_PENDING_DAYS).toBe(30);
  });

  it('deletes in transactions of at most 25 items and pages through a large partition', async () => {
    // Prepare
    const { service } = fixture();
    const page = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ pk: T, sk: `INSTANCE#i_${String(from + i).padStart(3, '0')}` }));
    ddb
      .on(QueryCommand)
      .callsFake(
        async (input: { ExpressionAttributeValues: Record<string, string>; ExclusiveStartKey?: unknown }) => {
          if (input.ExpressionAttributeValues[':prefix'] === 'MEMBER#')
            return { Items: [{ pk: T, sk: `MEMBER#${OWNER}` }] };
          if (['APIKEY#', 'INVITE#'].includes(input.ExpressionAttributeValues[':prefix']!))
            return { Items: [] };
          if (!input.ExclusiveStartKey)
            return { Items: page(0, 60), LastEvaluatedKey: { pk: T, sk: 'INSTANCE#i_059' } };
          return { Items: [...page(60, 10), { pk: T, sk: 'TENANT' }, { pk: T, sk: `MEMBER#${OWNER}` }] };
        },
      );

    // Act
    await service.deleteTenant(ownerCaller(), { recoveryCode: 'abcd-efgh-ijkl' });

    // Assess
    const batches = transactions()
      .slice(0, -1)
      .map(deletedSks)
      .filter((b) => b.length > 0);
    expect(batches.map((b) => b.length)).toEqual([25, 25, 10, 10]);
    expect(new Set(batches.flat()).size).toBe(70);
    expect(finalTransactions()).toHaveLength(1);
  });

  it('refuses an owner without MFA with 403 mfa-required-for-deletion before touching anything', async () => {
    // Prepare
    const { service, secondFactors, storageAccess } = fixture();
    secondFactors.confirm.mockResolvedValueOnce('mfa-not-enabled' as never);

    // Act
    const result = service.deleteTenant(ownerCaller(), { mfaCode: '123456' });

    // Assess
    await expect(result).rejects.toMatchObject({
      status: 403,
      type: expect.stringMatching(/mfa-required-for-deletion$/),
    });
    expect(storageAccess.closeTenant).not.toHaveBeenCalled();
    expect(ddb.calls()).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses a wrong or replayed code (the verifier’s 401) before touching anything', async () => {
    // Prepare
    const { service, secondFactors, storageAccess } = fixture();
    secondFactors.confirm.mockRejectedValueOnce(new UnauthorizedError('wrong', 'invalid-mfa-code'));

    // Act
    const result = service.deleteTenant(ownerCaller(), { mfaCode: '123456' });

    // Assess
    await expect(result).rejects.toMatchObject({ status: 401 });
    expect(storageAccess.closeTenant).not.toHaveBeenCalled();
    expect(ddb.calls()).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses an API key or a caller without tenant:delete even if the route let them through', async () => {
    // Prepare
    const { service, secondFactors } = fixture();
    const admin = ownerCaller();
    admin.access = { ...admin.access, roleCeiling: 'admin', permissions: permissionsOf('admin') };

    // Act / Assess
    await expect(
      service.deleteTenant(ownerCaller({ kind: 'api-key', credentialId: 'k_1' }), { mfaCode: '123456' }),
    ).rejects.toMatchObject({ status: 403 });
    await expect(service.deleteTenant(admin, { mfaCode: '123456' })).rejects.toMatchObject({ status: 403 });
    expect(secondFactors.confirm).not.toHaveBeenCalled();
  });

  it('answers 404 when the tenant item went meanwhile (a concurrent deletion won)', async () => {
    // Prepare
    const { service } = fixture();
    failOnce.final = new TransactionCanceledException({
      message: 'cancelled',
      $metadata: {},
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
    });

    // Act / Assess
    await expect(service.deleteTenant(ownerCaller(), { mfaCode: '123456' })).rejects.toMatchObject({
      status: 404,
    });
  });

  it('deletes the managed objects after storage is closed and before the items, recording progress per batch', async () => {
    // Prepare: two batches, then the prefix is empty
    const purge = vi.fn(async (_prefix: string, options: { onBatch: (n: number) => Promise<void> }) => {
      await options.onBatch(1000);
      await options.onBatch(7);
      return { deleted: 1007, done: true };
    });
    ddb.on(UpdateCommand).callsFake(async (input: { ExpressionAttributeValues: { ':n': number } }) => ({
      Attributes: { objectsDeleted: input.ExpressionAttributeValues[':n'] },
    }));
    const { service, storageAccess, spies } = fixture({ purge });

    // Act
    await service.deleteTenant(ownerCaller(), { mfaCode: '123456' });

    // Assess: the tenant's prefix, after the role is closed, before the items; each batch counted on TENANT
    expect(purge).toHaveBeenCalledWith(`tenants/${T}/`, expect.anything());
    expect(storageAccess.closeTenant.mock.invocationCallOrder[0]!).toBeLessThan(
      purge.mock.invocationCallOrder[0]!,
    );
    // (deleteTenantItems also serves the access step before storage: the last call is the rest of the items.)
    expect(purge.mock.invocationCallOrder[0]!).toBeLessThan(spies.items.mock.invocationCallOrder.at(-1)!);
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates.map((u) => u.ExpressionAttributeValues)).toEqual([{ ':n': 1000 }, { ':n': 7 }]);
    expect(updates[0]).toMatchObject({
      Key: { pk: T, sk: 'TENANT' },
      UpdateExpression: 'ADD objectsDeleted :n',
      ConditionExpression: 'attribute_exists(closingAt)',
    });
    expect(spies.final).toHaveBeenCalledOnce();
  });

  it('answers 409 deletion-in-progress with the total so far when the objects do not fit, retiring nothing', async () => {
    // Prepare: one batch, more left; the TENANT item already counted 500 from an earlier request
    const purge = vi.fn(async (_prefix: string, options: { onBatch: (n: number) => Promise<void> }) => {
      await options.onBatch(1000);
      return { deleted: 1000, done: false };
    });
    ddb.on(UpdateCommand).resolves({ Attributes: { objectsDeleted: 1500 } });
    const { service, spies } = fixture({ purge });

    // Act / Assess
    await expect(service.deleteTenant(ownerCaller(), { mfaCode: '123456' })).rejects.toMatchObject({
      status: 409,
      type: 'deletion-in-progress',
      extensions: { objectsDeleted: 1500 },
    });
    // The rest of the items (a connection here) stays with the TENANT item for the retry.
    expect(transactions().some((t) => deletedSks(t).includes('CONNECTION#c_1'))).toBe(false);
    expect(spies.retire).not.toHaveBeenCalled();
    expect(spies.final).not.toHaveBeenCalled();
    expect(kms).not.toHaveReceivedCommand(DisableKeyCommand);
  });

  const failures: [string, () => void][] = [
    ['reading the tenant', () => (failOnce.get = throttled('ProvisionedThroughputExceededException'))],
    ['checking the key (ListResourceTags)', () => (failOnce.tags = throttled())],
    ['reading the key state (DescribeKey)', () => (failOnce.describe = throttled('KMSInternalException'))],
    [
      'marking the tenant closing',
      () =>
        (failOnce.items = new TransactionCanceledException({
          message: 'throttled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ThrottlingError' }],
        })),
    ],
    ['the storage release', () => {}],
    ['the tenant-data session (STS)', () => (failOnce.assume = throttled())],
    ['deleting the items', () => (failOnce.items = throttled('ProvisionedThroughputExceededException'))],
    ['disabling the key', () => (failOnce.disable = throttled())],
    ['scheduling the key deletion', () => (failOnce.schedule = throttled('KMSInternalException'))],
    [
      'the final transaction',
      () =>
        (failOnce.final = new TransactionCanceledException({
          message: 'throttled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ThrottlingError' }],
        })),
    ],
  ];

  it.each(failures)(
    'a failure in %s keeps the tenant and the owner’s membership, and a retry finishes',
    async (step, inject) => {
      // Prepare
      const { service, storageAccess } = fixture();
      inject();
      if (step === 'the storage release') storageAccess.closeTenant.mockRejectedValueOnce(throttled());

      // Act
      const first = await service.deleteTenant(ownerCaller(), { mfaCode: '123456' }).catch((e: Error) => e);

      // Assess: nothing that keeps the owner able to retry is gone, and the key is not shredded early.
      expect(first).toBeInstanceOf(Error);
      expect(finalTransactions()).toHaveLength(step === 'the final transaction' ? 1 : 0);
      for (const write of transactions().filter((t) => !deletedSks(t).includes('TENANT')))
        expect(deletedSks(write)).not.toContain(`MEMBER#${OWNER}`);
      if (!['disabling the key', 'scheduling the key deletion', 'the final transaction'].includes(step))
        expect(keyState).toBe('Enabled');
      // A fault in a check (before the first write) changes nothing at all.
      if (step.startsWith('checking') || step.startsWith('reading')) expect(transactions()).toHaveLength(0);

      // Act: the owner retries with a new code.
      await service.deleteTenant(ownerCaller(), { mfaCode: '654321' });

      // Assess
      expect(keyState).toBe('PendingDeletion');
      expect(kms.commandCalls(ScheduleKeyDeletionCommand).length).toBeGreaterThanOrEqual(1);
      expect(finalTransactions().length).toBe(step === 'the final transaction' ? 2 : 1);
    },
  );
});

describe('DELETE /v1/tenants/{tenantId} over the API stack', () => {
  function apiHandler(service: TenantDeletionService) {
    const authorizer: Authorizer = {
      authorize: async () => {
        const caller = ownerCaller();
        return { principal: caller.principal, tenant: caller.access };
      },
    };
    return createApiHandler({
      area: 'tenants',
      allRoutes: tenantRoutes,
      authorizer,
      routes: [
        implement(deleteTenantRoute, async (req) => {
          const { mfaCode, recoveryCode } = req.body;
          await service.deleteTenant(
            tenantCaller(req),
            mfaCode !== undefined ? { mfaCode } : { recoveryCode: recoveryCode! },
          );
          return { status: 204 };
        }),
      ],
    });
  }

  function event(body: unknown): APIGatewayProxyEvent {
    return {
      httpMethod: 'DELETE',
      path: `/v1/tenants/${T}`,
      resource: '/v1/tenants/{tenantId}',
      body: JSON.stringify(body),
      isBase64Encoded: false,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer srs.x' },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: { tenantId: T },
      stageVariables: null,
      requestContext: { identity: { sourceIp: '203.0.113.9' } } as never,
    };
  }

  it.each([
    ['KMS', () => kms.on(DisableKeyCommand).rejects(throttled())],
    ['STS', () => sts.on(AssumeRoleCommand).rejects(throttled())],
    [
      'DynamoDB',
      () => ddb.on(TransactWriteCommand).rejects(throttled('ProvisionedThroughputExceededException')),
    ],
  ])('answers 503 with Retry-After when %s throttles, and keeps the tenant', async (_service, inject) => {
    // Prepare
    const { service } = fixture();
    inject();

    // Act
    const res = await apiHandler(service)(event({ mfaCode: '123456' }), lambdaContext('tenants'));

    // Assess
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(finalTransactions()).toHaveLength(0);
  });

  it('answers 204 with no body when the deletion completes', async () => {
    // Prepare
    const { service } = fixture();

    // Act
    const res = await apiHandler(service)(
      event({ recoveryCode: 'abcd-efgh-ijkl' }),
      lambdaContext('tenants'),
    );

    // Assess
    expect(res.statusCode).toBe(204);
    expect(res.body ?? '').toBe('');
    expect(finalTransactions()).toHaveLength(1);
  });
});
