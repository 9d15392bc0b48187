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
