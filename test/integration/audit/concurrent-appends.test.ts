import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import { MAX_BATCH } from '../../../shared/store/audit-sequencer.js';
import {
  expectChainOf,
  newScope,
  provisionedAuditStore,
  provisionedSequencer,
  sampleEvent,
} from './support.js';

describe('concurrent appends', () => {
  // The emulator copies the whole table per transaction item: full 99-item batches take seconds each there.
  it('sequences 200 concurrent appends of one tenant as 1..200 with a valid chain', {
    timeout: 240_000,
  }, async () => {
    // Prepare
    const db = functionRuntime().dynamo;
    const store = provisionedAuditStore();
    const scope = newScope();
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.record(scope, sampleEvent(i))));

    // Act
    const report = await provisionedSequencer().sequence(scope.tenantId);

    // Assess
    expect(report).toMatchObject({ sequenced: 200, batches: Math.ceil(200 / MAX_BATCH), pending: 0 });
    expect(report.head.seq).toBe(200);
    const { chain } = await expectChainOf(db, scope.tenantId, 200);
    // Integrated in id order.
    const ids = chain.map((r) => r.eventId);
    expect(ids).toEqual([...ids].sort());
    const verify = await (await store.readerFor(scope)).verify({ pendingWindowMs: 15 * 60_000 });
    expect(verify).toMatchObject({
      ok: true,
      checked: 200,
      complete: true,
      pending: 0,
      oldestPendingAgeSeconds: 0,
    });
  });
});
