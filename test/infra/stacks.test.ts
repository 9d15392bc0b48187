import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_DATA_ASSUME_ACTIONS } from '../../infra/constructs/tenant-data-role.js';
import { createTableInput } from '../../infra/local/provision.js';
import { AREA_GRANTS } from '../../infra/stacks/grants/index.js';
import { BACKUP_RETENTION_DAYS, STATEFUL_LOGICAL_IDS } from '../../infra/stacks/stateful-stack.js';
import { addStrongroomStacks, contextList } from '../../infra/strongroom.js';
import {
  AUDIT_MAC_KEY,
  auditMacKeyAlias,
  auditMacSealersOnlyStatement,
} from '../../shared/domain/audit-mac-key.js';
import { AREAS } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { TABLES } from '../../shared/store/tables.js';
import { type Synthesised, synthStrongroom, TEST_REGIONS, TEST_STAGE } from './synth.js';

type Resource = {
  Type: string;
  Properties: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

let synth: Synthesised;
let stateful: Template;
let stateless: Template;
beforeAll(() => {
  synth = synthStrongroom();
  stateful = Template.fromStack(synth.stacks[0]!.stateful);
  stateless = Template.fromStack(synth.stacks[0]!.stateless);
});
afterAll(() => synth?.cleanup());

/**
 * CDK's own BucketDeployment function (and its role), which copies the built console into its bucket at
 * deploy time; test/infra/console-distribution.test.ts covers it. Not one of Strongroom's functions.
 */
const isCdkConsoleDeployer = (logicalId: string) => logicalId.startsWith('CustomCDKBucketDeployment');
const byType = (template: Template, type: string) => template.findResources(type) as Record<string, Resource>;
const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

describe('the app', () => {
  it('reads regions from cdk.json arrays and from -c comma lists alike', () => {
    // Act / Assess
    expect(contextList(['eu-central-1', 'eu-west-1'])).toEqual(['eu-central-1', 'eu-west-1']);
    expect(contextList('eu-central-1, eu-west-1')).toEqual(['eu-central-1', 'eu-west-1']);
    expect(contextList('["us-east-1"]')).toEqual(['us-east-1']);
    expect(contextList(undefined)).toEqual([]);
  });

  it('refuses a configuration without regions or with a stage that cannot name resources', () => {
    // Act / Assess
    expect(() => addStrongroomStacks(new App(), { stage: 'dev', regions: [] })).toThrow(/no region/);
    expect(() => addStrongroomStacks(new App(), { stage: 'Prod Stage', regions: ['eu-west-1'] })).toThrow(
      /kebab-case/,
    );
  });

  it('builds one stateful and one stateless stack per configured region, in that region', () => {
    // Act / Assess
    expect(synth.stacks.map((s) => [s.region, s.stateful.region, s.stateless.region])).toEqual(
      TEST_REGIONS.map((r) => [r, r, r]),
    );
    expect(synth.stacks.map((s) => s.stateful.stackName)).toEqual(
      TEST_REGIONS.map((r) => `strongroom-${TEST_STAGE}-${r}-stateful`),
    );
  });

  it('protects the stateful stack from termination and not the stateless one', () => {
    // Act / Assess
    for (const { stateful: s, stateless: l } of synth.stacks) {
      expect(s.terminationProtection).toBe(true);
      expect(l.terminationProtection).toBeFalsy();
    }
  });
});

describe('stateful stack', () => {
  it('keeps the logical IDs of every stateful resource fixed', () => {
    // Prepare: the list is written out here on purpose; changing one replaces (empties) a resource.
    const expected = {
      'AWS::KMS::Key': ['AuditMacKey', 'PlatformKey', 'StorageKey'],
      'AWS::KMS::Alias': ['AuditMacKeyAlias', 'PlatformKeyAlias', 'StorageKeyAlias'],
      'AWS::DynamoDB::Table': ['AuditChainTable', 'AuditTable', 'IdentityTable', 'TenantDataTable'],
      'AWS::S3::Bucket': ['AccessLogsBucket', 'ExportBucket', 'StorageBucket'],
      'AWS::Backup::BackupVault': ['BackupVault'],
    };

    // Act
    const actual = Object.fromEntries(
      Object.keys(expected).map((type) => [type, Object.keys(stateful.findResources(type)).sort()]),
    );

    // Assess
    expect(actual).toEqual(expected);
    expect(Object.values(STATEFUL_LOGICAL_IDS.tables).sort()).toEqual(expected['AWS::DynamoDB::Table']);
  });

  it('retains every data-bearing resource on delete and on replacement', () => {
    // Act / Assess
    for (const type of [
      'AWS::KMS::Key',
      'AWS::DynamoDB::Table',
      'AWS::S3::Bucket',
      'AWS::Backup::BackupVault',
    ]) {
      for (const [id, resource] of Object.entries(byType(stateful, type))) {
        expect([id, resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual([id, 'Retain', 'Retain']);
      }
    }
  });

  it('rotates the platform key and names it alias/strongroom/<stage>/platform', () => {
    // Act / Assess
    stateful.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    stateful.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: `alias/strongroom/${TEST_STAGE}/platform`,
      TargetKeyId: getAtt('PlatformKey'),
    });
  });

  it('makes the audit MAC key an HMAC-SHA-256 key, as local mode does, named alias/strongroom/<stage>/audit-mac', () => {
    // Act
    const key = byType(stateful, 'AWS::KMS::Key').AuditMacKey!.Properties;

    // Assess: the HMAC spec, no rotation, the sealers-only deny, the alias
    expect({ KeySpec: key.KeySpec, KeyUsage: key.KeyUsage }).toEqual({
      KeySpec: AUDIT_MAC_KEY.keySpec,
      KeyUsage: AUDIT_MAC_KEY.keyUsage,
    });
    // KMS does not rotate HMAC keys.
    expect(key.EnableKeyRotation).toBeUndefined();
    const expected = auditMacSealersOnlyStatement(TEST_STAGE);
    const deny = key.KeyPolicy.Statement.find((st: any) => st.Sid === expected.Sid);
    expect({ ...deny, Action: [deny.Action].flat() }).toEqual(expected);
    stateful.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: auditMacKeyAlias(TEST_STAGE),
      TargetKeyId: getAtt('AuditMacKey'),
    });
  });

  it.each(TABLES.map((t) => [t.id, t] as const))(
    'table %s: platform CMK, PITR, deletion protection, TTL and its stream setting',
    (_id, def) => {
      // Act / Assess
      stateful.hasResource('AWS::DynamoDB::Table', {
        Properties: Match.objectLike({
          BillingMode: 'PAY_PER_REQUEST',
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: getAtt('PlatformKey') },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
          TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
          StreamSpecification: def.stream === 'NONE' ? Match.absent() : { StreamViewType: def.stream },
        }),
      });
      const table = byType(stateful, 'AWS::DynamoDB::Table')[STATEFUL_LOGICAL_IDS.tables[def.id]]!;
      expect(table.Properties.StreamSpecification?.StreamViewType ?? 'NONE').toBe(def.stream);
    },
  );

  it('encrypts the data buckets with their keys, blocks public access, enforces TLS, versions and logs them', () => {
    // Prepare
    const keyOf = {
      [STATEFUL_LOGICAL_IDS.storageBucket]: STATEFUL_LOGICAL_IDS.storageKey,
      [STATEFUL_LOGICAL_IDS.exportBucket]: STATEFUL_LOGICAL_IDS.platformKey,
    };

    // Act / Assess: each bucket's encryption, public access, versioning, logging and TLS-only policy
    for (const [id, keyId] of Object.entries(keyOf)) {
      const bucket = byType(stateful, 'AWS::S3::Bucket')[id]!;
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              // Managed objects are under tenant keys, whose policies refuse a Bucket Key: off there.
              BucketKeyEnabled: id !== STATEFUL_LOGICAL_IDS.storageBucket,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: getAtt(keyId),
              },
            },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: STATEFUL_LOGICAL_IDS.accessLogsBucket } },
      });
      stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('the managed bucket refuses any object under tenants/ written with another encryption, aws:kms without a key, SSE-C or its own key named (defence in depth beside the session policy; the parts of an upload, which carry no headers, pass)', () => {
    // Act
    const policy = Object.values(byType(stateful, 'AWS::S3::BucketPolicy')).find(
      (p) =>
        JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: STATEFUL_LOGICAL_IDS.storageBucket }),
    )!;
    const statements = policy.Properties.PolicyDocument.Statement as Record<string, unknown>[];
    const tenantObjects = {
      'Fn::Join': ['', [getAtt(STATEFUL_LOGICAL_IDS.storageBucket), '/tenants/*']],
    };
    const deny = (Sid: string, Condition: unknown) => ({
      Sid,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Resource: tenantObjects,
      Condition,
    });

    // Assess: exactly the domain's statements (managedBucketPolicyStatements), which local mode applies too
    expect(statements.filter((s) => String(s.Sid).startsWith('DenyTenantObjects'))).toEqual([
      deny('DenyTenantObjectsOtherEncryption', {
        StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
        Null: { 's3:x-amz-server-side-encryption': 'false' },
      }),
      deny('DenyTenantObjectsStorageKey', {
        StringEquals: {
          's3:x-amz-server-side-encryption-aws-kms-key-id': getAtt(STATEFUL_LOGICAL_IDS.storageKey),
        },
      }),
      deny('DenyTenantObjectsKmsWithoutKey', {
        Null: {
          's3:x-amz-server-side-encryption': 'false',
          's3:x-amz-server-side-encryption-aws-kms-key-id': 'true',
        },
      }),
      deny('DenyTenantObjectsCustomerKey', {
        Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' },
      }),
    ]);
  });

  it('backs the tables up daily into a CMK-encrypted vault and keeps each backup 35 days', () => {
    // Act / Assess
    stateful.hasResourceProperties('AWS::Backup::BackupVault', { EncryptionKeyArn: getAtt('PlatformKey') });
    stateful.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [
          Match.objectLike({
            ScheduleExpression: 'cron(0 3 * * ? *)',
            Lifecycle: { DeleteAfterDays: BACKUP_RETENTION_DAYS },
            TargetBackupVault: { 'Fn::GetAtt': ['BackupVault', 'BackupVaultName'] },
          }),
        ],
      },
    });
    expect(BACKUP_RETENTION_DAYS).toBe(35);
    const selection = Object.values(byType(stateful, 'AWS::Backup::BackupSelection'))[0]!;
    expect(selection.Properties.BackupSelection.Resources).toEqual(
      ['IdentityTable', 'TenantDataTable', 'AuditTable', 'AuditChainTable'].map(getAtt),
    );
  });
});

describe('local provisioning agrees with the synthesised tables', () => {
  it.each(TABLES.map((t) => [t.id, t] as const))(
    '%s: key schema, attributes, indexes, stream, TTL',
    (_id, def) => {
      // Prepare
      const local = createTableInput('local-name', def);
      const cfn = byType(stateful, 'AWS::DynamoDB::Table')[STATEFUL_LOGICAL_IDS.tables[def.id]]!.Properties;
      const sortByName = <T extends { AttributeName?: string }>(list: T[] = []) =>
        [...list].sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));

      // Act
      const cfnIndexes = (cfn.GlobalSecondaryIndexes ?? []).map((i: any) => ({
        IndexName: i.IndexName,
        KeySchema: i.KeySchema,
        Projection: i.Projection,
      }));

      // Assess
      expect(cfn.KeySchema).toEqual(local.KeySchema);
      expect(sortByName(cfn.AttributeDefinitions)).toEqual(sortByName(local.AttributeDefinitions));
      expect(cfnIndexes).toEqual(local.GlobalSecondaryIndexes ?? []);
      expect(cfn.StreamSpecification?.StreamViewType).toEqual(local.StreamSpecification?.StreamViewType);
      expect(cfn.DeletionProtectionEnabled).toBe(local.DeletionProtectionEnabled);
      // Local mode enables TTL on `def.ttlAttribute` (provisionLocal); the template must name the same one.
      expect(cfn.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
    },
  );
});

describe('stateless stack: functions', () => {
  it('deploys one function per area', () => {
    // Act / Assess
    expect(Object.keys(synth.stacks[0]!.stateless.functions).sort()).toEqual([...AREAS].sort());
    expect(AREAS).toContain('public');
  });

  it('registers the IAM of every area (infra/stacks/grants/<area>.ts)', () => {
    // Act / Assess
    expect(AREAS.filter((area) => !AREA_GRANTS[area])).toEqual([]);
  });

  it('runs every function on arm64 and Node 22 with tracing, its own log group and Powertools settings', () => {
    // Act
    const functions = Object.fromEntries(
      Object.entries(byType(stateless, 'AWS::Lambda::Function')).filter(([id]) => !isCdkConsoleDeployer(id)),
    );

    // Assess: one per area, plus the audit sequencer and the daily chain verification.
    expect(Object.keys(functions)).toHaveLength(AREAS.length + 2);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs22.x',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'strongroom',
            STAGE: TEST_STAGE,
          }),
        },
      });
      // Stack traces are mapped to the TypeScript by the function itself, its maps read by the first stack it
      // formats (shared/aws/stack-traces.ts), not by Node as every file loads.
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
      expect(fn.Properties.Environment.Variables.AWS_ENDPOINT_URL).toBeUndefined();
      expect(fn.Properties.Environment.Variables.ALLOW_PRIVATE_NETWORKS).toBeUndefined();
    }
    for (const group of Object.values(byType(stateless, 'AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(365);
    }
  });

  it('grants no function Scan, wildcard DynamoDB actions or the AWS-managed Lambda policy', () => {
    // Act
    const statements = Object.values(byType(stateless, 'AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[],
    );
    const actions = statements.flatMap((s) => [s.Action].flat());

    // Assess
    expect(actions.filter((a) => /^dynamodb:(Scan|\*)$|^\*$/.test(a))).toEqual([]);
    for (const [id, role] of Object.entries(byType(stateless, 'AWS::IAM::Role'))) {
      if (isCdkConsoleDeployer(id)) continue;
      expect(JSON.stringify(role.Properties.ManagedPolicyArns ?? [])).not.toContain(
        'AWSLambdaBasicExecutionRole',
      );
    }
  });
});

describe('stateless stack: tenant-data role', () => {
  const tenantDataRole = () => {
    const entries = Object.entries(byType(stateless, 'AWS::IAM::Role')).filter(([id]) =>
      id.startsWith('TenantDataRole'),
    );
    expect(entries).toHaveLength(1);
    return entries[0]!;
  };
  const functionRoleIds = () =>
    Object.values(byType(stateless, 'AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Role['Fn::GetAtt'][0] as string,
    );
  const rolesAllowedToAssume = (roleId: string) =>
    Object.values(byType(stateless, 'AWS::IAM::Policy'))
      .filter((p) =>
        (p.Properties.PolicyDocument.Statement as any[]).some(
          (s) =>
            [s.Action].flat().includes('sts:AssumeRole') &&
            JSON.stringify(s.Resource).includes(`"${roleId}"`),
        ),
      )
      .flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));

  it('trusts only function roles, and exactly those allowed to assume it', () => {
    // Prepare
    const [roleId, role] = tenantDataRole();
    const statements = role.Properties.AssumeRolePolicyDocument.Statement as any[];

    // Act
    const trusted = statements
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) => [s.Principal.AWS].flat().map((p: any) => p['Fn::GetAtt']?.[0] ?? JSON.stringify(p)));

    // Assess
    expect(statements.every((s) => Object.keys(s.Principal).join() === 'AWS')).toBe(true);
    expect(
      statements.every((s) =>
        [s.Action].flat().every((a: string) => TENANT_DATA_ASSUME_ACTIONS.includes(a as never)),
      ),
    ).toBe(true);
    expect(trusted.length).toBeGreaterThan(0);
    for (const id of trusted) expect(functionRoleIds()).toContain(id);
    expect([...trusted].sort()).toEqual([...new Set(rolesAllowedToAssume(roleId))].sort());
  });

  it('is not trusted by, nor assumable from, the public function', () => {
    // Prepare
    const publicRole = functionRoleIds().find((id) => id.startsWith('PublicFunction'))!;
    const [roleId, role] = tenantDataRole();

    // Act / Assess
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).not.toContain(publicRole);
    expect(rolesAllowedToAssume(roleId)).not.toContain(publicRole);
  });

  it('carries tenantDataRolePolicy(): the tenant tables (the chain read only), and the table key only through DynamoDB', () => {
    // Act
    const [, role] = tenantDataRole();
    const policies = role.Properties.Policies as { PolicyName: string; PolicyDocument: any }[];

    // Assess
    expect(policies.map((p) => p.PolicyName)).toEqual(['tenant-data']);
    const statements = policies[0]!.PolicyDocument.Statement;
    const resources = statements.map((s: any) => s.Resource['Fn::ImportValue']);
    expect(resources).toEqual([
      expect.stringContaining('TenantDataTableArn'),
      expect.stringContaining('AuditTableArn'),
      expect.stringContaining('AuditChainTableArn'),
      expect.stringContaining('PlatformKey'),
    ]);
    expect(statements[2].Action).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(statements[3].Action).toEqual([
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    ]);
    expect(JSON.stringify(statements[3].Condition)).toContain('kms:ViaService');
    expect(JSON.stringify(statements[3].Condition)).toContain('dynamodb.');
    expect(role.Properties.MaxSessionDuration).toBe(3600);
  });
});

describe('stateless stack: API', () => {
  it('maps every route of the route list to its area function, and other methods to the catch-all', () => {
    // Prepare
    const methods = byType(stateless, 'AWS::ApiGateway::Method');
    const functionOf = (method: Resource) =>
      JSON.stringify(method.Properties.Integration?.Uri).match(/"(\w+?Function)[0-9A-F]{8}"/)?.[1];
    const routed = ROUTES;

    // Act
    const concrete = Object.values(methods).filter((m) => m.Properties.HttpMethod !== 'ANY');
    const any = Object.values(methods).filter((m) => m.Properties.HttpMethod === 'ANY');

    // Assess
    expect(concrete).toHaveLength(routed.length);
    for (const m of Object.values(methods)) {
      expect(m.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    }
    for (const m of any) expect(functionOf(m)).toBe('PublicFunction');
    const areasOfMethods = new Set(concrete.map(functionOf));
    for (const area of new Set(routed.map((r) => r.area))) {
      expect(areasOfMethods).toContain(`${area[0]!.toUpperCase()}${area.slice(1)}Function`);
    }
    stateless.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  it('logs access, never request data, traces and throttles the stage', () => {
    // Act / Assess
    stateless.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: TEST_STAGE,
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [
        Match.objectLike({
          DataTraceEnabled: false,
          LoggingLevel: 'ERROR',
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
        }),
      ],
    });
  });

  it('associates a WAF web ACL with managed rule groups and a per-IP rate rule with the stage', () => {
    // Act
    const acl = Object.entries(byType(stateless, 'AWS::WAFv2::WebACL'));
    expect(acl).toHaveLength(1);
    const [aclId, { Properties: props }] = acl[0]!;

    // Assess: regional, the two managed rule groups, the two rate rules, distinct priorities, on the stage
    expect(props.Scope).toBe('REGIONAL');
    const rules = props.Rules as any[];
    expect(rules.map((r) => r.Statement.ManagedRuleGroupStatement?.Name).filter(Boolean)).toEqual([
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
    // Requests with the distribution's origin secret (a dynamic reference, never a value) come from
    // CloudFront edges: per-IP for everything else, a per-edge backstop for those.
    const secretId = Object.keys(byType(stateless, 'AWS::SecretsManager::Secret'))[0]!;
    const fromDistribution = {
      ByteMatchStatement: {
        FieldToMatch: { SingleHeader: { Name: 'x-strongroom-origin-verify' } },
        PositionalConstraint: 'EXACTLY',
        SearchString: {
          'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']],
        },
        TextTransformations: [{ Priority: 0, Type: 'NONE' }],
      },
    };
    const rateRules = rules.filter((r) => r.Statement.RateBasedStatement);
    expect(rateRules).toEqual([
      {
        Name: 'RateLimitPerIp',
        Priority: 0,
        Action: { Block: {} },
        Statement: {
          RateBasedStatement: {
            AggregateKeyType: 'IP',
            Limit: 1000,
            EvaluationWindowSec: 300,
            ScopeDownStatement: { NotStatement: { Statement: fromDistribution } },
          },
        },
        VisibilityConfig: expect.any(Object),
      },
      {
        Name: 'RateLimitPerCloudFrontEdge',
        Priority: 3,
        Action: { Block: {} },
        Statement: {
          RateBasedStatement: {
            AggregateKeyType: 'IP',
            Limit: 20000,
            EvaluationWindowSec: 300,
            ScopeDownStatement: fromDistribution,
          },
        },
        VisibilityConfig: expect.any(Object),
      },
    ]);
    expect(new Set(rules.map((r) => r.Priority)).size).toBe(rules.length);
    const stageId = Object.keys(byType(stateless, 'AWS::ApiGateway::Stage'))[0]!;
    stateless.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: getAtt(aclId),
      ResourceArn: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([{ Ref: stageId }])]) }),
    });
  });

  it('alarms on API 5xx and on every function error, into an encrypted topic', () => {
    // Act / Assess
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmTopic') }],
    });
    const errorAlarms = Object.values(byType(stateless, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === 'Errors',
    );
    // One per area, plus the audit sequencer's and the daily verification's (test/infra/audit-chain-jobs.test.ts).
    expect(errorAlarms).toHaveLength(AREAS.length + 2);
    stateless.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it("answers API Gateway's own errors as problem+json with the security headers; unknown paths 404", () => {
    // Act / Assess
    stateless.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.Content-Type': "'application/problem+json'",
        'gatewayresponse.header.Strict-Transport-Security': "'max-age=31536000; includeSubDomains; preload'",
        'gatewayresponse.header.X-Content-Type-Options': "'nosniff'",
      }),
    });
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      stateless.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: type });
    }
  });
});
