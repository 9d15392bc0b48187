import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AssetHashType,
  DefaultStackSynthesizer,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/client-ip.js';
import { CONSOLE_BASE_PATH, CONSOLE_ROOT, CONSOLE_SECURITY_HEADERS } from '../console/site.js';

/**
 * Paths the distribution sends to the API rather than to the console's bucket: every top-level path the
 * route list serves (test/infra checks that no route is left out). The console itself only calls /v1/*.
 */
export const API_PATH_PATTERNS = ['/v1/*', '/health', '/openapi.json', '/compat/*'] as const;

/** Where the console's files live in the bucket: the same keys as their paths, so /console/x is console/x. */
export const CONSOLE_KEY_PREFIX = CONSOLE_BASE_PATH.slice(1);

/**
 * The viewer-request function of the console's behaviour (CloudFront Functions, cloudfront-js-2.0). The
 * console routes in the URL's fragment, so the only page is /console/index.html: `/console/` is rewritten to
 * it, `/` and `/console` are redirected to `/console/` (local mode redirects `/console` the same way), and
 * nothing outside /console/ reaches the bucket (404, as no other file is there).
 */
export const CONSOLE_VIEWER_REQUEST_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/' || uri === '${CONSOLE_BASE_PATH.slice(0, -1)}') {
    return { statusCode: 308, statusDescription: 'Permanent Redirect', headers: { location: { value: '${CONSOLE_BASE_PATH}' } } };
  }
  if (uri === '${CONSOLE_BASE_PATH}') {
    request.uri = '${CONSOLE_BASE_PATH}index.html';
    return request;
  }
  if (uri.indexOf('${CONSOLE_BASE_PATH}') !== 0) {
    return { statusCode: 404, statusDescription: 'Not Found' };
  }
  return request;
}
`;

/**
 * CloudFront's response-headers policy settings for a header map (the console's, which local mode sends
 * too). Headers CloudFront models as security headers go there, parsed; the rest become custom headers.
 * Anything it cannot express exactly is refused, so the two never drift apart silently.
 */
export function responseHeadersPolicyFor(headers: Readonly<Record<string, string>>): {
  securityHeadersBehavior: cloudfront.ResponseSecurityHeadersBehavior;
  customHeadersBehavior: cloudfront.ResponseCustomHeadersBehavior;
} {
  const security: {
    -readonly [K in keyof cloudfront.ResponseSecurityHeadersBehavior]: cloudfront.ResponseSecurityHeadersBehavior[K];
  } = {};
  const custom: cloudfront.ResponseCustomHeader[] = [];
  for (const [name, value] of Object.entries(headers)) {
    switch (name.toLowerCase()) {
      case 'content-security-policy':
        security.contentSecurityPolicy = { contentSecurityPolicy: value, override: true };
        break;
      case 'strict-transport-security': {
        const directives = value.split(';').map((d) => d.trim().toLowerCase());
        const maxAge = /^max-age=(\d+)$/.exec(directives[0] ?? '');
        const rest = directives.slice(1);
        if (!maxAge || rest.some((d) => d !== 'includesubdomains' && d !== 'preload'))
          throw new Error(`CloudFront cannot express Strict-Transport-Security: ${value}`);
        security.strictTransportSecurity = {
          accessControlMaxAge: Duration.seconds(Number(maxAge[1])),
          includeSubdomains: rest.includes('includesubdomains'),
          preload: rest.includes('preload'),
          override: true,
        };
        break;
      }
      case 'x-content-type-options':
        if (value !== 'nosniff')
          throw new Error(`CloudFront cannot express X-Content-Type-Options: ${value}`);
        security.contentTypeOptions = { override: true };
        break;
      case 'x-frame-options': {
        const option = {
          DENY: cloudfront.HeadersFrameOption.DENY,
          SAMEORIGIN: cloudfront.HeadersFrameOption.SAMEORIGIN,
        }[value.toUpperCase()];
        if (!option) throw new Error(`CloudFront cannot express X-Frame-Options: ${value}`);
        security.frameOptions = { frameOption: option, override: true };
        break;
      }
      case 'referrer-policy': {
        const policy = Object.values(cloudfront.HeadersReferrerPolicy).find((p) => p === value);
        if (!policy) throw new Error(`CloudFront cannot express Referrer-Policy: ${value}`);
        security.referrerPolicy = { referrerPolicy: policy, override: true };
        break;
      }
      case 'x-xss-protection':
        throw new Error('X-XSS-Protection is not sent by the console; model it explicitly if it ever is');
      default:
        custom.push({ header: name, value, override: true });
    }
  }
  return { securityHeadersBehavior: security, customHeadersBehavior: { customHeaders: custom } };
}

export interface ConsoleDistributionProps {
  api: apigw.RestApi;
  /** Deployment stage, for descriptions. */
  stage: string;
  /**
   * Sent to the API as x-strongroom-origin-verify on every request, so the API believes the
   * CloudFront-Viewer-Address CloudFront adds (shared/http/client-ip.ts). Referenced, never written into
   * the template.
   */
  originVerifySecret: secretsmanager.ISecret;
  /**
   * The built console to deploy. @default built from console/ by Vite during synthesis (asset bundling;
   * `aws:cdk:bundling-stacks` skips it, as it skips the functions' esbuild)
   */
  consoleDist?: string;
}

/**
 * The console on the API's own origin: a private bucket (no website hosting, no public access, TLS only)
 * that CloudFront reads through Origin Access Control, a distribution whose default behaviour serves the
 * console with the same security headers local mode sends, and behaviours that pass the API's paths to
 * API Gateway uncached with every viewer header, cookie and query string except Host. One origin is the
 * point: the session cookie is `__Host-` (Secure, Path=/, no Domain), so it belongs to the distribution's
 * host, and the browser marks the console's API calls `Sec-Fetch-Site: same-origin`, which the API requires
 * of cookie-authenticated changes.
 */
export class ConsoleDistribution extends Construct {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  readonly viewerRequestFunction: cloudfront.Function;

  constructor(scope: Construct, id: string, props: ConsoleDistributionProps) {
    super(scope, id);

    // CloudFront's standard logs are written with ACLs (by the awslogsdelivery account), so this bucket
    // keeps ACLs enabled for object writers; public access stays blocked. The console bucket's own
    // server access logs go here too. Logs, not data: a year, then gone.
    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the log target of the console bucket and its distribution; logging it into itself would log its own log deliveries forever.',
    });

    // Built files only (redeployed with every deployment), so S3-managed keys suffice: CloudFront's OAC
    // would need a key-policy grant to read SSE-KMS objects, and nothing here is secret.
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'console-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const headers = responseHeadersPolicyFor(CONSOLE_SECURITY_HEADERS);
    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `Strongroom ${props.stage} console: the security headers local mode sends (infra/console/site.ts)`,
      ...headers,
    });

    this.viewerRequestFunction = new cloudfront.Function(this, 'ViewerRequest', {
      comment: 'Console paths: /console/ is index.html, / and /console redirect, nothing else',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(CONSOLE_VIEWER_REQUEST_CODE),
    });

    // The API sees CloudFront's edge as the connection. The managed AllViewerExceptHostHeader policy passes
    // every viewer header but Host plus CloudFront's own headers, CloudFront-Viewer-Address among them (the
    // viewer's ip:port). No custom policy can do the same: `allExcept` adds no CloudFront headers, and
    // `allViewerAndWhitelistCloudFront` also passes Host, which API Gateway refuses (403). The API believes
    // that header only beside the origin secret below (a dynamic reference: CloudFormation resolves it at
    // deployment; CloudFront replaces a viewer's header of the same name with it).
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: new origins.RestApiOrigin(props.api, {
        customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originVerifySecret.secretValue.unsafeUnwrap() },
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      compress: false,
    };

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Strongroom ${props.stage} console and API`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        functionAssociations: [
          { function: this.viewerRequestFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, apiBehavior])),
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      // Cookies carry the session token: never into the logs.
      logIncludesCookies: false,
    });

    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The console and API serve every country a tenant may operate in; who may use them is decided by authentication, not geography.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'A CloudFront web ACL must live in us-east-1 while this stack is regional; every request the distribution forwards to the API still passes the API stage’s regional web ACL, and the console’s files are static.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution answers on its cloudfront.net name, whose default certificate CloudFront serves with its own TLS policy; a custom domain with an ACM certificate would allow TLSv1.2_2021 as the minimum.',
      },
    );

    // Hashed assets never change; everything else (index.html, favicon) is revalidated so a new build is
    // picked up at once. Two deployments, each pruning only its own files.
    const source = consoleSource(props.consoleDist);
    // CDK's deployment function is shared by both deployments; its logs are kept a year like the others.
    const logGroup = new logs.LogGroup(this, 'DeployLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const assets = new s3deploy.BucketDeployment(this, 'DeployAssets', {
      sources: [source],
      destinationBucket: this.bucket,
      destinationKeyPrefix: CONSOLE_KEY_PREFIX,
      exclude: ['*'],
      include: ['assets/*'],
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=31536000, immutable')],
      memoryLimit: 512,
      logGroup,
    });
    const pages = new s3deploy.BucketDeployment(this, 'DeployPages', {
      sources: [source],
      destinationBucket: this.bucket,
      destinationKeyPrefix: CONSOLE_KEY_PREFIX,
      exclude: ['assets/*'],
      cacheControl: [s3deploy.CacheControl.noCache()],
      memoryLimit: 512,
      logGroup,
    });
    // The page refers to assets by hash: publish them before the page that names them.
    pages.node.addDependency(assets);
    this.#acknowledgeDeploymentFunction();
  }

  /** CDK's BucketDeployment function (one per stack, beside this construct): what cdk-nag finds there. */
  #acknowledgeDeploymentFunction(): void {
    const stack = Stack.of(this);
    const deployers = stack.node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (deployers.length !== 1)
      throw new Error(`expected one BucketDeployment function, found ${deployers.length}`);
    // As cdk-nag spells resources in finding ids: unresolved parts as `<AWS::…>`, attributes as `<Id.Arn>`.
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const qualifier =
      (stack.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') as string | undefined) ??
      DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const bucket = stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket));
    const why =
      'CDK’s BucketDeployment function copies the built console from the CDK asset bucket into the console bucket and prunes old files';
    Validations.of(deployers[0]!).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: `${why}; the AWS-managed basic execution policy only lets it write its own logs.`,
      },
      ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: `${why}: CDK grants reads on the asset bucket and writes and deletes on the console bucket with these action groups, on those two buckets only.`,
      })),
      {
        id: `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/*]`,
        reason: `${why}: it writes and prunes any key of the console bucket, which holds nothing but the console's files.`,
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-${account}-${region}/*]`,
        reason: `${why}: it reads the deployment's asset objects, whose keys are content hashes known only at deploy time.`,
      },
      {
        id: 'AwsSolutions-L1',
        reason: `${why}; CDK pins that function's runtime (a Python runtime with the AWS CLI layer), which this project does not choose.`,
      },
    );
  }
}

/**
 * The console's files as a deployment source. By default CDK's local bundling runs Vite into the asset
 * directory at synth time (about a second); a failed build fails the synth, naming the command.
 */
function consoleSource(consoleDist: string | undefined): s3deploy.ISource {
  if (consoleDist) {
    if (!existsSync(join(consoleDist, 'index.html')))
      throw new Error(`${consoleDist} holds no built console (index.html): run npm run console:build`);
    return s3deploy.Source.asset(consoleDist);
  }
  const projectRoot = join(CONSOLE_ROOT, '..');
  const vite = join(projectRoot, 'node_modules', 'vite', 'bin', 'vite.js');
  return s3deploy.Source.asset(CONSOLE_ROOT, {
    exclude: ['dist', 'node_modules'],
    // The build also reads shared/ (the audit action list): hash what is deployed, not the sources.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling either builds or throws. CDK requires an image nonetheless.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
      local: {
        tryBundle(outputDir: string): boolean {
          const args = [
            vite,
            'build',
            '--config',
            join(CONSOLE_ROOT, 'vite.config.ts'),
            '--outDir',
            outputDir,
          ];
          try {
            execFileSync(process.execPath, [...args, '--emptyOutDir', '--logLevel', 'warn'], {
              cwd: projectRoot,
              stdio: ['ignore', 'inherit', 'inherit'],
            });
          } catch (error) {
            throw new Error(
              `Building the console failed (node ${args.join(' ')}); run npm ci, then npm run console:build to see why: ${(error as Error).message}`,
            );
          }
          if (!readdirSync(outputDir).includes('index.html'))
            throw new Error(`The console build wrote no index.html into ${outputDir}`);
          return true;
        },
      },
    },
  });
}
