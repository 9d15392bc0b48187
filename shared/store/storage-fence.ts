import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions.js';

/**
 * The storage fence of a member or location item (`storageFenceUntil`, epoch ms; see STORAGE_FENCE_MS in
 * shared/domain/storage-revocation.ts). One home for both items' writes.
 */
type Item = { db: DynamoDBDocumentClient; table: string; key: { pk: string; sk: string } };

/** Sets the fence until `untilMs`; false when the item no longer exists (nothing written). */
export async function setStorageFence({ db, table, key }: Item, untilMs: number): Promise<boolean> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET storageFenceUntil = :until',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':until': untilMs },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Lifts a fence set with `untilMs` (after the change it guarded failed); a no-op if it is gone or another's. */
export async function liftStorageFence({ db, table, key }: Item, untilMs: number): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'REMOVE storageFenceUntil',
        ConditionExpression: 'storageFenceUntil = :until',
        ExpressionAttributeValues: { ':until': untilMs },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}
