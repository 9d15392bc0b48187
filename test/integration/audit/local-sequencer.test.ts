import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import { auditAppendsOf } from '../../../shared/store/audit-appends.js';
import { startLocalSequencer } from '../../../shared/store/audit-sequencer.js';
import { newScope, provisionedAuditStore, provisionedSequencer, sampleEvent } from './support.js';

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

describe('in-process sequencer (local mode)', () => {
  it('chains events appended before and after it started, in the background', async () => {
    // Prepare
    const store = provisionedAuditStore();
    const sequencer = provisionedSequencer();
    const early = newScope();
    const late = newScope();
    for (let i = 0; i < 3; i++) await store.record(early, sampleEvent(i));
    const errors: unknown[] = [];

    // Act
    const loop = startLocalSequencer({
      intervalMs: 100,
      sequencer,
      appends: auditAppendsOf(functionRuntime()),
      onError: (e) => errors.push(e),
    });
    try {
      for (let i = 0; i < 4; i++) await store.record(late, sampleEvent(i));
      const headOf = async (logId: string) => (await sequencer.reader(logId).head()).head.seq;
      await until(
        async () => (await headOf(early.tenantId)) === 3 && (await headOf(late.tenantId)) === 4,
        15_000,
      );
    } finally {
      await loop.stop();
    }

    // Assess
    expect(errors).toEqual([]);
    for (const scope of [early, late]) {
      expect(await (await store.readerFor(scope)).verify({ pendingWindowMs: 60_000 })).toMatchObject({
        ok: true,
        pending: 0,
      });
    }
  });
});
