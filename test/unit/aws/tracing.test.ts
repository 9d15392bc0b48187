import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ENV_VARS } from '../../../shared/aws/config.js';

const RUNTIME = '../../../shared/aws/runtime.js';
/** The name aws-xray-sdk-core gives the middleware it adds to a captured client. */
const XRAY_MIDDLEWARE = 'XRaySDKInstrumentation';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** A fresh copy of shared/aws/runtime.ts, loaded with the environment as stubbed now. */
async function loadRuntime(): Promise<typeof import('../../../shared/aws/runtime.js')> {
  vi.resetModules();
  return import(RUNTIME);
}

describe('tracing (STRONGROOM_TRACING)', () => {
  it('loads no tracer, adds no middleware and captures no client when unset', async () => {
    // Prepare
    vi.stubEnv(ENV_VARS.tracing, '');
    const { FunctionRuntime, tracingMiddlewares } = await loadRuntime();

    // Act
    const client = new FunctionRuntime({ [ENV_VARS.region]: 'eu-central-1' }).client(STSClient);
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Assess
    expect(tracingMiddlewares()).toEqual([]);
    expect(client.middlewareStack.identify().filter((m) => m.includes(XRAY_MIDDLEWARE))).toEqual([]);
  });

  it('traces the handler and captures every client, also one made before the tracer loaded, when on', async () => {
    // Prepare: as in Lambda (Powertools traces only there)
    vi.stubEnv(ENV_VARS.tracing, 'on');
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'strongroom-test');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
    const { FunctionRuntime, tracingMiddlewares } = await loadRuntime();
    const runtime = new FunctionRuntime({ [ENV_VARS.region]: 'eu-central-1' });

    // Act: one client at once (the tracer is still loading), one after it has loaded
    const early = runtime.client(STSClient);
    const middlewares = tracingMiddlewares();
    // Loading the tracer takes over a second on a busy machine (vi.waitFor's default limit).
    await vi.waitFor(
      () => expect(early.middlewareStack.identify().some((m) => m.includes(XRAY_MIDDLEWARE))).toBe(true),
      { timeout: 15_000 },
    );
    const late = runtime.dynamo;

    // Assess
    expect(middlewares).toHaveLength(1);
    expect(Object.keys(middlewares[0]!).sort()).toEqual(['after', 'before', 'onError']);
    expect(late.middlewareStack.identify().some((m) => m.includes(XRAY_MIDDLEWARE))).toBe(true);
  });
});
