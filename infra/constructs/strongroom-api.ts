import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { SECURITY_HEADERS } from '../../shared/http/api.js';
import type { Area } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import type { StrongroomFunction } from './strongroom-function.js';

export interface StrongroomApiProps {
  stage: string;
  /** One function per API area; routes go to their area's, everything else to `public`. */
  functions: Readonly<Record<Area, StrongroomFunction>>;
  /** Where the access log goes; the stack keeps it (retained, one year). */
  accessLogs: logs.ILogGroup;
  /** Steady-state requests per second across the stage. @default 100 */
  throttleRateLimit?: number;
  /** @default 200 */
  throttleBurstLimit?: number;
}

/**
 * The regional REST API built from the route list (shared/schemas/routes.ts): one method per route on its
 * area's function, the catch-all on the public function, access logs, throttling, tracing, and the
 * responses API Gateway makes itself in the functions' problem+json shape with their security headers.
 */
export class StrongroomApi extends apigw.RestApi {
  constructor(scope: Construct, id: string, props: StrongroomApiProps) {
    super(scope, id, {
      description: `Strongroom ${props.stage} API`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // Execution logging (ERROR level) needs the account's API Gateway CloudWatch role.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: props.stage,
        accessLogDestination: new apigw.LogGroupLogDestination(props.accessLogs),
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
    this.#routes(props.functions);
    this.#gatewayResponses();

    Validations.of(this).acknowledge(
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
  }

  #routes(functions: Readonly<Record<Area, StrongroomFunction>>): void {
    // One integration (and so one invoke permission, scoped to this API) per function: per-method
    // permissions would outgrow Lambda's 20 KB resource-policy limit on the catch-all function.
    const integrations = new Map<Area, apigw.LambdaIntegration>();
    const integrationFor = (area: Area) => {
      let integration = integrations.get(area);
      if (!integration) {
        integration = new apigw.LambdaIntegration(functions[area].function, {
          proxy: true,
          scopePermissionToMethod: false,
        });
        integrations.set(area, integration);
      }
      return integration;
    };

    const routed = new Set<apigw.Resource>();
    for (const route of ROUTES) {
      const resource = this.root.resourceForPath(route.path);
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
    this.root.addMethod('ANY', publicIntegration);
    this.root.addResource('{proxy+}').addMethod('ANY', publicIntegration);
  }

  /**
   * Responses API Gateway makes itself (throttling, unknown paths, integration failures) carry the same
   * security headers and problem+json shape as the functions' own.
   */
  #gatewayResponses(): void {
    // Gateway-response header values are single-quoted literals, so a value containing a quote (the CSP)
    // cannot be expressed; these bodies are JSON, never rendered.
    const headers: Record<string, string> = { 'Content-Type': "'application/problem+json'" };
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!value.includes("'")) headers[name] = `'${value}'`;
    }
    // API Gateway's request id, as the functions' problems carry it (and its own `x-amzn-RequestId` header).
    const problem = {
      'application/json':
        '{"type":"about:blank","title":$context.error.messageString,"requestId":"$context.requestId"}',
    };
    this.addGatewayResponse('NotFound', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      responseHeaders: headers,
      templates: {
        'application/json':
          '{"type":"about:blank","title":"Not Found","status":404,"requestId":"$context.requestId"}',
      },
    });
    this.addGatewayResponse('Default4xx', {
      type: apigw.ResponseType.DEFAULT_4XX,
      responseHeaders: headers,
      templates: problem,
    });
    this.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      responseHeaders: headers,
      templates: problem,
    });
  }
}
