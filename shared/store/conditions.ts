import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

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
