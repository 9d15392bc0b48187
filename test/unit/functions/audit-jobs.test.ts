import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { sequenceStreamBatch } from '../../../functions/audit/sequencer.js';
import { verifyChains } from '../../../functions/jobs/verify-chains.js';
import type { ChainMaintainer } from '../../../shared/services/audit.js';
import { logsInStreamBatch } from '../../../shared/services/audit.js';
import type { SequenceReport } from '../../../shared/store/audit-sequencer.js';

// The function modules read their environment when they load.
vi.hoisted(() => {
  process.env.AUDIT_TABLE ??= 'audit-table';
  process.env.AUDIT_CHAIN_TABLE ??= 'audit-chain-table';
  process.env.AUDIT_MAC_KEY_ARN ??= 'arn:aws:kms:eu-central-1:111122223333:key/mac';
});

const ULID_A = '01jabcdefghjkmnpqrstvwxyz0';
const ULID_B = '01jabcdefghjkmnpqrstvwxyz1';

function record(eventName: string, pk: string, sk: string, seq: string) {
  return { eventName, dynamodb: { SequenceNumber: seq, Keys: { pk: { S: pk }, sk: { S: sk } } } };
}

const report = (logId: string, over: Partial<SequenceReport> = {}): SequenceReport => ({
  logId,
  sequenced: 1,
  batches: 1,
  conflicts: 0,
  head: { seq: 1, hash: 'a'.repeat(64) },
  pending: 0,
  oldestPendingAgeSeconds: 0,
  ...over,
});

describe('stream-driven sequencing', () => {
  const batch = [
    record('INSERT', 't_a', `EVENT#${ULID_A}`, '1'),
    record('INSERT', 't_a', 'CHAIN#000000000001', '2'),
    record('INSERT', 't_a', `MARK#${ULID_A}`, '3'),
    record('MODIFY', 't_a', 'HEAD', '4'),
    record('INSERT', 't_b', `EVENT#${ULID_B}`, '5'),
    record('INSERT', 'platform', `EVENT#${ULID_B}`, '6'),
    record('REMOVE', 't_c', `EVENT#${ULID_A}`, '7'),
  ];

  it('collects the logs with inserted events and their ids, ignoring the sequencer’s own writes', () => {
    // Act
    const logs = logsInStreamBatch(batch);

    // Assess
    expect([...logs.keys()]).toEqual(['t_a', 't_b', 'platform']);
    expect(logs.get('t_a')).toEqual({ hints: [`e_${ULID_A}`], sequenceNumbers: ['1'] });
  });

  it('sequences each log once with its hints and reports only the failed log’s records', async () => {
    // Prepare
    const calls: Array<[string, unknown]> = [];
    const seq = {
      sequence: async (logId: string, options?: unknown) => {
        calls.push([logId, options]);
        if (logId === 't_b') throw new Error('boom');
        // The platform log hit the per-invocation cap with events left: its records are redelivered.
        if (logId === 'platform') return report(logId, { batches: 100, pending: 7 });
        return report(logId);
      },
    };

    // Act
    const result = await sequenceStreamBatch(
      { Records: batch } as unknown as DynamoDBStreamEvent,
      seq as any,
    );

    // Assess
    expect(calls).toEqual([
      ['t_a', { hints: [`e_${ULID_A}`] }],
      ['t_b', { hints: [`e_${ULID_B}`] }],
      ['platform', { hints: [`e_${ULID_B}`] }],
    ]);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '5' }, { itemIdentifier: '6' }] });
  });
});

describe('daily chain verification', () => {
  const authenticHead = {
    seq: 3,
    hash: 'b'.repeat(64),
    chainedAtMs: 1,
    expiresAt: 2,
    maxEventExpiresAt: 3,
    watermark: '',
    batchStartSeq: 1,
    batchHashes: [],
  };
  const verified = (logId: string, ok: boolean) => ({
    ok,
    checked: 3,
    complete: true,
    from: { seq: 0 },
    ...(ok ? { authenticHead } : { firstBrokenSequence: 2, reason: 'hash-mismatch' as const }),
    pending: logId === 'platform' ? 4 : 0,
    oldestPendingAgeSeconds: logId === 'platform' ? 75 : 0,
    head: { seq: 3, hash: 'b'.repeat(64) },
  });

  it('sweeps and verifies every log, counting breaks, pending events and failures, and checkpoints the verified ones', async () => {
    // Prepare
    const swept: Array<[string, unknown]> = [];
    const checkpointed: string[] = [];
    const maintainer: ChainMaintainer = {
      graceMs: 1000,
      listLogs: async () => ['platform', 't_ok', 't_broken', 't_down'],
      sequence: async (logId, options) => {
        swept.push([logId, options]);
        if (logId === 't_down') throw Object.assign(new Error('unavailable'), { name: 'ServiceUnavailable' });
        return report(logId, { sequenced: logId === 't_ok' ? 2 : 0 });
      },
      reader: (logId) => ({
        verify: async () => {
          if (logId === 't_down')
            throw Object.assign(new Error('unavailable'), { name: 'ServiceUnavailable' });
          return verified(logId, logId !== 't_broken');
        },
      }),
      checkpoint: async (logId, head) => {
        checkpointed.push(logId);
        expect(head).toBe(authenticHead);
        return { day: '2026-11-22', written: true };
      },
    };

    // Act
    const summary = await verifyChains(maintainer);

    // Assess
    expect(swept.map(([id]) => id).sort()).toEqual(['platform', 't_broken', 't_down', 't_ok']);
    expect(swept.every(([, options]) => (options as any).lookbackMs === 48 * 3_600_000)).toBe(true);
    expect(summary).toMatchObject({
      chainBreaks: 1,
      pendingEvents: 4,
      oldestPendingSeconds: 75,
      lateSequenced: 2,
      failures: 1,
    });
    expect(summary.logs.find((l) => l.logId === 't_broken')).toMatchObject({ firstBrokenSequence: 2 });
    expect(summary.logs.find((l) => l.logId === 't_broken')!.checkpoint).toBeUndefined();
    expect(summary.logs.find((l) => l.logId === 't_ok')).toMatchObject({
      checkpoint: { seq: 3, day: '2026-11-22' },
    });
    expect(summary.logs.find((l) => l.logId === 't_down')?.error).toBe('ServiceUnavailable: unavailable');
    expect(checkpointed.sort()).toEqual(['platform', 't_ok']);
  });

  it('still verifies a log whose sweep failed (a head the sequencer refuses is what verification names)', async () => {
    // Prepare: a log the sequencer refuses to extend, whose verification names the break
    const maintainer: ChainMaintainer = {
      graceMs: 1000,
      listLogs: async () => ['t_forged'],
      sequence: async () => {
        throw new Error("log t_forged: the head's MAC is not valid; refusing to extend it");
      },
      reader: () => ({
        verify: async () => ({
          ...verified('t_forged', false),
          firstBrokenSequence: 4,
          reason: 'head-not-authentic' as const,
        }),
      }),
      checkpoint: async () => {
        throw new Error('must not checkpoint a log that does not verify');
      },
    };

    // Act
    const summary = await verifyChains(maintainer);

    // Assess: reported as a chain break, not a failure, and no checkpoint
    expect(summary).toMatchObject({ chainBreaks: 1, failures: 0 });
    expect(summary.logs[0]).toMatchObject({
      ok: false,
      reason: 'head-not-authentic',
      firstBrokenSequence: 4,
    });
  });
});
