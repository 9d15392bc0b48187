import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient, functionRuntime } from '../../../shared/aws/runtime.js';
import { chainSk, eventSk, ulidFloor, ulidTimeMs } from '../../../shared/domain/audit-chain.js';
import { PLATFORM_LOG_ID } from '../../../shared/domain/audit-events.js';
import { buildEventItem } from '../../../shared/store/audit-event-item.js';
import type { AuditSequencer } from '../../../shared/store/audit-sequencer.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import {
  expectChainOf,
  itemsOf,
  newScope,
  provisionedAuditStore,
  provisionedSequencer,
  sampleEvent,
} from './support.js';

let db: DynamoDBDocumentClient;

/** A client of its own (not the runtime's shared one): the crash tests add middleware to theirs. */
const ownClient = () => documentClient(new DynamoDBClient(functionRuntime().clientConfig()));
let store: AuditStore;

beforeAll(() => {
  db = ownClient();
  store = provisionedAuditStore();
});

// Small batches: the emulator copies the whole table for every item of a transaction, so big batches on
// a growing table are slow there (not in DynamoDB). The batch limit itself is tested with MAX_BATCH.
function sequencer(client: DynamoDBDocumentClient = ownClient(), graceMs?: number, batchSize = 10) {
  return provisionedSequencer({ client, graceMs, batchSize });
}

/** Fails the `nth` sequencing transaction: before it reaches DynamoDB, or after it committed. */
function crashOnTransaction(client: DynamoDBDocumentClient, nth: number, when: 'before' | 'after') {
  let seen = 0;
  client.middlewareStack.add(
    (next) => async (args: any) => {
      if (!args.input?.TransactItems) return next(args);
      seen++;
      if (seen !== nth) return next(args);
      if (when === 'before') throw new Error('crash before the transaction');
      await next(args);
      throw new Error('crash after the transaction committed');
    },
    { step: 'initialize', name: 'crashOnTransaction' },
  );
}

describe('audit sequencer against the emulator', () => {
  it('does nothing when the same batch is sequenced twice', async () => {
    // Prepare
    const scope = newScope();
    for (let i = 0; i < 5; i++) await store.record(scope, sampleEvent(i));
    const first = await sequencer().sequence(scope.tenantId);

    // Act
    const second = await sequencer().sequence(scope.tenantId);

    // Assess
    expect(first.sequenced).toBe(5);
    expect(second).toMatchObject({ sequenced: 0, batches: 0, head: first.head });
    await expectChainOf(db, scope.tenantId, 5);
  });

  it('chains every event once when two sequencers overlap on one log', async () => {
    // Prepare: sequencer B runs to completion in the middle of A's run, after A read the log and before
    // A's transaction (deterministic interleaving: the emulator's transactions are not isolated from
    // each other when they really run at once, DynamoDB's are).
    const scope = newScope();
    await Promise.all(Array.from({ length: 60 }, (_, i) => store.record(scope, sampleEvent(i))));
    const clientA = ownClient();
    const b = sequencer();
    const bReports: Awaited<ReturnType<AuditSequencer['sequence']>>[] = [];
    let transactions = 0;
    clientA.middlewareStack.add(
      (next) => async (args: any) => {
        if (args.input?.TransactItems && ++transactions === 2) {
          for (let i = 60; i < 75; i++) await store.record(scope, sampleEvent(i));
          bReports.push(await b.sequence(scope.tenantId));
        }
        return next(args);
      },
      { step: 'initialize', name: 'overlap' },
    );

    // Act
    const a = await sequencer(clientA).sequence(scope.tenantId);

    // Assess: A's stale batch was refused, A started again from B's head, nothing was chained twice.
    expect(bReports).toHaveLength(1);
    expect(a.conflicts).toBe(1);
    expect(a.sequenced + bReports[0]!.sequenced).toBe(75);
    expect(a.head.seq).toBe(75);
    await expectChainOf(db, scope.tenantId, 75);
    expect((await (await store.readerFor(scope)).verify({ pendingWindowMs: 60_000 })).ok).toBe(true);
  });

  it('refuses to extend a head that disagrees with its chain record, writing nothing', async () => {
    // Prepare: someone rewrites the chain record the head points at just before this sequencer's
    // transaction (after the sequencer checked the MAC of the head it read).
    const scope = newScope();
    for (let i = 0; i < 3; i++) await store.record(scope, sampleEvent(i));
    await sequencer().sequence(scope.tenantId);
    for (let i = 3; i < 6; i++) await store.record(scope, sampleEvent(i));
    const client = ownClient();
    let interfered = false;
    client.middlewareStack.add(
      (next) => async (args: any) => {
        if (args.input?.TransactItems && !interfered) {
          interfered = true;
          const [record] = await itemsOf(db, scope.tenantId, chainSk(3));
          await db.send(
            new PutCommand({
              TableName: process.env.AUDIT_CHAIN_TABLE!,
              Item: { ...record, hash: 'f'.repeat(64) },
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'moveHead' },
    );

    // Act: the head now disagrees with chain record 3, so no batch may commit on it.
    const run = sequencer(client).sequence(scope.tenantId);

    // Assess
    await expect(run).rejects.toThrow(/stored chain is inconsistent at 3/);
    expect((await itemsOf(db, scope.tenantId, 'CHAIN#')).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await itemsOf(db, scope.tenantId, 'MARK#')).toHaveLength(3);
  });

  it.each(['before', 'after'] as const)(
    'recovers from a crash %s the second batch transaction, chaining each event once',
    async (when) => {
      // Prepare
      const scope = newScope();
      await Promise.all(Array.from({ length: 35 }, (_, i) => store.record(scope, sampleEvent(i))));
      const crashing = ownClient();
      crashOnTransaction(crashing, 2, when);

      // Act
      const crashed = sequencer(crashing).sequence(scope.tenantId);
      await expect(crashed).rejects.toThrow(/crash/);
      const afterCrash = (await itemsOf(db, scope.tenantId, 'CHAIN#')).length;
      const retry = await sequencer().sequence(scope.tenantId);

      // Assess
      expect(afterCrash).toBe(when === 'before' ? 10 : 20);
      expect(retry.sequenced).toBe(35 - afterCrash);
      await expectChainOf(db, scope.tenantId, 35);
      expect((await (await store.readerFor(scope)).verify({ pendingWindowMs: 60_000 })).ok).toBe(true);
    },
  );

  it('chains an event that commits late with an id older than the watermark', async () => {
    // Prepare: the writer took the event's id five minutes ago; newer events were chained meanwhile.
    const scope = newScope();
    const lateItem = buildEventItem(scope.tenantId, sampleEvent(99), 30, Date.now() - 5 * 60_000);
    for (let i = 0; i < 3; i++) await store.record(scope, sampleEvent(i));
    const seq = sequencer();
    await seq.sequence(scope.tenantId);
    await db.send(
      new PutCommand({
        TableName: process.env.AUDIT_TABLE!,
        Item: lateItem,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );

    // Act
    const report = await seq.sequence(scope.tenantId);

    // Assess
    expect(report).toMatchObject({ sequenced: 1, pending: 0, head: { seq: 4 } });
    const { chain } = await expectChainOf(db, scope.tenantId, 4);
    expect(chain[3]!.eventId).toBe(lateItem.id);
    expect((await (await store.readerFor(scope)).verify({ pendingWindowMs: 15 * 60_000 })).ok).toBe(true);
  });

  it('never skips an event later than the grace window: the stream hint and the sweep find it', async () => {
    // Prepare: an id older than the watermark minus the grace window.
    const scope = newScope();
    for (let i = 0; i < 2; i++) await store.record(scope, sampleEvent(i));
    const seq = sequencer(ownClient(), 60_000);
    await seq.sequence(scope.tenantId);
    const late1 = buildEventItem(scope.tenantId, sampleEvent(98), 30, Date.now() - 10 * 60_000);
    const late2 = buildEventItem(scope.tenantId, sampleEvent(97), 30, Date.now() - 20 * 60_000);
    for (const item of [late1, late2])
      await db.send(new PutCommand({ TableName: process.env.AUDIT_TABLE!, Item: item }));
    expect(ulidTimeMs(late1.id.slice(2))).toBeLessThan(Date.now() - 60_000);

    // Act
    const plain = await seq.sequence(scope.tenantId);
    const hinted = await seq.sequence(scope.tenantId, { hints: [late1.id, 'e_not-an-id'] });
    const swept = await seq.sequence(scope.tenantId, { lookbackMs: 48 * 3_600_000 });

    // Assess
    expect(plain.sequenced).toBe(0);
    expect(hinted).toMatchObject({ sequenced: 1, head: { seq: 3 } });
    expect(swept).toMatchObject({ sequenced: 1, head: { seq: 4 } });
    const { chain } = await expectChainOf(db, scope.tenantId, 4);
    expect(chain.slice(2).map((r) => r.eventId)).toEqual([late1.id, late2.id]);
  });

  it('reports pending events and the age of the oldest', async () => {
    // Prepare
    const scope = newScope();
    const old = buildEventItem(scope.tenantId, sampleEvent(1), 30, Date.now() - 90_000);
    await db.send(new PutCommand({ TableName: process.env.AUDIT_TABLE!, Item: old }));
    await store.record(scope, sampleEvent(2));

    // Act
    const before = await (await store.readerFor(scope)).pendingStatus(60_000);
    await sequencer().sequence(scope.tenantId);
    const after = await (await store.readerFor(scope)).pendingStatus(60_000);

    // Assess
    expect(before.pending).toBe(2);
    expect(before.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(before.oldestPendingAgeSeconds).toBeLessThan(120);
    expect(after).toEqual({ pending: 0, oldestPendingAgeSeconds: 0 });
  });

  it('counts pending events after the head with one bounded read; a late one is the window count’s', async () => {
    // Prepare: five events nobody chained yet
    const scope = newScope();
    for (let i = 0; i < 5; i++) await store.record(scope, sampleEvent(i));
    const reader = await store.readerFor(scope);

    // Act
    const capped = await reader.pendingAfterHead(3);
    const all = await reader.pendingAfterHead();
    await sequencer().sequence(scope.tenantId);
    const chained = await reader.pendingAfterHead();
    const late = buildEventItem(scope.tenantId, sampleEvent(9), 30, Date.now() - 5 * 60_000);
    await db.send(new PutCommand({ TableName: process.env.AUDIT_TABLE!, Item: late }));
    const afterLate = await reader.pendingAfterHead();
    const windowed = await reader.pendingStatus(15 * 60_000);

    // Assess
    expect(capped).toMatchObject({ pending: 3, pendingCapped: true });
    expect(all.pending).toBe(5);
    expect(all.pendingCapped).toBeUndefined();
    expect(all.oldestPendingAgeSeconds).toBeLessThan(60);
    expect(chained).toEqual({ pending: 0, oldestPendingAgeSeconds: 0 });
    expect(afterLate).toEqual({ pending: 0, oldestPendingAgeSeconds: 0 });
    expect(windowed.pending).toBe(1);
    expect(windowed.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(300);
  });

  it('reads only what is new on a stream run (no grace window), however long the log', async () => {
    // Prepare: 40 chained events, then one new event and one late event whose id the stream hands over
    const scope = newScope();
    for (let i = 0; i < 40; i++) await store.record(scope, sampleEvent(i));
    await sequencer().sequence(scope.tenantId);
    const late = buildEventItem(scope.tenantId, sampleEvent(98), 30, Date.now() - 30_000);
    await db.send(new PutCommand({ TableName: process.env.AUDIT_TABLE!, Item: late }));
    const freshId = await store.recordWithId(scope, sampleEvent(99));
    const client = ownClient();
    let itemsRead = 0;
    client.middlewareStack.add(
      (next) => async (args: any) => {
        const out: any = await next(args);
        itemsRead += out.output?.Items?.length ?? (out.output?.Item ? 1 : 0);
        return out;
      },
      { step: 'initialize', name: 'countItemsRead' },
    );

    // Act: the stream function's settings (graceMs 0) with both ids as hints
    const report = await sequencer(client, 0).sequence(scope.tenantId, { hints: [late.id, freshId] });

    // Assess: both chained; the items read are the head, the hinted pair and what lies at the watermark
    // and after it, not the 40 events of the last minute that a grace window would read (twice)
    expect(report).toMatchObject({ sequenced: 2, pending: 0, head: { seq: 42 } });
    expect(itemsRead).toBeLessThanOrEqual(12);
    const { chain } = await expectChainOf(db, scope.tenantId, 42);
    expect(
      chain
        .slice(40)
        .map((r) => r.eventId)
        .sort(),
    ).toEqual([late.id, freshId].sort());
  });

  it('sequences the platform log and lists every started log', async () => {
    // Prepare
    const scope = newScope();
    await store.recordPlatform(sampleEvent(1, { action: 'auth.sign-in.failed' }));
    await store.record(scope, sampleEvent(2));
    const seq = sequencer();

    // Act
    await seq.sequence(PLATFORM_LOG_ID);
    await seq.sequence(scope.tenantId);
    const logs = await seq.listLogs();

    // Assess
    expect(logs).toEqual(expect.arrayContaining([PLATFORM_LOG_ID, scope.tenantId]));
    expect((await seq.reader(PLATFORM_LOG_ID).verify({ pendingWindowMs: 60_000 })).ok).toBe(true);
  });

  it('writes events only with a condition and with the plan’s TTL', async () => {
    // Prepare
    const scope = newScope();
    const store2 = provisionedAuditStore();

    // Act
    const id = await store2.recordWithId(scope, sampleEvent(1), { plan: 'free' });
    const put = store2.auditPut(scope, sampleEvent(2), { plan: 'team' });

    // Assess
    const [event] = await itemsOf(db, scope.tenantId, eventSk(id.slice(2)));
    const nowS = Date.now() / 1000;
    expect(event!.ttl).toBeGreaterThan(nowS + 30 * 86_400 - 60);
    expect(event!.ttl).toBeLessThanOrEqual(nowS + 30 * 86_400 + 1);
    expect(put.Put!.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect((put.Put!.Item as any).ttl).toBeGreaterThan(nowS + 89 * 86_400);
    expect(ulidFloor(0)).toBe('0'.repeat(26));
  });
});
