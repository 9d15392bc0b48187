import { type ChainPoint, eventIdOfSk } from '../domain/audit-chain.js';
import { auditCsvHeader, auditCsvRow } from '../domain/audit-csv.js';
import type { AuditAction } from '../domain/audit-events.js';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import {
  type AuditLogReader,
  chainCursor,
  chainCursorSeq,
  eventCursor,
  eventCursorPosition,
  eventPosition,
  type ListFilter,
  PENDING_COUNT_CAP,
  type PendingStatus,
} from '../store/audit-log-reader.js';
import type { SequenceOptions, SequenceReport } from '../store/audit-sequencer.js';
import type { AuditStore } from '../store/audit-store.js';

/** Rows per export response; past it the response carries a continuation cursor. */
export const MAX_EXPORT_ROWS = 50_000;
/** Bytes per export response: below Lambda's 6 MB synchronous response limit. */
export const MAX_EXPORT_BYTES = 5 * 1024 * 1024;
/** Export window when `since` is not given. */
export const DEFAULT_EXPORT_DAYS = 90;
/**
 * Chain records one verify request walks before answering with a cursor (it stops at the next seal, at most
 * 49 records later): a few seconds of reads, well inside the API function's time limit.
 */
export const VERIFY_PAGE_RECORDS = 5000;
const EXPORT_PAGE = 500;

export interface AuditServiceDeps {
  store: AuditStore;
  now?: () => number;
  maxExportRows?: number;
  maxExportBytes?: number;
  verifyPageRecords?: number;
  /** Most pending events a response counts (PENDING_COUNT_CAP). */
  pendingCountCap?: number;
}

export interface ExportResult extends PendingStatus {
  csv: string;
  rows: number;
  nextCursor?: string;
  since: string;
  until: string;
}

const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

/** The audit routes' use cases: list, CSV export (itself audited) and chain verification. */
export class AuditService {
  readonly #store: AuditStore;
  readonly #now: () => number;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  readonly #verifyPage: number;
  readonly #pendingCap: number;

  constructor(deps: AuditServiceDeps) {
    this.#store = deps.store;
    this.#now = deps.now ?? Date.now;
    this.#maxRows = deps.maxExportRows ?? MAX_EXPORT_ROWS;
    this.#maxBytes = deps.maxExportBytes ?? MAX_EXPORT_BYTES;
    this.#verifyPage = deps.verifyPageRecords ?? VERIFY_PAGE_RECORDS;
    this.#pendingCap = deps.pendingCountCap ?? PENDING_COUNT_CAP;
  }

  /** A page of events, newest first, with the pending status of the log. */
  async list(
    caller: TenantCaller,
    query: {
      since?: string;
      until?: string;
      action?: AuditAction;
      actor?: string;
      cursor?: string;
      limit: number;
    },
  ) {
    const tenantId = caller.access.scope.tenantId;
    const reader = await this.#store.readerFor(caller.access.scope);
    const afterSk = eventCursorPosition(tenantId, query.cursor);
    const filter: ListFilter = {
      sinceMs: ms(query.since),
      untilMs: ms(query.until),
      action: query.action,
      actor: query.actor,
    };
    const [page, pending] = await Promise.all([
      reader.page(filter, { limit: query.limit, afterSk, descending: true }),
      reader.pendingAfterHead(this.#pendingCap),
    ]);
    return {
      items: page.items,
      ...(page.nextSk ? { nextCursor: eventCursor(tenantId, page.nextSk) } : {}),
      ...pending,
    };
  }

  /**
   * CSV of the events between since (default 90 days ago) and until (default now), oldest first. Read page
   * by page; a response holds at most maxRows rows and maxBytes bytes (Lambda returns the body as one
   * string), so memory is bounded by those caps whatever the log's size; past them the result carries a
   * cursor to continue. The export is recorded in the audit log before any data is returned.
   */
  async exportCsv(
    caller: TenantCaller,
    query: { since?: string; until?: string; cursor?: string },
  ): Promise<ExportResult> {
    const tenantId = caller.access.scope.tenantId;
    const now = this.#now();
    const untilMs = ms(query.until) ?? now;
    const sinceMs = ms(query.since) ?? Math.min(untilMs, now - DEFAULT_EXPORT_DAYS * 86_400_000);
    const reader = await this.#store.readerFor(caller.access.scope);
    const after = eventCursorPosition(tenantId, query.cursor);
    const chunks: string[] = [auditCsvHeader()];
    let bytes = chunks[0]!.length;
    let rows = 0;
    let afterSk = after;
    let nextSk: string | undefined;
    for (;;) {
      const page = await reader.page(
        { sinceMs, untilMs },
        { limit: Math.min(EXPORT_PAGE, this.#maxRows - rows), afterSk, descending: false },
      );
      let full = false;
      for (const event of page.items) {
        const row = auditCsvRow(event);
        const size = Buffer.byteLength(row, 'utf8');
        if (rows >= this.#maxRows || bytes + size > this.#maxBytes) {
          full = true;
          break;
        }
        chunks.push(row);
        bytes += size;
        rows++;
        afterSk = eventPosition(event.id);
      }
      if (full || (page.nextSk && rows >= this.#maxRows)) {
        nextSk = afterSk;
        break;
      }
      if (!page.nextSk) break;
      afterSk = page.nextSk;
    }
    const nextCursor = nextSk ? eventCursor(tenantId, nextSk) : undefined;
    const since = new Date(sinceMs).toISOString();
    const until = new Date(untilMs).toISOString();
    await this.#store.record(caller.access.scope, {
      action: 'audit.exported',
      actor: auditActorOf(caller),
      resource: { type: 'audit-log', id: tenantId },
      details: { since, until, rows, continued: after !== undefined, complete: nextCursor === undefined },
    });
    const pending = await reader.pendingAfterHead(this.#pendingCap);
    return { csv: chunks.join(''), rows, nextCursor, since, until, ...pending };
  }

  /**
   * Verifies the chain against its authenticated heads and checkpoints (AuditLogReader.verify), a page at a
   * time: an answer with `complete: false` carries `nextCursor` to continue from where it stopped.
   */
  async verify(caller: TenantCaller, query: { from?: 'start' | 'checkpoint'; cursor?: string }) {
    const tenantId = caller.access.scope.tenantId;
    const resumeAt = chainCursorSeq(tenantId, query.cursor);
    const reader = await this.#store.readerFor(caller.access.scope);
    const report = await reader.verify({
      pendingCountCap: this.#pendingCap,
      from: query.from,
      resumeAt,
      maxRecords: this.#verifyPage,
    });
    return {
      ok: report.ok,
      checked: report.checked,
      complete: report.complete,
      ...(report.nextSeq !== undefined ? { nextCursor: chainCursor(tenantId, report.nextSeq) } : {}),
      from: {
        sequence: report.from.seq,
        ...(report.from.checkpoint ? { checkpoint: report.from.checkpoint } : {}),
      },
      pending: report.pending,
      oldestPendingAgeSeconds: report.oldestPendingAgeSeconds,
      ...(report.pendingCapped ? { pendingCapped: true } : {}),
      ...(report.firstBrokenSequence !== undefined
        ? { firstBrokenSequence: report.firstBrokenSequence, reason: report.reason }
        : {}),
      head: { sequence: report.head.seq, hash: report.head.hash },
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sequencing from the stream, and the daily verification of every chain

/** What the stream handler and the daily job need of the sequencer (AuditSequencer implements it). */
export interface ChainMaintainer {
  listLogs(): Promise<string[]>;
  sequence(logId: string, options?: SequenceOptions): Promise<SequenceReport>;
  reader(logId: string): Pick<AuditLogReader, 'verify'>;
  checkpoint(logId: string, head: ChainPoint): Promise<{ day: string; written: boolean }>;
  readonly graceMs: number;
}

/** A DynamoDB stream record as far as the sequencer cares (the Lambda event's shape). */
export interface StreamRecordLike {
  eventName?: string;
  dynamodb?: { SequenceNumber?: string; Keys?: Record<string, { S?: string }> };
}

/**
 * The logs a stream batch touches, with the ids of the events inserted (hints, so that an event that
 * committed late is chained even when it is older than the sequencer's window) and the stream sequence
 * numbers of their records. The sequencer's own writes (chain records, markers, head) are not events.
 */
export function logsInStreamBatch(
  records: readonly StreamRecordLike[],
): Map<string, { hints: string[]; sequenceNumbers: string[] }> {
  const logs = new Map<string, { hints: string[]; sequenceNumbers: string[] }>();
  for (const record of records) {
    const pk = record.dynamodb?.Keys?.pk?.S;
    const sk = record.dynamodb?.Keys?.sk?.S;
    const eventId = sk === undefined ? undefined : eventIdOfSk(sk);
    if (record.eventName !== 'INSERT' || !pk || !eventId) continue;
    const entry = logs.get(pk) ?? { hints: [], sequenceNumbers: [] };
    entry.hints.push(eventId);
    if (record.dynamodb?.SequenceNumber) entry.sequenceNumbers.push(record.dynamodb.SequenceNumber);
    logs.set(pk, entry);
  }
  return logs;
}

export interface LogVerification {
  logId: string;
  ok: boolean;
  checked: number;
  firstBrokenSequence?: number;
  reason?: string;
  pending: number;
  oldestPendingAgeSeconds: number;
  lateSequenced: number;
  head: { seq: number; hash: string };
  /** The sequence and day of the checkpoint written today (none when the log did not verify). */
  checkpoint?: { seq: number; day: string };
  error?: string;
}

export interface ChainsSummary {
  logs: LogVerification[];
  chainBreaks: number;
  pendingEvents: number;
  oldestPendingSeconds: number;
  lateSequenced: number;
  failures: number;
}

/** How far back the daily sweep looks for events the stream-driven sequencer never saw. */
export const SWEEP_LOOKBACK_MS = 48 * 3_600_000;

/**
 * The daily job, for every log: a catch-up sweep (chains any event that slipped past the stream, however
 * late it committed); a full verification from the oldest record still required (against the
 * authenticated head and every checkpoint: a head behind or diverging from yesterday's checkpoint is a
 * break); and, when it found nothing, today's checkpoint of the head. A log whose sweep fails is still
 * verified (a head the sequencer refuses is what verification reports); one that cannot be verified counts
 * as a failure and the others still run.
 */
export async function verifyAllChains(
  maintainer: ChainMaintainer,
  options: { concurrency?: number; lookbackMs?: number } = {},
): Promise<ChainsSummary> {
  const logs = await maintainer.listLogs();
  const results: LogVerification[] = [];
  let next = 0;
  const worker = async () => {
    while (next < logs.length) {
      const logId = logs[next++]!;
      let lateSequenced = 0;
      let sweepError: unknown;
      try {
        lateSequenced = (
          await maintainer.sequence(logId, { lookbackMs: options.lookbackMs ?? SWEEP_LOOKBACK_MS })
        ).sequenced;
      } catch (error) {
        sweepError = error;
      }
      try {
        const report = await maintainer.reader(logId).verify({ pendingWindowMs: maintainer.graceMs });
        let checkpoint: LogVerification['checkpoint'];
        if (report.ok && report.authenticHead) {
          const { day } = await maintainer.checkpoint(logId, report.authenticHead);
          checkpoint = { seq: report.authenticHead.seq, day };
        }
        results.push({
          logId,
          ok: report.ok,
          checked: report.checked,
          ...(report.firstBrokenSequence !== undefined
            ? { firstBrokenSequence: report.firstBrokenSequence, reason: report.reason }
            : {}),
          pending: report.pending,
          oldestPendingAgeSeconds: report.oldestPendingAgeSeconds,
          lateSequenced,
          head: report.head,
          ...(checkpoint ? { checkpoint } : {}),
          // A sweep that failed on a chain that verifies is an operational failure, not a break.
          ...(report.ok && sweepError !== undefined ? { error: describe(sweepError) } : {}),
        });
      } catch (error) {
        results.push({
          logId,
          ok: false,
          checked: 0,
          pending: 0,
          oldestPendingAgeSeconds: 0,
          lateSequenced,
          head: { seq: 0, hash: '' },
          error: describe(error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  results.sort((a, b) => a.logId.localeCompare(b.logId));
  return {
    logs: results,
    chainBreaks: results.filter((r) => !r.ok && !r.error).length,
    pendingEvents: results.reduce((sum, r) => sum + r.pending, 0),
    oldestPendingSeconds: results.reduce((max, r) => Math.max(max, r.oldestPendingAgeSeconds), 0),
    lateSequenced: results.reduce((sum, r) => sum + r.lateSequenced, 0),
    failures: results.filter((r) => r.error).length,
  };
}

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
