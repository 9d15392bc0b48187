import { randomBytes } from 'node:crypto';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { EXPORT_FORMAT, EXPORT_URL_SECONDS } from '../../shared/services/tenant-export.js';
import { PASSWORD_MASK } from '../../shared/store/connections-store.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

/**
 * POST/GET /v1/tenants/{tenantId}/exports through the local API: the archive lands SSE-KMS under the
 * tenant's key at the tenant's prefix, holds no secret, downloads with a plain GET of the presigned URL,
 * and only the tenant's owners reach it.
 */
const api = useTestApi();
let s3: S3Client;
let acme: TenantWithRoles;
let globex: TenantWithRoles;
const db = functionRuntime().dynamo;
const secrets: string[] = [];

beforeAll(async () => {
  s3 = new S3Client({
    endpoint: inject('awsEndpoint'),
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  // Secrets of every kind the tenant holds: a connection password and an API key.
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  secrets.push(password);
  const connection = await api.request('POST', `/v1/tenants/${acme.tenantId}/connections`, {
    token: acme.users.owner.token,
    body: { name: 'Warehouse', host: '127.0.0.1', port: 5432, database: 'app', user: 'reader', password },
  });
  expect(connection.status, connection.text).toBe(201);
  const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
    token: acme.users.editor.token,
    body: { name: 'ci', scopes: ['tenant:read'] },
  });
  expect(key.status, key.text).toBe(201);
  secrets.push(key.body.key, key.body.key.split('.').at(-1));
  const managed = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(managed.status, managed.text).toBe(201);
});
afterAll(async () => {
  s3.destroy();
});

async function tenantKeyArn(tenantId: string): Promise<string> {
  const { Item } = await db.send(
    new GetCommand({ TableName: process.env.TENANT_DATA_TABLE!, Key: { pk: tenantId, sk: 'TENANT' } }),
  );
  return Item!.keyArn as string;
}

async function auditActions(tenantId: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, tenantId)).filter(
    (i) => i.action === 'tenant.exported',
  );
}

describe('tenant exports', () => {
  it('writes the archive SSE-KMS under the tenant key, without secrets, downloadable with a plain GET', async () => {
    // Act
    const before = Date.now();
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/exports`, {
      token: acme.users.owner.token,
    });

    // Assess: the answer
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { exportId, url, urlExpiresAt } = res.body;
    expect(exportId).toMatch(/^x_[0-9a-z]{26}$/);
    expect(Date.parse(urlExpiresAt) - before).toBeLessThanOrEqual(EXPORT_URL_SECONDS * 1000 + 5000);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe(String(EXPORT_URL_SECONDS));

    // Assess: the object
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: process.env.EXPORT_BUCKET!,
        Key: `tenants/${acme.tenantId}/exports/${exportId}.json`,
      }),
    );
    expect(head.ServerSideEncryption).toBe('aws:kms');
    const keyArn = await tenantKeyArn(acme.tenantId);
    expect([keyArn, keyArn.split('/').at(-1)]).toContain(head.SSEKMSKeyId);
    expect(head.SSEKMSKeyId).not.toBe(process.env.PLATFORM_KEY_ARN);

    // Assess: the download, with nothing but the URL
    const download = await fetch(url);
    expect(download.status).toBe(200);
    // A browser following the link saves the file rather than showing it (the presigned override).
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="${acme.tenantId}-${exportId}.json"`,
    );
    const text = await download.text();
    const archive = JSON.parse(text);
    expect(archive).toMatchObject({ format: EXPORT_FORMAT, exportId, tenant: { tenantId: acme.tenantId } });
    expect(archive.members).toHaveLength(5);
    expect(archive.apiKeys).toHaveLength(1);
    expect(archive.storageLocations).toHaveLength(1);
    expect(archive.connections).toHaveLength(1);
    expect(archive.connections[0].password).toBe(PASSWORD_MASK);
    expect(archive.auditEventsComplete).toBe(true);
    expect(archive.auditEvents.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['tenant.created', 'member.added', 'connection.created', 'api-key.created']),
    );
    for (const secret of secrets) expect(text).not.toContain(secret);
    for (const field of [
      'secretHash',
      'passwordHash',
      'ciphertext',
      'Ciphertext',
      'keyArn',
      'externalId',
      'pk',
    ])
      expect(text).not.toContain(`"${field}"`);
    const events = await auditActions(acme.tenantId);
    expect(
      events.some((e) => e.resource?.id === exportId && e.actor?.userId === acme.users.owner.userId),
    ).toBe(true);
  });

  it('hands out a fresh URL for an existing archive, audited; 404 for an unknown id', async () => {
    // Prepare
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/exports`, {
      token: acme.users.owner.token,
    });
    const { exportId } = created.body;
    const auditedBefore = (await auditActions(acme.tenantId)).length;

    // Act
    const again = await api.request('GET', `/v1/tenants/${acme.tenantId}/exports/${exportId}`, {
      token: acme.users.owner.token,
    });
    const unknown = await api.request(
      'GET',
      `/v1/tenants/${acme.tenantId}/exports/x_01jx0000000000000000000000`,
      { token: acme.users.owner.token },
    );

    // Assess
    expect(again.status, again.text).toBe(200);
    expect(again.body.exportId).toBe(exportId);
    expect(again.body.sizeBytes).toBe(created.body.sizeBytes);
    expect((await fetch(again.body.url)).status).toBe(200);
    expect((await auditActions(acme.tenantId)).length).toBe(auditedBefore + 1);
    expect(unknown.status).toBe(404);
  });

  it('refuses viewers and admins (403) and another tenant’s owner (404), writing nothing', async () => {
    // Prepare
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/exports`, {
      token: acme.users.owner.token,
    });
    const path = `/v1/tenants/${acme.tenantId}/exports`;
    const auditedBefore = (await auditActions(acme.tenantId)).length;

    // Act / Assess
    for (const role of ['viewer', 'admin'] as const) {
      const post = await api.request('POST', path, { token: acme.users[role].token });
      const get = await api.request('GET', `${path}/${created.body.exportId}`, {
        token: acme.users[role].token,
      });
      expect([post.status, get.status], role).toEqual([403, 403]);
    }
    const foreignPost = await api.request('POST', path, { token: globex.users.owner.token });
    const foreignGet = await api.request('GET', `${path}/${created.body.exportId}`, {
      token: globex.users.owner.token,
    });
    expect([foreignPost.status, foreignGet.status]).toEqual([404, 404]);
    expect(problemType(foreignGet)).toBe('not-found');
    // Their own tenant's path with this tenant's export id finds nothing either.
    const crossed = await api.request(
      'GET',
      `/v1/tenants/${globex.tenantId}/exports/${created.body.exportId}`,
      {
        token: globex.users.owner.token,
      },
    );
    expect(crossed.status).toBe(404);
    expect((await auditActions(acme.tenantId)).length).toBe(auditedBefore);
    expect(await auditActions(globex.tenantId)).toEqual([]);
  });
});
