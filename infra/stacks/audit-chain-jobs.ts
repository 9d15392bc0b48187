import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV_VARS } from '../../shared/aws/config.js';
import { EVENT_PREFIX } from '../../shared/domain/audit-chain.js';
import { SERVICE_NAME } from '../../shared/observability.js';
import { AUDIT_TABLE } from '../../shared/store/tables.js';
import { StrongroomFunction } from '../constructs/strongroom-function.js';
import type { AreaResources } from './grants/area-resources.js';
import { auditSequencerGrants, verifyChainsGrants } from './grants/audit.js';

/** Where Powertools publishes (shared/observability.ts and POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'Strongroom';
/**
 * The dimensions Powertools puts on every metric: its default dimension `service` (the service name).
 * An alarm whose dimensions differ from the published ones watches a metric that never gets data.
 */
export const METRIC_DIMENSIONS = { service: SERVICE_NAME } as const;

/** The audit stream consumer's event source settings (exported for the tests). */
export const SEQUENCER_STREAM = {
  /** Records per invocation; one invocation sequences every log the batch touched. */
  batchSize: 100,
  /**
   * Retries of a failing batch (also of records reported as failed, e.g. a log left at the batch cap).
   * Bounded so one poisoned log cannot stop its shard for the stream's 24 hours; what is given up goes to
   * the failure queue, the events stay in the table, and the daily job's 48-hour sweep sequences them.
   */
  retryAttempts: 10,
  timeout: Duration.minutes(5),
} as const;

/** Seconds an event may stay unchained before the pending alarm fires (longer than a minute). */
export const PENDING_ALARM_SECONDS = 60;
/**
 * Hours without a completed daily verification before the heartbeat alarm fires: a day and two hours of
 * slack for a run that started late or took its full 15 minutes.
 */
export const VERIFICATION_HEARTBEAT_HOURS = 26;

export interface AuditChainJobsProps {
  stage: string;
  projectRoot: string;
  resources: AreaResources;
}

/** Path of a non-API entry point; it must exist, since the audit chain is not optional. */
function entryPoint(projectRoot: string, ...path: string[]): string {
  const entry = join(projectRoot, 'functions', ...path);
  if (!existsSync(entry)) throw new Error(`functions/${path.join('/')} is missing: the audit chain needs it`);
  return entry;
}

/**
 * What keeps the audit hash chains complete and checked (DESIGN.md §4 Audit):
 *
 * - the sequencer (functions/audit/sequencer.ts), driven by the audit table's stream, filtered to inserted
 *   `EVENT#` items, reporting failed records per log; batches it gives up on go to an encrypted queue;
 * - the daily verification (functions/jobs/verify-chains.ts), scheduled by EventBridge, which sweeps for
 *   events the stream never delivered and verifies every chain;
 * - their alarms (`addAlarms`), on the metrics those two functions publish.
 *
 * Both use their function roles (infra/stacks/grants/audit.ts): they act for every log, read events, write
 * the chain table and MAC heads and checkpoints; no runtime (API) role can do either of the last two.
 */
export class AuditChainJobs extends Construct {
  readonly sequencer: StrongroomFunction;
  readonly verifyChains: StrongroomFunction;
  /** Stream batches the sequencer gave up on (metadata only: shard, sequence numbers, error). */
  readonly failedBatches: sqs.Queue;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: AuditChainJobsProps) {
    super(scope, id);
    const { stage, projectRoot, resources } = props;
    const audit = resources.tables.audit;
    // Only what these two read (shared/store/audit-sequencer.ts): no other table, key or bucket name.
    const environment = {
      [ENV_VARS.stage]: stage,
      [ENV_VARS.auditTable]: audit.tableName,
      [ENV_VARS.auditChainTable]: resources.tables.auditChain.tableName,
      [ENV_VARS.auditMacKeyArn]: resources.auditMacKey.keyArn,
    };

    this.sequencer = new StrongroomFunction(this, 'Sequencer', {
      entry: entryPoint(projectRoot, 'audit', 'sequencer.ts'),
      projectRoot,
      description: `Strongroom ${stage}: audit chain sequencer (audit table stream)`,
      environment,
      timeout: SEQUENCER_STREAM.timeout,
    });
    auditSequencerGrants(this.sequencer, resources);

    this.failedBatches = new sqs.Queue(this, 'FailedBatches', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.failedBatches).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the sequencer's on-failure destination: it receives the metadata of stream batches given up on, is read by an operator, and has an alarm on any message; nothing consumes it automatically that could need a dead-letter queue.",
    });

    const streamArn = audit.tableStreamArn;
    if (!streamArn) throw new Error('the audit table has no stream: the sequencer cannot be triggered');
    // A view of the table with its stream but without its key: the event source's automatic stream grant
    // would otherwise add kms:Decrypt on the platform key with no condition. The sequencer's table grants
    // already allow the key only through DynamoDB (kms:ViaService), which is how stream reads use it.
    const auditStream = dynamodb.Table.fromTableAttributes(this, 'AuditTableStream', {
      tableArn: audit.tableArn,
      tableStreamArn: streamArn,
    });
    this.sequencer.function.addEventSource(
      new DynamoEventSource(auditStream, {
        // A new mapping starts at the oldest retained record: no event is skipped by a (re)deployment.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: SEQUENCER_STREAM.batchSize,
        bisectBatchOnError: true,
        retryAttempts: SEQUENCER_STREAM.retryAttempts,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.failedBatches),
        // Only newly inserted events need sequencing (the same test as logsInStreamBatch in code); the
        // sequencer's own writes go to the chain table, which has no stream.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { Keys: { [AUDIT_TABLE.sortKey]: { S: lambda.FilterRule.beginsWith(EVENT_PREFIX) } } },
          }),
        ],
      }),
    );
    Validations.of(this.sequencer.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Two actions without resource-level permissions: dynamodb:ListStreams (added with the stream event source; it lists stream ARNs only, records are read from the audit table stream alone) and the X-Ray trace writes every function has.',
    });

    this.verifyChains = new StrongroomFunction(this, 'VerifyChains', {
      entry: entryPoint(projectRoot, 'jobs', 'verify-chains.ts'),
      projectRoot,
      description: `Strongroom ${stage}: daily sweep and verification of every audit chain`,
      environment,
      // Lambda's maximum: the job walks every chain; per-log work runs concurrently inside it.
      timeout: Duration.minutes(15),
    });
    verifyChainsGrants(this.verifyChains, resources);
    this.schedule = new events.Rule(this, 'Daily', {
      description: `Strongroom ${stage}: verify every audit chain once a day`,
      // Once a day at 04:00 UTC; the heartbeat alarm allows for a late or long run.
      schedule: events.Schedule.cron({ minute: '0', hour: '4' }),
    });
    this.schedule.addTarget(
      new targets.LambdaFunction(this.verifyChains.function, {
        retryAttempts: 2,
        maxEventAge: Duration.hours(2),
      }),
    );
  }

  /** The alarms of the sequencer and the daily verification, into `action` (the stack's alarm topic). */
  addAlarms(action: cloudwatch.IAlarmAction): cloudwatch.Alarm[] {
    const strongroom = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { ...METRIC_DIMENSIONS },
        statistic,
        period,
      });
    const fiveMinutes = Duration.minutes(5);
    const alarms: cloudwatch.Alarm[] = [];
    const alarm = (id: string, props: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, id, props);
      created.addAlarmAction(action);
      alarms.push(created);
    };

    // Results of the daily run: one data point a day, so a missing period means "no run in it", which the
    // heartbeat alarm judges; here it is not a breach. An hour keeps a finding in ALARM for a while.
    alarm('ChainBreaksAlarm', {
      alarmDescription:
        'An audit hash chain is broken: an event or chain record was edited, deleted or reordered (the job logs "audit chain broken" with the log id and the first broken sequence)',
      metric: strongroom('ChainBreaks', cloudwatch.Stats.MAXIMUM, Duration.hours(1)),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('VerificationFailuresAlarm', {
      alarmDescription:
        'The daily job could not verify one or more audit logs (the job logs "chain verification failed" with the log id)',
      metric: strongroom('VerificationFailures', cloudwatch.Stats.MAXIMUM, Duration.hours(1)),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The heartbeat: ChainBreaks is published exactly when a run completes (zero or not). No data for
    // 26 hours means verification silently stopped (schedule disabled, crash, timeout, lost permission),
    // so missing data is the breach here. After the first deployment it alarms until the first run
    // (04:00 UTC), unless the job is invoked once by hand.
    alarm('VerificationHeartbeatAlarm', {
      alarmDescription: `No audit chain verification completed in the last ${VERIFICATION_HEARTBEAT_HOURS} hours: tampering would go unnoticed`,
      metric: strongroom('ChainBreaks', cloudwatch.Stats.SAMPLE_COUNT, Duration.hours(1)),
      threshold: 1,
      evaluationPeriods: VERIFICATION_HEARTBEAT_HOURS,
      datapointsToAlarm: VERIFICATION_HEARTBEAT_HOURS,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    // Published by the sequencer after each stream batch and by the daily job: the age of the oldest
    // event not yet chained. No audit traffic means no data, which is not a breach.
    alarm('OldestPendingAlarm', {
      alarmDescription: `Audit events have waited more than ${PENDING_ALARM_SECONDS} s to be chained`,
      metric: strongroom('OldestPendingSeconds', cloudwatch.Stats.MAXIMUM, fiveMinutes),
      threshold: PENDING_ALARM_SECONDS,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('IteratorAgeAlarm', {
      alarmDescription: `The sequencer is more than ${PENDING_ALARM_SECONDS} s behind the audit table's stream`,
      metric: this.sequencer.function.metric('IteratorAge', {
        statistic: cloudwatch.Stats.MAXIMUM,
        period: fiveMinutes,
      }),
      threshold: PENDING_ALARM_SECONDS * 1000,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // A log that fails is reported as failed records (not a function error) and logged at ERROR level;
    // this metric counts those lines, Errors below counts crashes and timeouts.
    const failures = new logs.MetricFilter(this, 'SequencerErrorLogs', {
      logGroup: this.sequencer.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.level', '=', 'ERROR'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: 'SequencerErrorLogs',
      metricValue: '1',
    });
    alarm('SequencerErrorLogsAlarm', {
      alarmDescription:
        'The sequencer failed to sequence a log (it logs "sequencing failed" with the log id; the records are retried)',
      metric: failures.metric({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('FailedBatchesAlarm', {
      alarmDescription:
        'The sequencer gave up on stream records after its retries; the daily sweep will chain the events, the queue says which shard and sequence numbers',
      metric: this.failedBatches.metricApproximateNumberOfMessagesVisible({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: fiveMinutes,
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const [id, fn, what] of [
      ['SequencerErrorsAlarm', this.sequencer, 'The audit sequencer crashed or timed out'],
      [
        'VerifyChainsErrorsAlarm',
        this.verifyChains,
        'The daily audit chain verification crashed or timed out',
      ],
    ] as const) {
      alarm(id, {
        alarmDescription: what,
        metric: fn.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    return alarms;
  }
}
