import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DeleteCommand,
  type DynamoDBDocumentClient,
  type PutCommand,
  TransactWriteCommand,
  type UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { TransactItem } from './audit-recorder.js';

/** The per-item cancellation codes of a cancelled transaction; undefined for any other error. */
export function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((r) => r.Code);
}

/**
 * Whether it was my condition that failed: a single write's, or in a cancelled transaction the condition
 * of an item at one of `items` (of any item when none is given). Any other failure, including a
 * transaction cancelled for a conflict or throttling, is not.
 */
export function isConditionFailure(error: unknown, ...items: number[]): boolean {
  if (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  )
    return true;
  const codes = cancellationCodes(error);
  if (!codes) return false;
  return (items.length > 0 ? items : codes.map((_, i) => i)).some(
    (i) => codes[i] === 'ConditionalCheckFailed',
  );
}

/** Sends a conditional write: true when it was written, false when its condition failed; any other error throws. */
export async function writeOrFalse(
  db: DynamoDBDocumentClient,
  command: PutCommand | UpdateCommand | DeleteCommand | TransactWriteCommand,
): Promise<boolean> {
  try {
    await db.send(command as never);
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Writes `items` in one transaction: true when written, false (nothing written) when a condition failed. */
export function transactOrFalse(db: DynamoDBDocumentClient, items: TransactItem[]): Promise<boolean> {
  return writeOrFalse(db, new TransactWriteCommand({ TransactItems: items }));
}
