import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION, TEST_STAGE } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';

// The emulator neither calls KMS for SSE-KMS nor checks the caller's KMS permissions
// (test/unit/domain/storage-policy-simulator.test.ts proves those); this file proves the local shape matches
// the
// deployed one: the managed bucket is SSE-KMS with its own key, and objects written with vended credentials
// land encrypted under that key.

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

  it('encrypts the managed bucket with the storage key and a bucket key', async () => {
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
        BucketKeyEnabled: true,
      },
    ]);
  });

  it('an object written with vended write credentials is SSE-KMS under the storage key and reads back', async () => {
    // Prepare
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
      const body = response.body as AwsCredentialIdentity;
      return s3With({
        accessKeyId: body.accessKeyId,
        secretAccessKey: body.secretAccessKey,
        sessionToken: body.sessionToken!,
      });
    };
    const key = `${prefix}/encrypted.csv`;

    // Act
    const put = await (await vend('write')).send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a,b\n1,2\n' }),
    );
    const head = await s3With(LOCAL).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const got = await (await vend('read')).send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    // Assess
    expect(put.ServerSideEncryption).toBe('aws:kms');
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(process.env.STORAGE_KEY_ARN);
    expect(await got.Body!.transformToString()).toBe('a,b\n1,2\n');
  });
});
