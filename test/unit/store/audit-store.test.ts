import { createHmac, randomBytes } from 'node:crypto';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  appendToChain,
  chainSk,
  EMPTY_HEAD,
  macMessage,
  ttlFor,
} from '../../../shared/domain/audit-chain.js';
import { type AuditEventInput, PLATFORM_LOG_ID } from '../../../shared/domain/audit-events.js';
import { newId } from '../../../shared/domain/ids.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { AuditEventInvalidError, buildEventItem } from '../../../shared/store/audit-event-item.js';
import {
  AuditSequencer,
  AuditSequencerError,
  type AuditSequencerProps,
  MAX_BATCH,
} from '../../../shared/store/audit-sequencer.js';
import { AuditStore } from '../../../shared/store/audit-store.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const TABLE = 'audit-table';
const CHAIN_TABLE = 'audit-chain-table';

/** HMAC in process, standing in for the KMS key. */
function localMac() {
  const key = randomBytes(32);
  const tag = (message: string) => createHmac('sha256', key).update(message).digest('base64');
  return {
    generated: [] as string[],
    async generate(message: string) {
      this.generated.push(message);
      return tag(message);
    },
    verify: async (message: string, mac: string) => tag(message) === mac,
  };
}

function docClient() {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
}

const event: AuditEventInput = {
  action: 'api-key.created',
  actor: { userId: 'u_01jabcdefghjkmnpqrstvwxyz0', ip: '192.0.2.1', userAgent: 'ua' },
  resource: { type: 'api-key', id: 'k_1' },
  details: { after: { name: 'ci' } },
};

describe('AuditStore writes', () => {
  const scoped = docClient();
  const platform = docClient();
  const scopedMock = mockClient(scoped);
  const platformMock = mockClient(platform);
  const scope = mintTenantScope({ tenantId: newId('t'), userId: newId('u'), plan: 'team' });
  const store = new AuditStore({
    tableName: TABLE,
    chainTableName: CHAIN_TABLE,
    tenantClients: { forScope: async (s) => (s === scope ? scoped : platform) },
    platformClient: platform,
    now: () => NOW,
  });

  beforeEach(() => {
    scopedMock.reset();
    platformMock.reset();
    scopedMock.on(PutCommand).resolves({});
    platformMock.on(PutCommand).resolves({});
  });

  it('appends a tenant event with the scoped client, a conditional Put and the plan’s TTL', async () => {
    // Act
    await store.record(scope, event);

    // Assess
    expect(scopedMock).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(scopedMock).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: expect.objectContaining({
        pk: scope.tenantId,
        sk: expect.stringMatching(/^EVENT#[0-9a-hjkmnp-tv-z]{26}$/),
        id: expect.stringMatching(/^e_/),
        logId: scope.tenantId,
        time: new Date(NOW).toISOString(),
        action: 'api-key.created',
        ttl: ttlFor(NOW, 90),
      }),
    });
    expect(platformMock).not.toHaveReceivedAnyCommand();
    for (const command of [UpdateCommand, DeleteCommand])
      expect(scopedMock).not.toHaveReceivedCommand(command);
  });

  it('lets an explicit plan win and keeps the longest retention when the plan is unknown', () => {
    // Prepare: a tenant whose plan nobody registered
    const unknown = mintTenantScope({ tenantId: newId('t'), userId: newId('u') });

    // Act / Assess
    expect((store.auditPut(unknown, event).Put!.Item as any).ttl).toBe(ttlFor(NOW, 365));
    expect((store.auditPut(unknown, event, { plan: 'free' }).Put!.Item as any).ttl).toBe(ttlFor(NOW, 30));
    expect(store.auditPut(unknown, event).Put!.ConditionExpression).toBe('attribute_not_exists(pk)');
  });

  it('appends platform events to the platform log with the function-role client', async () => {
    // Act
    await store.recordPlatform({ ...event, action: 'auth.sign-in.failed' });

    // Assess
    expect(platformMock).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: expect.objectContaining({ pk: PLATFORM_LOG_ID, logId: PLATFORM_LOG_ID, ttl: ttlFor(NOW, 365) }),
    });

    // Act / Assess
    expect(store.platformPut(event).Put!.Item).toMatchObject({ pk: PLATFORM_LOG_ID });
  });

  it('refuses events it could not store faithfully, before writing anything', async () => {
    // Act / Assess: an unknown action, a number JSON cannot hold exactly, an oversized event
    await expect(store.record(scope, { ...event, action: 'tenant.hacked' as any })).rejects.toThrow(
      AuditEventInvalidError,
    );
    await expect(store.record(scope, { ...event, details: { big: 2 ** 60 } })).rejects.toThrow(
      AuditEventInvalidError,
    );
    await expect(store.record(scope, { ...event, details: { blob: 'x'.repeat(40_000) } })).rejects.toThrow(
      /larger than/,
    );

    // Assess: nothing written
    expect(scopedMock).not.toHaveReceivedAnyCommand();
  });

  it('stores lone surrogates as U+FFFD so the stored event hashes as written', () => {
    // Act
    const item = buildEventItem('t_x', { ...event, details: { s: 'a\uD800' } }, 30, NOW);

    // Assess
    expect(item.details).toEqual({ s: 'a\uFFFD' });
  });
});

describe('AuditSequencer transactions', () => {
  const client = docClient();
  const ddb = mockClient(client);
  const logId = newId('t');
  const events = Array.from({ length: 120 }, (_, i) => buildEventItem(logId, event, 30, NOW + i));
  const mac = localMac();
  const first = appendToChain(EMPTY_HEAD, logId, events.slice(0, 5), NOW);
  let headItem: Record<string, unknown>;
  const sequencer = (props: Partial<AuditSequencerProps> = {}) =>
    new AuditSequencer({
      client,
      tableName: TABLE,
      chainTableName: CHAIN_TABLE,
      mac,
      now: () => NOW,
      ...props,
    });

  beforeEach(async () => {
    ddb.reset();
    headItem = {
      pk: logId,
      sk: 'HEAD',
      ...first.statement,
      mac: await mac.generate(macMessage(first.statement)),
    };
    ddb.on(GetCommand, { TableName: CHAIN_TABLE, Key: { pk: logId, sk: 'HEAD' } }).callsFake(async () => ({
      Item: headItem,
    }));
    ddb
      .on(QueryCommand)
      .callsFake(async (input) =>
        input.TableName === TABLE && String(input.ExpressionAttributeValues[':lo']).startsWith('EVENT#')
          ? { Items: events.slice(5) }
          : { Items: [] },
      );
  });

  it('writes at most 100 items per transaction, all to the chain table: a head check, records, markers, head', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    await sequencer({ maxBatchesPerRun: 1 }).sequence(logId);

    // Assess
    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    const items = calls[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2 + 2 * MAX_BATCH);
    expect(items.length).toBeLessThanOrEqual(100);
    for (const item of items) expect((item.Put ?? item.ConditionCheck)!.TableName).toBe(CHAIN_TABLE);
    expect(items[0]!.ConditionCheck).toMatchObject({
      Key: { pk: logId, sk: chainSk(5) },
      ExpressionAttributeValues: { ':hash': first.head.hash },
    });
    const puts = items.slice(1, -1).map((i) => i.Put!);
    expect(puts.every((p) => p.ConditionExpression === 'attribute_not_exists(pk)')).toBe(true);
    expect(puts[0]!.Item).toMatchObject({
      sk: chainSk(6),
      seq: 6,
      prevHash: first.head.hash,
      eventId: events[5]!.id,
      ttl: puts[0]!.Item!.expiresAt,
    });
    expect(puts[0]!.Item!.seal).toBeUndefined();
    expect(puts[1]!.Item).toMatchObject({ sk: `MARK#${events[5]!.id.slice(2)}`, seq: 6 });
    // The batch's last record carries the MAC'd head statement (its seal); the head item is the same.
    const head = items.at(-1)!.Put!;
    expect(head).toMatchObject({
      Item: { sk: 'HEAD', seq: 5 + MAX_BATCH, fromSeq: 1, batchStartSeq: 6 },
      ConditionExpression: '#seq = :seq AND #hash = :hash',
      ExpressionAttributeValues: { ':seq': 5, ':hash': first.head.hash },
    });
    const { pk: _pk, sk: _sk, updatedAt: _u, mac: headMac, ...statement } = head.Item as Record<string, any>;
    expect(puts.at(-2)!.Item!.seal).toEqual({ ...statement, mac: headMac });
    expect(mac.generated.at(-1)).toBe(macMessage(statement as any));
    expect(await mac.verify(macMessage(statement as any), headMac)).toBe(true);
    expect(calls[0]!.args[0].input.ClientRequestToken).toMatch(/^[0-9a-f]{36}$/);
    for (const command of [UpdateCommand, DeleteCommand]) expect(ddb).not.toHaveReceivedCommand(command);
    expect(ddb).not.toHaveReceivedCommandWith(PutCommand, { TableName: TABLE });
  });

  it('refuses to extend a head whose MAC does not verify, writing nothing', async () => {
    // Prepare: a head with a wrong MAC
    headItem = { ...headItem, mac: Buffer.alloc(32).toString('base64') };

    // Act / Assess
    await expect(sequencer().sequence(logId)).rejects.toThrow(/MAC is not valid/);

    // Act / Assess: a head with a valid MAC over something else
    headItem = { ...headItem, hashes: [] };
    await expect(sequencer().sequence(logId)).rejects.toThrow(/not a sequencer statement/);

    // Assess: nothing written
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('stops at once when a condition fails although the head did not move (inconsistent chain)', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }],
      }),
    );

    // Act / Assess
    await expect(sequencer().sequence(logId)).rejects.toThrow(AuditSequencerError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('passes any other error through without retrying, and writes nothing when KMS cannot MAC', async () => {
    // Prepare: DynamoDB throttles
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));

    // Act / Assess
    await expect(sequencer().sequence(logId)).rejects.toThrow('throttled');

    // Prepare: KMS cannot MAC
    ddb.resetHistory();
    const failing = {
      generate: async () => {
        throw Object.assign(new Error('KMS unavailable'), { name: 'KMSInternalException' });
      },
      verify: mac.verify,
    };

    // Act / Assess
    await expect(sequencer({ mac: failing }).sequence(logId)).rejects.toThrow('KMS unavailable');

    // Assess: nothing written
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });
});
