import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { logger, metrics } from '../../shared/observability.js';
import { type ChainMaintainer, type ChainsSummary, verifyAllChains } from '../../shared/services/audit.js';
import { auditSequencerFor } from '../../shared/store/audit-sequencer.js';

const runtime = functionRuntime();
const sequencer = auditSequencerFor(runtime);

/**
 * Daily: sweeps and verifies every audit log (against its authenticated head and checkpoints), writes
 * today's MAC'd checkpoint of each log that verified, publishes ChainBreaks, PendingEvents,
 * OldestPendingSeconds (and LateEventsSequenced, VerificationFailures) for the alarms, and logs each log's
 * head and checkpoint, so they are also witnessed outside the tables.
 */
export async function verifyChains(maintainer: ChainMaintainer = sequencer): Promise<ChainsSummary> {
  const summary = await verifyAllChains(maintainer);
  for (const log of summary.logs) {
    if (log.error) logger.error('chain verification failed', { logId: log.logId, error: log.error });
    else if (!log.ok)
      logger.error('audit chain broken', {
        logId: log.logId,
        firstBrokenSequence: log.firstBrokenSequence,
        reason: log.reason,
      });
    logger.info('audit chain head', {
      logId: log.logId,
      seq: log.head.seq,
      hash: log.head.hash,
      ok: log.ok,
      ...(log.checkpoint ? { checkpoint: log.checkpoint.day } : {}),
    });
  }
  metrics.addMetric('ChainBreaks', MetricUnit.Count, summary.chainBreaks);
  metrics.addMetric('PendingEvents', MetricUnit.Count, summary.pendingEvents);
  metrics.addMetric('OldestPendingSeconds', MetricUnit.Seconds, summary.oldestPendingSeconds);
  metrics.addMetric('LateEventsSequenced', MetricUnit.Count, summary.lateSequenced);
  metrics.addMetric('VerificationFailures', MetricUnit.Count, summary.failures);
  return summary;
}

export const handler = middy<ScheduledEvent, void, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async () => {
    const summary = await verifyChains();
    logger.info('audit chains verified', {
      logs: summary.logs.length,
      chainBreaks: summary.chainBreaks,
      pendingEvents: summary.pendingEvents,
      failures: summary.failures,
    });
  });
