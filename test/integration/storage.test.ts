import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromProcess } from '@aws-sdk/credential-providers';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/local/system.js';
import { storageNodeKey } from '../../shared/domain/item-layout.js';
import { REVOCATION_POLICY_NAME, tenantStorageRoleName } from '../../shared/domain/tenant-storage-role.js';
import { fromStrongroom, uploadEncryption } from '../../shared/sdk/credentials.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION, TEST_STAGE } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import { emulatorIam } from '../support/storage-sessions.js';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'bin', 'strongroom.mjs');
const CUSTOMER_ROLE = 'arn:aws:iam::210987654321:role/strongroom-access';

const api = useTestApi();
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let endpoint: string;
let managedBucket: string;
let managedId: string;
let managedPrefix: string;

const s3With = (credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider) =>
  new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials });
/** The tenant's own key, as the tenants function made it (managed objects are written under it). */
async function tenantKeyArn(tenantId: string): Promise<string> {
  const kms = new KMSClient({
    endpoint,
    region: TEST_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const { KeyMetadata } = await kms.send(
    new DescribeKeyCommand({ KeyId: `alias/strongroom/${TEST_STAGE}/tenant/${tenantId}` }),
  );
  kms.destroy();
  return KeyMetadata!.Arn!;
}
const ddb = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: TEST_REGION }));

async function vend(tenantId: string, token: string, body: Record<string, unknown>) {
  return api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, { token, body });
}

async function register(tenantId: string, token: string, body: Record<string, unknown>) {
  return api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, { token, body });
}

async function auditEvents(tenantId: string, action: string) {
  const { Items } = await ddb().send(
    new QueryCommand({
      TableName: process.env.AUDIT_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tenantId },
    }),
  );
  return (Items ?? []).filter((i) => i.action === action);
}

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  managedBucket = process.env.STORAGE_BUCKET!;
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  const created = await register(acme.tenantId, acme.users.admin.token, { managed: true });
  expect(created.status, created.text).toBe(201);
  managedId = created.body.locationId;
  managedPrefix = created.body.prefix;
  const admin = new S3Client({
    endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await admin.send(new CreateBucketCommand({ Bucket: 'customer-lake' }));
});

describe('managed locations and vending', () => {
  it('registers under tenants/<tenantId>/<locationId> in the platform bucket', async () => {
    // Act
    const list = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: acme.users.viewer.token,
    });

    // Assess: the managed location under the tenant's prefix, and its registration audited
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({
        locationId: managedId,
        kind: 'managed',
        bucket: managedBucket,
        prefix: `tenants/${acme.tenantId}/${managedId}`,
        root: `s3://${managedBucket}/tenants/${acme.tenantId}/${managedId}`,
        region: TEST_REGION,
      }),
    ]);
    const events = await auditEvents(acme.tenantId, 'storage-location.registered');
    expect(events.map((e) => e.resource.id)).toContain(managedId);
  });

  it('only storage-locations:manage registers (editor 403, nothing written)', async () => {
    // Act
    const res = await register(acme.tenantId, acme.users.editor.token, { managed: true });

    // Assess: refused, and still one location
    expect(res.status).toBe(403);
    const list = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: acme.users.owner.token,
    });
    expect(list.body.items).toHaveLength(1);
  });

  it('a viewer gets read credentials that work with the stock S3 client, and cannot get write ones', async () => {
    // Prepare: an editor writes a file
    const write = await vend(acme.tenantId, acme.users.editor.token, {
      location: managedId,
      access: 'write',
    });
    expect(write.status, write.text).toBe(200);
    expect(write.headers.get('cache-control')).toBe('no-store');
    const editorS3 = s3With({
      accessKeyId: write.body.accessKeyId,
      secretAccessKey: write.body.secretAccessKey,
      sessionToken: write.body.sessionToken,
    });
    await editorS3.send(
      new PutObjectCommand({
        Bucket: managedBucket,
        Key: `${managedPrefix}/hello.txt`,
        Body: 'hello',
        ...uploadEncryption(write.body),
      }),
    );

    // Act
    const read = await vend(acme.tenantId, acme.users.viewer.token, { location: managedId, access: 'read' });
    const denied = await vend(acme.tenantId, acme.users.viewer.token, {
      location: managedId,
      access: 'write',
    });
    const reviewer = await vend(acme.tenantId, acme.users.reviewer.token, {
      location: managedId,
      access: 'write',
    });

    // Assess
    expect(read.status, read.text).toBe(200);
    expect(read.body).toEqual({
      accessKeyId: expect.stringMatching(/^ASIA/),
      secretAccessKey: expect.any(String),
      sessionToken: expect.any(String),
      expiration: expect.any(String),
      region: TEST_REGION,
      // Local mode: the emulator's address, buckets in the path.
      endpoint,
      pathStyle: true,
      bucket: managedBucket,
      prefix: managedPrefix,
      access: 'read',
      locationId: managedId,
      root: `s3://${managedBucket}/${managedPrefix}`,
      vendId: expect.stringMatching(/^v_[0-9a-hjkmnp-tv-z]{9}$/),
      // Managed objects are written under the tenant's own key, Bucket Keys off
      sse: {
        type: 'aws:kms',
        keyArn: expect.stringMatching(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//),
        bucketKeyEnabled: false,
      },
    });
    const expiresIn = Date.parse(read.body.expiration) - Date.now();
    expect(expiresIn).toBeGreaterThan(800_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);
    expect(denied.status).toBe(403);
    expect(reviewer.status).toBe(403);
    const viewerS3 = s3With({
      accessKeyId: read.body.accessKeyId,
      secretAccessKey: read.body.secretAccessKey,
      sessionToken: read.body.sessionToken,
    });
    const object = await viewerS3.send(
      new GetObjectCommand({ Bucket: managedBucket, Key: `${managedPrefix}/hello.txt` }),
    );
    expect(await object.Body!.transformToString()).toBe('hello');
    const listing = await viewerS3.send(
      new ListObjectsV2Command({ Bucket: managedBucket, Prefix: `${managedPrefix}/` }),
    );
    expect(listing.Contents?.map((c) => c.Key)).toEqual([`${managedPrefix}/hello.txt`]);
  });

  it('audits every vend with the access key id and never the secret', async () => {
    // Act
    const res = await vend(acme.tenantId, acme.users.viewer.token, {
      location: managedId,
      access: 'read',
      durationSeconds: 1200,
    });

    // Assess: the event names the key id and the lifetime, never the secret or the token
    expect(res.status).toBe(200);
    const events = await auditEvents(acme.tenantId, 'storage-credentials.vended');
    const mine = events.find(
      (e) => e.details.accessKeyId === res.body.accessKeyId && e.details.durationSeconds === 1200,
    );
    expect(mine).toMatchObject({
      actor: { userId: acme.users.viewer.userId },
      resource: { type: 'storage-location', id: managedId },
      details: {
        userId: acme.users.viewer.userId,
        locationId: managedId,
        access: 'read',
        expiration: res.body.expiration,
      },
    });
    const everything = JSON.stringify(events);
    expect(everything).not.toContain(res.body.secretAccessKey);
    expect(everything).not.toContain(res.body.sessionToken);
  });

  it('serves a cached credential to the same user and a different one to another user', async () => {
    // Act: the viewer twice, then the reviewer
    const a = await vend(acme.tenantId, acme.users.viewer.token, { location: managedId, access: 'read' });
    const b = await vend(acme.tenantId, acme.users.viewer.token, { location: managedId, access: 'read' });
    const other = await vend(acme.tenantId, acme.users.reviewer.token, {
      location: managedId,
      access: 'read',
    });

    // Assess
    expect(b.body.accessKeyId).toBe(a.body.accessKeyId);
    expect(other.body.accessKeyId).not.toBe(a.body.accessKeyId);
  });

  it.each([
    [899, 400],
    [3601, 400],
    [900.5, 400],
    [3600, 200],
    [900, 200],
  ])('durationSeconds %s → %s', async (durationSeconds, status) => {
    // Act
    const res = await vend(acme.tenantId, acme.users.viewer.token, {
      location: managedId,
      access: 'read',
      durationSeconds,
    });

    // Assess
    expect(res.status, res.text).toBe(status);
    if (status === 400)
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.durationSeconds']);
  });

  it('refuses another tenant’s location by id and by path (404), and changes nothing', async () => {
    // Act: globex through its own path, by id and by path; through acme's; and a delete
    const byId = await vend(globex.tenantId, globex.users.owner.token, {
      location: managedId,
      access: 'read',
    });
    const byPath = await vend(globex.tenantId, globex.users.owner.token, {
      location: `s3://${managedBucket}/${managedPrefix}/hello.txt`,
      access: 'read',
    });
    const crossTenant = await vend(acme.tenantId, globex.users.owner.token, {
      location: managedId,
      access: 'read',
    });
    const del = await api.request('DELETE', `/v1/tenants/${globex.tenantId}/storage-locations/${managedId}`, {
      token: globex.users.owner.token,
    });

    // Assess: 404 each, nothing vended in globex
    expect(byId.status).toBe(404);
    expect(byPath.status).toBe(404);
    expect(crossTenant.status).toBe(404);
    expect(del.status).toBe(404);
    expect((await auditEvents(globex.tenantId, 'storage-credentials.vended')).length).toBe(0);
  });

  it('attribution: each STS session is named <tenant>.<u user | k API key>.<vend>, and the vend id is in the response and the audit event', async () => {
    // Prepare: an API key of the viewer's tenant acting for its creator (the owner).
    const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'attribution', scopes: ['storage:read-credentials'] },
    });
    expect(key.status, key.text).toBe(201);
    const sts = (c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) =>
      new STSClient({
        endpoint,
        region: TEST_REGION,
        credentials: {
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          sessionToken: c.sessionToken,
        },
      });
    const sessionName = async (c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) =>
      (await sts(c).send(new GetCallerIdentityCommand({}))).Arn!.split('/').pop()!;
    const body = {
      location: managedId,
      access: 'read',
      durationSeconds: 3000 + Math.floor(Math.random() * 500),
    };
    // Act
    const byUser = await vend(acme.tenantId, acme.users.owner.token, body);
    const byKey = await vend(acme.tenantId, key.body.key, body);
    // Assess: what STS (the emulator) holds as each session's name
    expect(byUser.status, byUser.text).toBe(200);
    expect(byKey.status, byKey.text).toBe(200);
    const bare = (id: string) => id.slice(2);
    expect(await sessionName(byUser.body)).toBe(
      `${bare(acme.tenantId)}.u${bare(acme.users.owner.userId)}.${bare(byUser.body.vendId)}`,
    );
    expect(await sessionName(byKey.body)).toBe(
      `${bare(acme.tenantId)}.k${bare(key.body.keyId)}.${bare(byKey.body.vendId)}`,
    );
    // The key and its creator share no credentials, and each vend's audit event carries its vend id.
    expect(byKey.body.accessKeyId).not.toBe(byUser.body.accessKeyId);
    const events = await auditEvents(acme.tenantId, 'storage-credentials.vended');
    for (const vended of [byUser.body, byKey.body])
      expect(events.filter((e) => e.details.vendId === vended.vendId)).toEqual([
        expect.objectContaining({
          details: expect.objectContaining({ accessKeyId: vended.accessKeyId, cached: false }),
        }),
      ]);
    // A cached answer is the same session, so the same vend id (its audit event says cached).
    const again = await vend(acme.tenantId, key.body.key, body);
    expect(again.body).toMatchObject({ accessKeyId: byKey.body.accessKeyId, vendId: byKey.body.vendId });
  });

  it('validates the location field (400 naming it)', async () => {
    // Act / Assess
    for (const location of ['s3://bucket//x', 's3://Bad_Bucket/x', 's3://bucket/a/../b', 'l_nope']) {
      const res = await vend(acme.tenantId, acme.users.viewer.token, { location, access: 'read' });
      expect(res.status, location).toBe(400);
      expect(res.body.errors[0].path, location).toBe('body.location');
    }
  });
});

describe('external roots: one tenant per root, no overlap across tenants', () => {
  let dataId: string;
  let subId: string;
  let externalId: string;

  it('the ExternalId is available before the first registration, to managers only', async () => {
    // Act: a viewer, an admin, the owner, and another tenant's admin ask for it
    const viewer = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations/external-id`, {
      token: acme.users.viewer.token,
    });
    const admin = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations/external-id`, {
      token: acme.users.admin.token,
    });
    const again = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations/external-id`, {
      token: acme.users.owner.token,
    });
    const other = await api.request('GET', `/v1/tenants/${globex.tenantId}/storage-locations/external-id`, {
      token: globex.users.admin.token,
    });

    // Assess: managers only, the same for the tenant, another for another tenant
    expect(viewer.status).toBe(403);
    expect(admin.status).toBe(200);
    expect(admin.body.externalId).toMatch(/^strongroom-[0-9a-f]{32}$/);
    expect(again.body.externalId).toBe(admin.body.externalId);
    expect(other.body.externalId).not.toBe(admin.body.externalId);
  });

  it('a root the role cannot list (here: no such bucket) is 424 and nothing is registered', async () => {
    // Act
    const res = await register(globex.tenantId, globex.users.admin.token, {
      root: 's3://no-such-bucket-anywhere/data',
      roleArn: CUSTOMER_ROLE,
    });

    // Assess: the root named, nothing registered
    expect(res.status, res.text).toBe(424);
    expect(res.body.errors[0].path).toBe('body.root');
    const list = await api.request('GET', `/v1/tenants/${globex.tenantId}/storage-locations`, {
      token: globex.users.admin.token,
    });
    expect(list.body.items).toEqual([]);
  });

  it('registers s3://customer-lake/data with an ExternalId that stays the same for the tenant', async () => {
    // Act
    const first = await register(acme.tenantId, acme.users.admin.token, {
      root: 's3://customer-lake/data/',
      roleArn: CUSTOMER_ROLE,
    });

    // Assess
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({
      kind: 'external',
      root: 's3://customer-lake/data',
      prefix: 'data',
      roleArn: CUSTOMER_ROLE,
    });
    expect(first.body.externalId).toMatch(/^strongroom-[0-9a-f]{32}$/);
    dataId = first.body.locationId;
    externalId = first.body.externalId;

    // Act / Assess: nested inside one's own root is allowed; the narrowest root wins when vending by path.
    const sub = await register(acme.tenantId, acme.users.owner.token, {
      root: 's3://customer-lake/data/sub',
      roleArn: CUSTOMER_ROLE,
    });
    expect(sub.status, sub.text).toBe(201);
    expect(sub.body.externalId).toBe(externalId);
    subId = sub.body.locationId;

    // Act / Assess: viewers see the location, not the role or the ExternalId.
    const asViewer = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: acme.users.viewer.token,
    });
    const seen = asViewer.body.items.find((l: { locationId: string }) => l.locationId === dataId);
    expect(seen.roleArn).toBeUndefined();
    expect(seen.externalId).toBeUndefined();
  });

  it.each([
    ['s3://customer-lake/data', 'the same root'],
    ['s3://customer-lake/data/x/y', 'a root inside it'],
    ['s3://customer-lake', 'the whole bucket, which contains it'],
  ])('another tenant registering %s (%s) gets 409 and nothing is written', async (root) => {
    // Act
    const res = await register(globex.tenantId, globex.users.admin.token, { root, roleArn: CUSTOMER_ROLE });

    // Assess: nothing written or audited
    expect(res.status, res.text).toBe(409);
    const list = await api.request('GET', `/v1/tenants/${globex.tenantId}/storage-locations`, {
      token: globex.users.admin.token,
    });
    expect(list.body.items).toEqual([]);
    expect((await auditEvents(globex.tenantId, 'storage-location.registered')).length).toBe(0);
  });

  it('the same tenant registering the same root twice gets 409', async () => {
    // Act
    const res = await register(acme.tenantId, acme.users.admin.token, {
      root: 's3://customer-lake/data',
      roleArn: CUSTOMER_ROLE,
    });

    // Assess
    expect(res.status).toBe(409);
  });

  it('a sibling with a shared name prefix (data2 vs data) is a different root', async () => {
    // Act
    const res = await register(globex.tenantId, globex.users.admin.token, {
      root: 's3://customer-lake/data2',
      roleArn: CUSTOMER_ROLE,
    });

    // Assess
    expect(res.status, res.text).toBe(201);
  });

  it('the platform buckets cannot be registered as external roots', async () => {
    // Act
    const res = await register(globex.tenantId, globex.users.admin.token, {
      root: `s3://${managedBucket}/tenants/${acme.tenantId}`,
      roleArn: CUSTOMER_ROLE,
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('body.root');
  });

  it('a role in the platform account cannot be named (400 naming roleArn)', async () => {
    // Act
    const res = await register(globex.tenantId, globex.users.admin.token, {
      root: 's3://customer-lake/other',
      roleArn: `arn:aws:iam::${process.env.TENANT_STORAGE_BOUNDARY_ARN!.split(':')[4]}:role/strongroom/test/us-east-1/tenant-storage/storage-${acme.tenantId}`,
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('body.roleArn');
  });

  it('vends external credentials through the customer role, scoped to the narrowest root containing a path', async () => {
    // Act
    const res = await vend(acme.tenantId, acme.users.editor.token, {
      location: 's3://customer-lake/data/sub/file.csv',
      access: 'write',
    });

    // Assess: the narrowest root, and the credentials write there
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      locationId: subId,
      bucket: 'customer-lake',
      prefix: 'data/sub',
      access: 'write',
    });
    const s3 = s3With({
      accessKeyId: res.body.accessKeyId,
      secretAccessKey: res.body.secretAccessKey,
      sessionToken: res.body.sessionToken,
    });
    await s3.send(
      new PutObjectCommand({ Bucket: 'customer-lake', Key: 'data/sub/file.csv', Body: 'a,b\n1,2\n' }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: 'customer-lake', Key: 'data/sub/file.csv' }));
    expect(await got.Body!.transformToString()).toBe('a,b\n1,2\n');

    // Act / Assess: a path outside the sub-root gets the outer root
    const outer = await vend(acme.tenantId, acme.users.editor.token, {
      location: 's3://customer-lake/data/other',
      access: 'read',
    });
    expect(outer.body.locationId).toBe(dataId);
  });

  it('releasing roots frees them: after the tenant deletes both, the other may register the whole bucket', async () => {
    // Act: delete both
    for (const id of [subId, dataId]) {
      const del = await api.request('DELETE', `/v1/tenants/${acme.tenantId}/storage-locations/${id}`, {
        token: acme.users.admin.token,
      });
      expect(del.status, del.text).toBe(200);
      expect(del.body.credentials).toEqual([
        expect.objectContaining({ kind: 'external', effect: 'not-revocable' }),
      ]);
    }

    // Assess: gone, and the bucket's node holds only globex
    const gone = await vend(acme.tenantId, acme.users.editor.token, { location: dataId, access: 'read' });
    expect(gone.status).toBe(404);
    const { Item } = await ddb().send(
      new GetCommand({ TableName: process.env.IDENTITY_TABLE, Key: storageNodeKey('customer-lake', '') }),
    );
    expect(Item?.descTenants ? [...Item.descTenants] : []).toEqual([globex.tenantId]);

    // Act / Assess: globex registers the whole bucket; acme cannot come back inside it
    const whole = await register(globex.tenantId, globex.users.admin.token, {
      root: 's3://customer-lake',
      roleArn: CUSTOMER_ROLE,
    });
    expect(whole.status, whole.text).toBe(201);
    const back = await register(acme.tenantId, acme.users.admin.token, {
      root: 's3://customer-lake/data',
      roleArn: CUSTOMER_ROLE,
    });
    expect(back.status).toBe(409);
  });
});

describe('instances', () => {
  it('an editor creates a LaminDB-style instance in a registered location; names are unique; viewers read', async () => {
    // Prepare
    const body = {
      name: 'lab-notebook',
      defaultStorageRoot: `s3://${managedBucket}/${managedPrefix}/lamindb`,
    };

    // Act
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/instances`, {
      token: acme.users.editor.token,
      body,
    });

    // Assess
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      name: 'lab-notebook',
      storageLocationId: managedId,
      defaultStorageRoot: body.defaultStorageRoot,
    });

    // Act / Assess: the same name again; a viewer; a root outside every location
    const again = await api.request('POST', `/v1/tenants/${acme.tenantId}/instances`, {
      token: acme.users.editor.token,
      body,
    });
    expect(again.status).toBe(409);
    const viewer = await api.request('POST', `/v1/tenants/${acme.tenantId}/instances`, {
      token: acme.users.viewer.token,
      body: { ...body, name: 'other' },
    });
    expect(viewer.status).toBe(403);
    const outside = await api.request('POST', `/v1/tenants/${acme.tenantId}/instances`, {
      token: acme.users.editor.token,
      body: { name: 'elsewhere', defaultStorageRoot: 's3://customer-lake/data2' },
    });
    expect(outside.status).toBe(404);

    // Assess: one instance listed
    const list = await api.request('GET', `/v1/tenants/${acme.tenantId}/instances`, {
      token: acme.users.viewer.token,
    });
    expect(list.body.items.map((i: { name: string }) => i.name)).toEqual(['lab-notebook']);

    // Act / Assess: the location is in use: it cannot be deleted from under the instance.
    const del = await api.request('DELETE', `/v1/tenants/${acme.tenantId}/storage-locations/${managedId}`, {
      token: acme.users.admin.token,
    });
    expect(del.status).toBe(409);
  });
});

describe('SDK, credential_process and the CLI', () => {
  let configDir: string;

  beforeAll(async () => {
    configDir = await mkdtemp(join(tmpdir(), 'strongroom-cli-'));
  });

  const cliEnv = (extra: Record<string, string> = {}) => ({
    ...process.env,
    STRONGROOM_CONFIG: join(configDir, 'config.json'),
    STRONGROOM_ENDPOINT: '',
    STRONGROOM_TOKEN: '',
    ...extra,
  });

  it('fromStrongroom drives the stock S3 client and memoises', async () => {
    // Prepare: a provider that counts vends
    let vends = 0;
    const counting: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/storage-credentials')) vends++;
      return fetch(input, init);
    };
    const credentials = fromStrongroom({
      endpoint: api.url,
      token: acme.users.editor.token,
      tenantId: acme.tenantId,
      location: managedId,
      access: 'write',
      fetch: counting,
    });

    // Act: write and read through the stock S3 client
    const s3 = s3With(credentials);
    await s3.send(
      new PutObjectCommand({
        Bucket: managedBucket,
        Key: `${managedPrefix}/sdk.txt`,
        Body: 'sdk',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: await tenantKeyArn(acme.tenantId),
      }),
    );
    const got = await s3.send(
      new GetObjectCommand({ Bucket: managedBucket, Key: `${managedPrefix}/sdk.txt` }),
    );

    // Assess: one vend served both, with time left, and the location remembered
    expect(await got.Body!.transformToString()).toBe('sdk');
    const identity = await credentials();
    expect(identity.expiration.getTime()).toBeGreaterThan(Date.now() + 5 * 60_000);
    expect(vends).toBe(1);
    expect(credentials.lastVend()).toMatchObject({ bucket: managedBucket, prefix: managedPrefix });
  });

  it('login writes a 0600 config; tenants and storage list read it', async () => {
    // Prepare
    const viewer = acme.users.viewer;

    // Act
    const child = spawn(
      'node',
      [BIN, 'login', '--endpoint', api.url, '--email', viewer.email, '--password-stdin'],
      {
        env: cliEnv(),
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.end(viewer.password);
    const code = await new Promise((resolve) => child.on('close', resolve));

    // Assess: success without echoing the password; a private config with the token
    expect(code, stderr).toBe(0);
    expect(stderr).not.toContain(viewer.password);
    const configFile = join(configDir, 'config.json');
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(configFile, 'utf8'));
    expect(config.endpoint).toBe(api.url);
    expect(config.token).toMatch(/\S{20,}/);

    // Act / Assess: the config serves the next commands
    const tenants = await run('node', [BIN, 'tenants', '--json'], { env: cliEnv() });
    expect(JSON.parse(tenants.stdout)).toEqual([{ tenantId: acme.tenantId, role: 'viewer' }]);
    const list = await run('node', [BIN, 'storage', 'list', '--tenant', acme.tenantId, '--json'], {
      env: cliEnv(),
    });
    expect(JSON.parse(list.stdout).map((l: { locationId: string }) => l.locationId)).toContain(managedId);
  });

  it('storage register as an admin via env; a viewer gets exit 1 with the 403', async () => {
    // Act / Assess: as an admin
    const ok = await run('node', [BIN, 'storage', 'register', '--tenant', acme.tenantId, '--managed'], {
      env: cliEnv({ STRONGROOM_ENDPOINT: api.url, STRONGROOM_TOKEN: acme.users.admin.token }),
    });
    expect(JSON.parse(ok.stdout)).toMatchObject({ kind: 'managed' });

    // Act / Assess: as a viewer
    const denied = await run('node', [BIN, 'storage', 'register', '--tenant', acme.tenantId, '--managed'], {
      env: cliEnv({ STRONGROOM_ENDPOINT: api.url, STRONGROOM_TOKEN: acme.users.viewer.token }),
    }).catch((e) => e);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('403');
  });

  it('credentials prints credential_process JSON that the AWS SDK process provider consumes', async () => {
    // Prepare
    const env = cliEnv({ STRONGROOM_ENDPOINT: api.url, STRONGROOM_TOKEN: acme.users.viewer.token });
    const args = [BIN, 'credentials', '--tenant', acme.tenantId, '--location', managedId, '--access', 'read'];
    // Act
    const out = await run('node', args, { env });
    // Assess: the exact credential_process shape
    const parsed = JSON.parse(out.stdout);
    expect(Object.keys(parsed).sort()).toEqual([
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'Version',
    ]);
    expect(parsed.Version).toBe(1);
    expect(Number.isNaN(Date.parse(parsed.Expiration))).toBe(false);

    // …and through ~/.aws/config with the SDK's own fromProcess
    const awsConfig = join(configDir, 'aws-config');
    const command = ['node', ...args].map((a) => JSON.stringify(a)).join(' ');
    await writeFile(awsConfig, `[profile strongroom-read]\ncredential_process = ${command}\n`);
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const provider = fromProcess({
        profile: 'strongroom-read',
        configFilepath: awsConfig,
        filepath: join(configDir, 'none'),
      });
      const identity = await provider();
      expect(identity.accessKeyId).toBe(parsed.AccessKeyId);
      const s3 = s3With(provider);
      const got = await s3.send(
        new GetObjectCommand({ Bucket: managedBucket, Key: `${managedPrefix}/hello.txt` }),
      );
      expect(await got.Body!.transformToString()).toBe('hello');
    } finally {
      process.env = saved;
    }
  });

  it('credentials: a viewer asking for write exits 1 and prints nothing on stdout', async () => {
    // Prepare
    const env = cliEnv({ STRONGROOM_ENDPOINT: api.url, STRONGROOM_TOKEN: acme.users.viewer.token });

    // Act
    const failed = await run(
      'node',
      [BIN, 'credentials', '--tenant', acme.tenantId, '--location', managedId, '--access', 'write'],
      { env },
    ).catch((e) => e);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toContain('403');
  });
});

describe('revocation', () => {
  it('an admin revokes an editor: the role gets the deny and the cached credential is not served again', async () => {
    // Prepare
    const before = await vend(acme.tenantId, acme.users.editor.token, {
      location: managedId,
      access: 'read',
    });
    const cachedAgain = await vend(acme.tenantId, acme.users.editor.token, {
      location: managedId,
      access: 'read',
    });
    expect(cachedAgain.body.accessKeyId).toBe(before.body.accessKeyId);
    // Act
    const revoked = await api.request(
      'POST',
      `/v1/tenants/${acme.tenantId}/storage-credentials/revocations`,
      {
        token: acme.users.admin.token,
        body: { userId: acme.users.editor.userId },
      },
    );
    const after = await vend(acme.tenantId, acme.users.editor.token, { location: managedId, access: 'read' });
    // Assess
    expect(revoked.status, revoked.text).toBe(200);
    expect(Date.parse(revoked.body.revokedBefore)).toBeGreaterThan(Date.now() - 2000);
    expect(after.status).toBe(200);
    expect(after.body.accessKeyId).not.toBe(before.body.accessKeyId);
    const iam = emulatorIam(endpoint);
    const roleName = tenantStorageRoleName(acme.tenantId);
    const policy = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOCATION_POLICY_NAME }),
    );
    const document = JSON.parse(decodeURIComponent(policy.PolicyDocument!));
    expect(document.Statement).toContainEqual({
      Effect: 'Deny',
      Action: 's3:*',
      Resource: '*',
      Condition: {
        StringEquals: { 'aws:PrincipalTag/UserId': acme.users.editor.userId },
        DateLessThan: { 'aws:TokenIssueTime': revoked.body.revokedBefore },
      },
    });
    expect(revoked.body.credentials).toEqual([
      expect.objectContaining({
        kind: 'managed',
        effect: 'denied',
        issuedBefore: revoked.body.revokedBefore,
      }),
      // The editor also vended external credentials earlier in this file.
      expect.objectContaining({ kind: 'external', effect: 'not-revocable', expireBy: expect.any(String) }),
    ]);
    const events = await auditEvents(acme.tenantId, 'storage-credentials.revoked');
    expect(events.at(-1)).toMatchObject({
      actor: { userId: acme.users.admin.userId },
      details: { userId: acme.users.editor.userId },
    });
  });

  it('an editor cannot revoke (403); an admin cannot revoke an owner (403)', async () => {
    // Act
    const editor = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials/revocations`, {
      token: acme.users.editor.token,
      body: { userId: acme.users.viewer.userId },
    });
    const owner = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials/revocations`, {
      token: acme.users.admin.token,
      body: { userId: acme.users.owner.userId },
    });

    // Assess
    expect(editor.status).toBe(403);
    expect(owner.status).toBe(403);
  });

  it('a removed member’s cached credentials are not served', async () => {
    // Prepare: the reviewer holds cached credentials
    const held = await vend(acme.tenantId, acme.users.reviewer.token, {
      location: managedId,
      access: 'read',
    });
    expect(held.status).toBe(200);

    // Act
    const removed = await api.request(
      'DELETE',
      `/v1/tenants/${acme.tenantId}/members/${acme.users.reviewer.userId}`,
      {
        token: acme.users.owner.token,
      },
    );

    // Assess: the next vend is refused, without the old key
    expect(removed.status, removed.text).toBe(204);
    const again = await vend(acme.tenantId, acme.users.reviewer.token, {
      location: managedId,
      access: 'read',
    });
    expect(again.status).toBe(404);
    expect(again.text).not.toContain(held.body.accessKeyId);
  });
});
