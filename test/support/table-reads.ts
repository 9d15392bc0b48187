import { functionRuntime } from '../../shared/aws/runtime.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
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

/** The platform audit log's events of `action` whose actor is `userId` (every page, consistent read). */
export async function platformEventsBy(action: string, userId: string): Promise<Record<string, any>[]> {
  return (await partitionItems(process.env.AUDIT_TABLE!, PLATFORM_LOG_ID)).filter(
    (i) => i.action === action && i.actor?.userId === userId,
  );
}
