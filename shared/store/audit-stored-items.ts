import {
  type CheckpointStatement,
  type HeadStatement,
  parseCheckpointStatement,
  parseHeadStatement,
} from '../domain/audit-chain.js';

/*
 * The HEAD and CHECKPOINT items as read from the chain table, parsed but not authenticated: what listing
 * a log (its pending status) needs of them. Chain verification (./audit-verification.ts, which re-exports
 * these) is loaded by the first verification only (AuditLogReader.verify).
 */

/** The log's HEAD item as stored. */
export interface StoredHead {
  exists: boolean;
  /** The head statement, when the item holds a well-formed one. */
  statement?: HeadStatement;
  mac?: string;
  /** The item's `seq` attribute (used only to bound the walk when the statement is malformed). */
  claimedSeq?: number;
}

/** A CHECKPOINT item as stored. */
export interface StoredCheckpoint {
  /** The checkpoint statement, when the item holds a well-formed one. */
  statement?: CheckpointStatement;
  mac?: string;
  /** The item's `seq` attribute, for reporting a malformed one. */
  claimedSeq?: number;
}

/** A HEAD item as read from the chain table (undefined: none), its statement parsed, not authenticated. */
export function storedHeadOf(item: Record<string, unknown> | undefined, logId: string): StoredHead {
  if (!item) return { exists: false };
  const { mac, ...rest } = item;
  const statement = parseHeadStatement(rest, logId);
  return {
    exists: true,
    ...(statement ? { statement } : {}),
    ...(typeof mac === 'string' ? { mac } : {}),
    ...(Number.isSafeInteger(item.seq) ? { claimedSeq: item.seq as number } : {}),
  };
}

/** A CHECKPOINT item as read from the chain table, its statement parsed, not authenticated. */
export function storedCheckpointOf(item: Record<string, unknown>, logId: string): StoredCheckpoint {
  const { mac, ...rest } = item;
  const statement = parseCheckpointStatement(rest, logId);
  return {
    ...(statement ? { statement } : {}),
    ...(typeof mac === 'string' ? { mac } : {}),
    ...(Number.isSafeInteger(item.seq) ? { claimedSeq: item.seq as number } : {}),
  };
}
