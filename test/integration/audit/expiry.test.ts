import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import { CHECKPOINT_PREFIX, chainSk, utcDay } from '../../../shared/domain/audit-chain.js';
import type { Plan } from '../../../shared/domain/plans.js';
import type { TenantScope } from '../../../shared/domain/tenant-scope.js';
import { verifyAllChains } from '../../../shared/services/audit.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import {
  itemsOf,
  newScope,
  provisionedAuditStore,
  provisionedSequencer,
  remove,
  sampleEvent,
} from './support.js';

let db: DynamoDBDocumentClient;

beforeAll(() => {
  db = functionRuntime().dynamo;
});

const DAY_MS = 86_400_000;

/**
 * A log on an injected clock: events are written, chained and verified at `clock`, so that retention can
 * pass in a test. DynamoDB's TTL deletion (which the emulator does not do, and which lags and goes in any
 * order in AWS) is played by deleting expired items by hand, in a scrambled order.
 */
function clockedLog() {
  const t0 = Date.now();
  let clock = t0;
  const now = () => clock;
  const store: AuditStore = provisionedAuditStore(now);
  const sequencer = provisionedSequencer({ now, batchSize: 10 });
  const scope: TenantScope = newScope();
  let n = 0;
  return {
    t0,
    scope,
    sequencer,
    at: (ms: number) => {
      clock = ms;
    },
    append: async (count: number, plan: Plan = 'free') => {
      for (let i = 0; i < count; i++) await store.record(scope, sampleEvent(++n), { plan });
      await sequencer.sequence(scope.tenantId);
    },
    verify: async () => (await store.readerFor(scope)).verify({ pendingWindowMs: 60_000 }),
    chain: () => itemsOf(db, scope.tenantId, 'CHAIN#'),
    events: () => itemsOf(db, scope.tenantId, 'EVENT#'),
    /** The daily job on this clock: sweep, verify, checkpoint (for this log among all). */
    dailyJob: async () => {
      const summary = await verifyAllChains(sequencer);
      return summary.logs.find((l) => l.logId === scope.tenantId)!;
    },
  };
}

/** Deletes items in an order unrelated to their sequence, as TTL deletion does. */
async function expireInAnyOrder(items: Record<string, any>[]) {
  const order = [...items].sort((a, b) => String(a.hash ?? a.id).localeCompare(String(b.hash ?? b.id)));
  for (const item of order) await remove(db, item.pk, item.sk);
}

/**
 * Eight events on day 0, four more on day 200, and the clock on day 396: records 1..8 have expired (395 days)
 * and every event has (30 days); records 9..12 are retained until day 595. Nothing is deleted yet.
 */
async function twelveRecordsOnDay396() {
  const log = clockedLog();
  await log.append(8);
  log.at(log.t0 + 200 * DAY_MS);
  await log.append(4);
  const chain = await log.chain();
  log.at(log.t0 + 396 * DAY_MS);
  return { log, chain };
}

describe('legitimate expiry still verifies, deletion before expiry does not', () => {
  it('events past their plan retention may be gone, in any order; one still retained may not', async () => {
    // Prepare: four events on the free plan (30 days), four on the team plan (90 days).
    const log = clockedLog();
    await log.append(4, 'free');
    await log.append(4, 'team');
    const events = await log.events();

    // Act: 31 days later, TTL deletes the free plan's events.
    log.at(log.t0 + 31 * DAY_MS);
    await expireInAnyOrder(events.filter((e) => e.ttl < (log.t0 + 31 * DAY_MS) / 1000));
    const afterExpiry = await log.verify();
    const teamEvent = (await log.chain())[5]!;
    await remove(db, log.scope.tenantId, `EVENT#${teamEvent.eventId.slice(2)}`);
    const afterDeletion = await log.verify();

    // Assess
    expect(afterExpiry).toMatchObject({ ok: true, checked: 8, complete: true });
    expect(afterDeletion).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'missing-event' });
  });

  it('chain records past their retention may be gone, some of them, in any order; a retained one may not', async () => {
    // Prepare: records 1..8 and every event have expired, records 9..12 are retained until day 595.
    const { log, chain } = await twelveRecordsOnDay396();

    // Act: TTL has deleted every event and records 1..5 and 7 so far, but not yet 6 and 8.
    await expireInAnyOrder(await log.events());
    await expireInAnyOrder(chain.filter((r) => [1, 2, 3, 4, 5, 7].includes(r.seq)));
    const expired = await log.verify();
    await remove(db, log.scope.tenantId, chainSk(10));
    const retainedDeleted = await log.verify();

    // Assess
    expect(chain[5]!.expiresAt).toBeLessThanOrEqual((log.t0 + 396 * DAY_MS) / 1000);
    expect(expired).toMatchObject({ ok: true, checked: 6, complete: true, head: { seq: 12 } });
    expect(retainedDeleted).toMatchObject({
      ok: false,
      firstBrokenSequence: 10,
      reason: 'missing-chain-record',
    });
  });

  it('deleting retained records along with expired ones names the first retained one', async () => {
    // Prepare: eight records, four more 200 days later, the clock on day 396
    const { log, chain } = await twelveRecordsOnDay396();

    // Act: records 1..9 expired in any order
    await expireInAnyOrder(chain.filter((r) => r.seq <= 9));

    // Assess: record 10's hashed prevExpiresAt says record 9 is retained until day 595.
    expect(await log.verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 9,
      reason: 'missing-chain-record',
    });
  });
});

describe('daily checkpoints', () => {
  it('are written for a verified log, MAC’d, one a day; verification then starts after every expired event', async () => {
    // Prepare: day 0 eight events, checkpoint on day 1; day 200 four more, checkpoint on day 201.
    const log = clockedLog();
    await log.append(8);
    log.at(log.t0 + DAY_MS);
    const first = await log.dailyJob();
    const again = await log.dailyJob();
    log.at(log.t0 + 200 * DAY_MS);
    await log.append(4);
    log.at(log.t0 + 201 * DAY_MS);
    const second = await log.dailyJob();
    const checkpoints = await itemsOf(db, log.scope.tenantId, CHECKPOINT_PREFIX);

    // Act: on day 202 the first checkpoint's events (30 days) have expired, the second's have not.
    log.at(log.t0 + 202 * DAY_MS);
    await expireInAnyOrder((await log.chain()).filter((r) => r.seq <= 8));
    const fromFirst = await log.verify();
    const tenth = (await log.chain()).find((r) => r.seq === 10)!;
    await remove(db, log.scope.tenantId, `EVENT#${tenth.eventId.slice(2)}`);
    const eventGone = await log.verify();

    // Assess
    expect(first).toMatchObject({ ok: true, checkpoint: { seq: 8, day: utcDay(log.t0 + DAY_MS) } });
    expect(again.checkpoint).toEqual(first.checkpoint);
    expect(second).toMatchObject({ ok: true, checkpoint: { seq: 12, day: utcDay(log.t0 + 201 * DAY_MS) } });
    expect(checkpoints.map((c) => [c.seq, typeof c.mac])).toEqual([
      [8, 'string'],
      [12, 'string'],
    ]);
    expect(fromFirst).toMatchObject({
      ok: true,
      checked: 4,
      from: { seq: 8, checkpoint: utcDay(log.t0 + DAY_MS) },
    });
    expect(eventGone).toMatchObject({ ok: false, firstBrokenSequence: 10, reason: 'missing-event' });
  });

  it('are not written for a log that does not verify, whose break the job reports', async () => {
    // Prepare: a log whose second event is deleted
    const log = clockedLog();
    await log.append(3);
    const [, second] = await log.chain();
    await remove(db, log.scope.tenantId, `EVENT#${second!.eventId.slice(2)}`);

    // Act
    const report = await log.dailyJob();

    // Assess: the break reported, and no checkpoint written
    expect(report).toMatchObject({ ok: false, firstBrokenSequence: 2, reason: 'missing-event' });
    expect(report.checkpoint).toBeUndefined();
    expect(await itemsOf(db, log.scope.tenantId, CHECKPOINT_PREFIX)).toEqual([]);
  });
});
