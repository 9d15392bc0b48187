import { relative, sep } from 'node:path';
import {
  AssetHashType,
  DockerImage,
  Duration,
  type ILocalBundling,
  RemovalPolicy,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV_VARS } from '../../shared/aws/config.js';
import { SERVICE_NAME } from '../../shared/observability.js';
import { bundleFunction } from './bundling.js';

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
 * A Strongroom Lambda function with the defaults every function shares: esbuild bundling at synth
 * (bundling.ts: minified ESM with code splitting, source maps, AWS SDK bundled), arm64, Node 22, X-Ray tracing, its own log group with retention, Powertools
 * settings, and a role of its own that holds only log and trace permissions until grants add more.
 */
/**
 * CDK context `strongroom:tracing`: `on` has every function load the Powertools tracer (an X-Ray subsegment
 * per handler and per AWS call; `STRONGROOM_TRACING`); `off`, the default, keeps it out of every cold start.
 * Lambda's active tracing records each invocation either way.
 */
export const TRACING_CONTEXT_KEY = 'strongroom:tracing';

/** Whether `strongroom:tracing` is on where `scope` is; throws naming the key for any value but on and off. */
export function tracingOn(scope: Construct): boolean {
  const value: unknown = scope.node.tryGetContext(TRACING_CONTEXT_KEY);
  if (value === undefined || value === 'off' || value === false) return false;
  if (value === 'on' || value === true) return true;
  throw new Error(`${TRACING_CONTEXT_KEY}: "on" or "off", not ${JSON.stringify(value)}`);
}

/**
 * Template metadata on every Strongroom function: its entry point, relative to the project root
 * (`functions/auth/handler.ts`). The bench finds the shipped bundles in a synthesised assembly by it.
 */
export const ENTRY_METADATA_KEY = 'strongroom:entry';

export class StrongroomFunction extends Construct {
  readonly function: lambda.Function;
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

    this.function = new lambda.Function(this, 'Function', {
      code: functionCode(props),
      handler: 'index.handler',
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
        ...(tracingOn(this) ? { [ENV_VARS.tracing]: 'on' } : {}),
        ...props.environment,
      },
    });

    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata(
      ENTRY_METADATA_KEY,
      relative(props.projectRoot, props.entry).split(sep).join('/'),
    );

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

/**
 * The function's code: bundled on this machine at synth by `bundleFunction` (esbuild is a dev dependency;
 * never in Docker), hashed by its output. Stacks left out of `aws:cdk:bundling-stacks` skip it.
 */
function functionCode(props: StrongroomFunctionProps): lambda.Code {
  return lambda.Code.fromAsset(props.projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling either builds or throws. CDK requires an image nonetheless.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
      local: new LocalFunctionBundling(props.entry, props.projectRoot, props.nativeModules ?? []),
    },
  });
}

/**
 * Local bundling of one function. A class with its inputs as fields, not a `{ tryBundle }` literal: CDK
 * caches staged assets by source path and bundling options, serialised, so without these fields in the
 * key every function of an app would get the first one's bundle.
 */
class LocalFunctionBundling implements ILocalBundling {
  constructor(
    readonly entry: string,
    readonly projectRoot: string,
    readonly nativeModules: readonly string[],
  ) {}

  tryBundle(outputDir: string): boolean {
    const result = bundleFunction({
      entry: this.entry,
      outdir: outputDir,
      projectRoot: this.projectRoot,
      nativeModules: this.nativeModules,
    });
    if (result.errors.length > 0) throw new Error(`bundling ${this.entry} failed`);
    return true;
  }
}
