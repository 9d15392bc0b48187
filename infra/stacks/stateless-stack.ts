import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
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
import { storageVendingRolePath } from '../../shared/domain/tenant-storage-role.js';
import { SECURITY_HEADERS } from '../../shared/http/api.js';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/client-ip.js';
import { AREAS, type Area } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { AREA_NATIVE_MODULES } from '../constructs/bundling.js';
import { ConsoleDistribution } from '../constructs/console-distribution.js';
import { StrongroomFunction } from '../constructs/strongroom-function.js';
import { TenantDataRole } from '../constructs/tenant-data-role.js';
import { TenantKeyAccess } from '../constructs/tenant-key-access.js';
import { TenantStorageRoleAccess } from '../constructs/tenant-storage-role-access.js';
import { AuditChainJobs } from './audit-chain-jobs.js';
import type { AreaResources } from './grants/area-resources.js';
import { AREA_GRANTS } from './grants/index.js';
import type { StatefulResources } from './stateful-stack.js';

/** The repository root: where `functions/` and package-lock.json are. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StatelessStackProps extends StackProps {
  stage: string;
  stateful: StatefulResources;
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

/** The handler module of an area, if that area has been built yet. */
export function areaEntry(projectRoot: string, area: Area): string | undefined {
  const entry = join(projectRoot, 'functions', area, 'handler.ts');
  return existsSync(entry) ? entry : undefined;
}

/**
 * Functions (one per API area, each with only its area's IAM), the audit sequencer and daily verification,
 * the tenant-data role, the REST API built from the route list, WAF, access logs, throttling and alarms.
 * Holds no data: it can be replaced freely.
 */
export class StatelessStack extends Stack {
  readonly functions: Partial<Record<Area, StrongroomFunction>> = {};
  readonly api: apigw.RestApi;
  readonly tenantDataRole: TenantDataRole;
  /** Who may use tenant keys: pre-provisioned tenant keys (infra/stacks/tenant-keys-stack.ts) read it. */
  readonly tenantKeys: TenantKeyAccess;
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
    this.tenantKeys = new TenantKeyAccess(this, stage);
    const resources: AreaResources = {
      stage,
      platformKey: stateful.platformKey,
      auditMacKey: stateful.auditMacKey,
      tables: stateful.tables,
      storageBucket: stateful.storageBucket,
      exportBucket: stateful.exportBucket,
      tenantData: this.tenantDataRole,
      tenantKeys: this.tenantKeys,
      tenantStorageRoles: new TenantStorageRoleAccess({
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
    };

    for (const area of AREAS) {
      const entry = areaEntry(projectRoot, area);
      if (!entry) continue;
      const grants = AREA_GRANTS[area];
      const fn = new StrongroomFunction(this, `${area[0]!.toUpperCase()}${area.slice(1)}Function`, {
        entry,
        projectRoot,
        description: `Strongroom ${stage}: ${area} API`,
        environment,
        nativeModules: AREA_NATIVE_MODULES[area],
        // Tenant storage roles trust the role on this path, and only it: a name would pin the role's unique
        // id, which a replacement of this stack's role would break for every tenant.
        ...(area === 'storage' ? { rolePath: storageVendingRolePath(stage, this.region) } : {}),
      });
      if (grants) grants(fn, resources);
      else {
        // Deployed without data permissions it fails closed; test/infra fails until the grants exist.
        Annotations.of(fn).addWarningV2(
          'strongroom:missingAreaGrants',
          `functions/${area}/handler.ts exists but its IAM does not: add infra/stacks/grants/${area}.ts and register it in infra/stacks/grants/index.ts`,
        );
      }
      this.functions[area] = fn;
    }
    if (!this.functions.public)
      throw new Error('functions/public/handler.ts is missing: it answers every unknown route');

    this.auditChain = new AuditChainJobs(this, 'AuditChain', { stage, projectRoot, resources });

    this.api = this.#restApi(props);
    this.#webAcl(props);
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

  #restApi(props: StatelessStackProps): apigw.RestApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const api = new apigw.RestApi(this, 'Api', {
      description: `Strongroom ${props.stage} API`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // Execution logging (ERROR level) needs the account's API Gateway CloudWatch role.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: props.stage,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            time: apigw.AccessLogField.contextRequestTime(),
            method: apigw.AccessLogField.contextHttpMethod(),
            resource: apigw.AccessLogField.contextResourcePath(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            latency: apigw.AccessLogField.contextResponseLatency(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
            wafStatus: apigw.AccessLogField.contextWafResponseCode(),
            traceId: apigw.AccessLogField.contextXrayTraceId(),
            userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
          }),
        ),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Never true: it would log full requests and responses — passwords, tokens, vended credentials.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttleRateLimit ?? 100,
        throttlingBurstLimit: props.throttleBurstLimit ?? 200,
      },
    });

    // One integration (and so one invoke permission, scoped to this API) per function: per-method
    // permissions would outgrow Lambda's 20 KB resource-policy limit on the catch-all function.
    const integrations = new Map<Area, apigw.LambdaIntegration>();
    const integrationFor = (area: Area) => {
      let integration = integrations.get(area);
      if (!integration) {
        const fn = this.functions[area]!;
        integration = new apigw.LambdaIntegration(fn.function, {
          proxy: true,
          scopePermissionToMethod: false,
        });
        integrations.set(area, integration);
      }
      return integration;
    };

    const routed = new Set<apigw.Resource>();
    for (const route of ROUTES) {
      if (!this.functions[route.area]) {
        // An area's routes may land before its handler; API Gateway then sends them to the catch-all.
        Annotations.of(this).addWarningV2(
          'strongroom:routeWithoutFunction',
          `Route ${route.id} (${route.method} ${route.path}) belongs to area ${route.area}, which has no functions/${route.area}/handler.ts`,
        );
        continue;
      }
      const resource = api.root.resourceForPath(route.path);
      resource.addMethod(route.method, integrationFor(route.area));
      for (let r: apigw.IResource | undefined = resource; r instanceof apigw.Resource; r = r.parentResource) {
        routed.add(r);
      }
    }
    // API Gateway answers a method it does not know on a known resource (and any method on a path segment
    // between routes) itself, with 403 "Missing Authentication Token". Send those to the public function,
    // which answers 405 or 404 as problem+json, like the local server does.
    const publicIntegration = integrationFor('public');
    for (const resource of routed) resource.addMethod('ANY', publicIntegration);
    api.root.addMethod('ANY', publicIntegration);
    api.root.addResource('{proxy+}').addMethod('ANY', publicIntegration);
    this.#gatewayResponses(api);

    Validations.of(api).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason:
          "Every function validates path, query and body with the route's zod schema (shared/http/api.ts) and answers 400 problem+json naming the field; API Gateway models would duplicate the schemas with a different error shape.",
      },
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'Authorization happens in the function (shared/http/auth.ts): sessions and API keys are opaque bearer tokens checked against hashed records, then the tenant permission from the one permission table.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'Strongroom is its own identity provider (argon2id passwords, TOTP, hashed session tokens); there is no Cognito user pool.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level role API Gateway uses to write execution logs; the AWS-managed policy is the documented policy for it and grants logs only.',
      },
    );
    return api;
  }

  /**
   * Responses API Gateway makes itself (throttling, unknown paths, integration failures) carry the same
   * security headers and problem+json shape as the functions' own.
   */
  #gatewayResponses(api: apigw.RestApi): void {
    // Gateway-response header values are single-quoted literals, so a value containing a quote (the CSP)
    // cannot be expressed; these bodies are JSON, never rendered.
    const headers: Record<string, string> = { 'Content-Type': "'application/problem+json'" };
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!value.includes("'")) headers[name] = `'${value}'`;
    }
    const problem = (status?: number) => ({
      'application/json': `{"type":"about:blank","title":$context.error.messageString${status ? `,"status":${status}` : ''}}`,
    });
    api.addGatewayResponse('NotFound', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      responseHeaders: headers,
      templates: { 'application/json': '{"type":"about:blank","title":"Not Found","status":404}' },
    });
    api.addGatewayResponse('Default4xx', {
      type: apigw.ResponseType.DEFAULT_4XX,
      responseHeaders: headers,
      templates: problem(),
    });
    api.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      responseHeaders: headers,
      templates: problem(),
    });
  }

  #webAcl(props: StatelessStackProps): void {
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (
      name: string,
      priority: number,
      ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
    ): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(ruleActionOverrides ? { ruleActionOverrides } : {}),
        },
      },
      visibilityConfig: visibility(name),
    });
    const perIp = props.wafRequestsPerIpPer5Minutes ?? 1000;
    // Exactly the origin secret in its header: CloudFront replaces a viewer's header of that name, so only
    // the distribution's requests match. The value is a dynamic reference, resolved at deployment.
    const fromDistribution: wafv2.CfnWebACL.StatementProperty = {
      byteMatchStatement: {
        fieldToMatch: { singleHeader: { Name: ORIGIN_VERIFY_HEADER } },
        positionalConstraint: 'EXACTLY',
        searchString: this.originVerifySecret.secretValue.unsafeUnwrap(),
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    };
    const webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`strongroom-${props.stage}-api`),
      rules: [
        // Requests through the console distribution come from CloudFront's edges, each shared by many
        // viewers: the per-IP rule counts every other request, and those get a per-edge backstop. Per viewer
        // they are held by the API's own per-client limits, which read CloudFront-Viewer-Address when the
        // origin secret is there (shared/http/client-ip.ts); WAF cannot tell a viewer's header from a forged
        // one without the secret, and CloudFront-Viewer-Address carries a port, which WAF's forwarded-IP
        // keys do not take.
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: perIp,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: { notStatement: { statement: fromDistribution } },
            },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        {
          name: 'RateLimitPerCloudFrontEdge',
          priority: 3,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.wafRequestsPerEdgePer5Minutes ?? perIp * 20,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: fromDistribution,
            },
          },
          visibilityConfig: visibility('RateLimitPerCloudFrontEdge'),
        },
        // The common rule set blocks bodies over 8 KB; the API accepts up to 64 KiB and the functions
        // answer 413 above that (shared/http/api.ts MAX_BODY_BYTES), so that one rule only counts.
        managed('AWSManagedRulesCommonRuleSet', 1, [
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: webAcl.attrArn,
    });
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
