import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, functionRuntime } from '../../shared/aws/runtime.js';
import { parseKmsKeyArn, tenantKeysFor } from '../../shared/crypto/tenant-keys.js';
import { newId } from '../../shared/domain/ids.js';
import { tenantKeyPolicy } from '../../shared/domain/key-policy.js';
import { tenantStorageRolePath } from '../../shared/domain/tenant-storage-role.js';
import { createTenant, signUp } from '../support/identity-fixtures.js';
import { TEST_STAGE } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';

const api = useTestApi();
let kms: KMSClient;

beforeAll(async () => {
  kms = new KMSClient(clientConfig());
});
afterAll(async () => {
  kms.destroy();
});

describe('tenant keys through the local API', () => {
  it('creating a tenant creates its own key: the one policy, rotation, tags and alias, recorded on the tenant', async () => {
    // Act
    const owner = await signUp(api, 'keys');
    const tenantId = await createTenant(api, owner, 'Keyed');

    // Assess
    const alias = `alias/strongroom/${TEST_STAGE}/tenant/${tenantId}`;
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: alias }));
    expect(KeyMetadata).toMatchObject({
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
    });
    const keyArn = KeyMetadata!.Arn!;
    const { Item } = await functionRuntime().dynamo.send(
      new GetCommand({ TableName: process.env.TENANT_DATA_TABLE!, Key: { pk: tenantId, sk: 'TENANT' } }),
    );
    expect(Item?.keyArn).toBe(keyArn);
    expect(keyArn).not.toBe(process.env.PLATFORM_KEY_ARN);

    const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyArn }));
    expect(rotation.KeyRotationEnabled).toBe(true);
    const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: keyArn }));
    expect(Tags).toEqual(
      expect.arrayContaining([
        { TagKey: 'tenantId', TagValue: tenantId },
        { TagKey: 'strongroom:stage', TagValue: TEST_STAGE },
      ]),
    );
    const { Policy } = await kms.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' }));
    const { accountId, partition } = parseKmsKeyArn(keyArn);
    expect(JSON.parse(Policy!)).toEqual(
      tenantKeyPolicy({
        accountId,
        partition,
        tenantId,
        applicationRoleArns: process.env.TENANT_KEY_USER_ROLE_ARNS!.split(','),
        adminRoleArns: [],
        exportArchives: {
          bucketName: process.env.EXPORT_BUCKET!,
          region: keyArn.split(':')[3]!,
          roleArns: process.env.TENANT_EXPORT_ROLE_ARNS!.split(','),
        },
        managedObjects: {
          bucketName: process.env.STORAGE_BUCKET!,
          region: keyArn.split(':')[3]!,
          rolePath: tenantStorageRolePath(TEST_STAGE, keyArn.split(':')[3]!),
        },
        oidcClientSecret: {
          encryptRoleArns: process.env.TENANT_OIDC_SECRET_ENCRYPT_ROLE_ARNS!.split(','),
          decryptRoleArns: process.env.TENANT_OIDC_SECRET_DECRYPT_ROLE_ARNS!.split(','),
        },
        storeKeyPairs: { roleArns: process.env.TENANT_STORE_KEY_ROLE_ARNS!.split(',') },
      }),
    );
  });

  it('gives every tenant a different key, and a connection password of one tenant is bound to its key', async () => {
    // Prepare
    const owner = await signUp(api, 'keys2');
    const first = await createTenant(api, owner, 'One');
    const second = await createTenant(api, owner, 'Two');
    const keyOf = async (tenantId: string) =>
      (await kms.send(new DescribeKeyCommand({ KeyId: `alias/strongroom/${TEST_STAGE}/tenant/${tenantId}` })))
        .KeyMetadata!.Arn!;

    // Act / Assess: two keys
    expect(await keyOf(first)).not.toBe(await keyOf(second));

    // Act: a connection password of the first tenant
    const created = await api.request('POST', `/v1/tenants/${first}/connections`, {
      token: owner.token,
      body: { name: 'db', host: '127.0.0.1', database: 'd', user: 'u', password: 'bound-to-its-key-1' },
    });
    expect(created.status, created.text).toBe(201);

    // Assess
    const { Item } = await functionRuntime().dynamo.send(
      new GetCommand({
        TableName: process.env.TENANT_DATA_TABLE!,
        Key: { pk: first, sk: `CONNECTION#${created.body.connectionId}` },
      }),
    );
    // The encrypted data key in the message header names the tenant's own key.
    const ciphertext = Buffer.from(String(Item!.passwordCiphertext), 'base64');
    expect(ciphertext.includes(Buffer.from(await keyOf(first)))).toBe(true);
    expect(ciphertext.includes(Buffer.from(await keyOf(second)))).toBe(false);
  });

  it('retires a key: disabled, then pending deletion; retiring again changes nothing; the platform key is refused', async () => {
    // Prepare
    const keys = tenantKeysFor(functionRuntime());
    const { keyArn } = await keys.create(newId('t'));

    // Act
    await keys.retire(keyArn);
    await keys.retire(keyArn);

    // Assess: pending deletion; the platform key refused and left enabled
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
    expect(KeyMetadata?.KeyState).toBe('PendingDeletion');
    await expect(keys.retire(process.env.PLATFORM_KEY_ARN!)).rejects.toThrow('not a tenant key');
    const platform = await kms.send(new DescribeKeyCommand({ KeyId: process.env.PLATFORM_KEY_ARN! }));
    expect(platform.KeyMetadata?.KeyState).toBe('Enabled');
  });
});
