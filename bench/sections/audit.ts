import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { freePort, resetMoto, startMoto } from '../../infra/local/moto.js';
import { provisionLocal } from '../../infra/local/provision.js';
import { applyEnvironment, PROJECT_ROOT } from '../../infra/local/system.js';
import {
  appendToChain,
  chainSk,
  EMPTY_HEAD,
  macMessage,
  type StoredEventItem,
} from '../../shared/domain/audit-chain.js';
import type { AuditEventInput } from '../../shared/domain/audit-events.js';
import { newId } from '../../shared/domain/ids.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import { AuditService } from '../../shared/services/audit.js';
import { buildEventItem } from '../../shared/store/audit-event-item.js';
import { AuditSequencer, auditSequencerFor, MAX_BATCH } from '../../shared/store/audit-sequencer.js';
import { AuditStore } from '../../shared/store/audit-store.js';
import { storedHeadOf, verifyChain } from '../../shared/store/audit-verification.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * Audit bench:
 * 1. Append throughput for one tenant with 1, 10 and 100 concurrent writers against the local emulator:
 *    `AuditStore.record` (event built, canonicalised, conditional Put through the tenant-scoped client) vs a
 *    plain conditional Put of a prebuilt item with the same client. Writers never share an item, so the
 *    ratio is our own overhead; the emulator is single-process Python, so absolute rates are its, not AWS's.
 * 2. Sequencing: the sequencer's own cost per event (hashing, canonical JSON, transaction building) with
 *    every AWS call answered at once by aws-sdk-client-mock, and the lag from a burst of one full batch to
 *    its chaining on the emulator (whose TransactWriteItems copies the whole table per item, so this lag is
 *    an upper bound there, not a DynamoDB figure).
 * 3. Verification's own cost per record (hashing, canonical JSON, walking) with AWS mocked, and the MAC
 *    checks an intact chain costs.
 * 4. Export memory for 100,000 events: the CSV export reading 500-event pages from a mocked table, once
 *    with the response caps (50,000 rows / 5 MiB per response, continued by cursor) and once uncapped;
 *    peak heap growth over the starting heap.
 * Run alone with `npx tsx bench/sections/audit.ts` (about a minute on 2 cores).
 */
export async function run(): Promise<BenchTable> {
  const rows: string[][] = [];
  const port = await freePort();
  const moto = await startMoto({ projectRoot: PROJECT_ROOT, port });
  try {
    const env = await provisionLocal({ endpoint: moto.endpoint, region: 'us-east-1', stage: 'bench' });
    applyEnvironment(env);
    rows.push(...(await appendThroughput()));
    await resetMoto(moto.endpoint);
    applyEnvironment(await provisionLocal({ endpoint: moto.endpoint, region: 'us-east-1', stage: 'bench' }));
    rows.push(await sequencingLag());
  } finally {
    await moto.stop();
  }
  rows.push(await sequencerCpu());
  rows.push(await verifierCpu());
  rows.push(...(await exportMemory()));
  return { title: 'Audit log', columns: ['measure', 'value', 'note'], rows };
}

const event = (n: number): AuditEventInput => ({
  action: 'connection.queried',
  actor: { userId: 'u_01jabcdefghjkmnpqrstvwxyz0', ip: '192.0.2.1', userAgent: 'bench/1.0' },
  resource: { type: 'connection', id: `c_${n}` },
  details: { table: 'orders', rows: n, columns: ['id', 'total', 'customer'] },
});

async function appendThroughput(): Promise<string[][]> {
  const { tenantDataClientsFor } = await import('../../shared/store/tenant-data-client.js');
  const { functionRuntime } = await import('../../shared/aws/runtime.js');
  const tenantClients = tenantDataClientsFor(functionRuntime());
  const store = new AuditStore({
    tableName: process.env.AUDIT_TABLE!,
    chainTableName: process.env.AUDIT_CHAIN_TABLE!,
    tenantClients,
    platformClient: functionRuntime().dynamo,
  });
  const scope = mintTenantScope({ tenantId: newId('t'), userId: newId('u') });
  const db = await tenantClients.forScope(scope);
  const total = 400;
  const rate = async (writers: number, append: (n: number) => Promise<unknown>) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) await append(next++);
      }),
    );
    return total / ((performance.now() - started) / 1000);
  };
  await rate(10, (n) => store.record(scope, event(n))); // warm up credentials and connections
  const out: string[][] = [];
  for (const writers of [1, 10, 100]) {
    const ours = await rate(writers, (n) => store.record(scope, event(n)));
    const plain = await rate(writers, (n) =>
      db.send(
        new PutCommand({
          TableName: process.env.AUDIT_TABLE!,
          Item: buildEventItem(scope.tenantId, event(n), 30, Date.now()),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    out.push([
      `append, ${writers} writer${writers > 1 ? 's' : ''} (events/s)`,
      `${ours.toFixed(0)} vs ${plain.toFixed(0)} plain (${(ours / plain).toFixed(2)}×)`,
      `${total} events, one tenant, emulator`,
    ]);
  }
  return out;
}

async function sequencingLag(): Promise<string[]> {
  const { tenantDataClientsFor } = await import('../../shared/store/tenant-data-client.js');
  const { functionRuntime } = await import('../../shared/aws/runtime.js');
  const store = new AuditStore({
    tableName: process.env.AUDIT_TABLE!,
    chainTableName: process.env.AUDIT_CHAIN_TABLE!,
    tenantClients: tenantDataClientsFor(functionRuntime()),
    platformClient: functionRuntime().dynamo,
  });
  // The real sequencer: emulator DynamoDB and the emulator's KMS HMAC key.
  const sequencer = auditSequencerFor(functionRuntime());
  const scope = mintTenantScope({ tenantId: newId('t'), userId: newId('u') });
  const lags: number[] = [];
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: MAX_BATCH }, (_, i) => store.record(scope, event(i))));
    const appended = performance.now();
    const report = await sequencer.sequence(scope.tenantId);
    if (report.pending !== 0) throw new Error('bench: events left pending');
    lags.push(performance.now() - appended);
  }
  lags.sort((a, b) => a - b);
  return [
    `sequencing lag, burst of ${MAX_BATCH} (ms)`,
    lags[1]!.toFixed(0),
    'median of 3, one transaction, emulator',
  ];
}

async function sequencerCpu(): Promise<string[]> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddb = mockClient(db);
  const logId = newId('t');
  const events = Array.from({ length: 4900 }, (_, i) => buildEventItem(logId, event(i), 30, Date.now() + i));
  ddb
    .on(QueryCommand)
    .callsFake(async (input) =>
      String(input.ExpressionAttributeValues[':lo']).startsWith('EVENT#') && !input.ProjectionExpression
        ? { Items: events }
        : { Items: [] },
    );
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  // HMAC in process stands in for KMS GenerateMac, as the mock stands in for DynamoDB.
  const key = randomBytes(32);
  const mac = {
    generate: async (message: string) => createHmac('sha256', key).update(message).digest('base64'),
    verify: async (message: string, tag: string) =>
      createHmac('sha256', key).update(message).digest('base64') === tag,
  };
  const sequencer = new AuditSequencer({
    client: db,
    tableName: 'bench',
    chainTableName: 'bench-chain',
    mac,
  });
  const started = performance.now();
  const report = await sequencer.sequence(logId);
  const seconds = (performance.now() - started) / 1000;
  ddb.restore();
  return [
    'sequencer own cost (events/s)',
    (report.sequenced / seconds).toFixed(0),
    `${report.sequenced} events, ${report.batches} transactions, AWS mocked`,
  ];
}

/**
 * Verification's own cost: a 9,800-record chain (200 full batches, each sealed) held in memory, walked and
 * proven by verifyChain, with an in-process HMAC standing in for KMS VerifyMac; and how many MAC checks an
 * intact chain needs (one: the head).
 */
async function verifierCpu(): Promise<string[]> {
  const logId = newId('t');
  const key = randomBytes(32);
  const tag = (message: string) => createHmac('sha256', key).update(message).digest('base64');
  let checks = 0;
  const mac = {
    verify: async (message: string, t: string) => {
      checks++;
      return tag(message) === t;
    },
  };
  const records = new Map<number, Record<string, unknown>>();
  const events = new Map<string, StoredEventItem>();
  let head = EMPTY_HEAD;
  let headItem: Record<string, unknown> | undefined;
  const start = Date.now();
  for (let b = 0; b < 200; b++) {
    const batch = Array.from({ length: MAX_BATCH }, (_, i) =>
      buildEventItem(logId, event(b * MAX_BATCH + i), 30, start + b * MAX_BATCH + i),
    );
    const next = appendToChain(head, logId, batch, start + b);
    const seal = { ...next.statement, mac: tag(macMessage(next.statement)) };
    for (const e of batch) events.set(e.id, e);
    next.records.forEach((r, i) => {
      records.set(r.seq, { sk: chainSk(r.seq), ...r, ...(i === next.records.length - 1 ? { seal } : {}) });
    });
    head = next.head;
    headItem = seal;
  }
  const source = {
    logId,
    storedHead: async () => storedHeadOf(headItem, logId),
    storedCheckpoints: async () => [],
    chainRecord: async (seq: number) => records.get(seq),
    async *chainRecords(from: number, to?: number) {
      for (let seq = from; seq <= (to ?? records.size); seq++) if (records.has(seq)) yield records.get(seq)!;
    },
    eventsById: async (ids: readonly unknown[]) =>
      new Map(ids.map((id) => [String(id), events.get(String(id))!] as const)),
  };
  const started = performance.now();
  const outcome = await verifyChain(source, mac, start + 1000);
  const seconds = (performance.now() - started) / 1000;
  if (!outcome.ok) throw new Error('bench: the chain did not verify');
  return [
    'verification own cost (records/s)',
    (outcome.checked / seconds).toFixed(0),
    `${outcome.checked} records and events, ${checks} MAC check${checks === 1 ? '' : 's'}, AWS mocked`,
  ];
}

export async function exportMemory(): Promise<string[][]> {
  const total = 100_000;
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddb = mockClient(db);
  const scope = mintTenantScope({ tenantId: newId('t'), userId: newId('u') });
  const start = Date.now() - 10 * 86_400_000;
  // Pages are generated on demand: event n has time start + n seconds, so a cursor maps back to n.
  const page = (from: number, limit: number) =>
    Array.from({ length: Math.max(0, Math.min(limit, total - from)) }, (_, i) =>
      buildEventItem(scope.tenantId, event(from + i), 30, start + (from + i) * 1000),
    );
  const indexOf = (sk: string) => Math.round((ulidMs(sk.slice(6)) - start) / 1000) + 1;
  ddb.on(PutCommand).resolves({});
  ddb.on(GetCommand).resolves({});
  let onPage = () => {};
  ddb.on(QueryCommand).callsFake(async (input) => {
    // The mock's call history would keep every page alive and measure itself.
    queueMicrotask(() => ddb.resetHistory());
    const lo = String(input.ExpressionAttributeValues[':lo']);
    if (!lo.startsWith('EVENT#') || input.ProjectionExpression) return { Items: [] };
    onPage();
    const from = input.ExclusiveStartKey ? indexOf(String(input.ExclusiveStartKey.sk)) : 0;
    const items = page(from, input.Limit ?? 500);
    const done = from + items.length >= total;
    return {
      Items: items,
      ScannedCount: items.length,
      LastEvaluatedKey: done ? undefined : { pk: items.at(-1)!.pk, sk: items.at(-1)!.sk },
    };
  });
  const store = new AuditStore({
    tableName: 'bench',
    chainTableName: 'bench-chain',
    tenantClients: { forScope: async () => db },
    platformClient: db,
  });
  const caller = {
    access: { scope, roleCeiling: 'admin' as const, permissions: new Set<any>(['audit:export']) },
    principal: { kind: 'session' as const, userId: scope.userId, credentialId: 's', mfaEnabled: false },
    ip: '192.0.2.1',
    userAgent: 'bench',
  };
  // Live heap (after a full collection) sampled at every page read and every response: the peak of what
  // the export holds, not of garbage waiting for the collector.
  const gc = collector();
  const measure = async (service: AuditService) => {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sample = () => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    };
    onPage = sample;
    let rowsOut = 0;
    let responses = 0;
    let biggest = 0;
    let cursor: string | undefined;
    const started = performance.now();
    const since = new Date(start - 1000).toISOString();
    const until = new Date().toISOString();
    do {
      const result = await service.exportCsv(caller, { since, until, cursor });
      sample();
      rowsOut += result.rows;
      biggest = Math.max(biggest, result.csv.length);
      responses++;
      cursor = result.nextCursor;
    } while (cursor);
    onPage = () => {};
    return {
      rowsOut,
      responses,
      biggest,
      peakMiB: (peak - base) / 2 ** 20,
      seconds: (performance.now() - started) / 1000,
    };
  };
  const capped = await measure(new AuditService({ store }));
  const uncapped = await measure(
    new AuditService({ store, maxExportRows: total + 1, maxExportBytes: 2 ** 30 }),
  );
  ddb.restore();
  const line = (label: string, m: Awaited<ReturnType<typeof measure>>) => [
    label,
    `${m.peakMiB.toFixed(1)} MiB peak live heap`,
    `${m.rowsOut} rows in ${m.responses} response(s), largest body ${(m.biggest / 2 ** 20).toFixed(1)} MiB, ${m.seconds.toFixed(1)} s`,
  ];
  return [
    line('export 100,000 events, capped (default)', capped),
    line('export 100,000 events, uncapped', uncapped),
  ];
}

/** A full garbage collection, also when node was started without --expose-gc. */
function collector(): () => void {
  if (typeof global.gc === 'function') return global.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function ulidMs(ulid: string): number {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  let ms = 0;
  for (const ch of ulid.slice(0, 10)) ms = ms * 32 + alphabet.indexOf(ch);
  return ms;
}

export const auditSection: BenchSection = { name: 'audit', slow: true, run: () => run() };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const table = await run();
  console.log(`## ${table.title}\n`);
  console.log(`| ${table.columns.join(' | ')} |\n|${table.columns.map(() => '---').join('|')}|`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}
