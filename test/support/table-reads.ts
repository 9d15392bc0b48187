import { functionRuntime } from '../../shared/aws/runtime.js';
import { queryAllItems } from '../../shared/store/pagination.js';

/**
 * Every item of one partition of a table, straight from DynamoDB with the function role's client and a
 * consistent read: what a test checks a change against, past every layer of the code under test.
 */
export function partitionItems(table: string, pk: string): Promise<Record<string, any>[]> {
  return queryAllItems(
    functionRuntime().dynamo,
    {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    },
    (item) => item as Record<string, any>,
  );
}
