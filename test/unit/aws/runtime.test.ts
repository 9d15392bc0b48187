import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ENV_VARS } from '../../../shared/aws/config.js';
import { FunctionRuntime, functionRuntime } from '../../../shared/aws/runtime.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('FunctionRuntime', () => {
  it('reads the registry’s variables once: a later change of the environment is not seen', () => {
    // Prepare
    const env: NodeJS.ProcessEnv = { [ENV_VARS.auditTable]: 'audit-a', UNRELATED: 'x' };
    const runtime = new FunctionRuntime(env);

    // Act
    env[ENV_VARS.auditTable] = 'audit-b';

    // Assess
    expect(runtime.require('auditTable')).toBe('audit-a');
    expect(runtime.env).not.toHaveProperty('UNRELATED');
    expect(runtime.optional('exportBucket')).toBeUndefined();
    expect(() => runtime.require('identityTable')).toThrow('Missing environment variable IDENTITY_TABLE');
  });

  it('makes one client per service and shares it', async () => {
    // Prepare
    const runtime = new FunctionRuntime({ [ENV_VARS.region]: 'eu-west-1' });

    // Act
    const first = runtime.client(STSClient);
    const again = runtime.client(STSClient);

    // Assess
    expect(again).toBe(first);
    expect(runtime.dynamo).toBe(runtime.dynamo);
    expect(runtime.client(S3Client)).not.toBe(first);
  });

  it('points every client at the emulator when an endpoint is set, S3 by path', async () => {
    // Prepare
    const endpoint = 'http://127.0.0.1:4566';
    const local = new FunctionRuntime({ [ENV_VARS.endpoint]: endpoint, AWS_REGION: 'us-east-1' });
    const aws = new FunctionRuntime({ AWS_REGION: 'us-east-1' });

    // Act
    const localS3 = local.client(S3Client);
    const awsS3 = aws.client(S3Client);

    // Assess
    expect(String((await localS3.config.endpoint?.())?.hostname)).toBe('127.0.0.1');
    expect(localS3.config.forcePathStyle).toBe(true);
    expect(awsS3.config.forcePathStyle).toBe(false);
    expect(local.clientConfig().endpoint).toBe(endpoint);
    expect(aws.clientConfig()).not.toHaveProperty('endpoint');
  });

  it('is one per process until the environment is provisioned again', () => {
    // Prepare
    vi.stubEnv(ENV_VARS.auditTable, 'audit-1');
    const first = functionRuntime();

    // Act
    const same = functionRuntime();
    vi.stubEnv(ENV_VARS.auditTable, 'audit-2');
    const next = functionRuntime();

    // Assess
    expect(same).toBe(first);
    expect(next).not.toBe(first);
    expect(next.require('auditTable')).toBe('audit-2');
  });
});
