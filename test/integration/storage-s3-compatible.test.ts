import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startMoto } from '../../infra/local/moto.js';
import { PROJECT_ROOT } from '../../infra/local/system.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';
import { cleanEnv, pythonWithBoto3 } from '../support/python-clients.js';
import { tenantAuditEvents } from '../support/storage-sessions.js';

/*
 * S3-compatible stores (issue 14 item 6). A second moto_server on its own loopback port stands in for the
 * store (MinIO, Ceph…): it serves S3 and STS on one port. It accepts any signature and any key pair, so what
 * these tests show is the flow (where requests go, with which key, what is checked and refused, what is
 * stored); that a real store trusts the key pair and enforces the session policy cannot be shown here.
 */

const run = promisify(execFile);
const api = useTestApi();
const output = captureOutputOfFile({ logLevel: 'DEBUG' });
let store: { endpoint: string; stop: () => Promise<void> };
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let awsEndpoint: string;
const BUCKET = 'lakehouse';
const KEY_ID = 'MINIOKEY1EXAMPLE';
const SECRET = 'minio-secret-1-Zq8Lr2Vx5Tn9Wb4K';
const SECRET_2 = 'minio-secret-2-Hp3Jd7Fs1Gm6Qc0Y';

const locations = (tenantId: string) => `/v1/tenants/${tenantId}/storage-locations`;
const storeBody = (extra: Record<string, unknown> = {}) => ({
  root: `s3://${BUCKET}/signed`,
  endpoint: store.endpoint,
  accessKeyId: KEY_ID,
  secretAccessKey: SECRET,
  ...extra,
});
const storeS3 = () =>
  new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
const listIds = async (tenantId: string, token: string) =>
  (await api.request('GET', locations(tenantId), { token })).body.items.map(
    (l: { locationId: string }) => l.locationId,
  );

/** Every attribute value of every item of the emulator's tables, as text. */
async function everyStoredItem(): Promise<string> {
  const ddb = new DynamoDBClient({
    endpoint: awsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const texts: string[] = [];
  for (const table of [process.env.TENANT_DATA_TABLE!, process.env.IDENTITY_TABLE!]) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start as never }));
      texts.push(JSON.stringify(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  ddb.destroy();
  return texts.join('\n');
}

beforeAll(async () => {
  awsEndpoint = inject('awsEndpoint');
  store = await startMoto({ projectRoot: PROJECT_ROOT, port: await freePort() });
  await storeS3().send(new CreateBucketCommand({ Bucket: BUCKET }));
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
}, 60_000);

afterAll(async () => {
  await store?.stop();
});

describe('registering a location at an S3-compatible store', () => {
  it('stores the endpoint and the key pair encrypted, and returns neither half of the key', async () => {
    // Act
    const res = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      body: storeBody({ root: `s3://${BUCKET}/registered` }),
    });

    // Assess: the view says where and how; the key pair is nowhere in the answer, the tables or the audit
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'external',
      root: `s3://${BUCKET}/registered`,
      endpoint: store.endpoint,
      pathStyle: true,
      signingOnly: true,
      region: 'us-east-1',
    });
    expect(res.body.externalId).toBeUndefined();
    expect(res.body.storeKeyUpdatedAt).toBe(res.body.createdAt);
    expect(res.text).not.toContain(KEY_ID);
    expect(res.text).not.toContain(SECRET);
    const stored = await everyStoredItem();
    expect(stored).toContain('storeKeyCiphertext');
    expect(stored).not.toContain(KEY_ID);
    expect(stored).not.toContain(SECRET);
    const [event] = (
      await tenantAuditEvents(awsEndpoint, acme.tenantId, 'storage-location.registered')
    ).filter((e) => e.resource.id === res.body.locationId);
    expect(event?.details.after).toMatchObject({ endpoint: store.endpoint, storeKey: 'set' });
    expect(JSON.stringify(event)).not.toContain(SECRET);
    // A viewer sees where the store is (to build requests to sign), not its STS endpoint or key dates
    const viewed = (
      await api.request('GET', locations(acme.tenantId), { token: acme.users.viewer.token })
    ).body.items.find((l: { locationId: string }) => l.locationId === res.body.locationId);
    expect(viewed).toMatchObject({ endpoint: store.endpoint, pathStyle: true, signingOnly: true });
    expect(viewed.storeKeyUpdatedAt).toBeUndefined();
  });

  it('refuses each invalid field with a 400 naming it, and registers nothing', async () => {
    // Prepare
    const port = new URL(store.endpoint).port;
    const cases: [string, Record<string, unknown>, string][] = [
      ['the metadata address', { endpoint: 'http://169.254.169.254' }, 'body.endpoint'],
      ['the metadata address over https', { endpoint: 'https://169.254.169.254/' }, 'body.endpoint'],
      ['a decimal IP form of it', { endpoint: 'http://2852039166/' }, 'body.endpoint'],
      ['an octal IP form of it', { endpoint: 'https://0251.0376.0251.0376/' }, 'body.endpoint'],
      ['an IPv4-mapped IPv6 form of it', { endpoint: 'https://[::ffff:169.254.169.254]/' }, 'body.endpoint'],
      ['the IPv6 metadata address', { endpoint: 'https://[fd00:ec2::254]/' }, 'body.endpoint'],
      ['a user name and password', { endpoint: `http://user:pass@127.0.0.1:${port}` }, 'body.endpoint'],
      ['a path', { endpoint: `${store.endpoint}/${BUCKET}` }, 'body.endpoint'],
      ['a query', { endpoint: `${store.endpoint}/?x=1` }, 'body.endpoint'],
      ['a fragment', { endpoint: `${store.endpoint}#x` }, 'body.endpoint'],
      ['another scheme', { endpoint: `ftp://127.0.0.1:${port}/` }, 'body.endpoint'],
      ['http to a host that is not loopback', { endpoint: 'http://10.1.2.3:9000' }, 'body.endpoint'],
      ['not a URL', { endpoint: 'minio.example.com' }, 'body.endpoint'],
      ['the SSH port of a public host', { endpoint: 'https://203.0.113.10:22' }, 'body.endpoint'],
      ['port 0', { endpoint: 'https://minio.example.com:0' }, 'body.endpoint'],
      ['a privileged port, zero-padded', { endpoint: 'https://minio.example.com:000445/' }, 'body.endpoint'],
      ['a loopback privileged port in local mode', { endpoint: 'http://127.0.0.1:25' }, 'body.endpoint'],
      ['an STS endpoint on the SMTP port', { stsEndpoint: 'https://sts.example.com:25' }, 'body.stsEndpoint'],
      ['an STS endpoint on port 1023', { stsEndpoint: 'https://sts.example.com:1023/' }, 'body.stsEndpoint'],
      ['a metadata STS endpoint', { stsEndpoint: 'http://169.254.169.254/' }, 'body.stsEndpoint'],
      ['an STS endpoint with a path', { stsEndpoint: `${store.endpoint}/sts` }, 'body.stsEndpoint'],
      ['a KMS key', { kmsKeyArn: 'arn:aws:kms:us-east-1:210987654321:key/abc' }, 'body.kmsKeyArn'],
      [
        'older KMS keys',
        { previousKmsKeyArns: ['arn:aws:kms:us-east-1:210987654321:key/abc'] },
        'body.previousKmsKeyArns',
      ],
      ['no access key id', { accessKeyId: undefined }, 'body.accessKeyId'],
      ['no secret', { secretAccessKey: undefined }, 'body.secretAccessKey'],
      ['a role without an STS endpoint', { roleArn: 'arn:aws:iam:::role/store' }, 'body.roleArn'],
      ['a secret with a space', { secretAccessKey: 'a b' }, 'body.secretAccessKey'],
      ['pathStyle not a boolean', { pathStyle: 'yes' }, 'body.pathStyle'],
    ];
    const before = await listIds(acme.tenantId, acme.users.admin.token);
    for (const [what, change, field] of cases) {
      // Act
      const res = await api.request('POST', locations(acme.tenantId), {
        token: acme.users.admin.token,
        body: storeBody({ root: `s3://${BUCKET}/refused`, ...change }),
      });
      // Assess
      expect(res.status, `${what}: ${res.text}`).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        what,
      ).toContain(field);
      expect(res.text, what).not.toContain(SECRET);
    }
    // Act / Assess: store fields on an AWS registration, and an AWS registration without its role
    for (const [body, field] of [
      [
        { root: `s3://${BUCKET}/aws`, roleArn: 'arn:aws:iam::210987654321:role/x', accessKeyId: KEY_ID },
        'body.accessKeyId',
      ],
      [
        { root: `s3://${BUCKET}/aws`, roleArn: 'arn:aws:iam::210987654321:role/x', pathStyle: true },
        'body.pathStyle',
      ],
      [{ root: `s3://${BUCKET}/aws` }, 'body.roleArn'],
      [{ root: `s3://${BUCKET}/aws`, roleArn: 'arn:aws:iam:::role/x' }, 'body.roleArn'],
    ] as const) {
      const res = await api.request('POST', locations(acme.tenantId), {
        token: acme.users.admin.token,
        body,
      });
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
    expect(await listIds(acme.tenantId, acme.users.admin.token)).toEqual(before);
  });

  it('refuses a bucket the store does not have and a store that does not answer (424), registering nothing', async () => {
    // Prepare
    const before = await listIds(acme.tenantId, acme.users.admin.token);
    const silent = `http://127.0.0.1:${await freePort()}`;

    // Act
    const noBucket = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      body: storeBody({ root: 's3://no-such-bucket-here/x' }),
    });
    const noStore = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      body: storeBody({ root: `s3://${BUCKET}/silent`, endpoint: silent }),
    });

    // Assess
    expect(noBucket.status, noBucket.text).toBe(424);
    expect(noBucket.body.errors[0].path).toBe('body.root');
    expect(noStore.status, noStore.text).toBe(424);
    expect(noStore.body.errors[0].path).toBe('body.endpoint');
    expect(await listIds(acme.tenantId, acme.users.admin.token)).toEqual(before);
  });

  it('refuses lower roles and keys without the scope (403) and another tenant (404)', async () => {
    // Prepare
    const key = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'no manage', scopes: ['storage:read-credentials', 'storage:write-credentials'] },
    });
    expect(key.status, key.text).toBe(201);
    const before = await listIds(acme.tenantId, acme.users.admin.token);
    const body = storeBody({ root: `s3://${BUCKET}/roles` });

    // Act / Assess
    for (const token of [acme.users.editor.token, acme.users.viewer.token, key.body.key]) {
      const res = await api.request('POST', locations(acme.tenantId), { token, body });
      expect(res.status, res.text).toBe(403);
    }
    const stranger = await api.request('POST', locations(acme.tenantId), {
      token: globex.users.owner.token,
      body,
    });
    expect(stranger.status).toBe(404);
    expect(await listIds(acme.tenantId, acme.users.admin.token)).toEqual(before);
  });
});

describe('a signing-only location (no STS endpoint)', () => {
  let locationId: string;
  const signPath = () => `${locations(acme.tenantId)}/${locationId}/sign`;
  const signed = (token: string, method: string, key: string, headers: Record<string, string[]> = {}) =>
    api.request('POST', signPath(), {
      token,
      body: {
        region: 'us-east-1',
        uri: `${store.endpoint}/${BUCKET}/signed/${key}`,
        method,
        headers: { 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'], ...headers },
      },
    });
  const send = (uri: string, method: string, headers: Record<string, string[]>, body?: string) =>
    fetch(uri, {
      method,
      headers: Object.fromEntries(Object.entries(headers).map(([n, v]) => [n, v.join(',')])),
      ...(body !== undefined ? { body } : {}),
    });

  beforeAll(async () => {
    const res = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      body: storeBody(),
    });
    expect(res.status, res.text).toBe(201);
    locationId = res.body.locationId;
  });

  it('vends nothing: the vend and Iceberg routes answer 409 signing-only-location', async () => {
    // Act
    const vend = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: locationId, access: 'read' },
    });
    const iceberg = await api.request('GET', `${locations(acme.tenantId)}/${locationId}/credentials`, {
      token: acme.users.editor.token,
    });
    const lamin = await api.request('POST', '/compat/lamin/storages/credentials', {
      token: acme.users.editor.token,
      body: { path: `s3://${BUCKET}/signed/x` },
    });

    // Assess: an s3:// path names AWS S3, never a store (the LaminDB route finds no location)
    expect(vend.status, vend.text).toBe(409);
    expect(problemType(vend)).toBe('signing-only-location');
    expect(iceberg.status, iceberg.text).toBe(409);
    expect(problemType(iceberg)).toBe('signing-only-location');
    expect(lamin.status).toBe(404);
  });

  it('signs with the store key pair: the signed PUT and GET succeed at the store, not at AWS', async () => {
    // Prepare
    const content = 'hello from a signed request';

    // Act
    const put = await signed(acme.users.editor.token, 'PUT', 'docs/hello.txt', {
      'content-type': ['text/plain'],
    });
    expect(put.status, put.text).toBe(200);
    const putAnswer = await send(
      put.body.uri,
      'PUT',
      { 'content-type': ['text/plain'], ...put.body.headers },
      content,
    );
    const get = await signed(acme.users.viewer.token, 'GET', 'docs/hello.txt');
    expect(get.status, get.text).toBe(200);
    const getAnswer = await send(get.body.uri, 'GET', get.body.headers);

    // Assess: signed with the store's key (no session token), sent to the store, stored there
    expect(put.body.headers.Authorization?.[0] ?? put.body.headers.authorization?.[0]).toContain(
      `Credential=${KEY_ID}/`,
    );
    expect(JSON.stringify(put.body.headers)).not.toMatch(/x-amz-security-token/i);
    expect(JSON.stringify(put.body)).not.toContain(SECRET);
    expect(putAnswer.status).toBe(200);
    expect(getAnswer.status).toBe(200);
    expect(await getAnswer.text()).toBe(content);
    const atStore = await storeS3().send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'signed/docs/hello.txt' }),
    );
    expect(await atStore.Body!.transformToString()).toBe(content);
  });

  it('checks every request before signing: outside the prefix 400, a viewer’s write 403, another host 400', async () => {
    // Act
    const outside = await signed(acme.users.editor.token, 'GET', '../elsewhere.txt');
    const viewerPut = await signed(acme.users.viewer.token, 'PUT', 'docs/x.txt');
    const awsHost = await api.request('POST', signPath(), {
      token: acme.users.editor.token,
      body: {
        region: 'us-east-1',
        uri: `${awsEndpoint}/${BUCKET}/signed/x.txt`,
        method: 'GET',
        headers: {},
      },
    });
    const stranger = await api.request('POST', `${locations(globex.tenantId)}/${locationId}/sign`, {
      token: globex.users.owner.token,
      body: { region: 'us-east-1', uri: `${store.endpoint}/${BUCKET}/signed/x`, method: 'GET', headers: {} },
    });

    // Assess
    expect(outside.status, outside.text).toBe(400);
    expect(viewerPut.status, viewerPut.text).toBe(403);
    expect(awsHost.status, awsHost.text).toBe(400);
    expect(awsHost.body.errors[0].path).toBe('body.uri');
    expect(stranger.status).toBe(404);
  });

  it('reports its self-test as incomplete: nothing to probe with scoped credentials', async () => {
    // Act
    const res = await api.request('POST', `${locations(acme.tenantId)}/${locationId}/validate`, {
      token: acme.users.admin.token,
    });

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe('incomplete');
    expect(res.body.checks[0]).toMatchObject({ name: 'credentials-issued', status: 'not-applicable' });
  });

  it('rotates the key pair by PATCH: the next signature uses the new key; neither half is returned', async () => {
    // Prepare
    const newKeyId = 'MINIOKEY2EXAMPLE';

    // Act: lower roles and another tenant first, then the admin
    const editor = await api.request('PATCH', `${locations(acme.tenantId)}/${locationId}`, {
      token: acme.users.editor.token,
      body: { accessKeyId: newKeyId, secretAccessKey: SECRET_2 },
    });
    const stranger = await api.request('PATCH', `${locations(globex.tenantId)}/${locationId}`, {
      token: globex.users.owner.token,
      body: { accessKeyId: newKeyId, secretAccessKey: SECRET_2 },
    });
    const before = await signed(acme.users.editor.token, 'GET', 'docs/hello.txt');
    const rotated = await api.request('PATCH', `${locations(acme.tenantId)}/${locationId}`, {
      token: acme.users.admin.token,
      body: { accessKeyId: newKeyId, secretAccessKey: SECRET_2 },
    });
    const after = await signed(acme.users.editor.token, 'GET', 'docs/hello.txt');

    // Assess
    expect(editor.status).toBe(403);
    expect(stranger.status).toBe(404);
    expect(JSON.stringify(before.body.headers)).toContain(`Credential=${KEY_ID}/`);
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.text).not.toContain(newKeyId);
    expect(rotated.text).not.toContain(SECRET_2);
    expect(rotated.body.storeKeyUpdatedAt >= rotated.body.createdAt).toBe(true);
    expect(JSON.stringify(after.body.headers)).toContain(`Credential=${newKeyId}/`);
    expect((await send(after.body.uri, 'GET', after.body.headers)).status).toBe(200);
    const events = await tenantAuditEvents(awsEndpoint, acme.tenantId, 'storage-location.updated');
    expect(events.at(-1)?.details).toMatchObject({ changed: ['storeKey'], storeKey: 'replaced' });
    expect(JSON.stringify(events)).not.toContain(SECRET_2);
    expect(await everyStoredItem()).not.toContain(SECRET_2);
  });

  it('refuses a PATCH of an AWS location (it has no key pair) naming the field', async () => {
    // Prepare
    const managed = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      body: { managed: true },
    });

    // Act
    const res = await api.request('PATCH', `${locations(acme.tenantId)}/${managed.body.locationId}`, {
      token: acme.users.admin.token,
      body: { accessKeyId: 'x', secretAccessKey: 'y' },
    });

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.body.errors[0].path).toBe('body.accessKeyId');
  });
});

describe('a location at a store with STS', () => {
  let locationId: string;

  beforeAll(async () => {
    const res = await api.request('POST', locations(acme.tenantId), {
      token: acme.users.admin.token,
      // moto's AssumeRole needs a role ARN (MinIO ignores it; Ceph needs one without an account, like this)
      body: storeBody({
        root: `s3://${BUCKET}/vended`,
        stsEndpoint: store.endpoint,
        roleArn: 'arn:aws:iam:::role/lakehouse-writer',
      }),
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ signingOnly: false, stsEndpoint: store.endpoint });
    locationId = res.body.locationId;
  });

  it('vends a session of the store’s STS that boto3 uses at the store’s endpoint', async () => {
    // Act
    const vend = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: locationId, access: 'write' },
    });
    expect(vend.status, vend.text).toBe(200);
    const script = `
import boto3, json, os
c = json.loads(os.environ['VEND'])
s3 = boto3.client('s3', endpoint_url=c['endpoint'], region_name=c['region'],
    aws_access_key_id=c['accessKeyId'], aws_secret_access_key=c['secretAccessKey'],
    aws_session_token=c['sessionToken'],
    config=boto3.session.Config(s3={'addressing_style': 'path' if c['pathStyle'] else 'virtual'}))
key = c['prefix'] + '/boto3/object.txt'
s3.put_object(Bucket=c['bucket'], Key=key, Body=b'written by boto3')
body = s3.get_object(Bucket=c['bucket'], Key=key)['Body'].read().decode()
listed = [o['Key'] for o in s3.list_objects_v2(Bucket=c['bucket'], Prefix=c['prefix'] + '/')['Contents']]
print(json.dumps({'body': body, 'listed': listed}))
`;
    const { stdout } = await run(pythonWithBoto3(), ['-c', script], {
      env: cleanEnv({ VEND: JSON.stringify(vend.body) }),
    });

    // Assess: the store's endpoint and style in the answer; the object written at the store
    expect(vend.body).toMatchObject({ endpoint: store.endpoint, pathStyle: true, region: 'us-east-1' });
    expect(vend.body.accessKeyId).toMatch(/^ASIA/);
    expect(vend.body.accessKeyId).not.toBe(KEY_ID);
    expect(vend.text).not.toContain(SECRET);
    expect(JSON.parse(stdout)).toEqual({ body: 'written by boto3', listed: ['vended/boto3/object.txt'] });
    const atStore = await storeS3().send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'vended/boto3/object.txt' }),
    );
    expect(await atStore.Body!.transformToString()).toBe('written by boto3');
    // The session is the store's STS's (with the vend's session policy for the prefix), not the platform's
    const state = async (endpoint: string) =>
      JSON.stringify(await (await fetch(`${endpoint}/moto-api/data.json`)).json());
    const storeState = await state(store.endpoint);
    expect(storeState).toContain(vend.body.accessKeyId);
    expect(storeState).toContain('arn:aws:s3:::lakehouse/vended/*');
    expect(await state(awsEndpoint)).not.toContain(vend.body.accessKeyId);
  });

  it('answers Iceberg with s3.endpoint and s3.path-style-access for the store', async () => {
    // Act
    const res = await api.request(
      'GET',
      `${locations(acme.tenantId)}/${locationId}/credentials?access=read`,
      {
        token: acme.users.viewer.token,
      },
    );

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body['storage-credentials'][0].config).toMatchObject({
      's3.endpoint': store.endpoint,
      's3.path-style-access': 'true',
      'client.region': 'us-east-1',
    });
  });
});

describe('store secrets in logs', () => {
  it('never appear in what the process wrote', () => {
    // Act
    const logs = output.text();

    // Assess
    for (const secret of [SECRET, SECRET_2]) expect(logs).not.toContain(secret);
  });
});
