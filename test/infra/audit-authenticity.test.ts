import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_LOGICAL_IDS } from '../../infra/stacks/stateful-stack.js';
import type { StatelessStack } from '../../infra/stacks/stateless-stack.js';
import { AUDIT_SEALER_TAG } from '../../shared/domain/audit-mac-key.js';
import { tenantDataSessionPolicy } from '../../shared/domain/tenant-data-policy.js';
import { DYNAMODB_ITEM_WRITES } from '../support/iam-simulator.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

/**
 * The audit chain's authenticity rests on two IAM facts, proven here with the IAM policy simulator on the
 * synthesised templates (every role of the stateless stack, its identity policies, the audit MAC key's key
 * policy, and the tenant-data session policy):
 * 1. no runtime role can write the audit chain table (chain records, markers, heads, checkpoints, the log
 *    registry) in any way; only the sequencer and the daily job may, and only with conditional Puts;
 * 2. no runtime role can make an audit MAC: only the two roles tagged as audit sealers may GenerateMac, and
 *    the key policy denies it to everyone else whatever their IAM policies say.
 */

const ACCOUNT = '123456789012';
const TENANT = 't_01jx0000000000000000000001';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
interface Statement {
  Effect: string;
  Action?: unknown;
  Resource?: unknown;
  Condition?: unknown;
  [key: string]: unknown;
}

let synth: Synthesised;
let region: string;
let stack: StatelessStack;
let stateless: Resources;
let stateful: Resources;
let statefulOutputs: Record<string, { Value: any; Export?: { Name: string } }>;

beforeAll(() => {
  synth = synthStrongroom();
  region = synth.stacks[0]!.region;
  stack = synth.stacks[0]!.stateless;
  stateless = Template.fromStack(stack).toJSON().Resources;
  const statefulJson = Template.fromStack(synth.stacks[0]!.stateful).toJSON();
  stateful = statefulJson.Resources;
  statefulOutputs = statefulJson.Outputs ?? {};
});
afterAll(() => synth?.cleanup());

const arnOfTable = (id: string) => `arn:aws:dynamodb:${region}:${ACCOUNT}:table/${id}`;
const arnOfKey = (id: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`;
const chainTableArn = () => arnOfTable(STATEFUL_LOGICAL_IDS.tables.auditChain);
const eventsTableArn = () => arnOfTable(STATEFUL_LOGICAL_IDS.tables.audit);
const macKeyArn = () => arnOfKey(STATEFUL_LOGICAL_IDS.auditMacKey);
const roleArn = (id: string) => `arn:aws:iam::${ACCOUNT}:role/${id}`;

/** The ARN a stateful resource's attribute stands for. */
function statefulAttribute(id: string, attribute: string): string {
  const type = stateful[id]?.Type;
  if (type === 'AWS::DynamoDB::Table')
    return attribute === 'StreamArn' ? `${arnOfTable(id)}/stream/2026-01-01T00:00:00.000` : arnOfTable(id);
  if (type === 'AWS::KMS::Key') return arnOfKey(id);
  if (type === 'AWS::S3::Bucket') return `arn:aws:s3:::${id.toLowerCase()}`;
  return `arn:aws:cloudformation:${region}:${ACCOUNT}:stateful/${id}`;
}

/** A template value as a concrete string: pseudo parameters, imports of stateful ARNs, joins. */
function concrete(value: unknown): unknown {
  if (typeof value === 'string' || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(concrete);
  const v = value as Record<string, any>;
  if (v.Ref !== undefined) {
    return (
      {
        'AWS::Partition': 'aws',
        'AWS::AccountId': ACCOUNT,
        'AWS::Region': region,
        'AWS::URLSuffix': 'amazonaws.com',
      }[v.Ref as string] ?? String(v.Ref)
    );
  }
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(concrete).join(v['Fn::Join'][0]);
  if (v['Fn::ImportValue']) {
    const output = Object.values(statefulOutputs).find((o) => o.Export?.Name === v['Fn::ImportValue']);
    const getAtt = output?.Value?.['Fn::GetAtt'];
    if (getAtt) return statefulAttribute(getAtt[0], getAtt[1]);
    if (output?.Value?.Ref) return String(output.Value.Ref).toLowerCase();
    return 'unresolved-import';
  }
  if (v['Fn::GetAtt']) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    const type = stateless[id]?.Type;
    if (type === 'AWS::IAM::Role') return roleArn(id);
    if (type === 'AWS::SQS::Queue') return `arn:aws:sqs:${region}:${ACCOUNT}:${id}`;
    if (type === 'AWS::Logs::LogGroup') return `arn:aws:logs:${region}:${ACCOUNT}:log-group:${id}:*`;
    return `arn:aws:lambda:${region}:${ACCOUNT}:function:${id}-${attribute}`;
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, concrete(x)]));
}

const logicalId = (s: Stack, construct: { node: { defaultChild?: unknown } }) =>
  s.getLogicalId(construct.node.defaultChild as never);

/** Every role of the stateless stack with its identity statements (inline and attached) and its tags. */
function roles(): Array<{ id: string; statements: Statement[]; tags: Record<string, string> }> {
  return Object.entries(stateless)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id, r]) => {
      const inline = (r.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
      const attached = Object.values(stateless)
        .filter(
          (p) =>
            p.Type === 'AWS::IAM::Policy' &&
            (p.Properties.Roles as unknown[]).some(
              (ref) => JSON.stringify(ref) === JSON.stringify({ Ref: id }),
            ),
        )
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      const tags = Object.fromEntries(
        (r.Properties.Tags ?? []).map((t: { Key: string; Value: string }) => [t.Key, t.Value]),
      );
      return { id, statements: concrete([...inline, ...attached]) as Statement[], tags };
    });
}

/** The roles allowed to seal: the sequencer's and the daily job's. */
const sealerIds = () =>
  [stack.auditChain.sequencer, stack.auditChain.verifyChains].map((f) => logicalId(stack, f.role));

async function decide(input: {
  principal: string;
  statements: Statement[];
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  resourcePolicy?: unknown;
  sessionPolicy?: unknown;
}): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal: input.principal,
        action: input.action,
        resource: { resource: input.resource, accountId: ACCOUNT },
        contextVariables: { 'aws:PrincipalArn': input.principal, ...(input.context ?? {}) },
      },
      identityPolicies: [{ name: 'role', policy: { Version: '2012-10-17', Statement: input.statements } }],
      ...(input.resourcePolicy ? { resourcePolicy: input.resourcePolicy } : {}),
      ...(input.sessionPolicy ? { sessionPolicy: input.sessionPolicy } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    } as never,
    {},
  );
  if (response.resultType !== 'single') throw new Error(JSON.stringify(response).slice(0, 2000));
  return response.overallResult;
}

/** The audit MAC key's policy as deployed. */
const macKeyPolicy = () => concrete(stateful[STATEFUL_LOGICAL_IDS.auditMacKey]!.Properties.KeyPolicy);

describe('the audit chain table: only the sequencer and the daily job write it (IAM simulator)', () => {
  it('found the roles: every API function, the sequencer, the daily job and the tenant-data role', () => {
    // Act
    const ids = roles().map((r) => r.id);

    // Assess
    for (const fn of Object.values(stack.functions)) expect(ids).toContain(logicalId(stack, fn!.role));
    for (const id of sealerIds()) expect(ids).toContain(id);
    expect(ids.length).toBeGreaterThanOrEqual(Object.keys(stack.functions).length + 3);
  });

  it('denies every write of chain items to every other role, for any log (a tenant, the platform, the registry)', async () => {
    // Prepare
    const sealers = sealerIds();

    // Act / Assess: each other role, each chain write, each log
    for (const role of roles().filter((r) => !sealers.includes(r.id))) {
      for (const action of DYNAMODB_ITEM_WRITES) {
        for (const leadingKey of [TENANT, 'platform', 'registry#audit-logs']) {
          expect(
            await decide({
              principal: roleArn(role.id),
              statements: role.statements,
              action,
              resource: chainTableArn(),
              context: { 'dynamodb:LeadingKeys': [leadingKey] },
            }),
            `${role.id} ${action} ${leadingKey}`,
          ).not.toBe('Allowed');
        }
      }
    }
  });

  it('lets the sequencer and the daily job put and condition-check chain items, never update or delete them', async () => {
    // Act / Assess: for each sealer, the chain's writes it needs, none other, and no write of events
    for (const role of roles().filter((r) => sealerIds().includes(r.id))) {
      const decideOn = (action: string) =>
        decide({
          principal: roleArn(role.id),
          statements: role.statements,
          action,
          resource: chainTableArn(),
          context: { 'dynamodb:LeadingKeys': [TENANT] },
        });
      for (const action of [
        'dynamodb:PutItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
      ])
        expect(await decideOn(action), `${role.id} ${action}`).toBe('Allowed');
      for (const action of DYNAMODB_ITEM_WRITES.filter(
        (a) => !['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'].includes(a),
      ))
        expect(await decideOn(action), `${role.id} ${action}`).not.toBe('Allowed');
      // Events are only read by them.
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'])
        expect(
          await decide({
            principal: roleArn(role.id),
            statements: role.statements,
            action,
            resource: eventsTableArn(),
            context: { 'dynamodb:LeadingKeys': [TENANT] },
          }),
          `${role.id} ${action} on events`,
        ).not.toBe('Allowed');
    }
  });

  it('lets no role update or delete audit events', async () => {
    // Act / Assess
    for (const role of roles()) {
      for (const action of DYNAMODB_ITEM_WRITES.filter(
        (a) => !['dynamodb:PutItem', 'dynamodb:ConditionCheckItem', 'dynamodb:PartiQLInsert'].includes(a),
      ))
        expect(
          await decide({
            principal: roleArn(role.id),
            statements: role.statements,
            action,
            resource: eventsTableArn(),
            context: { 'dynamodb:LeadingKeys': [TENANT] },
          }),
          `${role.id} ${action}`,
        ).not.toBe('Allowed');
    }
  });

  it('lets tenant-data sessions read their own tenant’s chain (list sequences, verify) and write none of it', async () => {
    // Prepare: the deployed role's own policy, narrowed by the session policy the functions pass.
    const role = roles().find((r) => r.id === logicalId(stack, stack.tenantDataRole as never))!;
    const tables = {
      tenantDataTableArn: arnOfTable(STATEFUL_LOGICAL_IDS.tables.tenantData),
      auditTableArn: eventsTableArn(),
      auditChainTableArn: chainTableArn(),
      tableKeyArn: arnOfKey(STATEFUL_LOGICAL_IDS.platformKey),
      region,
    };
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/${role.id}/tenant-data-${TENANT}`;
    const asSession = (action: string, leadingKey: string) =>
      decide({
        principal: session,
        statements: role.statements,
        action,
        resource: chainTableArn(),
        context: { 'dynamodb:LeadingKeys': [leadingKey] },
        sessionPolicy: tenantDataSessionPolicy(TENANT, tables),
      });

    // Act / Assess
    for (const action of ['dynamodb:GetItem', 'dynamodb:Query']) {
      expect(await asSession(action, TENANT), action).toBe('Allowed');
      expect(await asSession(action, 't_01jx0000000000000000000002'), action).not.toBe('Allowed');
    }
    for (const action of DYNAMODB_ITEM_WRITES)
      expect(await asSession(action, TENANT), action).not.toBe('Allowed');
  });
});

describe('the audit MAC key: only the sealing roles can make a MAC (IAM simulator, key policy and IAM together)', () => {
  const onKey = (principal: string, statements: Statement[], action: string, tags: Record<string, string>) =>
    decide({
      principal,
      statements,
      action,
      resource: macKeyArn(),
      resourcePolicy: macKeyPolicy(),
      context: Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
    });

  it('tags exactly the sequencer and the daily job as audit sealers', () => {
    // Act
    const tagged = roles()
      .filter((r) => r.tags[AUDIT_SEALER_TAG] !== undefined)
      .map((r) => [r.id, r.tags[AUDIT_SEALER_TAG]]);

    // Assess
    expect(tagged.sort()).toEqual(
      sealerIds()
        .map((id) => [id, TEST_STAGE])
        .sort(),
    );
  });

  it('lets the sealers generate and verify MACs, the audit API verify only, and every other role neither', async () => {
    // Prepare
    const auditFn = logicalId(stack, stack.functions.audit!.role);

    // Act / Assess: for each role
    for (const role of roles()) {
      const sealer = sealerIds().includes(role.id);
      const generate = await onKey(roleArn(role.id), role.statements, 'kms:GenerateMac', role.tags);
      const verify = await onKey(roleArn(role.id), role.statements, 'kms:VerifyMac', role.tags);
      expect([role.id, generate], 'GenerateMac').toEqual([
        role.id,
        sealer ? 'Allowed' : expect.not.stringMatching(/^Allowed$/),
      ]);
      expect([role.id, verify], 'VerifyMac').toEqual([
        role.id,
        sealer || role.id === auditFn ? 'Allowed' : expect.not.stringMatching(/^Allowed$/),
      ]);
    }
  });

  it('denies GenerateMac to an untagged principal even if its IAM policy allowed kms:* (the key policy decides)', async () => {
    // Prepare: a role outside the sealers whose IAM policy allows all of KMS
    const everything = [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }];
    const principal = roleArn('MisgrantedRole');

    // Act / Assess: untagged or tagged for another stage, no MAC; verifying is not refused
    expect(await onKey(principal, everything, 'kms:GenerateMac', {})).toBe('ExplicitlyDenied');
    expect(await onKey(principal, everything, 'kms:GenerateMac', { [AUDIT_SEALER_TAG]: 'prod' })).toBe(
      'ExplicitlyDenied',
    );
    expect(await onKey(principal, everything, 'kms:VerifyMac', {})).toBe('Allowed');

    // Act / Assess: the control: the tag is what the key policy looks at.
    expect(await onKey(principal, everything, 'kms:GenerateMac', { [AUDIT_SEALER_TAG]: TEST_STAGE })).toBe(
      'Allowed',
    );
  });

  it('lets no role tag roles (and so make itself a sealer) or change the key policy', async () => {
    // Act / Assess
    for (const role of roles()) {
      for (const action of ['iam:TagRole', 'iam:UntagRole', 'iam:CreateRole'])
        expect(
          await decide({
            principal: roleArn(role.id),
            statements: role.statements,
            action,
            resource: roleArn(role.id),
            context: { 'aws:TagKeys': [AUDIT_SEALER_TAG] },
          }),
          `${role.id} ${action}`,
        ).not.toBe('Allowed');
      for (const action of [
        'kms:PutKeyPolicy',
        'kms:ScheduleKeyDeletion',
        'kms:DisableKey',
        'kms:CreateGrant',
      ])
        expect(
          await onKey(roleArn(role.id), role.statements, action, role.tags),
          `${role.id} ${action}`,
        ).not.toBe('Allowed');
    }
  });
});
