import { createHmac, randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DEFAULT_GRACE_MS } from '../../shared/domain/audit-chain.js';
import type { AuditEventInput } from '../../shared/domain/audit-events.js';
import { newId } from '../../shared/domain/ids.js';
import { VERIFY_PAGE_RECORDS } from '../../shared/services/audit.js';
import { buildEventItem } from '../../shared/store/audit-event-item.js';
import { AuditLogReader } from '../../shared/store/audit-log-reader.js';
import { AuditSequencer } from '../../shared/store/audit-sequencer.js';
import { printWhenRunDirectly } from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * Audit work against the log's size (issue 12 item 4): for a log of 1k, 10k and 100k events, the items
 * DynamoDB returns to
 * - the pending status an audit list (and export, and a verification page) answers with: the bounded count
 *   after the chain's watermark, next to the 15-minute window it replaced;
 * - one run of the stream's sequencer for one new event (hinted, as the stream hands it over): no grace
 *   window, next to the 60-second window it replaced;
 * - one page of verification (VERIFY_PAGE_RECORDS records and their events).
 * The worst case for the windows: every event of the log was written in the last 14 minutes (a high event
 * rate), all chained but the newest ten. The tables are held in memory behind aws-sdk-client-mock and
 * answer like DynamoDB (key order, Limit, ExclusiveStartKey; projections and filters are not applied, so
 * counts are of items read, which is what DynamoDB bills). Run alone: `npx tsx bench/sections/audit-growth.ts`.
 */
export async function run(): Promise<BenchTable> {
  const rows: string[][] = [];
  for (const size of [1_000, 10_000, 100_000]) rows.push(...(await measure(size)));
  return {
    title: 'Audit work against the log’s size (items read; events all written in the last 14 minutes)',
    columns: ['events in log', 'measure', 'items read', 'before (window)', 'note'],
    rows,
  };
}

export const auditGrowthSection: BenchSection = { name: 'audit-growth', run };

const event = (n: number): AuditEventInput => ({
  action: 'connection.queried',
  actor: { userId: 'u_01jabcdefghjkmnpqrstvwxyz0', ip: '192.0.2.1', userAgent: 'bench/1.0' },
  resource: { type: 'connection', id: `c_${n}` },
  details: { n },
});

async function measure(size: number): Promise<string[][]> {
  const tables = new MemoryTables();
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddb = mockClient(db);
  ddb.on(QueryCommand).callsFake(async (input) => tables.query(input));
  ddb.on(GetCommand).callsFake(async (input) => tables.get(input));
  ddb.on(PutCommand).callsFake(async (input) => tables.put(input.TableName, input.Item));
  ddb.on(TransactWriteCommand).callsFake(async (input) => {
    for (const item of input.TransactItems ?? [])
      if (item.Put) tables.put(item.Put.TableName!, item.Put.Item!);
    return {};
  });
  // An in-process HMAC stands in for the audit MAC key in KMS.
  const key = randomBytes(32);
  const tag = (message: string) => createHmac('sha256', key).update(message).digest('base64');
  const mac = { generate: async (m: string) => tag(m), verify: async (m: string, t: string) => tag(m) === t };
  const logId = newId('t');
  const props = { client: db, tableName: 'events', chainTableName: 'chain', mac };
  try {
    // Prepare: `size` events over the last 14 minutes, all chained but the newest ten
    const start = Date.now() - 14 * 60_000;
    const step = (14 * 60_000 - 10_000) / size;
    for (let i = 0; i < size; i++) {
      if (i === size - 10) await new AuditSequencer({ ...props, maxBatchesPerRun: 10_000 }).sequence(logId);
      tables.put('events', buildEventItem(logId, event(i), 30, Math.floor(start + i * step)));
    }
    const reader = new AuditLogReader({ ...props, logId });

    const read = async (work: () => Promise<unknown>) => {
      tables.itemsRead = 0;
      await work();
      return tables.itemsRead;
    };
    const bounded = await read(() => reader.pendingAfterHead());
    const window = await read(() => reader.pendingStatus(DEFAULT_GRACE_MS));
    const verifyPage = await read(() => reader.verify({ from: 'start', maxRecords: VERIFY_PAGE_RECORDS }));
    // One new event, handed over by the stream; the newest ten are chained by the same run
    const fresh = buildEventItem(logId, event(size), 30, Date.now());
    tables.put('events', fresh);
    const snapshot = tables.snapshot();
    const streamRun = await read(() =>
      new AuditSequencer({ ...props, graceMs: 0 }).sequence(logId, { hints: [fresh.id] }),
    );
    tables.restore(snapshot);
    const streamRunBefore = await read(() =>
      new AuditSequencer({ ...props, graceMs: 60_000 }).sequence(logId, { hints: [fresh.id] }),
    );
    const n = size.toLocaleString('en-US');
    return [
      [
        n,
        'pending status (list, export, verify page)',
        String(bounded),
        String(window),
        'head + events after its watermark (at most 1,000)',
      ],
      [
        n,
        'stream sequencer run, 1 new event',
        String(streamRun),
        String(streamRunBefore),
        'chains 11 events (the newest ten were pending)',
      ],
      [
        n,
        `verification page (${VERIFY_PAGE_RECORDS} records)`,
        String(verifyPage),
        '—',
        'then a cursor; the bounded pending count included',
      ],
    ];
  } finally {
    ddb.restore();
  }
}

type Item = Record<string, unknown>;

/**
 * DynamoDB tables in memory, for the key-range queries the audit code makes: items per partition kept in
 * sort-key order (one sorted run per sort-key prefix up to its `#`, since every audit query stays within
 * one prefix and most writes append to theirs), Put as an upsert, Query with BETWEEN, ScanIndexForward,
 * Limit and ExclusiveStartKey, and a count of the items each call returns.
 */
class MemoryTables {
  itemsRead = 0;
  #runs = new Map<string, Item[]>();
  #dirty = new Set<Item[]>();

  put(table: string, item: Item): object {
    const items = this.#run(table, String(item.pk), String(item.sk));
    const sk = String(item.sk);
    const last = items.at(-1);
    if (!last || String(last.sk) < sk) items.push(item);
    else {
      const sorted = this.#sortedRun(items);
      const at = lowerBound(sorted, sk);
      if (sorted[at] && String(sorted[at]!.sk) === sk) sorted[at] = item;
      else {
        sorted.push(item);
        this.#dirty.add(sorted);
      }
    }
    return {};
  }

  get(input: { TableName?: string; Key?: Item }): { Item?: Item } {
    const sk = String(input.Key!.sk);
    const items = this.#sortedRun(this.#run(input.TableName!, String(input.Key!.pk), sk));
    const item = items[lowerBound(items, sk)];
    if (item && item.sk === sk) {
      this.itemsRead++;
      return { Item: item };
    }
    return {};
  }

  query(input: {
    TableName?: string;
    KeyConditionExpression?: string;
    ExpressionAttributeValues?: Record<string, unknown>;
    ScanIndexForward?: boolean;
    Limit?: number;
    ExclusiveStartKey?: Item;
  }): { Items: Item[]; Count: number; ScannedCount: number; LastEvaluatedKey?: Item } {
    const values = input.ExpressionAttributeValues ?? {};
    if (!(input.KeyConditionExpression ?? '').includes('BETWEEN'))
      throw new Error(`bench tables: unsupported key condition ${input.KeyConditionExpression}`);
    const lo = String(values[':lo']);
    const hi = String(values[':hi']);
    if (prefixOf(lo) !== prefixOf(hi)) throw new Error(`bench tables: a range across prefixes ${lo}..${hi}`);
    const items = this.#sortedRun(this.#run(input.TableName!, String(values[':pk']), lo));
    const limit = input.Limit ?? 1000;
    const out: Item[] = [];
    if (input.ScanIndexForward !== false) {
      const from = input.ExclusiveStartKey ? `${String(input.ExclusiveStartKey.sk)}\u0000` : lo;
      for (let i = lowerBound(items, from); i < items.length && String(items[i]!.sk) <= hi; i++) {
        if (out.length === limit) break;
        out.push(items[i]!);
      }
    } else {
      const from = input.ExclusiveStartKey ? String(input.ExclusiveStartKey.sk) : `${hi}\u0000`;
      for (let i = lowerBound(items, from) - 1; i >= 0 && String(items[i]!.sk) >= lo; i--) {
        if (out.length === limit) break;
        out.push(items[i]!);
      }
    }
    this.itemsRead += out.length;
    return {
      Items: out,
      Count: out.length,
      ScannedCount: out.length,
      ...(out.length === limit ? { LastEvaluatedKey: { pk: values[':pk'], sk: out.at(-1)!.sk } } : {}),
    };
  }

  snapshot(): Map<string, Item[]> {
    return new Map([...this.#runs].map(([key, items]) => [key, [...this.#sortedRun(items)]]));
  }

  restore(snapshot: Map<string, Item[]>): void {
    this.#runs = snapshot;
    this.#dirty.clear();
  }

  #run(table: string, pk: string, sk: string): Item[] {
    const key = `${table}\u0000${pk}\u0000${prefixOf(sk)}`;
    let items = this.#runs.get(key);
    if (!items) this.#runs.set(key, (items = []));
    return items;
  }

  #sortedRun(items: Item[]): Item[] {
    if (this.#dirty.delete(items)) items.sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1));
    return items;
  }
}

const prefixOf = (sk: string) => (sk.includes('#') ? sk.slice(0, sk.indexOf('#') + 1) : sk);

function lowerBound(items: readonly Item[], sk: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (String(items[mid]!.sk) < sk) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

await printWhenRunDirectly(import.meta, run);
