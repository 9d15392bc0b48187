import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { storageNodeKey } from '../../shared/domain/item-layout.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';

/**
 * External locations on SSE-KMS buckets: registration names the bucket's key and older
 * keys, checks them as the customer's role sees them, and vends sessions whose policy lets S3 use exactly
 * those keys (proven in test/unit/domain/storage-policy-simulator.test.ts; the emulator does not enforce
 * IAM), with the `sse` hint clients need to write under the bucket's key.
 */

const CUSTOMER_ACCOUNT = '210987654321';
const CUSTOMER_ROLE = `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/strongroom-kms-access`;
const BUCKET = 'kms-lake';

const api = useTestApi();
let acme: TenantWithRoles;
let endpoint: string;
let customer: AwsCredentialIdentity;
const keys: Record<'current' | 'old1' | 'old2' | 'disabled' | 'signing', string> = {
  current: '',
  old1: '',
  old2: '',
  disabled: '',
  signing: '',
};

const register = (token: string, body: Record<string, unknown>) =>
  api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, { token, body });
const ddb = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: TEST_REGION }));

async function locations(token = acme.users.owner.token) {
  const res = await api.request('GET', `/v1/tenants/${acme.tenantId}/storage-locations`, { token });
  return res.body.items as Record<string, unknown>[];
}

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  acme = await tenantWithEveryRole(api, 'Acme');
  const admin = { accessKeyId: 'test', secretAccessKey: 'test' };
  await new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials: admin }).send(
    new CreateBucketCommand({ Bucket: BUCKET }),
  );
  // The customer's keys live in the customer's account: created with a session of their role there.
  const { Credentials: c } = await new STSClient({ endpoint, region: TEST_REGION, credentials: admin }).send(
    new AssumeRoleCommand({ RoleArn: CUSTOMER_ROLE, RoleSessionName: 'customer-admin' }),
  );
  customer = {
    accessKeyId: c!.AccessKeyId!,
    secretAccessKey: c!.SecretAccessKey!,
    sessionToken: c!.SessionToken!,
  };
  const kms = new KMSClient({ endpoint, region: TEST_REGION, credentials: customer });
  for (const name of ['current', 'old1', 'old2', 'disabled'] as const) {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: `kms-lake ${name}` }));
    keys[name] = KeyMetadata!.Arn!;
  }
  await kms.send(new DisableKeyCommand({ KeyId: keys.disabled.split('/')[1] }));
  const { KeyMetadata: signing } = await kms.send(
    new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
  );
  keys.signing = signing!.Arn!;
  expect(keys.current.split(':')[4]).toBe(CUSTOMER_ACCOUNT);
});

describe('registering an SSE-KMS location', () => {
  it('refuses key ARNs S3 or STS could not use, naming each field, and registers nothing', async () => {
    const otherRegion = keys.current.replace(`:${TEST_REGION}:`, ':eu-central-1:');
    const platformKey = keys.current.replace(
      `:${CUSTOMER_ACCOUNT}:`,
      `:${process.env.TENANT_STORAGE_BOUNDARY_ARN!.split(':')[4]}:`,
    );
    const cases: [Record<string, unknown>, string][] = [
      [{ kmsKeyArn: `arn:aws:kms:${TEST_REGION}:${CUSTOMER_ACCOUNT}:alias/lake` }, 'body.kmsKeyArn'],
      [{ kmsKeyArn: keys.current.split('/')[1] }, 'body.kmsKeyArn'],
      [{ kmsKeyArn: otherRegion }, 'body.kmsKeyArn'],
      [{ kmsKeyArn: keys.current.replace('arn:aws:', 'arn:aws-cn:') }, 'body.kmsKeyArn'],
      [{ kmsKeyArn: platformKey }, 'body.kmsKeyArn'],
      [
        { kmsKeyArn: keys.current, previousKmsKeyArns: [keys.old1, keys.current] },
        'body.previousKmsKeyArns.1',
      ],
      [{ kmsKeyArn: keys.current, previousKmsKeyArns: [keys.old1, keys.old1] }, 'body.previousKmsKeyArns.1'],
      [{ previousKmsKeyArns: [] }, 'body.previousKmsKeyArns'],
      [{ previousKmsKeyArns: Array(5).fill(keys.old1) }, 'body.previousKmsKeyArns'],
      [{ previousKmsKeyArns: keys.old1 }, 'body.previousKmsKeyArns'],
      [{ kmsKeyArn: 42 }, 'body.kmsKeyArn'],
    ];
    for (const [fields, path] of cases) {
      // Act
      const res = await register(acme.users.admin.token, {
        root: `s3://${BUCKET}/refused`,
        roleArn: CUSTOMER_ROLE,
        ...fields,
      });
      // Assess
      expect({ fields, status: res.status }).toEqual({ fields, status: 400 });
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect(await locations()).toEqual([]);
  });

  it.each([
    [
      'a key that does not exist',
      () => keys.current.replace(/key\/.*/, 'key/00000000-0000-4000-8000-000000000000'),
      'body.kmsKeyArn',
      false,
    ],
    ['a disabled key', () => keys.disabled, 'body.kmsKeyArn', false],
    ['a signing key', () => keys.signing, 'body.kmsKeyArn', false],
    ['a disabled previous key', () => keys.disabled, 'body.previousKmsKeyArns.1', true],
  ])(
    '%s fails verification (424 naming its field) and registers nothing',
    async (_, key, path, asPrevious) => {
      // Act
      const res = await register(acme.users.admin.token, {
        root: `s3://${BUCKET}/unverified`,
        roleArn: CUSTOMER_ROLE,
        ...(asPrevious
          ? { kmsKeyArn: keys.current, previousKmsKeyArns: [keys.old1, key()] }
          : { kmsKeyArn: key() }),
      });
      // Assess: the field, in words; no location, no registry node
      expect(res.status, res.text).toBe(424);
      expect(res.body.type).toMatch(/external-root-unverified$/);
      expect(res.body.errors, res.text).toEqual([{ path, message: expect.any(String) }]);
      expect(await locations()).toEqual([]);
      const { Item } = await ddb().send(
        new GetCommand({ TableName: process.env.IDENTITY_TABLE, Key: storageNodeKey(BUCKET, 'unverified') }),
      );
      expect(Item).toBeUndefined();
    },
  );
});

describe('an SSE-KMS location', () => {
  let locationId: string;

  beforeAll(async () => {
    const res = await register(acme.users.admin.token, {
      root: `s3://${BUCKET}/lake`,
      roleArn: CUSTOMER_ROLE,
      kmsKeyArn: keys.current,
      previousKmsKeyArns: [keys.old1, keys.old2],
    });
    expect(res.status, res.text).toBe(201);
    locationId = res.body.locationId;
    expect(res.body).toMatchObject({ kmsKeyArn: keys.current, previousKmsKeyArns: [keys.old1, keys.old2] });
  });

  it('shows its keys to those who manage locations only, and audits them', async () => {
    // Act
    const [viewer, owner] = await Promise.all([locations(acme.users.viewer.token), locations()]);
    // Assess
    expect(owner.find((l) => l.locationId === locationId)).toMatchObject({
      kmsKeyArn: keys.current,
      previousKmsKeyArns: [keys.old1, keys.old2],
    });
    const seen = viewer.find((l) => l.locationId === locationId)!;
    expect(seen).not.toHaveProperty('kmsKeyArn');
    expect(seen).not.toHaveProperty('previousKmsKeyArns');
    const { Items } = await ddb().send(
      new QueryCommand({
        TableName: process.env.AUDIT_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': acme.tenantId },
      }),
    );
    const registered = Items!.find(
      (e) => e.action === 'storage-location.registered' && e.resource.id === locationId,
    );
    expect(registered!.details.after).toMatchObject({
      kmsKeyArn: keys.current,
      previousKmsKeyArns: [keys.old1, keys.old2],
    });
  });

  it('vends with the `sse` hint, and an upload made with it is stored under the bucket key', async () => {
    // Act
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: locationId, access: 'write' },
    });
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.sse).toEqual({ type: 'aws:kms', keyArn: keys.current });
    const s3 = new S3Client({
      endpoint: res.body.endpoint,
      region: res.body.region,
      forcePathStyle: res.body.pathStyle,
      credentials: {
        accessKeyId: res.body.accessKeyId,
        secretAccessKey: res.body.secretAccessKey,
        sessionToken: res.body.sessionToken,
      },
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'lake/part-0.csv',
        Body: 'a\n1\n',
        ServerSideEncryption: res.body.sse.type,
        SSEKMSKeyId: res.body.sse.keyArn,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lake/part-0.csv' }));
    expect(got.ServerSideEncryption).toBe('aws:kms');
    expect(got.SSEKMSKeyId).toContain(keys.current.split('/')[1]);
    expect(await got.Body!.transformToString()).toBe('a\n1\n');
  });

  it('carries the key in the Iceberg and LaminDB shapes, in the names those clients read', async () => {
    // Act
    const iceberg = await api.request(
      'GET',
      `/v1/tenants/${acme.tenantId}/storage-locations/${locationId}/credentials?access=write`,
      { token: acme.users.editor.token },
    );
    const lamin = await api.request('POST', '/compat/lamin/storages/credentials', {
      token: acme.users.editor.token,
      body: { path: `s3://${BUCKET}/lake/x` },
    });
    // Assess
    expect(iceberg.status, iceberg.text).toBe(200);
    expect(iceberg.body['storage-credentials'][0].config).toMatchObject({
      's3.sse.type': 'kms',
      's3.sse.key': keys.current,
    });
    expect(lamin.status, lamin.text).toBe(200);
    expect(lamin.body.StorageAccessibility.extraParameters.s3_additional_kwargs).toEqual({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: keys.current,
    });
  });

  it('its self-test writes and reads back under the key, and leaves the key check to AWS', async () => {
    // Act
    const res = await api.request(
      'POST',
      `/v1/tenants/${acme.tenantId}/storage-locations/${locationId}/validate`,
      { token: acme.users.admin.token },
    );
    // Assess
    expect(res.status, res.text).toBe(200);
    const byName = Object.fromEntries(
      res.body.checks.map((c: { name: string; status: string }) => [c.name, c.status]),
    );
    expect(byName).toMatchObject({ 'write-inside-prefix': 'pass', 'kms-key': 'not-judged' });
    expect(res.body.result).toBe('incomplete');
  });

  it('a managed location carries `sse` too: the tenant’s own key, Bucket Keys off', async () => {
    // Prepare
    const managed = await register(acme.users.admin.token, { managed: true });
    expect(managed.status, managed.text).toBe(201);
    // Act
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: managed.body.locationId, access: 'write' },
    });
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.sse).toEqual({
      type: 'aws:kms',
      keyArn: expect.stringMatching(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//),
      bucketKeyEnabled: false,
    });
    expect(res.body.sse.keyArn).not.toBe(process.env.STORAGE_KEY_ARN);
  });
});
