import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tenantWithEveryRole } from '../support/identity-fixtures.js';
import { type TestApi, startTestApi } from '../support/local-api.js';

/** Everything the process writes while the storage handlers run at the most verbose log level. */
const captured: string[] = [];
const originals = {
  out: process.stdout.write.bind(process.stdout),
  err: process.stderr.write.bind(process.stderr),
};
let api: TestApi;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(originals.out) as typeof process.stdout.write;
  process.stderr.write = capture(originals.err) as typeof process.stderr.write;
  api = await startTestApi();
});

afterAll(async () => {
  process.stdout.write = originals.out;
  process.stderr.write = originals.err;
  await api.close();
});

describe('storage logs', () => {
  it('never contain a vended secret key or session token, on success or failure paths', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Logs');
    const location = await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
      token: users.admin.token,
      body: { managed: true },
    });
    await new S3Client({
      endpoint: inject('awsEndpoint'),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }).send(new CreateBucketCommand({ Bucket: 'log-test-lake' }));
    const external = await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
      token: users.admin.token,
      body: { root: 's3://log-test-lake/data', roleArn: 'arn:aws:iam::210987654321:role/x' },
    });
    expect(external.status, external.text).toBe(201);
    const secrets: string[] = [];
    // Act: vends (miss and hit), a refused write, bad input, an external vend, a revocation
    for (const body of [
      { location: location.body.locationId, access: 'read' },
      { location: location.body.locationId, access: 'read' },
      { location: location.body.locationId, access: 'write' },
      { location: external.body.locationId, access: 'read', durationSeconds: 3600 },
    ]) {
      const res = await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
        token: users.editor.token,
        body,
      });
      expect(res.status).toBe(200);
      secrets.push(res.body.secretAccessKey, res.body.sessionToken);
    }
    await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
      token: users.viewer.token,
      body: { location: location.body.locationId, access: 'write' },
    });
    await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
      token: users.viewer.token,
      body: { location: 's3://x//y', access: 'read', durationSeconds: 1 },
    });
    await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials/revocations`, {
      token: users.admin.token,
      body: { userId: users.editor.userId },
    });
    // Assess
    const logs = captured.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs).not.toContain(secret);
    expect(logs).not.toContain(external.body.externalId);
  });
});
