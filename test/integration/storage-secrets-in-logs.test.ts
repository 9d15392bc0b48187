import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { tenantWithEveryRole } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';

const api = useTestApi();

// Everything the process writes while the handlers run at the most verbose log level.
const output = captureOutputOfFile({ logLevel: 'DEBUG' });

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
      { location: external.body.locationId, access: 'read', durationSeconds: 900 },
      { location: location.body.locationId, access: 'read', durationSeconds: 3600 },
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
    const logs = output.text();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs).not.toContain(secret);
    expect(logs).not.toContain(external.body.externalId);
  });
});
