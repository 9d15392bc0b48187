import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StrongroomFunction } from '../../infra/constructs/strongroom-function.js';
import {
  METRICS_NAMESPACE,
  PENDING_ALARM_SECONDS,
  SEQUENCER_STREAM,
  VERIFICATION_HEARTBEAT_HOURS,
} from '../../infra/stacks/audit-chain-jobs.js';
import type { StatelessStack } from '../../infra/stacks/stateless-stack.js';
import { EVENT_PREFIX } from '../../shared/domain/audit-chain.js';
import { logsInStreamBatch } from '../../shared/services/audit.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

let synth: Synthesised;
let stack: StatelessStack;
let template: Template;
beforeAll(() => {
  synth = synthStrongroom();
  stack = synth.stacks[0]!.stateless;
  template = Template.fromStack(stack);
});
afterAll(() => synth?.cleanup());

const logicalId = (s: Stack, construct: { node: { defaultChild?: unknown } }) =>
  s.getLogicalId(construct.node.defaultChild as never);
const resources = (type: string) => template.findResources(type) as Record<string, Resource>;
const functionOf = (fn: StrongroomFunction) =>
  resources('AWS::Lambda::Function')[logicalId(stack, fn.function)]!;
/** Every statement of the policies attached to a function's role. */
const statementsOf = (fn: StrongroomFunction) => {
  const roleId = logicalId(stack, fn.role);
  return Object.values(resources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
};
const actionsOf = (statements: any[]) => statements.flatMap((s) => [s.Action].flat() as string[]).sort();
const alarms = () =>
  Object.entries(resources('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('AuditChain'));
const alarmNamed = (name: string) => {
  const found = alarms().filter(([id]) => id.startsWith(`AuditChain${name}`));
  expect(found, name).toHaveLength(1);
  return found[0]![1].Properties;
};

describe('audit sequencer (functions/audit/sequencer.ts)', () => {
  it('is a Strongroom function (arm64, Node 22, tracing, own log group) with a 5-minute timeout and only STAGE, the audit tables and the MAC key', () => {
    // Prepare
    const fn = functionOf(stack.auditChain.sequencer);

    // Assess
    expect(fn.Properties).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      TracingConfig: { Mode: 'Active' },
      Timeout: 300,
      Handler: 'index.handler',
    });
    expect(SEQUENCER_STREAM.timeout.toSeconds()).toBe(300);
    const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(
      [
        'AUDIT_TABLE',
        'AUDIT_CHAIN_TABLE',
        'AUDIT_MAC_KEY_ARN',
        'POWERTOOLS_LOG_LEVEL',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'STAGE',
      ].sort(),
    );
    expect(variables.STAGE).toBe(TEST_STAGE);
    expect(JSON.stringify(variables.AUDIT_TABLE)).toContain('AuditTable');
    expect(JSON.stringify(variables.AUDIT_CHAIN_TABLE)).toContain('AuditChainTable');
    expect(JSON.stringify(variables.AUDIT_MAC_KEY_ARN)).toContain('AuditMacKey');
  });

  it('is triggered by the audit table stream: partial batch failures, bisection, bounded retries, failure queue', () => {
    // Prepare
    const mappings = Object.values(resources('AWS::Lambda::EventSourceMapping'));

    // Assess
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({
      FunctionName: { Ref: logicalId(stack, stack.auditChain.sequencer.function) },
      EventSourceArn: { 'Fn::ImportValue': expect.stringContaining('AuditTableStreamArn') },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: SEQUENCER_STREAM.retryAttempts,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [logicalId(stack, stack.auditChain.failedBatches), 'Arn'] },
        },
      },
    });
    expect(SEQUENCER_STREAM.retryAttempts).toBeGreaterThan(0);
    expect(SEQUENCER_STREAM.retryAttempts).toBeLessThanOrEqual(10);
  });

  it('filters the stream to inserted EVENT# items, exactly the records the handler sequences', () => {
    // Prepare
    const mapping = Object.values(resources('AWS::Lambda::EventSourceMapping'))[0]!;
    const filters = mapping.Properties.FilterCriteria.Filters as { Pattern: string }[];
    const pattern = JSON.parse(filters[0]!.Pattern);
    /** Lambda's event filtering for this pattern's two fields: a value list and a prefix rule. */
    const passes = (record: DynamoDBStreamEvent['Records'][number]) =>
      (pattern.eventName as string[]).includes(record.eventName!) &&
      String(record.dynamodb?.Keys?.sk?.S ?? '').startsWith(pattern.dynamodb.Keys.sk.S[0].prefix);
    const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', sk: string, seq: string) => ({
      eventName,
      dynamodb: { SequenceNumber: seq, Keys: { pk: { S: 't_01jabcdefghjkmnpqrstvwxyz0' }, sk: { S: sk } } },
    });
    const records = [
      record('INSERT', `${EVENT_PREFIX}01jabcdefghjkmnpqrstvwxyz0`, '1'),
      record('INSERT', 'CHAIN#00000001', '2'),
      record('INSERT', 'HEAD', '3'),
      record('MODIFY', `${EVENT_PREFIX}01jabcdefghjkmnpqrstvwxyz1`, '4'),
      record('REMOVE', `${EVENT_PREFIX}01jabcdefghjkmnpqrstvwxyz2`, '5'),
    ];

    // Act
    const delivered = records.filter(passes);
    const handled = [...logsInStreamBatch(records).values()].flatMap((log) => log.sequenceNumbers);

    // Assess
    expect(filters).toHaveLength(1);
    expect(pattern).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { sk: { S: [{ prefix: EVENT_PREFIX }] } } },
    });
    expect(delivered.map((r) => r.dynamodb.SequenceNumber)).toEqual(handled);
    expect(handled).toEqual(['1']);
  });

  it('sends given-up batches to an SQS queue encrypted at rest that refuses plain HTTP', () => {
    // Prepare
    const queueId = logicalId(stack, stack.auditChain.failedBatches);

    // Assess
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    expect(resources('AWS::SQS::Queue')[queueId]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('may read the audit stream and events, append to the chain table, MAC heads and write to its failure queue: nothing else', () => {
    // Prepare
    const statements = statementsOf(stack.auditChain.sequencer);
    const onStream = statements.filter((s) => JSON.stringify(s.Resource).includes('AuditTableStreamArn'));
    const onKey = (name: string) => (s: any) => JSON.stringify(s.Resource).includes(name);
    const kms = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('kms:')));
    const tableActions = (table: string) =>
      actionsOf(
        statements.filter((s) => JSON.stringify(s.Resource).includes(`${table}Arn`) && !onStream.includes(s)),
      );

    // Assess
    expect(actionsOf(statements)).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        'dynamodb:ListStreams',
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'kms:GenerateMac',
        'kms:VerifyMac',
      ].sort(),
    );
    expect(actionsOf(onStream)).toEqual([
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
    ]);
    // Events are only read; only the chain table is written.
    expect(tableActions('AuditTable')).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(tableActions('AuditChainTable')).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    // The platform key only through DynamoDB (tables and their stream), never directly; the MAC key for MACs.
    const platform = kms.filter(onKey('PlatformKey'));
    expect(platform).toHaveLength(1);
    expect(platform[0].Condition).toEqual({
      StringEquals: { 'kms:ViaService': `dynamodb.${synth.stacks[0]!.region}.amazonaws.com` },
    });
    expect(actionsOf(kms.filter(onKey('AuditMacKey')))).toEqual(['kms:GenerateMac', 'kms:VerifyMac']);
    const star = statements.filter((s) => s.Resource === '*');
    expect(actionsOf(star)).toEqual([
      'dynamodb:ListStreams',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });
});

describe('daily chain verification (functions/jobs/verify-chains.ts)', () => {
  it('runs once a day from an EventBridge rule, with retries, and may be invoked by that rule only', () => {
    // Prepare
    const fnId = logicalId(stack, stack.auditChain.verifyChains.function);
    const ruleId = logicalId(stack, stack.auditChain.schedule);

    // Assess
    expect(resources('AWS::Events::Rule')[ruleId]!.Properties).toMatchObject({
      ScheduleExpression: 'cron(0 4 * * ? *)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 7200 },
        },
      ],
    });
    const permissions = Object.values(resources('AWS::Lambda::Permission')).filter((p) =>
      JSON.stringify(p.Properties.FunctionName).includes(fnId),
    );
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      },
    ]);
  });

  it("has Lambda's 15-minute timeout and the sequencer's table and MAC grants, but no stream or queue", () => {
    // Prepare
    const fn = functionOf(stack.auditChain.verifyChains);
    const statements = statementsOf(stack.auditChain.verifyChains);

    // Assess
    expect(fn.Properties.Timeout).toBe(900);
    expect(Object.keys(fn.Properties.Environment.Variables)).toContain('AUDIT_TABLE');
    expect(actionsOf(statements)).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'kms:GenerateMac',
        'kms:VerifyMac',
      ].sort(),
    );
  });

  it('is not reachable through the API', () => {
    // Prepare
    const ids = [stack.auditChain.sequencer, stack.auditChain.verifyChains].map((f) =>
      logicalId(stack, f.function),
    );

    // Act / Assess: no API method integrates either job function
    for (const method of Object.values(resources('AWS::ApiGateway::Method'))) {
      for (const id of ids) expect(JSON.stringify(method.Properties.Integration)).not.toContain(id);
    }
  });
});

describe('audit chain alarms', () => {
  it('notify the alarm topic, every one of them', () => {
    // Prepare
    const topicId = logicalId(stack, stack.alarmTopic);

    // Act / Assess
    expect(alarms().length).toBe(9);
    for (const [id, alarm] of alarms())
      expect([id, alarm.Properties.AlarmActions]).toEqual([id, [{ Ref: topicId }]]);
  });

  it('fire on a chain break, a failed verification, a missing daily run, events pending over a minute, stream lag, failures', () => {
    // Prepare: [alarm, metric, statistic, period, operator, threshold, missing data, periods]
    const expected = [
      ['ChainBreaksAlarm', 'ChainBreaks', 'Maximum', 3600, 'GreaterThanThreshold', 0, 'notBreaching', 1],
      [
        'VerificationFailuresAlarm',
        'VerificationFailures',
        'Maximum',
        3600,
        'GreaterThanThreshold',
        0,
        'notBreaching',
        1,
      ],
      [
        'VerificationHeartbeatAlarm',
        'ChainBreaks',
        'SampleCount',
        3600,
        'LessThanThreshold',
        1,
        'breaching',
        26,
      ],
      [
        'OldestPendingAlarm',
        'OldestPendingSeconds',
        'Maximum',
        300,
        'GreaterThanThreshold',
        60,
        'notBreaching',
        1,
      ],
      ['IteratorAgeAlarm', 'IteratorAge', 'Maximum', 300, 'GreaterThanThreshold', 60_000, 'notBreaching', 1],
      [
        'SequencerErrorLogsAlarm',
        'SequencerErrorLogs',
        'Sum',
        300,
        'GreaterThanOrEqualToThreshold',
        1,
        'notBreaching',
        1,
      ],
      [
        'FailedBatchesAlarm',
        'ApproximateNumberOfMessagesVisible',
        'Maximum',
        300,
        'GreaterThanThreshold',
        0,
        'notBreaching',
        1,
      ],
      ['SequencerErrorsAlarm', 'Errors', 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching', 1],
      [
        'VerifyChainsErrorsAlarm',
        'Errors',
        'Sum',
        300,
        'GreaterThanOrEqualToThreshold',
        1,
        'notBreaching',
        1,
      ],
    ] as const;

    // Act
    const actual = expected.map(([name]) => {
      const p = alarmNamed(name);
      return [
        name,
        p.MetricName,
        p.Statistic,
        p.Period,
        p.ComparisonOperator,
        p.Threshold,
        p.TreatMissingData,
        p.EvaluationPeriods,
      ];
    });

    // Assess
    expect(actual).toEqual(expected);
    expect(PENDING_ALARM_SECONDS).toBe(60);
    // All 26 hourly periods must be empty: one completed run in any of them keeps the heartbeat OK.
    expect(alarmNamed('VerificationHeartbeatAlarm').DatapointsToAlarm).toBe(VERIFICATION_HEARTBEAT_HOURS);
    // CloudWatch limit for periods of an hour or more: at most seven days of evaluation.
    expect(VERIFICATION_HEARTBEAT_HOURS * 3600).toBeLessThanOrEqual(7 * 86_400);
    expect(alarmNamed('IteratorAgeAlarm').Dimensions).toEqual([
      { Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.auditChain.sequencer.function) } },
    ]);
  });

  it('watch exactly the metrics (namespace, name, dimensions) that the sequencer and the daily job publish', async () => {
    // Prepare: the real handler modules and the one Powertools Metrics instance they share.
    vi.stubEnv('AUDIT_TABLE', 'audit-test');
    vi.stubEnv('AUDIT_CHAIN_TABLE', 'audit-chain-test');
    vi.stubEnv('AUDIT_MAC_KEY_ARN', 'arn:aws:kms:eu-central-1:111122223333:key/mac');
    const { metrics } = await import('../../shared/observability.js');
    const { verifyChains } = await import('../../functions/jobs/verify-chains.js');
    const { sequenceStreamBatch } = await import('../../functions/audit/sequencer.js');
    const published = new Set<string>();
    const collect = () => {
      const emf = metrics.serializeMetrics() as any;
      for (const directive of emf._aws.CloudWatchMetrics) {
        for (const metric of directive.Metrics) {
          for (const dimensionSet of directive.Dimensions as string[][]) {
            const dimensions = Object.fromEntries(dimensionSet.map((name) => [name, emf[name]]));
            published.add(JSON.stringify([directive.Namespace, metric.Name, dimensions]));
          }
        }
      }
      metrics.clearMetrics();
    };

    // Act
    await verifyChains({
      graceMs: 0,
      listLogs: async () => [],
      sequence: async () => {
        throw new Error('no log to sequence');
      },
      reader: () => ({ verify: async () => ({}) as never }),
      checkpoint: async () => ({ day: '2026-11-22', written: true }),
    });
    collect();
    await sequenceStreamBatch(
      {
        Records: [
          {
            eventName: 'INSERT',
            dynamodb: {
              SequenceNumber: '1',
              Keys: {
                pk: { S: 't_01jabcdefghjkmnpqrstvwxyz0' },
                sk: { S: `${EVENT_PREFIX}01jabcdefghjkmnpqrstvwxyz0` },
              },
            },
          },
        ],
      },
      {
        sequence: async (logId: string) => ({
          logId,
          sequenced: 1,
          batches: 1,
          conflicts: 0,
          pending: 0,
          oldestPendingAgeSeconds: 0,
          head: { seq: 1, hash: 'h' },
        }),
      },
    );
    collect();
    vi.unstubAllEnvs();

    // Assess
    const watched = alarms()
      .map(([, alarm]) => alarm.Properties)
      .filter((p) => p.Namespace === METRICS_NAMESPACE && p.MetricName !== 'SequencerErrorLogs')
      .map((p) =>
        JSON.stringify([
          p.Namespace,
          p.MetricName,
          Object.fromEntries(
            (p.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]),
          ),
        ]),
      );
    expect(watched).toHaveLength(4);
    for (const metric of watched) expect([...published]).toContain(metric);
  });

  it("count the sequencer's ERROR log lines, in the shape the Powertools logger writes them", async () => {
    // Prepare
    const filters = Object.values(resources('AWS::Logs::MetricFilter'));
    const { logger } = await import('../../shared/observability.js');
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);

    // Act
    logger.error('sequencing failed', { logId: 't_01jabcdefghjkmnpqrstvwxyz0', error: 'boom' });
    out.mockRestore();
    err.mockRestore();

    // Assess
    expect(filters).toHaveLength(1);
    expect(filters[0]!.Properties).toEqual({
      FilterPattern: '{ $.level = "ERROR" }',
      LogGroupName: { Ref: logicalId(stack, stack.auditChain.sequencer.logGroup) },
      MetricTransformations: [
        { MetricName: 'SequencerErrorLogs', MetricNamespace: METRICS_NAMESPACE, MetricValue: '1' },
      ],
    });
    const line = JSON.parse(lines.find((l) => l.includes('sequencing failed'))!);
    expect(line.level).toBe('ERROR');
    expect(alarmNamed('SequencerErrorLogsAlarm').Namespace).toBe(METRICS_NAMESPACE);
  });
});
