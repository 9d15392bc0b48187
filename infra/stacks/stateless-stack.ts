import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import { ENV_VARS } from '../../shared/aws/config.js';
import type { PlatformOidcProvider } from '../../shared/domain/oidc.js';
import { storageVendingRolePath } from '../../shared/domain/tenant-storage-role.js';
import { AREAS, type Area } from '../../shared/http/route.js';
import { ApiWebAcl } from '../constructs/api-web-acl.js';
import { AREA_NATIVE_MODULES } from '../constructs/bundling.js';
import { ConsoleDistribution } from '../constructs/console-distribution.js';
import { MailIdentity, type MailSettings } from '../constructs/mail-identity.js';
import { StrongroomApi } from '../constructs/strongroom-api.js';
import { StrongroomFunction } from '../constructs/strongroom-function.js';
import { TenantDataRole } from '../constructs/tenant-data-role.js';
import { TenantKeys } from '../constructs/tenant-keys.js';
import { TenantStorageRoles } from '../constructs/tenant-storage-roles.js';
import { AuditChainJobs } from './audit-chain-jobs.js';
import type { AreaResources } from './grants/area-resources.js';
import { AREA_GRANTS } from './grants/index.js';
import type { StatefulResources } from './stateful-stack.js';

/** The repository root: where `functions/` and package-lock.json are. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StatelessStackProps extends StackProps {
  stage: string;
  stateful: StatefulResources;
  /** The SES sending domain and the console URL mail links point at. */
  mail: MailSettings;
  /** Platform OpenID providers: the auth function reads their client secrets. @default none */
  oidcProviders?: readonly PlatformOidcProvider[];
  /** @default PROJECT_ROOT */
  projectRoot?: string;
  /** Steady-state requests per second across the stage. @default 100 */
  throttleRateLimit?: number;
  /** @default 200 */
  throttleBurstLimit?: number;
  /** Requests per client IP per 5 minutes before WAF blocks it. @default 1000 */
  wafRequestsPerIpPer5Minutes?: number;
  /**
   * Requests per CloudFront edge address per 5 minutes, for requests that came through the console
   * distribution: many viewers share an edge, so this is a backstop against a flood through one edge, not a
   * per-viewer limit. @default 20 times wafRequestsPerIpPer5Minutes
   */
  wafRequestsPerEdgePer5Minutes?: number;
}

/**
 * Functions (one per API area, each with only its area's IAM), the audit sequencer and daily verification,
 * the tenant-data role, the REST API built from the route list, WAF, access logs, throttling and alarms.
 * Holds no data: it can be replaced freely.
 */
export class StatelessStack extends Stack {
  readonly functions: Readonly<Record<Area, StrongroomFunction>>;
  readonly api: StrongroomApi;
  readonly tenantDataRole: TenantDataRole;
  /** Who may use tenant keys: pre-provisioned tenant keys (infra/stacks/tenant-keys-stack.ts) read it. */
  readonly tenantKeys: TenantKeys;
  /** The audit sequencer (stream) and the daily chain verification (schedule), with their alarms. */
  readonly auditChain: AuditChainJobs;
  readonly alarmTopic: sns.Topic;
  /** The console's bucket and the CloudFront distribution that serves it and the API on one origin. */
  readonly console: ConsoleDistribution;
  /**
   * The secret CloudFront sends the API in x-strongroom-origin-verify, so the API believes its
   * CloudFront-Viewer-Address (shared/http/client-ip.ts). CloudFormation resolves it into both.
   */
  readonly originVerifySecret: secretsmanager.Secret;
  /** The SES identity the auth and tenants functions mail from. */
  readonly mail: MailIdentity;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { stage, stateful } = props;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;

    this.tenantDataRole = new TenantDataRole(this, 'TenantDataRole', {
      tenantDataTable: stateful.tables.tenantData,
      auditTable: stateful.tables.audit,
      auditChainTable: stateful.tables.auditChain,
      tableKey: stateful.platformKey,
    });
    this.tenantKeys = new TenantKeys(this, 'TenantKeys', { stage });
    this.mail = new MailIdentity(this, 'Mail', props.mail);
    const resources: AreaResources = {
      mail: this.mail,
      stage,
      platformKey: stateful.platformKey,
      auditMacKey: stateful.auditMacKey,
      tables: stateful.tables,
      storageBucket: stateful.storageBucket,
      exportBucket: stateful.exportBucket,
      tenantData: this.tenantDataRole,
      tenantKeys: this.tenantKeys,
      oidcProviders: props.oidcProviders ?? [],
      tenantStorageRoles: new TenantStorageRoles(this, 'TenantStorageRoles', {
        stage,
        boundaryArn: stateful.tenantStorageBoundaryArn,
      }),
    };
    this.originVerifySecret = new secretsmanager.Secret(this, 'OriginVerifySecret', {
      description: `Strongroom ${stage}: the header value by which the API knows a request came through its console distribution`,
      // Letters and digits only: it travels as an HTTP header value.
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.originVerifySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'CloudFormation resolves this value into the distribution and the functions when the stack deploys; a rotation would not reach them until the next deployment, so it is replaced by redeploying (see README) rather than rotated.',
    });
    // Names and ARNs only; what a function may do with them is its area's grants. The one exception is the
    // origin secret, resolved by CloudFormation at deployment (a dynamic reference, not the value, is in
    // the template): it is a proof of the path a request took, not a credential to any AWS resource.
    const environment: Record<string, string> = {
      [ENV_VARS.originVerifySecret]: this.originVerifySecret.secretValue.unsafeUnwrap(),
      [ENV_VARS.stage]: stage,
      [ENV_VARS.identityTable]: stateful.tables.identity.tableName,
      [ENV_VARS.tenantDataTable]: stateful.tables.tenantData.tableName,
      [ENV_VARS.auditTable]: stateful.tables.audit.tableName,
      [ENV_VARS.auditChainTable]: stateful.tables.auditChain.tableName,
      [ENV_VARS.tenantDataTableArn]: stateful.tables.tenantData.tableArn,
      [ENV_VARS.auditTableArn]: stateful.tables.audit.tableArn,
      [ENV_VARS.auditChainTableArn]: stateful.tables.auditChain.tableArn,
      [ENV_VARS.auditMacKeyArn]: stateful.auditMacKey.keyArn,
      [ENV_VARS.tenantDataRoleArn]: this.tenantDataRole.roleArn,
      [ENV_VARS.platformKeyArn]: stateful.platformKey.keyArn,
      [ENV_VARS.storageBucket]: stateful.storageBucket.bucketName,
      [ENV_VARS.exportBucket]: stateful.exportBucket.bucketName,
      [ENV_VARS.mailFrom]: this.mail.from,
      [ENV_VARS.consoleUrl]: this.mail.consoleUrl,
    };

    const functions: Partial<Record<Area, StrongroomFunction>> = {};
    for (const area of AREAS) {
      const fn = new StrongroomFunction(this, `${area[0]!.toUpperCase()}${area.slice(1)}Function`, {
        entry: join(projectRoot, 'functions', area, 'handler.ts'),
        projectRoot,
        description: `Strongroom ${stage}: ${area} API`,
        // Only the auth function runs OIDC flows: only it learns the providers (names and secret ARNs).
        environment:
          area === 'auth' && resources.oidcProviders.length > 0
            ? { ...environment, [ENV_VARS.oidcProviders]: JSON.stringify(resources.oidcProviders) }
            : environment,
        nativeModules: AREA_NATIVE_MODULES[area],
        // Tenant storage roles trust the role on this path, and only it: a name would pin the role's unique
        // id, which a replacement of this stack's role would break for every tenant.
        ...(area === 'storage' ? { rolePath: storageVendingRolePath(stage, this.region) } : {}),
      });
      AREA_GRANTS[area](fn, resources);
      functions[area] = fn;
    }
    this.functions = functions as Record<Area, StrongroomFunction>;

    this.auditChain = new AuditChainJobs(this, 'AuditChain', { stage, projectRoot, resources });

    // The access log group (retained) and the ACL's association are the stack's own resources, as they were
    // before the API and the ACL became constructs: their logical IDs stay.
    this.api = new StrongroomApi(this, 'Api', {
      stage,
      functions: this.functions,
      accessLogs: new logs.LogGroup(this, 'ApiAccessLogs', {
        retention: logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
    });
    const webAcl = new ApiWebAcl(this, 'WebAcl', {
      stage,
      originVerifySecret: this.originVerifySecret,
      requestsPerIpPer5Minutes: props.wafRequestsPerIpPer5Minutes,
      requestsPerEdgePer5Minutes: props.wafRequestsPerEdgePer5Minutes,
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: webAcl.arn,
    });
    this.alarmTopic = this.#alarms();
    this.console = new ConsoleDistribution(this, 'Console', {
      api: this.api,
      stage,
      originVerifySecret: this.originVerifySecret,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'ConsoleUrl', {
      value: `https://${this.console.distribution.distributionDomainName}/console/`,
      description:
        'The console; the same host also serves the API (/v1/*, /health, /openapi.json, /compat/*)',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }

  #alarms(): sns.Topic {
    // Alarm notifications carry no tenant data, but SNS topics are encrypted at rest as a rule; CloudWatch
    // must be allowed to use the key to publish.
    const topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Strongroom alarm notifications',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    topicKey.grant(
      new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey',
    );
    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: topicKey, enforceSSL: true });
    const action = new cwActions.SnsAction(topic);

    const api5xx = new cloudwatch.Alarm(this, 'Api5xxAlarm', {
      alarmDescription: 'The API answered 5xx (a function failed, timed out or AWS is degraded)',
      metric: this.api.metricServerError({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    api5xx.addAlarmAction(action);
    for (const [area, fn] of Object.entries(this.functions)) {
      const alarm = new cloudwatch.Alarm(fn, 'ErrorsAlarm', {
        alarmDescription: `The ${area} function crashed or timed out (errors outside the problem+json mapping)`,
        metric: fn.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
    }
    this.auditChain.addAlarms(action);
    return topic;
  }
}
