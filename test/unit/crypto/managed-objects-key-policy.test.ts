import {
  CreateAliasCommand,
  CreateKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { FunctionRuntime } from '../../../shared/aws/runtime.js';
import { tenantKeysFor } from '../../../shared/crypto/tenant-keys.js';
import {
  KeyPolicyInputError,
  type TenantKeyPolicyInput,
  tenantKeyPolicy,
  tenantManagedPrefix,
} from '../../../shared/domain/key-policy.js';
import { managedRoot } from '../../../shared/domain/storage-roots.js';
import { tenantStorageRolePath } from '../../../shared/domain/tenant-storage-role.js';
import {
  ACCOUNT,
  CONNECTIONS_ROLE,
  KEY_ARN,
  OTHER_ROLE,
  OTHER_TENANT,
  TENANT,
} from '../../support/key-policy-ids.js';
import { simulateKeyPolicy } from '../../support/key-policy-simulation.js';

const REGION = 'eu-central-1';
const BUCKET = 'strongroom-prod-storage';
const ROLE_PATH = tenantStorageRolePath('prod', REGION);
const storageRole = (tenantId: string, partition = 'aws') =>
  `arn:${partition}:iam::${ACCOUNT}:role${ROLE_PATH}storage-${tenantId}`;
const VIA_S3 = `s3.${REGION}.amazonaws.com`;

const input: TenantKeyPolicyInput = {
  accountId: ACCOUNT,
  partition: 'aws',
  tenantId: TENANT,
  applicationRoleArns: [CONNECTIONS_ROLE],
  adminRoleArns: [],
  managedObjects: { bucketName: BUCKET, region: REGION, rolePath: ROLE_PATH },
};

const simulate = (options: {
  principal: string;
  action: string;
  context?: Record<string, string | string[]>;
  policy?: TenantKeyPolicyInput;
}) => simulateKeyPolicy(tenantKeyPolicy(options.policy ?? input), options);

/** The context S3 sends KMS for an object with S3 Bucket Keys off. */
const s3Object = (key: string, via = VIA_S3, bucket = BUCKET) => ({
  'kms:ViaService': via,
  'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket}/${key}`,
  'kms:EncryptionContextKeys': ['aws:s3:arn'],
});
const ownObject = `${managedRoot(BUCKET, TENANT, 'l_01jabcdefghjkmnpqrstvwxyz0').prefix}/data/part-0.parquet`;
const USE = ['kms:GenerateDataKey', 'kms:Decrypt'];

describe('tenantKeyPolicy with managed objects (SSE-KMS through S3, the tenant storage role)', () => {
  it('lets the tenant’s storage role have S3 write and read objects under the tenant’s prefix', () => {
    // Act / Assess: the key policy alone decides (the identity policy allows all of KMS)
    for (const action of USE)
      expect(simulate({ principal: storageRole(TENANT), action, context: s3Object(ownObject) })).toBe(
        'Allowed',
      );
  });

  it('refuses another tenant’s prefix, a sibling of the prefix, another bucket and the bucket itself (Bucket Keys)', () => {
    // Act / Assess
    for (const context of [
      s3Object(`${tenantManagedPrefix(OTHER_TENANT)}l_1/x`),
      s3Object(`tenants/${TENANT}x/l_1/x`),
      s3Object(`tenants/${TENANT}`),
      s3Object(`exports/${TENANT}/l_1/x`),
      s3Object(ownObject, VIA_S3, 'strongroom-prod-exports'),
      s3Object(ownObject, VIA_S3, 'customer-lake'),
      { ...s3Object(ownObject), 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}` },
    ])
      for (const action of USE)
        expect(
          simulate({ principal: storageRole(TENANT), action, context }),
          `${action} ${JSON.stringify(context)}`,
        ).not.toBe('Allowed');
  });

  it('refuses use without kms:ViaService, from another region’s S3 or another service', () => {
    // Act / Assess
    for (const via of [undefined, 's3.eu-west-1.amazonaws.com', 'dynamodb.eu-central-1.amazonaws.com']) {
      const context: Record<string, string | string[]> = s3Object(ownObject);
      if (via) context['kms:ViaService'] = via;
      else delete context['kms:ViaService'];
      for (const action of USE)
        expect(simulate({ principal: storageRole(TENANT), action, context }), String(via)).not.toBe(
          'Allowed',
        );
    }
  });

  it('refuses another tenant’s storage role, a role of the same name elsewhere, other roles, and other KMS actions', () => {
    // Act / Assess: other principals through S3 for this tenant's object
    for (const principal of [
      storageRole(OTHER_TENANT),
      `arn:aws:iam::${ACCOUNT}:role/storage-${TENANT}`,
      `arn:aws:iam::${ACCOUNT}:role${tenantStorageRolePath('dev', REGION)}storage-${TENANT}`,
      CONNECTIONS_ROLE,
      OTHER_ROLE,
      `arn:aws:iam::${ACCOUNT}:root`,
    ])
      expect(
        simulate({ principal, action: 'kms:Decrypt', context: s3Object(ownObject) }),
        principal,
      ).not.toBe('Allowed');

    // Act / Assess: the storage role, actions beyond the two S3 makes, and the Encryption SDK path
    for (const action of [
      'kms:Encrypt',
      'kms:ReEncryptFrom',
      'kms:CreateGrant',
      'kms:GenerateDataKeyWithoutPlaintext',
    ])
      expect(simulate({ principal: storageRole(TENANT), action, context: s3Object(ownObject) })).not.toBe(
        'Allowed',
      );
    expect(
      simulate({
        principal: storageRole(TENANT),
        action: 'kms:Decrypt',
        context: {
          'kms:EncryptionContext:tenantId': TENANT,
          'kms:EncryptionContext:purpose': 'connection-password',
          'kms:EncryptionContext:recordId': 'c_1',
          'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId'],
        },
      }),
    ).not.toBe('Allowed');
  });

  it('holds in the other partitions (ARNs and the S3 host from the partition)', () => {
    // Act / Assess
    for (const [partition, region, via] of [
      ['aws-us-gov', 'us-gov-west-1', 's3.us-gov-west-1.amazonaws.com'],
      ['aws-cn', 'cn-north-1', 's3.cn-north-1.amazonaws.com.cn'],
    ] as const) {
      const policy: TenantKeyPolicyInput = {
        ...input,
        partition,
        applicationRoleArns: [`arn:${partition}:iam::${ACCOUNT}:role/strongroom-connections`],
        managedObjects: { bucketName: BUCKET, region, rolePath: tenantStorageRolePath('prod', region) },
      };
      const role = `arn:${partition}:iam::${ACCOUNT}:role${tenantStorageRolePath('prod', region)}storage-${TENANT}`;
      const context = {
        ...s3Object(ownObject, via),
        'kms:EncryptionContext:aws:s3:arn': `arn:${partition}:s3:::${BUCKET}/${ownObject}`,
      };
      expect(simulate({ principal: role, action: 'kms:GenerateDataKey', context, policy })).toBe('Allowed');
      expect(
        simulate({ principal: role, action: 'kms:GenerateDataKey', context: s3Object(ownObject), policy }),
      ).not.toBe('Allowed');
    }
  });

  it('is one exact statement, after the export one when both are present, and absent without managedObjects', () => {
    // Act
    const policy = tenantKeyPolicy(input);

    // Assess
    expect(policy.Statement.at(-1)).toEqual({
      Sid: 'ManagedObjectsViaS3',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': storageRole(TENANT) },
        StringEquals: { 'kms:ViaService': VIA_S3 },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}/tenants/${TENANT}/*` },
      },
    });

    // Act / Assess: with export archives too, and without either
    const exportArchives = {
      bucketName: 'strongroom-prod-exports',
      region: REGION,
      roleArns: [`arn:aws:iam::${ACCOUNT}:role/strongroom-tenants`],
    };
    expect(tenantKeyPolicy({ ...input, exportArchives }).Statement.map((s) => s.Sid)).toEqual([
      'KeyAdministration',
      'TenantScopedUse',
      'ExportArchivesViaS3',
      'ManagedObjectsViaS3',
    ]);
    const { managedObjects: _, ...without } = input;
    expect(tenantKeyPolicy(without).Statement.map((s) => s.Sid)).toEqual([
      'KeyAdministration',
      'TenantScopedUse',
    ]);
  });

  it('refuses inputs that would widen it', () => {
    // Prepare
    const bad = (managedObjects: Partial<NonNullable<TenantKeyPolicyInput['managedObjects']>>) => () =>
      tenantKeyPolicy({ ...input, managedObjects: { ...input.managedObjects!, ...managedObjects } });

    // Act / Assess
    expect(bad({ bucketName: '*' })).toThrow(KeyPolicyInputError);
    expect(bad({ bucketName: 'b/tenants' })).toThrow(KeyPolicyInputError);
    expect(bad({ region: '*' })).toThrow(KeyPolicyInputError);
    expect(bad({ rolePath: '/strongroom/*/' })).toThrow(KeyPolicyInputError);
    expect(bad({ rolePath: 'strongroom/' })).toThrow(KeyPolicyInputError);
    expect(bad({ rolePath: '/strongroom' })).toThrow(KeyPolicyInputError);
    expect(() => tenantKeyPolicy({ ...input, adminRoleArns: [storageRole(TENANT)] })).toThrow(
      KeyPolicyInputError,
    );
  });
});

describe('tenant keys made at tenant creation, with STORAGE_BUCKET', () => {
  const kmsMock = mockClient(KMSClient);

  it('carry the managed-objects statement for the stage’s tenant storage role path, in the platform key’s region', async () => {
    // Prepare
    kmsMock.reset();
    kmsMock.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY_ARN } as never });
    kmsMock.on(EnableKeyRotationCommand).resolves({});
    kmsMock.on(CreateAliasCommand).resolves({});
    const runtime = new FunctionRuntime({
      PLATFORM_KEY_ARN: KEY_ARN,
      STAGE: 'prod',
      TENANT_KEY_USER_ROLE_ARNS: CONNECTIONS_ROLE,
      STORAGE_BUCKET: BUCKET,
    });

    // Act
    await tenantKeysFor(runtime).create(TENANT);

    // Assess: the same statement the policy builder makes, and what policyFor gives the operator command
    const policy = JSON.parse(String(kmsMock.commandCalls(CreateKeyCommand)[0]!.args[0].input.Policy));
    expect(policy).toEqual(tenantKeyPolicy(input));
    expect(tenantKeysFor(runtime).policyFor(TENANT)).toEqual(policy);
  });
});
