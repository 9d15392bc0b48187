import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import { cleanEnv, pythonWithBoto3 } from '../support/python-clients.js';

const run = promisify(execFile);
const LAMIN = '/compat/lamin/storages/credentials';
const CUSTOMER_ROLE = 'arn:aws:iam::210987654321:role/strongroom-access';
const NOT_FOUND = 'No storage location you may use contains that path.';

const api = useTestApi();
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let awsEndpoint: string;
let managedBucket: string;
let managedRoot: string;
let managedId: string;
let externalRoot: string;

const lamin = (token: string | undefined, body: unknown) =>
  api.request('POST', LAMIN, { ...(token ? { token } : {}), body });

async function vendEvents(tenantId: string) {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: awsEndpoint, region: TEST_REGION }));
  const { Items } = await db.send(
    new QueryCommand({
      TableName: process.env.AUDIT_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tenantId },
      ConsistentRead: true,
    }),
  );
  return (Items ?? []).filter((i) => i.action === 'storage-credentials.vended');
}

async function apiKey(tenant: TenantWithRoles, scopes: string[]) {
  const res = await api.request('POST', `/v1/tenants/${tenant.tenantId}/api-keys`, {
    token: tenant.users.owner.token,
    body: { name: `lamin ${scopes.join(' ')}`, scopes },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.key as string;
}

beforeAll(async () => {
  awsEndpoint = inject('awsEndpoint');
  managedBucket = process.env.STORAGE_BUCKET!;
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  const managed = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(managed.status, managed.text).toBe(201);
  managedRoot = managed.body.root;
  managedId = managed.body.locationId;
  const s3 = new S3Client({
    endpoint: awsEndpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'lamin-lake' }));
  await s3.send(
    new PutObjectCommand({
      Bucket: managedBucket,
      Key: `${managed.body.prefix}/raw/hello.txt`,
      Body: 'hello lamin',
    }),
  );
  const external = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { root: 's3://lamin-lake/projects', roleArn: CUSTOMER_ROLE },
  });
  expect(external.status, external.text).toBe(201);
  externalRoot = external.body.root;
});

describe('POST /compat/lamin/storages/credentials', () => {
  it("answers LaminDB's shape: write for an editor, the narrowest root, s3fs options with the endpoint", async () => {
    // Act
    const res = await lamin(acme.users.editor.token, {
      path: `${managedRoot}/raw/hello.txt`,
      duration_seconds: 3600,
    });
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['Credentials', 'StorageAccessibility']);
    expect(Object.keys(res.body.Credentials).sort()).toEqual([
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
    ]);
    const lifetime = Date.parse(res.body.Credentials.Expiration) - Date.now();
    expect(lifetime).toBeGreaterThan(3500_000);
    expect(lifetime).toBeLessThanOrEqual(3600_000);
    expect(res.body.StorageAccessibility).toEqual({
      storageRoot: managedRoot,
      isManaged: true,
      extraParameters: {
        client_kwargs: { region_name: TEST_REGION },
        endpoint_url: awsEndpoint,
        config_kwargs: { s3: { addressing_style: 'path' } },
        // Managed objects are written under the tenant's own key (s3fs passes these to every upload)
        s3_additional_kwargs: {
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: expect.stringMatching(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//),
          BucketKeyEnabled: false,
        },
      },
    });
    const event = (await vendEvents(acme.tenantId)).at(-1)!;
    expect(event.details).toMatchObject({
      access: 'write',
      userId: acme.users.editor.userId,
      durationSeconds: 3600,
    });
    expect(JSON.stringify(event)).not.toContain(res.body.Credentials.SecretAccessKey);
  });

  it('a viewer gets read; an owner key without storage:write-credentials gets read too', async () => {
    // Act / Assess: a viewer
    const viewer = await lamin(acme.users.viewer.token, { path: `${managedRoot}/raw` });
    expect(viewer.status, viewer.text).toBe(200);
    expect((await vendEvents(acme.tenantId)).at(-1)!.details).toMatchObject({
      access: 'read',
      userId: acme.users.viewer.userId,
    });

    // Act / Assess: an owner's key with read credentials only
    const key = await apiKey(acme, ['storage:read-credentials']);
    const viaKey = await lamin(key, { path: `${managedRoot}/raw` });
    expect(viaKey.status, viaKey.text).toBe(200);
    expect((await vendEvents(acme.tenantId)).at(-1)!.details).toMatchObject({
      access: 'read',
      userId: acme.users.owner.userId,
    });
  });

  it('clamps duration_seconds to 900–3600, and external locations to 900; the root is the registered one', async () => {
    // Act: too short, too long, and external
    const short = await lamin(acme.users.editor.token, { path: `${managedRoot}/a`, duration_seconds: 10 });
    const long = await lamin(acme.users.editor.token, { path: `${managedRoot}/a`, duration_seconds: 86_400 });
    const external = await lamin(acme.users.editor.token, {
      path: `${externalRoot}/2026/run-1/matrix.h5ad`,
      duration_seconds: 3600,
    });

    // Assess: clamped, and the external root as registered
    for (const res of [short, long, external]) expect(res.status, res.text).toBe(200);
    const events = (await vendEvents(acme.tenantId)).slice(-3);
    expect(events.map((e) => e.details.durationSeconds)).toEqual([900, 3600, 900]);
    expect(external.body.StorageAccessibility).toMatchObject({ storageRoot: externalRoot, isManaged: false });
    expect(Date.parse(external.body.Credentials.Expiration) - Date.now()).toBeLessThanOrEqual(900_000);
  });

  it("another tenant's members and keys, unregistered paths and the bare managed bucket all get the same 404", async () => {
    // Prepare
    const globexKey = await apiKey(globex, ['storage:read-credentials', 'storage:write-credentials']);

    // Act
    const answers = [
      await lamin(globex.users.owner.token, { path: `${managedRoot}/raw/hello.txt` }),
      await lamin(globex.users.owner.token, { path: `${externalRoot}/x` }),
      await lamin(globexKey, { path: `${managedRoot}/raw` }),
      await lamin(acme.users.owner.token, { path: 's3://lamin-lake/elsewhere/x' }),
      await lamin(acme.users.owner.token, { path: 's3://no-such-bucket-here/x' }),
      await lamin(acme.users.owner.token, { path: `s3://${managedBucket}/tenants` }),
      await lamin(acme.users.owner.token, {
        path: `s3://${managedBucket}/tenants/${acme.tenantId}/l_nothing`,
      }),
    ];

    // Assess: the same 404 each, and nothing vended in globex
    for (const res of answers) {
      expect(res.status, res.text).toBe(404);
      expect(res.body).toMatchObject({ type: expect.stringMatching(/not-found$/), detail: NOT_FOUND });
    }
    expect((await vendEvents(globex.tenantId)).length).toBe(0);
  });

  it('a key of the tenant without storage:read-credentials gets 403; no credential 401', async () => {
    // Prepare
    const key = await apiKey(acme, ['instances:read']);
    const before = (await vendEvents(acme.tenantId)).length;

    // Act
    const res = await lamin(key, { path: `${managedRoot}/raw` });

    // Assess
    expect(res.status, res.text).toBe(403);
    expect((await vendEvents(acme.tenantId)).length).toBe(before);

    // Act / Assess
    expect((await lamin(undefined, { path: `${managedRoot}/raw` })).status).toBe(401);
  });

  it.each([
    [{}, 'body.path'],
    [{ path: 'lamin-lake/projects' }, 'body.path'],
    [{ path: 's3://lamin-lake/a/../projects' }, 'body.path'],
    [{ path: `s3://lamin-lake/${'x/'.repeat(300)}` }, 'body.path'],
    [{ path: 's3://lamin-lake/projects', duration_seconds: 'long' }, 'body.duration_seconds'],
    [{ path: 's3://lamin-lake/projects', duration_seconds: 900.5 }, 'body.duration_seconds'],
  ])('malformed input %j is a 400 naming %s', async (body, field) => {
    // Act
    const res = await lamin(acme.users.editor.token, body);

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
  });

  it("botocore's RefreshableCredentials fed from the route, as the LaminDB client does, read and refresh", async () => {
    // Prepare: the LaminDB client's way: POST {api_url}/storages/credentials with a bearer token, then
    // botocore's
    // RefreshableCredentials with that function as refresh_using (advisory refresh 15 minutes, mandatory 10
    // minutes before expiry), and s3fs-style options from extraParameters.
    const script = `import json, sys, urllib.request
import boto3
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session
api_url, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
calls = []
accessibility = {}
def fetch():
    request = urllib.request.Request(api_url + '/storages/credentials', method='POST',
        data=json.dumps({'path': path, 'duration_seconds': 900}).encode(),
        headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    calls.append(answer['Credentials']['AccessKeyId'])
    accessibility.update(answer['StorageAccessibility'])
    c = answer['Credentials']
    return {'access_key': c['AccessKeyId'], 'secret_key': c['SecretAccessKey'], 'token': c['SessionToken'],
            'expiry_time': c['Expiration']}
credentials = RefreshableCredentials.create_from_metadata(metadata=fetch(), refresh_using=fetch, method='lamin-hub')
session = get_session()
session._credentials = credentials
extra = accessibility['extraParameters']
client = boto3.Session(botocore_session=session).client('s3',
    region_name=extra['client_kwargs']['region_name'], endpoint_url=extra.get('endpoint_url'),
    config=boto3.session.Config(s3=extra.get('config_kwargs', {}).get('s3')))
root = accessibility['storageRoot'][len('s3://'):]
bucket, prefix = root.split('/', 1)
first = client.get_object(Bucket=bucket, Key=prefix + '/raw/hello.txt')['Body'].read().decode()
second = client.list_objects_v2(Bucket=bucket, Prefix=prefix + '/raw/')['KeyCount']
print(json.dumps({'first': first, 'listed': second, 'fetches': len(calls)}))
`;

    // Act
    const out = await run(
      pythonWithBoto3(),
      ['-c', script, `${api.url}/compat/lamin`, acme.users.viewer.token, `${managedRoot}/raw/hello.txt`],
      { env: cleanEnv({}) },
    );

    // Assess
    const result = JSON.parse(out.stdout);
    expect(result.first).toBe('hello lamin');
    expect(result.listed).toBe(1);
    // 900-second credentials are inside botocore's 15-minute advisory window at once: it refreshes through
    // the route before each use.
    expect(result.fetches).toBeGreaterThanOrEqual(2);
  });
});

/**
 * What Iceberg's REST clients check before using a LoadCredentialsResponse (Java's VendedCredentialsProvider,
 * PyIceberg): exactly one credential for S3, holding all four s3.* keys.
 */
function icebergAccepts(body: {
  'storage-credentials'?: { prefix: string; config: Record<string, string> }[];
}) {
  const s3 = (body['storage-credentials'] ?? []).filter((c) => c.prefix.startsWith('s3'));
  if (s3.length !== 1) return false;
  const keys = [
    's3.access-key-id',
    's3.secret-access-key',
    's3.session-token',
    's3.session-token-expires-at-ms',
  ];
  return keys.every((k) => typeof s3[0]!.config[k] === 'string' && s3[0]!.config[k] !== '');
}

describe('GET …/storage-locations/{id}/credentials (the Iceberg REST shape)', () => {
  const path = (query: string, locationId = managedId, tenantId = acme.tenantId) =>
    `/v1/tenants/${tenantId}/storage-locations/${locationId}/credentials${query}`;

  it('answers one S3 credential with the s3.* and client.* properties; its refresh endpoint answers the same', async () => {
    // Act
    const res = await api.request('GET', path('?access=write'), { token: acme.users.editor.token });
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(icebergAccepts(res.body)).toBe(true);
    const [credential] = res.body['storage-credentials'];
    expect(credential.prefix).toBe(managedRoot);
    expect(Object.keys(credential.config).sort()).toEqual([
      'client.refresh-credentials-endpoint',
      'client.region',
      's3.access-key-id',
      's3.endpoint',
      's3.path-style-access',
      's3.secret-access-key',
      's3.session-token',
      's3.session-token-expires-at-ms',
      's3.sse.key',
      's3.sse.type',
    ]);
    const config = credential.config;
    expect(config['s3.sse.type']).toBe('kms');
    expect(config['s3.sse.key']).toMatch(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//);
    expect(Object.values(config).every((v) => typeof v === 'string')).toBe(true);
    expect(config).toMatchObject({
      'client.region': TEST_REGION,
      's3.endpoint': awsEndpoint,
      's3.path-style-access': 'true',
      'client.refresh-credentials-endpoint': path('?access=write&durationSeconds=900'),
    });
    const expiresIn = Number(config['s3.session-token-expires-at-ms']) - Date.now();
    expect(expiresIn).toBeGreaterThan(800_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);
    expect((await vendEvents(acme.tenantId)).at(-1)!.details).toMatchObject({ access: 'write' });

    // The credentials work as Iceberg's S3FileIO would use them
    const s3 = new S3Client({
      region: config['client.region'],
      endpoint: config['s3.endpoint'],
      forcePathStyle: config['s3.path-style-access'] === 'true',
      credentials: {
        accessKeyId: config['s3.access-key-id'],
        secretAccessKey: config['s3.secret-access-key'],
        sessionToken: config['s3.session-token'],
      },
    });
    const bucketAndPrefix = managedRoot.slice('s3://'.length);
    const bucket = bucketAndPrefix.slice(0, bucketAndPrefix.indexOf('/'));
    const prefix = bucketAndPrefix.slice(bucket.length + 1);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/raw/hello.txt` }));
    expect(await got.Body!.transformToString()).toBe('hello lamin');

    // Refresh: the endpoint, resolved against the API's base URL, answers in the same accepted shape
    const refreshed = await api.request('GET', config['client.refresh-credentials-endpoint'], {
      token: acme.users.editor.token,
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(icebergAccepts(refreshed.body)).toBe(true);
    expect(refreshed.body['storage-credentials'][0].prefix).toBe(managedRoot);
  });

  it('read by default; write needs storage:write-credentials; another tenant and unknown ids are 404', async () => {
    // Act / Assess: a viewer reads
    const read = await api.request('GET', path(''), { token: acme.users.viewer.token });
    expect(read.status, read.text).toBe(200);
    expect((await vendEvents(acme.tenantId)).at(-1)!.details).toMatchObject({
      access: 'read',
      userId: acme.users.viewer.userId,
    });

    // Act / Assess: a reviewer, and a key without the write scope, ask for write
    const before = (await vendEvents(acme.tenantId)).length;
    const write = await api.request('GET', path('?access=write'), { token: acme.users.reviewer.token });
    expect(write.status).toBe(403);
    const key = await apiKey(acme, ['storage:read-credentials']);
    expect((await api.request('GET', path('?access=write'), { token: key })).status).toBe(403);
    expect((await vendEvents(acme.tenantId)).length).toBe(before);

    // Act / Assess: another tenant's owner, through this location and through their own tenant; an unknown id
    const stranger = await api.request('GET', path(''), { token: globex.users.owner.token });
    expect(stranger.status).toBe(404);
    const theirs = await api.request('GET', path('', managedId, globex.tenantId), {
      token: globex.users.owner.token,
    });
    expect(theirs.status).toBe(404);
    const unknown = await api.request('GET', path('', 'l_01jx0000000000000000000000'), {
      token: acme.users.owner.token,
    });
    expect(unknown.status).toBe(404);
  });

  it.each([
    ['?access=admin', 'query.access'],
    ['?durationSeconds=10', 'query.durationSeconds'],
    ['?durationSeconds=soon', 'query.durationSeconds'],
    ['?format=iceberg', 'query'],
  ])('malformed query %s is a 400 naming %s', async (query, field) => {
    // Act
    const res = await api.request('GET', path(query), { token: acme.users.editor.token });

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path).join(' ')).toContain(field);
  });
});
