/**
 * The bench's yardstick: the smallest useful Lambda, a bare DynamoDB client created at module scope and one
 * call site. Every function's cold-start cost is reported as a ratio to this bundle's.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

const client = new DynamoDBClient({});

export const handler = async (event: { key: string }) =>
  client.send(new GetItemCommand({ TableName: 'baseline', Key: { pk: { S: event.key } } }));
