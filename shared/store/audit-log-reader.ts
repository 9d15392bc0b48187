import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { ChainMacVerifier } from '../crypto/chain-mac.js';
import {
  CHAIN_PREFIX,
  CHECKPOINT_PREFIX,
  type ChainHead,
  chainSk,
  EMPTY_HEAD,
  EVENT_PREFIX,
  eventSk,
  eventUlid,
  HEAD_SK,
  headOf,
  MARK_PREFIX,
  markSk,
  pendingWindowStart,
  type StoredEventItem,
  seqOfChainSk,
  ulidCeil,
  ulidFloor,
  ulidTimeMs,
} from '../domain/audit-chain.js';
import type { AuditEventView } from '../domain/audit-events.js';
import { ValidationError } from '../errors.js';
import { toView } from './audit-event-item.js';
import {
  type StoredCheckpoint,
  type StoredHead,
  storedCheckpointOf,
  storedHeadOf,
} from './audit-stored-items.js';
import type { ChainSource, ChainVerifyOptions, ChainVerifyOutcome } from './audit-verification.js';
import { decodeCursor, encodeCursor, queryAll } from './pagination.js';

export interface PendingStatus {
  pending: number;
  oldestPendingAgeSeconds: number;
  /** More events are pending than were counted: `pending` is a lower bound (the bounded count only). */
  pendingCapped?: boolean;
}

/**
 * Most pending events the bounded count (`pendingAfterHead`) reads: what the API answers costs at most this
 * much whatever the log's age, its event rate or the sequencer's backlog.
 */
export const PENDING_COUNT_CAP = 1000;

export interface AuditVerifyReport extends ChainVerifyOutcome, PendingStatus {}

export interface AuditLogReaderProps {
  client: DynamoDBDocumentClient;
  /** The audit (events) table. */
  tableName: string;
  /** The audit chain table. */
  chainTableName: string;
  logId: string;
  mac?: ChainMacVerifier;
  now?: () => number;
}

export interface ListFilter {
  /** Inclusive lower bound, epoch ms. */
  sinceMs?: number;
  /** Inclusive upper bound, epoch ms. */
  untilMs?: number;
  action?: string;
  /** A user id or an API key id. */
  actor?: string;
}

export interface EventPage {
  items: AuditEventView[];
  /** Sort key after which the next page starts; undefined at the end. */
  nextSk?: string;
}

/** The opaque cursor of a position among a log's events (the sort key a page stopped after). */
export function eventCursor(logId: string, position: string): string {
  return encodeCursor({ pk: logId, sk: position })!;
}

/** The position an event cursor of this log names; a 400 naming `query.cursor` when it is not one. */
export function eventCursorPosition(logId: string, cursor: string | undefined): string | undefined {
  return decodeCursor(cursor, { pk: logId, skPrefix: EVENT_PREFIX })?.sk;
}

/** The position of one event, by its id: a page that starts after it starts with the next event. */
export function eventPosition(eventId: string): string {
  return eventSk(eventId.slice(2));
}

/** The opaque cursor of a chain verification that stopped before sequence number `seq`. */
export function chainCursor(logId: string, seq: number): string {
  return encodeCursor({ pk: logId, sk: chainSk(seq) })!;
}

/** The sequence number a chain cursor of this log resumes at; a 400 naming `query.cursor` otherwise. */
export function chainCursorSeq(logId: string, cursor: string | undefined): number | undefined {
  const after = decodeCursor(cursor, { pk: logId, skPrefix: CHAIN_PREFIX });
  if (!after) return undefined;
  const seq = seqOfChainSk(after.sk!);
  if (seq === undefined || seq < 1)
    throw new ValidationError([{ path: 'query.cursor', message: 'Invalid cursor' }]);
  return seq;
}

/** Most items one list request reads (filters can discard many); it then answers with a cursor. */
const MAX_SCANNED_PER_REQUEST = 2000;

/** Reads one log: events, their sequence numbers, pending status and chain verification. */
export class AuditLogReader implements ChainSource {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #chainTable: string;
  readonly logId: string;
  readonly #mac: ChainMacVerifier | undefined;
  readonly #now: () => number;

  constructor(props: AuditLogReaderProps) {
    this.#db = props.client;
    this.#table = props.tableName;
    this.#chainTable = props.chainTableName;
    this.logId = props.logId;
    this.#mac = props.mac;
    this.#now = props.now ?? Date.now;
  }

  /** Key range of events between two times (inclusive). */
  eventRange(filter: Pick<ListFilter, 'sinceMs' | 'untilMs'>): { lo: string; hi: string } {
    return {
      lo: eventSk(filter.sinceMs !== undefined ? ulidFloor(filter.sinceMs) : ''),
      hi: filter.untilMs !== undefined ? eventSk(ulidCeil(filter.untilMs)) : `${EVENT_PREFIX}~`,
    };
  }

  /**
   * One page of events in the range, newest first (`descending`) or oldest first, skipping expired ones,
   * starting after `afterSk` (which must lie inside the range: a 400 naming `query.cursor` otherwise).
   */
  async page(
    filter: ListFilter,
    options: { limit: number; afterSk?: string; descending: boolean },
  ): Promise<EventPage> {
    const { lo, hi } = this.eventRange(filter);
    if (options.afterSk !== undefined && !(options.afterSk >= lo && options.afterSk <= hi))
      throw new ValidationError([{ path: 'query.cursor', message: 'Cursor does not belong to this query' }]);
    const names: Record<string, string> = { '#ttl': 'ttl' };
    const values: Record<string, unknown> = {
      ':pk': this.logId,
      ':lo': lo,
      ':hi': hi,
      ':now': Math.floor(this.#now() / 1000),
    };
    const filters = ['#ttl > :now'];
    if (filter.action !== undefined) {
      names['#action'] = 'action';
      values[':action'] = filter.action;
      filters.push('#action = :action');
    }
    if (filter.actor !== undefined) {
      names['#actor'] = 'actor';
      values[':actor'] = filter.actor;
      filters.push('(#actor.userId = :actor OR #actor.apiKeyId = :actor)');
    }
    const items: StoredEventItem[] = [];
    let startKey: Record<string, unknown> | undefined =
      options.afterSk !== undefined ? { pk: this.logId, sk: options.afterSk } : undefined;
    let scanned = 0;
    let nextSk: string | undefined;
    const filtered = filter.action !== undefined || filter.actor !== undefined;
    for (;;) {
      const want = options.limit - items.length;
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: !options.descending,
          ExclusiveStartKey: startKey,
          // Without a filter, reading exactly what is missing makes LastEvaluatedKey the right cursor.
          Limit: filtered ? Math.max(want, 200) : want,
        }),
      );
      scanned += out.ScannedCount ?? 0;
      const got = (out.Items ?? []) as StoredEventItem[];
      if (got.length > want) {
        items.push(...got.slice(0, want));
        nextSk = items[items.length - 1]!.sk as string;
        break;
      }
      items.push(...got);
      startKey = out.LastEvaluatedKey;
      if (!startKey) break;
      if (items.length >= options.limit || scanned >= MAX_SCANNED_PER_REQUEST) {
        nextSk = startKey.sk as string;
        break;
      }
    }
    const sequences = await this.sequencesOf(items.map((item) => item.sk as string));
    return {
      items: items.map((item) => toView(item, sequences.get(item.sk as string) ?? null)),
      nextSk,
    };
  }

  /** Sequence numbers of events (by sort key), read from their markers in one range query. */
  async sequencesOf(eventSks: readonly string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (eventSks.length === 0) return result;
    const ulids = eventSks.map((sk) => sk.slice(EVENT_PREFIX.length)).sort();
    const wanted = new Set(ulids);
    for await (const item of queryAll(this.#db, {
      TableName: this.#chainTable,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: {
        ':pk': this.logId,
        ':lo': markSk(ulids[0]!),
        ':hi': markSk(ulids.at(-1)!),
      },
      ProjectionExpression: 'sk, seq',
    })) {
      const id = String(item.sk).slice(MARK_PREFIX.length);
      if (wanted.has(id) && typeof item.seq === 'number') result.set(eventSk(id), item.seq);
    }
    return result;
  }

  /** The HEAD item as stored (strongly consistent), its statement parsed but not yet authenticated. */
  async storedHead(): Promise<StoredHead> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#chainTable,
        Key: { pk: this.logId, sk: HEAD_SK },
        ConsistentRead: true,
      }),
    );
    return storedHeadOf(Item, this.logId);
  }

  /**
   * The log's head as the sequencer builds on it: EMPTY_HEAD before anything was chained. The statement is
   * not authenticated here (the sequencer checks its MAC before extending it).
   */
  async head(): Promise<{ head: ChainHead; exists: boolean; stored: StoredHead }> {
    const stored = await this.storedHead();
    if (!stored.exists) return { head: EMPTY_HEAD, exists: false, stored };
    return {
      exists: true,
      stored,
      head: stored.statement
        ? headOf(stored.statement)
        : { ...EMPTY_HEAD, seq: stored.claimedSeq ?? 0, hash: '' },
    };
  }

  /** Every CHECKPOINT item of the log (at most one a day, kept CHECKPOINT_RETENTION_DAYS). */
  async storedCheckpoints(): Promise<StoredCheckpoint[]> {
    const found: StoredCheckpoint[] = [];
    for await (const item of this.#query(this.#chainTable, CHECKPOINT_PREFIX, `${CHECKPOINT_PREFIX}~`))
      found.push(storedCheckpointOf(item, this.logId));
    return found;
  }

  /** One chain record as stored (strongly consistent). */
  async chainRecord(seq: number): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#chainTable,
        Key: { pk: this.logId, sk: chainSk(seq) },
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  /** Chain records from `fromSeq` to `toSeq` (inclusive; undefined: to the end), ascending. */
  async *chainRecords(fromSeq: number, toSeq?: number): AsyncGenerator<Record<string, unknown>> {
    if (toSeq !== undefined && toSeq < fromSeq) return;
    yield* this.#query(
      this.#chainTable,
      chainSk(Math.max(1, fromSeq)),
      toSeq !== undefined ? chainSk(toSeq) : `${CHAIN_PREFIX}~`,
    );
  }

  /**
   * Events from `fromUlid` on (ascending) that carry no chain marker: the pending events. Streams pages;
   * memory holds the window's markers (a grace window of ids, not the log).
   */
  async *unmarkedEvents(
    fromUlid: string,
    options: { projection?: boolean } = {},
  ): AsyncGenerator<StoredEventItem> {
    const marked = new Set<string>();
    for await (const item of this.#query(this.#chainTable, markSk(fromUlid), `${MARK_PREFIX}~`, 'sk'))
      marked.add(String(item.sk).slice(MARK_PREFIX.length));
    for await (const item of this.#query(
      this.#table,
      eventSk(fromUlid),
      `${EVENT_PREFIX}~`,
      options.projection ? 'sk, id, #ttl' : undefined,
    )) {
      if (!marked.has(String(item.sk).slice(EVENT_PREFIX.length))) yield item as StoredEventItem;
    }
  }

  async *#query(
    table: string,
    lo: string,
    hi: string,
    projection?: string,
  ): AsyncGenerator<Record<string, unknown>> {
    const input: QueryCommandInput = {
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':pk': this.logId, ':lo': lo, ':hi': hi },
      ConsistentRead: true,
    };
    if (projection) {
      input.ProjectionExpression = projection;
      if (projection.includes('#ttl')) input.ExpressionAttributeNames = { '#ttl': 'ttl' };
    }
    yield* queryAll(this.#db, input);
  }

  /** How many events wait for the sequencer, and how long the oldest has waited. */
  async pendingStatus(graceMs: number, head?: ChainHead): Promise<PendingStatus> {
    const current = head ?? (await this.head()).head;
    let pending = 0;
    let oldest: string | undefined;
    for await (const item of this.unmarkedEvents(pendingWindowStart(current, graceMs), {
      projection: true,
    })) {
      pending++;
      oldest ??= String(item.sk).slice(EVENT_PREFIX.length);
    }
    const age = oldest ? Math.max(0, Math.floor((this.#now() - ulidTimeMs(oldest)) / 1000)) : 0;
    return { pending, oldestPendingAgeSeconds: age };
  }

  /**
   * The bounded count the API answers with: events newer than the newest chained one (the head's
   * watermark), which are pending by definition, so no marker is read. One query of at most `cap` keys,
   * whatever the log's age or event rate; beyond `cap`, `pendingCapped` says `pending` is a lower bound.
   * An event that commits late (older than the watermark) is not counted here: the stream hands its id to
   * the sequencer, which chains it within seconds, and the daily job's window count (`pendingStatus`)
   * reports any that are left.
   */
  async pendingAfterHead(cap = PENDING_COUNT_CAP, head?: ChainHead): Promise<PendingStatus> {
    const current = head ?? (await this.head()).head;
    const after = eventSk(current.watermark);
    let pending = 0;
    let oldest: string | undefined;
    let capped = false;
    for await (const item of queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':pk': this.logId, ':lo': after, ':hi': `${EVENT_PREFIX}~` },
      ProjectionExpression: 'sk',
      ConsistentRead: true,
      // The watermark's own event is read too (BETWEEN is inclusive), and one more shows the cap was passed.
      Limit: cap + 2,
    })) {
      if (item.sk === after) continue;
      if (pending === cap) {
        capped = true;
        break;
      }
      pending++;
      oldest ??= String(item.sk).slice(EVENT_PREFIX.length);
    }
    const age = oldest ? Math.max(0, Math.floor((this.#now() - ulidTimeMs(oldest)) / 1000)) : 0;
    return { pending, oldestPendingAgeSeconds: age, ...(capped ? { pendingCapped: true } : {}) };
  }

  /**
   * Verifies the log against what the sequencer and the daily job authenticated (audit-verification.ts),
   * and reports what is pending: every unmarked event from `pendingWindowMs` before the watermark (the
   * daily job), or without it the bounded count of `pendingAfterHead` (a request). Needs the MAC verifier
   * (kms:VerifyMac on the audit MAC key).
   */
  async verify(
    options: ChainVerifyOptions & { pendingWindowMs?: number; pendingCountCap?: number },
  ): Promise<AuditVerifyReport> {
    if (!this.#mac) throw new Error('this audit reader has no MAC verifier: it cannot verify chains');
    const { pendingWindowMs, pendingCountCap, ...walk } = options;
    // Chain verification is loaded by the first verification, not with the reader: listing does not use it.
    const { verifyChain } = await import('./audit-verification.js');
    const outcome = await verifyChain(this, this.#mac, this.#now(), walk);
    const pending =
      pendingWindowMs === undefined
        ? await this.pendingAfterHead(pendingCountCap)
        : await this.pendingStatus(pendingWindowMs);
    return { ...outcome, ...pending };
  }

  /**
   * Events by id: one range query over the page's ids, then single reads for those not found in it (only
   * the `retained` ones, when given).
   */
  async eventsById(
    ids: readonly unknown[],
    retained?: ReadonlySet<string>,
  ): Promise<Map<string, StoredEventItem>> {
    const ulids: string[] = [];
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      try {
        ulids.push(eventUlid(id));
      } catch {
        // A malformed id in a (tampered) chain record: the walker reports it.
      }
    }
    const found = new Map<string, StoredEventItem>();
    if (ulids.length === 0) return found;
    ulids.sort();
    const wanted = new Set(ulids.map((u) => `e_${u}`));
    // A late event widens the range; cap what the range query reads and fetch the rest one by one.
    const cap = ulids.length * 4 + 50;
    let read = 0;
    for await (const item of this.#query(
      this.#table,
      eventSk(ulids[0]!),
      eventSk(ulids[ulids.length - 1]!),
    )) {
      if (wanted.has(String(item.id))) found.set(String(item.id), item as StoredEventItem);
      if (++read >= cap) break;
    }
    const missing = [...wanted].filter((id) => !found.has(id) && (!retained || retained.has(id)));
    await Promise.all(
      missing.map(async (id) => {
        const { Item } = await this.#db.send(
          new GetCommand({
            TableName: this.#table,
            Key: { pk: this.logId, sk: eventSk(eventUlid(id)) },
            ConsistentRead: true,
          }),
        );
        if (Item) found.set(id, Item as StoredEventItem);
      }),
    );
    return found;
  }
}
