import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantKey } from '../../infra/constructs/tenant-key.js';
import { TenantKeys } from '../../infra/constructs/tenant-keys.js';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';
import { TENANT_KEY_USE_ACTIONS, tenantKeyPolicy } from '../../shared/domain/key-policy.js';

const ACCOUNT = '111122223333';
const REGION = 'eu-central-1';
const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';
const OTHER_TENANT = 't_01jabcdefghjkmnpqrstvwxyz1';
const CONNECTIONS_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-test-connections`;
const QUERY_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-test-query`;
const STORAGE_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-test-storage`;

let outdir: string;
let stack: Stack;
let template: Template;
let keyPolicy: any;
let roleStatements: Map<string, any[]>;

beforeAll(() => {
  // The real context and feature flags (policy minimisation included), cdk-nag as in infra/app.ts.
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
  outdir = mkdtempSync(join(tmpdir(), 'tenant-key-'));
  const app = new App({ outdir, context: cdkJson.context });
  stack = new Stack(app, 'TenantKeys', { env: { account: ACCOUNT, region: REGION } });
  const access = new TenantKeys(stack, 'TenantKeys', { stage: 'test' });
  const roles = [CONNECTIONS_ROLE, QUERY_ROLE, STORAGE_ROLE].map((arn, i) =>
    iam.Role.fromRoleArn(stack, `Role${i}`, arn, { mutable: true }),
  );
  access.grantUse(roles[0]!);
  access.grantUse(roles[1]!);
  new TenantKey(stack, 'Acme', {
    stage: 'test',
    tenantId: TENANT,
    applicationRoleArns: [CONNECTIONS_ROLE, QUERY_ROLE],
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  template = Template.fromStack(stack);
  const keys = template.findResources('AWS::KMS::Key');
  expect(Object.keys(keys)).toHaveLength(1);
  // The only token left is the partition of the account root ARN, which the policy builds from the stack.
  keyPolicy = JSON.parse(
    JSON.stringify(stack.resolve(Object.values(keys)[0]!.Properties.KeyPolicy)).replace(
      /\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":iam::111122223333:root"\]\]\}/g,
      '"arn:aws:iam::111122223333:root"',
    ),
  );
  roleStatements = new Map();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as any[]) {
    for (const role of policy.Properties.Roles) {
      roleStatements.set(role, [
        ...(roleStatements.get(role) ?? []),
        ...policy.Properties.PolicyDocument.Statement,
      ]);
    }
  }
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** A resolved template value with the partition filled in and Fn::Join of plain strings joined. */
function literal(value: any): any {
  if (Array.isArray(value)) return value.map(literal);
  if (value && typeof value === 'object') {
    if (value.Ref === 'AWS::Partition') return 'aws';
    if (value['Fn::Join']) {
      const [separator, parts] = value['Fn::Join'];
      return parts.map(literal).join(separator);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, literal(v)]));
  }
  return value;
}

function simulate(principal: string, action: string, tenantId: string | undefined): string {
  const name = principal.split('/').pop()!;
  const identity = (roleStatements.get(name) ?? []).map((s) => literal(stack.resolve(s)));
  const context: Record<string, string | string[]> = {
    'aws:PrincipalArn': principal,
    'aws:ResourceTag/strongroom:stage': 'test',
    'aws:ResourceTag/tenantId': TENANT,
  };
  if (tenantId) {
    context['kms:EncryptionContext:tenantId'] = tenantId;
    context['kms:EncryptionContextKeys'] = ['tenantId', 'purpose', 'recordId'];
  }
  return runUnsafeSimulation(
    {
      identityPolicies: [{ name: 'role', policy: { Version: '2012-10-17', Statement: identity } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: createValidatedPolicy(keyPolicy, validateResourcePolicy, { name: 'key' }) as never,
      request: {
        principal,
        action,
        resource: {
          resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
          accountId: ACCOUNT,
        },
        contextVariables: context,
      },
    },
    {},
  );
}

describe('TenantKey (pre-provisioned tenant keys)', () => {
  it('uses exactly the policy of tenantKeyPolicy', () => {
    // Prepare
    const expected = tenantKeyPolicy({
      accountId: ACCOUNT,
      partition: 'aws',
      tenantId: TENANT,
      applicationRoleArns: [CONNECTIONS_ROLE, QUERY_ROLE],
      adminRoleArns: [],
    });

    // Act / Assess
    expect(keyPolicy).toEqual(expected);
    expect(validateResourcePolicy(keyPolicy)).toEqual([]);
  });

  it('turns rotation on, retains the key and names it by stage and tenant', () => {
    // Act / Assess
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        EnableKeyRotation: true,
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
        PendingWindowInDays: 30,
        Tags: [
          { Key: 'strongroom:stage', Value: 'test' },
          { Key: 'tenantId', Value: TENANT },
        ],
      },
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: `alias/strongroom/test/tenant/${TENANT}`,
    });
  });

  it('has no wildcard principal, no kms:* and no way to use the key without the tenant context', () => {
    // Act / Assess
    for (const statement of keyPolicy.Statement) {
      expect(JSON.stringify(statement.Principal)).not.toContain('"*"');
      expect([statement.Action].flat()).not.toContain('kms:*');
    }

    // Act
    const use = keyPolicy.Statement.filter((s: any) =>
      [s.Action].flat().some((a: string) => (TENANT_KEY_USE_ACTIONS as readonly string[]).includes(a)),
    );

    // Assess: one use statement, conditioned on the tenant
    expect(use).toHaveLength(1);
    expect(use[0].Condition.StringEquals).toEqual({ 'kms:EncryptionContext:tenantId': TENANT });
  });

  it('grants the application roles use of tenant keys of this stage only, in IAM', () => {
    // Act
    const statements = roleStatements.get('strongroom-test-connections')!;

    // Assess
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: 'UseTenantKeys',
        Effect: 'Allow',
        Action: [...TENANT_KEY_USE_ACTIONS],
        Condition: { StringEquals: { 'aws:ResourceTag/strongroom:stage': 'test' } },
      }),
    );
    expect(roleStatements.has('strongroom-test-storage')).toBe(false);
  });

  it('allows use end to end (key policy and IAM together) only for the granted roles and this tenant', () => {
    // Act / Assess: with the key policy and IAM, each granted role for this tenant only, and the storage role not
    for (const role of [CONNECTIONS_ROLE, QUERY_ROLE]) {
      for (const action of TENANT_KEY_USE_ACTIONS) {
        expect(simulate(role, action, TENANT)).toBe('Allowed');
        expect(simulate(role, action, OTHER_TENANT)).not.toBe('Allowed');
        expect(simulate(role, action, undefined)).not.toBe('Allowed');
      }
      expect(simulate(role, 'kms:ScheduleKeyDeletion', TENANT)).not.toBe('Allowed');
    }
    expect(simulate(STORAGE_ROLE, 'kms:Decrypt', TENANT)).not.toBe('Allowed');
  });

  it('raises no cdk-nag finding on the key', () => {
    // Act
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const findings = report.pluginReports
      .flatMap((p: any) => p.violations)
      .flatMap((v: any) => v.violatingConstructs.map((c: any) => `${v.ruleName} at ${c.constructPath}`))
      .filter((f: string) => f.includes('/Acme/'));

    // Assess
    expect(findings).toEqual([]);
  });
});
