import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { platformDynamo } from '../aws/clients.js';
import { requireEnv } from '../aws/config.js';
import type { ChainMacVerifier } from '../crypto/chain-mac.js';
import {
  CHAIN_PREFIX,
  CHECKPOINT_PREFIX,
  type ChainHead,
  canonicalJson,
  chainSk,
  EMPTY_HEAD,
  EVENT_PREFIX,
  eventSk,
  eventUlid,
  HEAD_SK,
  headOf,
  MARK_PREFIX,
  markSk,
  PLATFORM_RETENTION_DAYS,
  pendingWindowStart,
  retentionDaysFor,
  type StoredEventItem,
  seqOfChainSk,
  ttlFor,
  ulidCeil,
  ulidFloor,
  ulidTimeMs,
  wellFormed,
} from '../domain/audit-chain.js';
import {
  AUDIT_ACTIONS,
  type AuditEventInput,
  type AuditEventView,
  PLATFORM_LOG_ID,
} from '../domain/audit-events.js';
import { ulid } from '../domain/ids.js';
import type { Plan } from '../domain/plans.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { ValidationError } from '../errors.js';
import type { AuditRecorder, TransactItem } from './audit-recorder.js';
import {
  type ChainSource,
  type ChainVerifyOptions,
  type ChainVerifyOutcome,
  type StoredCheckpoint,
  type StoredHead,
  storedCheckpointOf,
  storedHeadOf,
  verifyChain,
} from './audit-verification.js';
import { decodeCursor, encodeCursor, queryAll } from './pagination.js';
import type { TenantDataClients } from './tenant-data-client.js';

/** Largest canonical size of one event's content; far below DynamoDB's 400 KB item limit. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** Thrown when an audit event cannot be recorded as given (a programming error, not bad user input). */
export class AuditEventInvalidError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'AuditEventInvalidError';
  }
}

/** Per-write options: the tenant's plan sets the event's TTL (the scope's plan when not given). */
export interface AuditWriteOptions {
  plan?: Plan;
}

export interface PendingStatus {
  pending: number;
  oldestPendingAgeSeconds: number;
}

export interface AuditVerifyReport extends ChainVerifyOutcome, PendingStatus {}

// ---------------------------------------------------------------------------------------------------------
// Append notifications: the in-process (local mode, tests) sequencer learns which logs have new events.
// In Lambda nobody listens and the table's stream drives the sequencer instead.

type AppendListener = (logId: string) => void;
const appendListeners = new Set<AppendListener>();
const recentlyAppended = new Set<string>();
const RECENT_LIMIT = 1000;

function notifyAppend(logId: string): void {
  if (recentlyAppended.size >= RECENT_LIMIT) recentlyAppended.clear();
  recentlyAppended.add(logId);
  for (const listener of appendListeners) listener(logId);
}

/** Subscribes to appends made in this process; returns the logs appended to before, and an unsubscribe. */
export function onAuditAppend(listener: AppendListener): { earlier: string[]; unsubscribe: () => void } {
  appendListeners.add(listener);
  return { earlier: [...recentlyAppended], unsubscribe: () => appendListeners.delete(listener) };
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Builds the stored item of an event: id and time from one ULID, TTL from the retention. */
export function buildEventItem(
  logId: string,
  input: AuditEventInput,
  retentionDays: number,
  nowMs: number,
): StoredEventItem {
  if (!(AUDIT_ACTIONS as readonly string[]).includes(input.action))
    throw new AuditEventInvalidError(`unknown audit action ${String(input.action)}`);
  const id = ulid(nowMs);
  const actor = input.actor;
  const content = wellFormed({
    id: `e_${id}`,
    logId,
    time: new Date(nowMs).toISOString(),
    action: input.action,
    actor: {
      ...(actor.userId !== undefined ? { userId: String(actor.userId) } : {}),
      ...(actor.apiKeyId !== undefined ? { apiKeyId: String(actor.apiKeyId) } : {}),
      ip: String(actor.ip ?? ''),
      userAgent: String(actor.userAgent ?? ''),
    },
    resource: { type: String(input.resource.type), id: String(input.resource.id) },
    ...(input.details !== undefined ? { details: input.details } : {}),
    ttl: ttlFor(nowMs, retentionDays),
  });
  let size: number;
  try {
    size = Buffer.byteLength(canonicalJson(content), 'utf8');
  } catch (error) {
    throw new AuditEventInvalidError(
      `audit event details cannot be stored: ${(error as Error).message}`,
      error,
    );
  }
  if (size > MAX_EVENT_BYTES)
    throw new AuditEventInvalidError(`audit event is larger than ${MAX_EVENT_BYTES} bytes`);
  return { pk: logId, sk: eventSk(id), ...content } as StoredEventItem;
}

export interface AuditStoreProps {
  /** The audit (events) table. */
  tableName: string;
  /** The audit chain table (read only here: only the sequencer and the daily job write it). */
  chainTableName: string;
  /** Scoped clients: tenant events are written and read with credentials limited to the tenant's partition. */
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  /** Function-role client, only for the platform log (which belongs to no tenant). */
  platformClient: DynamoDBDocumentClient;
  /** Checks head and checkpoint MACs when verifying (kms:VerifyMac); readers without it cannot verify. */
  mac?: ChainMacVerifier;
  now?: () => number;
}

/**
 * The audit store: appends events (conditional Put only, never an update or delete) and reads, exports
 * and verifies a tenant's log through the tenant's scoped credentials.
 */
export class AuditStore implements AuditRecorder {
  readonly #props: AuditStoreProps;
  readonly #now: () => number;

  constructor(props: AuditStoreProps) {
    this.#props = props;
    this.#now = props.now ?? Date.now;
  }

  #tenantItem(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): StoredEventItem {
    // The scope carries the plan its minter read; unknown plans keep events the longest.
    const plan = options?.plan ?? scope.plan;
    return buildEventItem(scope.tenantId, event, retentionDaysFor(plan), this.#now());
  }

  #put(item: StoredEventItem) {
    return {
      TableName: this.#props.tableName,
      Item: item,
      // Append-only: an event id is written once and never overwritten.
      ConditionExpression: 'attribute_not_exists(pk)',
    };
  }

  /** A conditional Put of the event, to include in the audited change's TransactWriteItems. */
  auditPut(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): TransactItem {
    const item = this.#tenantItem(scope, event, options);
    notifyAppend(scope.tenantId);
    return { Put: this.#put(item) };
  }

  /** Appends a tenant event on its own, with the tenant's scoped credentials; returns its id. */
  async record(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): Promise<void> {
    await this.recordWithId(scope, event, options);
  }

  /** Like `record`, returning the new event's id. */
  async recordWithId(
    scope: TenantScope,
    event: AuditEventInput,
    options?: AuditWriteOptions,
  ): Promise<string> {
    const item = this.#tenantItem(scope, event, options);
    const db = await this.#props.tenantClients.forScope(scope);
    notifyAppend(scope.tenantId);
    await db.send(new PutCommand(this.#put(item)));
    return item.id;
  }

  /** Appends an event to the platform log. */
  async recordPlatform(event: AuditEventInput): Promise<void> {
    const item = buildEventItem(PLATFORM_LOG_ID, event, PLATFORM_RETENTION_DAYS, this.#now());
    notifyAppend(PLATFORM_LOG_ID);
    await this.#props.platformClient.send(new PutCommand(this.#put(item)));
  }

  /** A conditional Put into the platform log for a platform-side transaction. */
  platformPut(event: AuditEventInput): TransactItem {
    const item = buildEventItem(PLATFORM_LOG_ID, event, PLATFORM_RETENTION_DAYS, this.#now());
    notifyAppend(PLATFORM_LOG_ID);
    return { Put: this.#put(item) };
  }

  /** A reader of the tenant's log with the tenant's scoped credentials. */
  async readerFor(scope: TenantScope): Promise<AuditLogReader> {
    const db = await this.#props.tenantClients.forScope(scope);
    return new AuditLogReader({
      client: db,
      tableName: this.#props.tableName,
      chainTableName: this.#props.chainTableName,
      logId: scope.tenantId,
      mac: this.#props.mac,
      now: this.#now,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading

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
   * Verifies the log against what the sequencer and the daily job authenticated (audit-verification.ts),
   * and reports what is pending. Needs the MAC verifier (kms:VerifyMac on the audit MAC key).
   */
  async verify(options: ChainVerifyOptions & { graceMs: number }): Promise<AuditVerifyReport> {
    if (!this.#mac) throw new Error('this audit reader has no MAC verifier: it cannot verify chains');
    const { graceMs, ...walk } = options;
    const outcome = await verifyChain(this, this.#mac, this.#now(), walk);
    const pending = await this.pendingStatus(graceMs);
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

/** The API view of a stored event. */
export function toView(item: StoredEventItem, sequence: number | null): AuditEventView {
  const view: AuditEventView = {
    id: item.id,
    time: String(item.time),
    action: String(item.action),
    actor: item.actor as AuditEventView['actor'],
    resource: item.resource as AuditEventView['resource'],
    sequence,
  };
  if (item.details !== undefined) view.details = item.details as Record<string, unknown>;
  return view;
}

/**
 * The recorder every area uses, built from the environment at call time (call it at module scope in a
 * handler). Takes the function's one TenantDataClients so all of a function's tenant credentials share
 * one cache.
 */
export function auditRecorderFromEnv(deps: {
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  platformClient?: DynamoDBDocumentClient;
  /** Only where chains are verified (the audit function): its role may call kms:VerifyMac. */
  mac?: ChainMacVerifier;
  env?: NodeJS.ProcessEnv;
}): AuditStore {
  return new AuditStore({
    tableName: requireEnv('auditTable', deps.env),
    chainTableName: requireEnv('auditChainTable', deps.env),
    tenantClients: deps.tenantClients,
    platformClient: deps.platformClient ?? platformDynamo(),
    mac: deps.mac,
  });
}
