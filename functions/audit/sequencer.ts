import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { logger, metrics } from '../../shared/observability.js';
import { logsInStreamBatch } from '../../shared/services/audit.js';
import { type AuditSequencer, auditSequencerFor } from '../../shared/store/audit-sequencer.js';

// The stream delivers every inserted event, and its id is passed as a hint: an event older than the newest
// chained one is looked up by its id, so a run reads only the events after the watermark and its hints
// (no grace window, whose size would grow with the event rate and be read on every batch). The daily job
// sweeps with a long look-back in case a stream record was ever lost.
/** Batches per log per invocation (49 events each), so one busy log cannot run the function out of time. */
export const STREAM_MAX_BATCHES = 100;

const runtime = functionRuntime();
const sequencer = auditSequencerFor(runtime, {
  graceMs: 0,
  maxBatchesPerRun: STREAM_MAX_BATCHES,
});

/**
 * The audit sequencer, triggered by the audit table's stream (new images, ReportBatchItemFailures): runs
 * the sequencer once for each log the batch inserted events into. A log that fails reports its records as
 * failed, so Lambda retries them; logs that succeeded are done (the sequencer is idempotent either way).
 */
export async function sequenceStreamBatch(
  event: DynamoDBStreamEvent,
  seq: Pick<AuditSequencer, 'sequence'> = sequencer,
): Promise<DynamoDBBatchResponse> {
  const logs = logsInStreamBatch(event.Records);
  const failures: string[] = [];
  let pending = 0;
  let oldest = 0;
  for (const [logId, { hints, sequenceNumbers }] of logs) {
    try {
      const report = await seq.sequence(logId, { hints });
      metrics.addMetric('SequencedEvents', MetricUnit.Count, report.sequenced);
      pending += report.pending;
      oldest = Math.max(oldest, report.oldestPendingAgeSeconds);
      if (report.conflicts > 0) logger.info('sequencer contention', { logId, conflicts: report.conflicts });
      // Stopped at the cap with events left: fail these records so Lambda redelivers them and the log
      // is sequenced further (no new insert may come to trigger it otherwise).
      if (report.batches >= STREAM_MAX_BATCHES && report.pending > 0) failures.push(...sequenceNumbers);
    } catch (error) {
      logger.error('sequencing failed', { logId, error: error instanceof Error ? error.message : 'unknown' });
      failures.push(...sequenceNumbers);
    }
  }
  metrics.addMetric('PendingEvents', MetricUnit.Count, pending);
  metrics.addMetric('OldestPendingSeconds', MetricUnit.Seconds, oldest);
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event) => sequenceStreamBatch(event));
