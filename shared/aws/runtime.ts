import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type middy from '@middy/core';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ENV_VARS, type EnvName } from './config.js';
import { formatStacksFromSourceMaps } from './stack-traces.js';

// Stack traces name the TypeScript sources, each bundle file's map read by the first stack formatted through
// it (./stack-traces.ts); a no-op outside a bundle.
formatStacksFromSourceMaps();

type Tracing = typeof import('./tracing.js');
let loadedTracing: Tracing | undefined;
/**
 * The Powertools tracer (./tracing.ts), only where STRONGROOM_TRACING is `on`: its import starts at load and
 * is not awaited there, so it adds nothing to a cold start that does not trace.
 */
const tracing: Promise<Tracing> | undefined =
  process.env[ENV_VARS.tracing] === 'on'
    ? import('./tracing.js').then((module) => {
        loadedTracing = module;
        return module;
      })
    : undefined;

/**
 * `client`, its calls traced where tracing is on. A client made before the tracer has loaded (at module load)
 * is captured when it has; the handler's tracing middleware waits for that before the first request runs.
 */
function traced<C>(client: C): C {
  if (!tracing) return client;
  if (loadedTracing) return loadedTracing.tracer.captureAWSv3Client(client);
  void tracing.then((module) => module.tracer.captureAWSv3Client(client));
  return client;
}

/** The middy middleware that traces each request's handler where tracing is on; otherwise none. */
export function tracingMiddlewares(): middy.MiddlewareObj[] {
  const loading = tracing;
  if (!loading) return [];
  let inner: middy.MiddlewareObj | undefined;
  return [
    {
      before: async (request) => {
        inner ??= (await loading).handlerMiddleware() as middy.MiddlewareObj;
        await inner.before?.(request);
      },
      after: async (request) => inner?.after?.(request),
      onError: async (request) => inner?.onError?.(request),
    },
  ];
}

/**
 * Settings shared by every AWS client of a function: the emulator endpoint in local mode (none in AWS),
 * three attempts, and connections kept alive between invocations of a warm function.
 */
export function clientConfig(
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider,
  env: NodeJS.ProcessEnv = process.env,
) {
  const endpoint = env[ENV_VARS.endpoint] || undefined;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
    requestHandler: { httpAgent: { keepAlive: true }, httpsAgent: { keepAlive: true } },
  };
}

/** What a client of this runtime is configured with (S3 reads `forcePathStyle`; other clients ignore it). */
export type ClientSettings = ReturnType<typeof clientConfig> & { forcePathStyle: boolean };

/** A DynamoDB document client that drops undefined attributes instead of failing on them. */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * What one function runs on: its environment, read once from the one registry of variable names
 * (shared/aws/config.ts), and one client per AWS service, each traced where tracing is on and
 * built at first use. The clients carry the function role's credentials; tenant-scoped DynamoDB clients
 * are made per tenant (shared/store/tenant-data-client.ts).
 */
export class FunctionRuntime {
  readonly #env: NodeJS.ProcessEnv;
  readonly #clients = new Map<unknown, unknown>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    // Only the registry's variables, copied once: later changes to the process environment are not seen.
    this.#env = Object.fromEntries(Object.values(ENV_VARS).map((name) => [name, env[name]]));
  }

  /** A required setting; throws naming its variable when absent. */
  require(name: EnvName): string {
    const value = this.#env[ENV_VARS[name]];
    if (!value) throw new Error(`Missing environment variable ${ENV_VARS[name]}`);
    return value;
  }

  /** An optional setting. */
  optional(name: EnvName): string | undefined {
    return this.#env[ENV_VARS[name]] || undefined;
  }

  /** The environment as read (the registry's variables only). */
  get env(): NodeJS.ProcessEnv {
    return this.#env;
  }

  /** Client settings for this function (credentials other than the role's, e.g. a tenant's, if given). */
  clientConfig(credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider) {
    return clientConfig(credentials, this.#env);
  }

  /** The function role's DynamoDB document client (identity table, auth lookups, platform log, sequencer). */
  get dynamo(): DynamoDBDocumentClient {
    return this.#client(DynamoDBDocumentClient, () =>
      documentClient(traced(new DynamoDBClient(this.clientConfig()))),
    );
  }

  /**
   * This function's client of one AWS service, by its client class (`runtime.client(STSClient)`); made at
   * first use, then shared. The caller imports the class, so a function bundles only the clients it uses.
   * S3 clients address buckets by path when an endpoint (the local emulator) is set; AWS uses virtual hosts.
   */
  client<C extends { send: unknown }>(Client: new (config: ClientSettings) => C): C {
    return this.#client(Client, () =>
      traced(new Client({ ...this.clientConfig(), forcePathStyle: this.optional('endpoint') !== undefined })),
    );
  }

  /**
   * One `make()` per runtime under `key` (a class, usually): what every part of one function must share, such
   * as its audit append notifications (shared/store/audit-appends.ts).
   */
  shared<T>(key: object, make: () => T): T {
    return this.#client(key, make);
  }

  #client<T>(key: unknown, make: () => T): T {
    if (!this.#clients.has(key)) this.#clients.set(key, make());
    return this.#clients.get(key) as T;
  }
}

let current: { runtime: FunctionRuntime; read: string } | undefined;

/** The registry's variables as one string, to tell whether the environment changed. */
const registryValues = (env: NodeJS.ProcessEnv) =>
  JSON.stringify(Object.values(ENV_VARS).map((name) => env[name]));

/**
 * This function's runtime, made at first use (at module load of a handler, after Lambda, or local mode,
 * has set the environment): one per process, so every part of a function shares its clients. Only where a
 * process provisions a fresh emulator again (the bench, test files) does the environment change; a new
 * runtime is then made for it.
 */
export function functionRuntime(): FunctionRuntime {
  const read = registryValues(process.env);
  if (current?.read !== read) current = { runtime: new FunctionRuntime(process.env), read };
  return current.runtime;
}
