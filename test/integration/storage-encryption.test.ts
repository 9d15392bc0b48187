import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import {
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type StorageCredentials, uploadEncryption } from '../../shared/sdk/index.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION, TEST_STAGE } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import { cleanEnv, pythonWithBoto3 } from '../support/python-clients.js';

const run = promisify(execFile);

// The emulator neither calls KMS for SSE-KMS nor checks the caller's KMS permissions
// (test/unit/domain/storage-policy-simulator.test.ts and managed-tenant-key-simulator.test.ts prove those);
// this file proves the local shape matches the deployed one: the managed bucket is SSE-KMS with its own key
// and Bucket Keys off, and objects written with vended credentials and the vend's `sse` hint land encrypted
// under the tenant's own key.

const LOCAL = { accessKeyId: 'test', secretAccessKey: 'test' };

const api = useTestApi();
let acme: TenantWithRoles;
let endpoint: string;

const s3With = (credentials: AwsCredentialIdentity) =>
  new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials });

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  acme = await tenantWithEveryRole(api, 'Acme');
});

describe('managed storage encryption (local = deployed shape)', () => {
  it('the storage key is its own key behind alias/strongroom/<stage>/storage, not the platform key', async () => {
    // Prepare
    const kms = new KMSClient({ endpoint, region: TEST_REGION, credentials: LOCAL });
    const storageKeyArn = process.env.STORAGE_KEY_ARN!;
    // Act
    const byAlias = await kms.send(
      new DescribeKeyCommand({ KeyId: `alias/strongroom/${TEST_STAGE}/storage` }),
    );
    // Assess
    expect(storageKeyArn).toMatch(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//);
    expect(byAlias.KeyMetadata?.Arn).toBe(storageKeyArn);
    expect(storageKeyArn).not.toBe(process.env.PLATFORM_KEY_ARN);
    kms.destroy();
  });

  it('encrypts the managed bucket with the storage key by default, Bucket Keys off', async () => {
    // Act
    const admin = s3With(LOCAL);
    const { ServerSideEncryptionConfiguration } = await admin.send(
      new GetBucketEncryptionCommand({ Bucket: process.env.STORAGE_BUCKET! }),
    );

    // Assess
    expect(ServerSideEncryptionConfiguration?.Rules).toEqual([
      {
        ApplyServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: process.env.STORAGE_KEY_ARN,
        },
        BucketKeyEnabled: false,
      },
    ]);
  });

  it('a multipart upload through vended write credentials (boto3 upload_file: the hint on CreateMultipartUpload, parts with no SSE headers) completes under the tenant’s key', async () => {
    // Prepare: a managed location, a write vend, and an 11 MiB file (three parts of at most 5 MiB)
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: acme.users.admin.token,
      body: { managed: true },
    });
    expect(created.status, created.text).toBe(201);
    const { locationId, bucket, prefix } = created.body as {
      locationId: string;
      bucket: string;
      prefix: string;
    };
    const vend = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: locationId, access: 'write' },
    });
    expect(vend.status, vend.text).toBe(200);
    const body = vend.body as StorageCredentials;
    const work = await mkdtemp(join(tmpdir(), 'strongroom-multipart-'));
    const file = join(work, 'large.bin');
    await writeFile(file, Buffer.alloc(11 * 1024 * 1024, 7));
    const key = `${prefix}/large.bin`;

    // Act: boto3's managed transfer, as a client reading the hint sends it (ExtraArgs go on the creation only)
    const boto = await run(
      pythonWithBoto3(),
      [
        '-c',
        `import boto3, json, sys
from boto3.s3.transfer import TransferConfig
endpoint, region, bucket, key, path, key_arn = sys.argv[1:7]
s3 = boto3.client('s3', endpoint_url=endpoint, region_name=region,
                  config=boto3.session.Config(s3={'addressing_style': 'path'}))
parts = []
s3.meta.events.register('before-call.s3.UploadPart', lambda params, **kw: parts.append(sorted(h for h in params['headers'] if h.lower().startswith('x-amz-server-side'))))
s3.upload_file(path, bucket, key, ExtraArgs={'ServerSideEncryption': 'aws:kms', 'SSEKMSKeyId': key_arn},
               Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=2))
print(json.dumps({'parts': parts}))`,
        body.endpoint!,
        body.region,
        bucket,
        key,
        file,
        body.sse!.keyArn,
      ],
      {
        env: cleanEnv({
          AWS_ACCESS_KEY_ID: body.accessKeyId,
          AWS_SECRET_ACCESS_KEY: body.secretAccessKey,
          AWS_SESSION_TOKEN: body.sessionToken,
          AWS_CONFIG_FILE: join(work, 'none'),
          AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'),
        }),
      },
    );
    const head = await s3With(LOCAL).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    // Assess: three parts, none carrying an SSE header; one object of 11 MiB under the tenant's key
    expect(JSON.parse(boto.stdout).parts).toEqual([[], [], []]);
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ContentLength).toBe(11 * 1024 * 1024);
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(body.sse!.keyArn);
  }, 60_000);

  it('an object written with vended write credentials and the vend’s sse hint is SSE-KMS under the tenant’s own key and reads back; shredding the key (as far as the emulator shows)', async () => {
    // Prepare: a managed location, and the tenant's key as the tenants function made it
    const kms = new KMSClient({ endpoint, region: TEST_REGION, credentials: LOCAL });
    const tenantKey = await kms.send(
      new DescribeKeyCommand({ KeyId: `alias/strongroom/${TEST_STAGE}/tenant/${acme.tenantId}` }),
    );
    const tenantKeyArn = tenantKey.KeyMetadata!.Arn!;
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
      token: acme.users.admin.token,
      body: { managed: true },
    });
    expect(created.status, created.text).toBe(201);
    const { locationId, bucket, prefix } = created.body as {
      locationId: string;
      bucket: string;
      prefix: string;
    };
    const vend = async (access: 'read' | 'write') => {
      const response = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
        token: acme.users.editor.token,
        body: { location: locationId, access },
      });
      expect(response.status, response.text).toBe(200);
      const body = response.body as StorageCredentials;
      const client = s3With({
        accessKeyId: body.accessKeyId,
        secretAccessKey: body.secretAccessKey,
        sessionToken: body.sessionToken,
      });
      return { body, client };
    };
    const key = `${prefix}/encrypted.csv`;

    // Act: write with the SDK's reading of the hint, as a client does
    const write = await vend('write');
    const put = await write.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a,b\n1,2\n', ...uploadEncryption(write.body) }),
    );
    const head = await s3With(LOCAL).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const read = await vend('read');
    const got = await read.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    // Assess: the hint names the tenant's key with Bucket Keys off; the object is under it, not the storage key
    expect(write.body.sse).toEqual({ type: 'aws:kms', keyArn: tenantKeyArn, bucketKeyEnabled: false });
    expect(read.body.sse).toEqual(write.body.sse);
    expect(uploadEncryption(write.body)).toEqual({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: tenantKeyArn,
      BucketKeyEnabled: false,
    });
    expect(tenantKeyArn).not.toBe(process.env.STORAGE_KEY_ARN);
    expect(put.ServerSideEncryption).toBe('aws:kms');
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(tenantKeyArn);
    expect(head.BucketKeyEnabled ?? false).toBe(false);
    expect(await got.Body!.transformToString()).toBe('a,b\n1,2\n');

    // Act: the tenant's key is shredded (scheduled for deletion, as tenant deletion retires it)
    // (by key id: moto answers a key ARN here with a 500 page)
    await kms.send(
      new ScheduleKeyDeletionCommand({ KeyId: tenantKeyArn.split('/').pop(), PendingWindowInDays: 7 }),
    );
    const state = await kms.send(new DescribeKeyCommand({ KeyId: tenantKeyArn }));
    const after = await read.client
      .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      .then(async (o) => ({ readable: true, body: await o.Body!.transformToString() }))
      .catch((error: Error) => ({ readable: false, error: error.name }));

    // Assess: the key is pending deletion. The emulator stores objects in plain text and calls no KMS for
    // SSE-KMS, so it still serves the object: what AWS refuses here (KMS.KMSInvalidStateException, the key
    // being unusable) only AWS can show, and the simulator tests prove who may use the key while it lives.
    expect(state.KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect(after).toEqual({ readable: true, body: 'a,b\n1,2\n' });
    kms.destroy();
  });
});
