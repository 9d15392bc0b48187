import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { FunctionRuntime } from '../aws/runtime.js';
import { type ChainMac, chainMacFor } from '../crypto/chain-mac.js';
import {
  appendToChain,
  CHECKPOINT_RETENTION_DAYS,
  type ChainHead,
  type ChainPoint,
  chainSk,
  checkpointOf,
  checkpointSk,
  DEFAULT_GRACE_MS,
  eventSk,
  eventUlid,
  HEAD_SK,
  LOG_REGISTRY_PK,
  macMessage,
  markSk,
  pendingWindowStart,
  type StoredEventItem,
  ulidFloor,
} from '../domain/audit-chain.js';
import { PLATFORM_LOG_ID } from '../domain/audit-events.js';
import { BoundedCache } from '../domain/bounded-cache.js';
import { registerCache } from '../observability.js';
import type { AuditAppends } from './audit-appends.js';
import { AuditLogReader, type PendingStatus } from './audit-log-reader.js';
import type { TransactItem } from './audit-recorder.js';
import { queryAll } from './pagination.js';

/**
 * Events per transaction: each needs a chain record and a marker, plus the head and either a check of the
 * chain record the head points at or (on a log's first batch) the log's registry entry:
 * 2 × 49 + 2 = 100, DynamoDB's TransactWriteItems limit. (The batch's seal rides on its last record.)
 */
export const MAX_BATCH = 49;

/** Thrown when a log cannot be sequenced (its chain is inconsistent or contention never ends). */
export class AuditSequencerError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'AuditSequencerError';
  }
}

export interface AuditSequencerProps {
  /** Function-role client: the sequencer acts for every log. */
  client: DynamoDBDocumentClient;
  /** The audit (events) table: read only. */
  tableName: string;
  /** The audit chain table: chain records, markers, heads, checkpoints and the log registry. */
  chainTableName: string;
  /** Authenticates each new head (kms:GenerateMac, which only the sealing roles may call). */
  mac: ChainMac;
  batchSize?: number;
  graceMs?: number;
  /** Bound on batches per run, so one busy log cannot hold a stream batch forever. */
  maxBatchesPerRun?: number;
  /** Conflicting attempts (another sequencer moved the head) tolerated per run. */
  maxConflicts?: number;
  now?: () => number;
}

export interface SequenceOptions {
  /** Event ids known to exist (from the stream): looked at even when older than the pending window. */
  hints?: readonly string[];
  /** Look for pending events this far back instead of the grace window (the daily sweep). */
  lookbackMs?: number;
}

export interface SequenceReport extends PendingStatus {
  logId: string;
  sequenced: number;
  batches: number;
  conflicts: number;
  head: { seq: number; hash: string };
}

/**
 * Integrates each log's pending events into its hash chain, the way Trillian's sequencer integrates
 * queued leaves: in batches, in id order, consecutive sequence numbers, one transaction per batch holding
 * the chain records, a marker per event (conditional: an event is never chained twice) and the head
 * (conditional on the head read: two sequencers never both extend it). A failed or repeated batch changes
 * nothing, and a retry starts again from the stored head, so the work is idempotent.
 *
 * Each new head is a statement MAC'd with the audit MAC key (also stored as the batch's last record's
 * seal). The sequencer extends only a head whose MAC it verified (or that it wrote itself), so a forged
 * head is never laundered into an authentic one.
 */
export class AuditSequencer {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #chainTable: string;
  readonly #mac: ChainMac;
  readonly #batchSize: number;
  readonly #graceMs: number;
  readonly #maxBatches: number;
  readonly #maxConflicts: number;
  readonly #now: () => number;
  // Runs of one log in this process go one after another: they would only conflict with each other.
  readonly #tails = new Map<string, Promise<unknown>>();
  // The last head statement this process wrote or verified, per log (its whole MAC'd message, so that a
  // head with the same sequence and hash but any other field changed is checked again).
  readonly #trusted = new BoundedCache<string>({
    name: 'trusted audit heads',
    maxEntries: 10_000,
    // A head statement and its MAC are about 1.3 KiB as held.
    maxBytes: 16 * 2 ** 20,
    sizeOf: (message) => 16 + message.length * 2,
  });

  constructor(props: AuditSequencerProps) {
    registerCache(this.#trusted);
    this.#db = props.client;
    this.#table = props.tableName;
    this.#chainTable = props.chainTableName;
    this.#mac = props.mac;
    this.#batchSize = Math.min(props.batchSize ?? MAX_BATCH, MAX_BATCH);
    if (this.#batchSize < 1) throw new RangeError('batchSize must be at least 1');
    this.#graceMs = props.graceMs ?? DEFAULT_GRACE_MS;
    this.#maxBatches = props.maxBatchesPerRun ?? 1000;
    this.#maxConflicts = props.maxConflicts ?? 25;
    this.#now = props.now ?? Date.now;
  }

  get graceMs(): number {
    return this.#graceMs;
  }

  /** Sequences every pending event of one log; returns what it did and what is still pending. */
  sequence(logId: string, options: SequenceOptions = {}): Promise<SequenceReport> {
    const previous = this.#tails.get(logId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.#run(logId, options));
    this.#tails.set(logId, run);
    void run
      .catch(() => undefined)
      .finally(() => {
        if (this.#tails.get(logId) === run) this.#tails.delete(logId);
      });
    return run;
  }

  /** Every log the sequencer has started (from the registry partition), plus the platform log. */
  async listLogs(): Promise<string[]> {
    const logs = new Set<string>([PLATFORM_LOG_ID]);
    for await (const item of queryAll(this.#db, {
      TableName: this.#chainTable,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': LOG_REGISTRY_PK },
      ProjectionExpression: 'sk',
    }))
      logs.add(String(item.sk));
    return [...logs];
  }

  /** A reader of any log with the sequencer's (platform) credentials. */
  reader(logId: string): AuditLogReader {
    return new AuditLogReader({
      client: this.#db,
      tableName: this.#table,
      chainTableName: this.#chainTable,
      logId,
      mac: this.#mac,
      now: this.#now,
    });
  }

  /**
   * Writes today's checkpoint of a log's verified head (the daily job, after a verification that found
   * nothing): a MAC'd statement that any later head must still contain. One per log and UTC day (a second
   * run on the same day keeps the first).
   */
  async checkpoint(logId: string, head: ChainPoint): Promise<{ day: string; written: boolean }> {
    const takenAtMs = this.#now();
    const statement = checkpointOf(logId, head, takenAtMs);
    const mac = await this.#mac.generate(macMessage(statement));
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#chainTable,
          Item: {
            pk: logId,
            sk: checkpointSk(statement.day),
            ...statement,
            mac,
            // For DynamoDB's TTL deletion only; the verifier never reads it.
            ttl: Math.floor(takenAtMs / 1000) + CHECKPOINT_RETENTION_DAYS * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { day: statement.day, written: true };
    } catch (error) {
      if ((error as Error)?.name === 'ConditionalCheckFailedException')
        return { day: statement.day, written: false };
      throw error;
    }
  }

  async #run(logId: string, options: SequenceOptions): Promise<SequenceReport> {
    const reader = this.reader(logId);
    let sequenced = 0;
    let batches = 0;
    let conflicts = 0;
    const hints = new Set(options.hints ?? []);
    let read = await this.#authenticHead(reader);
    for (;;) {
      let head = read.head;
      let exists = read.exists;
      let batch: StoredEventItem[] = [];
      const flush = async () => {
        const next = appendToChain(head, logId, batch, this.#now());
        const mac = await this.#mac.generate(macMessage(next.statement));
        await this.#commit(logId, exists ? head : undefined, batch, next, mac);
        this.#trusted.set(logId, `${macMessage(next.statement)}|${mac}`);
        head = next.head;
        exists = true;
        sequenced += batch.length;
        batches++;
        for (const event of batch) hints.delete(event.id);
        batch = [];
      };
      try {
        // One pass over the window per attempt: markers are read once, events stream in id order.
        for await (const event of this.#pendingEvents(reader, this.#windowStart(head, options), [...hints])) {
          batch.push(event);
          if (batch.length >= this.#batchSize) {
            await flush();
            if (batches >= this.#maxBatches) break;
          }
        }
        if (batch.length > 0 && batches < this.#maxBatches) await flush();
      } catch (error) {
        if (!isConflict(error)) throw error;
        const used = { head, exists };
        const now = await reader.head();
        // A failed condition while the head stayed put is no race: the head disagrees with its chain
        // record, or an event or record exists that the head does not account for. Never build on that.
        if (!isTransactionConflict(error) && sameHead(used, now))
          throw new AuditSequencerError(
            `log ${logId}: the stored chain is inconsistent at ${head.seq}`,
            error,
          );
        // Another sequencer moved the head: start again from the store.
        if (++conflicts > this.#maxConflicts)
          throw new AuditSequencerError(`log ${logId}: the head kept moving`, error);
        await sleep(Math.min(1000, 20 * 2 ** Math.min(conflicts, 6)) * Math.random());
        read = await this.#authenticHead(reader);
        continue;
      }
      const pending = await reader.pendingStatus(this.#graceMs, head);
      return { logId, sequenced, batches, conflicts, head: { seq: head.seq, hash: head.hash }, ...pending };
    }
  }

  /** The stored head, refused unless its MAC verifies (or this process wrote it). */
  async #authenticHead(reader: AuditLogReader): Promise<{ head: ChainHead; exists: boolean }> {
    const read = await reader.head();
    if (!read.exists) return read;
    const { statement, mac } = read.stored;
    if (!statement || mac === undefined)
      throw new AuditSequencerError(`log ${reader.logId}: the head is not a sequencer statement`);
    const key = `${macMessage(statement)}|${mac}`;
    if (this.#trusted.get(reader.logId) === key) return read;
    if (!(await this.#mac.verify(macMessage(statement), mac)))
      throw new AuditSequencerError(
        `log ${reader.logId}: the head's MAC is not valid; refusing to extend it`,
      );
    this.#trusted.set(reader.logId, key);
    return read;
  }

  #windowStart(head: ChainHead, options: SequenceOptions): string {
    const window = pendingWindowStart(head, this.#graceMs);
    if (options.lookbackMs === undefined) return window;
    const lookback = ulidFloor(this.#now() - options.lookbackMs);
    // ULIDs compare as strings: the earlier of the two bounds.
    return [lookback, window].sort()[0]!;
  }

  /** Unmarked events in id order: hinted ones older than the window first, then those in the window. */
  async *#pendingEvents(
    reader: AuditLogReader,
    from: string,
    hints: string[],
  ): AsyncGenerator<StoredEventItem> {
    const early = hints
      .filter((id) => validEventId(id) && eventUlid(id) < from)
      .sort((a, b) => a.localeCompare(b));
    for (const id of early) {
      const item = await this.#unmarkedEvent(reader.logId, eventUlid(id));
      if (item) yield item;
    }
    for await (const item of reader.unmarkedEvents(from)) {
      // An item whose id is not the one its key names was not written by the audit store: leave it out of
      // the chain (it stays pending, which the pending alarm reports).
      if (validEventId(String(item.id)) && `e_${String(item.sk).slice(6)}` === item.id) yield item;
    }
  }

  async #unmarkedEvent(logId: string, ulid: string): Promise<StoredEventItem | undefined> {
    const [event, mark] = await Promise.all([
      this.#db.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: logId, sk: eventSk(ulid) },
          ConsistentRead: true,
        }),
      ),
      this.#db.send(
        new GetCommand({
          TableName: this.#chainTable,
          Key: { pk: logId, sk: markSk(ulid) },
          ConsistentRead: true,
        }),
      ),
    ]);
    return event.Item && !mark.Item ? (event.Item as StoredEventItem) : undefined;
  }

  async #commit(
    logId: string,
    readHead: ChainHead | undefined,
    batch: StoredEventItem[],
    next: ReturnType<typeof appendToChain>,
    mac: string,
  ): Promise<void> {
    const put = (
      Item: Record<string, unknown>,
      ConditionExpression = 'attribute_not_exists(pk)',
    ): TransactItem => ({
      Put: { TableName: this.#chainTable, Item, ConditionExpression },
    });
    const items: TransactItem[] = [];
    if (readHead && readHead.seq > 0) {
      // The head must agree with the chain record it points at, or the batch would extend a forged head.
      items.push({
        ConditionCheck: {
          TableName: this.#chainTable,
          Key: { pk: logId, sk: chainSk(readHead.seq) },
          ConditionExpression: '#hash = :hash',
          ExpressionAttributeNames: { '#hash': 'hash' },
          ExpressionAttributeValues: { ':hash': readHead.hash },
        },
      });
    }
    const last = next.records.length - 1;
    next.records.forEach((record, i) => {
      // `ttl` only drives DynamoDB's deletion; verification reads the hashed `expiresAt`.
      const item: Record<string, unknown> = {
        pk: logId,
        sk: chainSk(record.seq),
        ...record,
        ttl: record.expiresAt,
      };
      if (i === last) item.seal = { ...next.statement, mac };
      items.push(put(item));
      items.push(
        put({ pk: logId, sk: markSk(eventUlid(record.eventId)), seq: record.seq, ttl: record.expiresAt }),
      );
    });
    const headItem = {
      pk: logId,
      sk: HEAD_SK,
      ...next.statement,
      mac,
      updatedAt: new Date(this.#now()).toISOString(),
    };
    if (readHead) {
      items.push({
        Put: {
          TableName: this.#chainTable,
          Item: headItem,
          // The head moves only from the state this batch was computed on.
          ConditionExpression: '#seq = :seq AND #hash = :hash',
          ExpressionAttributeNames: { '#seq': 'seq', '#hash': 'hash' },
          ExpressionAttributeValues: { ':seq': readHead.seq, ':hash': readHead.hash },
        },
      });
    } else {
      items.push(put(headItem));
      // A registered log without a head lost its head: refuse to start its chain again at 1.
      items.push(put({ pk: LOG_REGISTRY_PK, sk: logId }));
    }
    // Same batch, same token: an SDK retry of a transaction that did commit is answered, not re-applied.
    const token = createHash('sha256')
      .update(`${logId}|${readHead?.seq ?? 0}|${batch.map((e) => e.id).join(',')}`)
      .digest('hex')
      .slice(0, 36);
    await this.#db.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }));
  }
}

function validEventId(id: string): boolean {
  try {
    eventUlid(id);
    return true;
  } catch {
    return false;
  }
}

/** A cancelled transaction whose cause is a failed condition or a concurrent transaction on its items. */
function isConflict(error: unknown): boolean {
  if (
    error instanceof TransactionCanceledException ||
    (error as Error)?.name === 'TransactionCanceledException'
  ) {
    const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
    return reasons.some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict');
  }
  return (error as Error)?.name === 'TransactionConflictException';
}

/** Whether any part of a cancelled transaction clashed with another transaction in flight. */
function isTransactionConflict(error: unknown): boolean {
  if ((error as Error)?.name === 'TransactionConflictException') return true;
  const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === 'TransactionConflict');
}

function sameHead(a: { head: ChainHead; exists: boolean }, b: { head: ChainHead; exists: boolean }): boolean {
  return a.exists === b.exists && a.head.seq === b.head.seq && a.head.hash === b.head.hash;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The sequencer of a function, from its runtime (AUDIT_TABLE, AUDIT_CHAIN_TABLE, AUDIT_MAC_KEY_ARN) with the
 * function role's DynamoDB client.
 */
export function auditSequencerFor(
  runtime: FunctionRuntime,
  options: Omit<AuditSequencerProps, 'client' | 'tableName' | 'chainTableName' | 'mac'> = {},
): AuditSequencer {
  return new AuditSequencer({
    client: runtime.dynamo,
    tableName: runtime.require('auditTable'),
    chainTableName: runtime.require('auditChainTable'),
    mac: chainMacFor(runtime),
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------------------
// In-process driver for local mode and tests (in AWS the table's stream drives functions/audit/sequencer.ts)

export interface LocalSequencerHandle {
  stop(): Promise<void>;
}

/**
 * Runs `sequencer` in this process every `intervalMs` for the logs `appends` announces (and, once at
 * start, every registered log), standing in for the stream trigger in local mode.
 */
export function startLocalSequencer(options: {
  sequencer: AuditSequencer;
  appends: AuditAppends;
  intervalMs?: number;
  onError?: (error: unknown) => void;
}): LocalSequencerHandle {
  const { sequencer } = options;
  const intervalMs = options.intervalMs ?? 250;
  // A log stays active until a run finds nothing pending a while after its last append (the append is
  // announced before it commits).
  const active = new Map<string, number>();
  const touch = (logId: string) => active.set(logId, Date.now());
  const subscription = options.appends.subscribe(touch);
  for (const logId of subscription.earlier) touch(logId);
  let stopped = false;
  let busy = false;
  let running: Promise<void> = sequencer
    .listLogs()
    .then((logs) => {
      for (const logId of logs) if (!active.has(logId)) active.set(logId, 0);
    })
    .catch((error) => options.onError?.(error));
  const tick = async () => {
    for (const [logId, touched] of [...active]) {
      if (stopped) return;
      try {
        const report = await sequencer.sequence(logId);
        if (report.pending === 0 && Date.now() - touched > 5000 && active.get(logId) === touched)
          active.delete(logId);
      } catch (error) {
        options.onError?.(error);
      }
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = running.then(tick).finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref?.();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      subscription.unsubscribe();
      await running;
    },
  };
}
