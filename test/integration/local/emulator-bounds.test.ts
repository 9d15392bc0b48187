import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, inject, it } from 'vitest';
import { watchEmulatorMemory } from '../../../infra/local/moto.js';
import { TEST_REGION } from '../../support/integration-setup.js';

/**
 * moto-server.py replaces moto's whole-table copies in TransactWriteItems with a rollback of the touched
 * items, keeps a stream's newest records only, and forgets expired STS sessions. These tests hold it to
 * DynamoDB's all-or-nothing behaviour, which the audit sequencer and every transactional route rely on.
 */
const endpoint = () => inject('awsEndpoint');
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const ddb = () => new DynamoDBClient({ endpoint: endpoint(), region: TEST_REGION, credentials });

/** Records a table's stream holds now, read through the DynamoDB Streams API (JSON protocol, by hand). */
async function streamRecordCount(table: string): Promise<number> {
  const call = async (target: string, body: unknown) => {
    const res = await fetch(endpoint(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDBStreams_20120810.${target}`,
        authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${TEST_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${target}: ${res.status} ${await res.text()}`);
    return (await res.json()) as any;
  };
  const described = await ddb().send(new DescribeTableCommand({ TableName: table }));
  const streamArn = described.Table!.LatestStreamArn!;
  const stream = await call('DescribeStream', { StreamArn: streamArn });
  const shardId = stream.StreamDescription.Shards[0].ShardId;
  let iterator = (
    await call('GetShardIterator', {
      StreamArn: streamArn,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    })
  ).ShardIterator;
  let count = 0;
  for (let page = 0; page < 10 && iterator; page++) {
    const records = await call('GetRecords', { ShardIterator: iterator, Limit: 1000 });
    count += records.Records.length;
    if (records.Records.length === 0) break;
    iterator = records.NextShardIterator;
  }
  return count;
}

describe('the emulator started by local mode and the tests', () => {
  it('rolls a cancelled transaction back item by item: puts, updates and deletes all undone', async () => {
    // Prepare: a table with two items, and three changes to it
    const client = ddb();
    const table = `bounds-${Date.now()}`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const key = (sk: string) => ({ pk: { S: 'p' }, sk: { S: sk } });
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...key('kept'), n: { N: '1' } } } },
          { Put: { TableName: table, Item: { ...key('doomed'), n: { N: '1' } } } },
        ],
      }),
    );
    const get = async (sk: string) =>
      (await client.send(new GetItemCommand({ TableName: table, Key: key(sk), ConsistentRead: true }))).Item;

    const changes = [
      { Put: { TableName: table, Item: { ...key('new'), n: { N: '9' } } } },
      {
        Update: {
          TableName: table,
          Key: key('kept'),
          UpdateExpression: 'SET n = :n',
          ExpressionAttributeValues: { ':n': { N: '9' } },
        },
      },
      { Delete: { TableName: table, Key: key('doomed') } },
    ];
    const unchanged = async () => {
      expect(await get('new')).toBeUndefined();
      expect(await get('kept')).toEqual({ ...key('kept'), n: { N: '1' } });
      expect(await get('doomed')).toEqual({ ...key('doomed'), n: { N: '1' } });
    };

    // Act / Assess
    // The last item's condition fails: nothing above may remain.
    const cancelled = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          ...changes,
          {
            ConditionCheck: {
              TableName: table,
              Key: key('guard'),
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
        ],
      }),
    );
    await expect(cancelled).rejects.toBeInstanceOf(TransactionCanceledException);
    await unchanged();

    // Act / Assess
    // Two operations on one item: refused as invalid after the first ones ran; also all undone.
    const invalid = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          ...changes,
          {
            ConditionCheck: {
              TableName: table,
              Key: key('kept'),
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
        ],
      }),
    );
    await expect(invalid).rejects.toMatchObject({ name: 'ValidationException' });
    await unchanged();

    // Act / Assess
    // A multi-table transaction that succeeds still applies everything.
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...key('new'), n: { N: '2' } } } },
          { Delete: { TableName: table, Key: key('doomed') } },
        ],
      }),
    );
    expect(await get('new')).toEqual({ ...key('new'), n: { N: '2' } });
    expect(await get('doomed')).toBeUndefined();
  });

  it('keeps a bounded number of stream records however many writes a table takes', async () => {
    // Prepare
    const client = ddb();
    const table = `stream-${Date.now()}`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );

    // Act
    // 1,100 records through 11 transactions of 100 items: more than a stream keeps (1,000).
    for (let batch = 0; batch < 11; batch++) {
      await client.send(
        new TransactWriteItemsCommand({
          TransactItems: Array.from({ length: 100 }, (_, i) => ({
            Put: { TableName: table, Item: { pk: { S: `item-${batch}-${i}` } } },
          })),
        }),
      );
    }

    // Assess
    // The stream holds exactly the newest 1,000.
    expect(await streamRecordCount(table)).toBe(1000);
    const last = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'item-10-99' } }, ConsistentRead: true }),
    );
    expect(last.Item).toEqual({ pk: { S: 'item-10-99' } });
  });

  it('still answers for live STS sessions after expired ones are forgotten', async () => {
    // Prepare: a live session
    const sts = new STSClient({ endpoint: endpoint(), region: TEST_REGION, credentials });
    const role = 'arn:aws:iam::123456789012:role/bounds';
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'live', DurationSeconds: 900 }),
    );

    // Act
    // Another assumption prunes the expired sessions; the live one must survive it.
    await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'other', DurationSeconds: 900 }));

    // Assess: its credentials still work
    const as = new STSClient({
      endpoint: endpoint(),
      region: TEST_REGION,
      credentials: {
        accessKeyId: assumed.Credentials!.AccessKeyId!,
        secretAccessKey: assumed.Credentials!.SecretAccessKey!,
        sessionToken: assumed.Credentials!.SessionToken!,
      },
    });
    const identity = await as.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe('arn:aws:sts::123456789012:assumed-role/bounds/live');
  });
});

describe('local mode watching the emulator’s memory', () => {
  it('warns once when it passes the threshold, again only when it doubles', () => {
    // Prepare
    const lines: string[] = [];
    let bytes = 100;
    const watch = watchEmulatorMemory({ read: () => bytes, log: (l) => lines.push(l), warnBytes: 1000 });

    // Act / Assess: under the threshold, past it twice, then doubled
    watch.check();
    expect(lines).toEqual([]);
    bytes = 1500;
    watch.check();
    watch.check();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: the AWS emulator \(moto\) now holds 0 MiB/);
    bytes = 2100;
    watch.check();
    expect(lines).toHaveLength(2);
    watch.stop();
  });

  it('says nothing when the figure is unknown', () => {
    // Prepare
    const lines: string[] = [];
    const watch = watchEmulatorMemory({ read: () => undefined, log: (l) => lines.push(l), warnBytes: 1 });

    // Act
    watch.check();

    // Assess
    expect(lines).toEqual([]);
    watch.stop();
  });
});
