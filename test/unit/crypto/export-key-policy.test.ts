import {
  CreateAliasCommand,
  CreateKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../../shared/aws/config.js';
import { FunctionRuntime } from '../../../shared/aws/runtime.js';
import { tenantKeysFor } from '../../../shared/crypto/tenant-keys.js';
import {
  KeyPolicyInputError,
  tenantExportPrefix,
  tenantKeyPolicy,
} from '../../../shared/domain/key-policy.js';
import {
  ACCOUNT,
  CONNECTIONS_ROLE,
  KEY_ARN,
  OTHER_ROLE,
  OTHER_TENANT,
  TENANT,
} from '../../support/key-policy-ids.js';
import { simulateKeyPolicy } from '../../support/key-policy-simulation.js';

const TENANTS_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-tenants`;
const BUCKET = 'strongroom-prod-exports';
const VIA_S3 = 's3.eu-central-1.amazonaws.com';

const input = {
  accountId: ACCOUNT,
  partition: 'aws',
  tenantId: TENANT,
  applicationRoleArns: [CONNECTIONS_ROLE],
  adminRoleArns: [],
  exportArchives: { bucketName: BUCKET, region: 'eu-central-1', roleArns: [TENANTS_ROLE] },
};

const simulate = (options: {
  principal: string;
  action: string;
  context?: Record<string, string | string[]>;
}) => simulateKeyPolicy(tenantKeyPolicy(input), options);

/** The context S3 sends KMS for an object with S3 Bucket Keys off. */
const s3Object = (key: string, via = VIA_S3) => ({
  'kms:ViaService': via,
  'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}/${key}`,
  'kms:EncryptionContextKeys': ['aws:s3:arn'],
});
const ownArchive = `${tenantExportPrefix(TENANT)}x_01jabcdefghjkmnpqrstvwxyz0.json`;

describe('tenantKeyPolicy with export archives (SSE-KMS through S3)', () => {
  it('lets the exporting role have S3 write and read the tenant’s own archives', () => {
    // Act / Assess: the key policy alone decides (the identity policy allows all of KMS)
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
      expect(simulate({ principal: TENANTS_ROLE, action, context: s3Object(ownArchive) })).toBe('Allowed');
  });

  it('refuses another tenant’s prefix, another bucket, the bucket itself (Bucket Keys) and paths outside exports/', () => {
    // Act / Assess
    for (const context of [
      s3Object(`${tenantExportPrefix(OTHER_TENANT)}x_1.json`),
      s3Object(`tenants/${TENANT}/other/x_1.json`),
      s3Object(`tenants/${TENANT}`),
      { ...s3Object(ownArchive), 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}` },
      {
        ...s3Object(ownArchive),
        'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::other-bucket/${ownArchive}`,
      },
    ])
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
        expect(simulate({ principal: TENANTS_ROLE, action, context }), JSON.stringify(context)).not.toBe(
          'Allowed',
        );
  });

  it('refuses use outside S3 or from another region’s S3', () => {
    // Act / Assess
    for (const via of [undefined, 's3.eu-west-1.amazonaws.com', 'dynamodb.eu-central-1.amazonaws.com']) {
      const context: Record<string, string | string[]> = s3Object(ownArchive);
      if (via) context['kms:ViaService'] = via;
      else delete context['kms:ViaService'];
      expect(simulate({ principal: TENANTS_ROLE, action: 'kms:Decrypt', context })).not.toBe('Allowed');
    }
  });

  it('refuses other roles through S3, and the exporting role anything else', () => {
    // Act / Assess: other principals through S3
    for (const principal of [CONNECTIONS_ROLE, OTHER_ROLE, `arn:aws:iam::${ACCOUNT}:root`])
      expect(simulate({ principal, action: 'kms:Decrypt', context: s3Object(ownArchive) })).not.toBe(
        'Allowed',
      );

    // Act / Assess: the exporting role, other KMS actions and the Encryption SDK path
    for (const action of [
      'kms:Encrypt',
      'kms:ReEncryptFrom',
      'kms:CreateGrant',
      'kms:GenerateDataKeyWithoutPlaintext',
    ])
      expect(simulate({ principal: TENANTS_ROLE, action, context: s3Object(ownArchive) })).not.toBe(
        'Allowed',
      );
    // Nor the Encryption SDK path the application roles use.
    expect(
      simulate({
        principal: TENANTS_ROLE,
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

  it('is one exact statement, and absent without exportArchives', () => {
    // Act
    const policy = tenantKeyPolicy(input);

    // Assess
    expect(policy.Statement.at(-1)).toEqual({
      Sid: 'ExportArchivesViaS3',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': [TENANTS_ROLE] },
        StringEquals: { 'kms:ViaService': VIA_S3 },
        StringLike: {
          'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}/tenants/${TENANT}/exports/*`,
        },
      },
    });

    // Act / Assess: without the archives' settings, only the two statements every tenant key has
    const { exportArchives: _, ...without } = input;
    expect(tenantKeyPolicy(without).Statement.map((s) => s.Sid)).toEqual([
      'KeyAdministration',
      'TenantScopedUse',
    ]);
  });

  it('refuses inputs that would widen it', () => {
    // Prepare
    const bad = (exportArchives: Partial<typeof input.exportArchives>) => () =>
      tenantKeyPolicy({ ...input, exportArchives: { ...input.exportArchives, ...exportArchives } });

    // Act / Assess
    expect(bad({ bucketName: '*' })).toThrow(KeyPolicyInputError);
    expect(bad({ bucketName: 'b/tenants' })).toThrow(KeyPolicyInputError);
    expect(bad({ region: '*' })).toThrow(KeyPolicyInputError);
    expect(bad({ roleArns: [] })).toThrow(KeyPolicyInputError);
    expect(bad({ roleArns: [`arn:aws:iam::${ACCOUNT}:role/*`] })).toThrow(KeyPolicyInputError);
    expect(bad({ roleArns: ['arn:aws:iam::999988887777:role/x'] })).toThrow(KeyPolicyInputError);
    expect(() => tenantKeyPolicy({ ...input, adminRoleArns: [TENANTS_ROLE] })).toThrow(KeyPolicyInputError);
  });
});

describe('tenant keys made at tenant creation', () => {
  const kmsMock = mockClient(KMSClient);
  const env = {
    PLATFORM_KEY_ARN: KEY_ARN,
    STAGE: 'dev',
    TENANT_KEY_USER_ROLE_ARNS: CONNECTIONS_ROLE,
  };

  async function createdPolicy(extra: Record<string, string>) {
    kmsMock.reset();
    kmsMock.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY_ARN } as never });
    kmsMock.on(EnableKeyRotationCommand).resolves({});
    kmsMock.on(CreateAliasCommand).resolves({});
    await tenantKeysFor(new FunctionRuntime({ ...env, ...extra })).create(TENANT);
    return JSON.parse(String(kmsMock.commandCalls(CreateKeyCommand)[0]!.args[0].input.Policy));
  }

  it('carry the export statement for EXPORT_BUCKET and TENANT_EXPORT_ROLE_ARNS, in the platform key’s region', async () => {
    // Act
    const policy = await createdPolicy({
      EXPORT_BUCKET: BUCKET,
      [ENV_VARS.tenantExportRoleArns]: TENANTS_ROLE,
    });

    // Assess: the same statement the policy builder makes
    expect(policy.Statement.at(-1)).toEqual(tenantKeyPolicy(input).Statement.at(-1));
  });

  it('carry none without the exporting roles (S3 then cannot use the key at all)', async () => {
    // Act
    const policy = await createdPolicy({ EXPORT_BUCKET: BUCKET });

    // Assess
    expect(policy.Statement.map((s: { Sid: string }) => s.Sid)).toEqual([
      'KeyAdministration',
      'TenantScopedUse',
    ]);
  });
});
