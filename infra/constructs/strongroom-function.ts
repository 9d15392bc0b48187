import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '../../shared/observability.js';
import {
  ESM_REQUIRE_BANNER,
  EXTERNAL_MODULES,
  FUNCTION_NODE_OPTIONS,
  FUNCTION_NODE_TARGET,
  LAMBDA_NPM_PLATFORM,
  MAIN_FIELDS,
} from './bundling.js';

export interface StrongroomFunctionProps {
  /**
   * Absolute path of the module exporting `handler`: an API area (`functions/<area>/handler.ts`) or an
   * entry point that API Gateway never calls (`functions/audit/sequencer.ts`, `functions/jobs/*.ts`).
   */
  entry: string;
  /** Repository root: esbuild's working directory and where package-lock.json lives. */
  projectRoot: string;
  description: string;
  environment?: Record<string, string>;
  /** @default 1024 MiB: argon2id and KMS calls are CPU-bound; more memory is also more CPU. */
  memorySize?: number;
  /**
   * @default 15 s: below API Gateway's 29 s integration timeout, so the caller gets our 5xx, not its.
   * Stream consumers and scheduled jobs set their own.
   */
  timeout?: Duration;
  /** @default one year: request logs are what a security investigation reads. */
  logRetention?: logs.RetentionDays;
  /** Native packages installed into the asset for Lambda's platform instead of bundled (bundling.ts). */
  nativeModules?: readonly string[];
  /** IAM path of the function's role, for roles that others trust by path. @default `/` */
  rolePath?: string;
}

/**
 * A Strongroom Lambda function with the defaults every function shares: esbuild bundling (minified, source
 * maps, AWS SDK bundled), arm64, Node 22, X-Ray tracing, its own log group with retention, Powertools
 * settings, and a role of its own that holds only log and trace permissions until grants add more.
 */
export class StrongroomFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: StrongroomFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy: it may write to this
    // function's log group only, not create log groups anywhere.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
      ...(props.rolePath ? { path: props.rolePath } : {}),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogGroup',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(15),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: 'Strongroom',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: FUNCTION_NODE_TARGET,
        format: OutputFormat.ESM,
        mainFields: [...MAIN_FIELDS],
        banner: ESM_REQUIRE_BANNER,
        externalModules: [...EXTERNAL_MODULES, ...(props.nativeModules ?? [])],
        ...(props.nativeModules?.length
          ? { nodeModules: [...props.nativeModules], environment: { ...LAMBDA_NPM_PLATFORM } }
          : {}),
        // esbuild is a dev dependency: bundle on this machine, never in Docker.
        forceDockerBundling: false,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so CDK grants them on "*".',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Strongroom targets Node.js 22 (an LTS runtime supported by Lambda); the runtime is chosen deliberately in one place, this construct.',
    });
  }
}
