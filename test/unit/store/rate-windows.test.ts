import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { RateWindows } from '../../../shared/store/rate-windows.js';

const ddb = mockClient(DynamoDBDocumentClient);
const windows = () =>
  new RateWindows(DynamoDBDocumentClient.from(new DynamoDBClient({})), 'identity', () => 1_800_000_000_000);

describe('RateWindows slot release', () => {
  beforeEach(() => {
    ddb.reset();
    ddb.on(GetCommand).resolves({});
  });

  it('gives nothing back, and does not fail, when the window has gone meanwhile (found by fault injection)', async () => {
    // Prepare: a slot taken, then its window item deleted (TTL) before the release
    ddb.on(UpdateCommand).resolvesOnce({});
    const reservation = await windows().reserve('signin-failures', 'a@example.test', 10, 3600);
    if (!reservation.granted) throw new Error('not granted');
    ddb
      .on(UpdateCommand)
      .rejects(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      );

    // Act / Assess: the release settles without an error
    await expect(reservation.slot.release()).resolves.toBeUndefined();
  });

  it('still raises a throttled release (the caller answers 503)', async () => {
    // Prepare: a slot taken; DynamoDB throttles the release
    ddb.on(UpdateCommand).resolvesOnce({});
    const reservation = await windows().reserve('signin-failures', 'b@example.test', 10, 3600);
    if (!reservation.granted) throw new Error('not granted');
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act / Assess
    await expect(reservation.slot.release()).rejects.toThrow('Rate exceeded');
  });
});

describe('RateWindows tally (the aggregated audit of remote signing)', () => {
  beforeEach(() => ddb.reset());

  it('answers the count after its ADD, in the current window, and takes it back on untally', async () => {
    // Prepare: the window already holds 9
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { count: 10 } })
      .resolves({});

    // Act
    const counted = await windows().tally('storage-signed', 't#user:u#l#read', 300);
    await counted.untally();

    // Assess: one ADD +1 returning the new count, one ADD -1 on the same item
    expect(counted).toMatchObject({ window: Math.floor(1_800_000_000_000 / 300_000), count: 10 });
    const calls = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(calls.map((input) => input.ExpressionAttributeValues)).toEqual([
      { ':one': 1, ':ttl': expect.any(Number) },
      { ':minusOne': -1 },
    ]);
    expect(calls[0]!.ReturnValues).toBe('UPDATED_NEW');
    expect(calls[1]!.Key).toEqual(calls[0]!.Key);
  });
});
