import { describe, expect, it } from 'vitest';
import {
  type AwsPartition,
  partitionOfArn,
  partitionOfRegion,
  serviceHost,
} from '../../../shared/domain/partitions.js';
import { MAX_PREVIOUS_KMS_KEYS, type StorageAccess } from '../../../shared/domain/storage-limits.js';
import {
  packedSessionPolicy,
  STS_SESSION_POLICY_MAX_CHARS,
  sessionPolicyFor,
} from '../../../shared/domain/storage-policy.js';
import { MAX_PREFIX_LENGTH, managedRoot, parseStorageRoot } from '../../../shared/domain/storage-roots.js';
import { tenantDataSessionPolicy } from '../../../shared/domain/tenant-data-policy.js';
import {
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRoleName,
  tenantStorageRolePolicy,
} from '../../../shared/domain/tenant-storage-role.js';
import { ACCOUNT, L1, T1, U1 } from '../../support/fixed-ids.js';
import { type Decision, simulate } from '../../support/iam-simulator.js';

/**
 * Storage vending in every AWS partition Strongroom deploys to: the policies name the partition's ARNs and
 * its S3 endpoint as `kms:ViaService`, never the commercial partition's, and the IAM policy simulator shows a
 * managed-location session reaching exactly its own prefix and the storage key only through that partition's
 * S3, in each.
 */
const PARTITIONS: { partition: AwsPartition; region: string; suffix: string }[] = [
  { partition: 'aws', region: 'eu-west-1', suffix: 'amazonaws.com' },
  { partition: 'aws-cn', region: 'cn-north-1', suffix: 'amazonaws.com.cn' },
  { partition: 'aws-us-gov', region: 'us-gov-west-1', suffix: 'amazonaws.com' },
];

describe('partitions', () => {
  it('a region names its partition, and a service host its DNS suffix', () => {
    // Act / Assess
    expect(PARTITIONS.map((p) => partitionOfRegion(p.region))).toEqual(PARTITIONS.map((p) => p.partition));
    expect(PARTITIONS.map((p) => serviceHost('s3', p.region))).toEqual(
      PARTITIONS.map((p) => `s3.${p.region}.${p.suffix}`),
    );
    expect(partitionOfRegion('us-iso-east-1')).toBe('aws-iso');
    expect(partitionOfArn('arn:aws-cn:kms:cn-north-1:123456789012:key/x')).toBe('aws-cn');
    expect(() => partitionOfArn('arn:nope:kms:x')).toThrow(TypeError);
  });
});

for (const { partition, region, suffix } of PARTITIONS) {
  describe(`managed storage in ${partition} (${region})`, () => {
    const bucket = 'strongroom-prod-storage';
    const bucketArn = `arn:${partition}:s3:::${bucket}`;
    const storageKeyArn = `arn:${partition}:kms:${region}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000001`;
    const layout = tenantStorageLayout({
      stage: 'prod',
      region,
      boundaryArn: `arn:${partition}:iam::${ACCOUNT}:policy/strongroom-prod-${region}-tenant-storage-boundary`,
    });
    const root = managedRoot(bucket, T1, L1);
    const policies = (access: StorageAccess) => ({
      session: sessionPolicyFor({ ...root, access, kmsKeyArn: storageKeyArn, partition }),
      grant: tenantStorageRolePolicy({ tenantId: T1, bucketArn, storageKeyArn }),
      boundary: tenantStorageBoundaryPolicy({ bucketArn, storageKeyArn, layout }),
    });

    const decide = async (
      access: StorageAccess,
      action: string,
      resource: string,
      extra: Record<string, string> = {},
    ): Promise<Decision> => {
      const p = policies(access);
      return simulate({
        principal: `arn:${partition}:sts::${ACCOUNT}:assumed-role/${tenantStorageRoleName(T1)}/s`,
        action,
        resource,
        resourceAccount: ACCOUNT,
        context: {
          'aws:PrincipalArn': tenantStorageRoleArn(layout, T1),
          'aws:PrincipalTag/TenantId': T1,
          'aws:PrincipalTag/UserId': U1,
          'aws:PrincipalTag/Access': access,
          'aws:PrincipalTag/LocationId': L1,
          ...extra,
        },
        identityPolicies: [p.grant],
        sessionPolicy: p.session,
        boundary: p.boundary,
        resourcePolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:${partition}:iam::${ACCOUNT}:root` },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        },
      });
    };

    it('every ARN names this partition and every ViaService its S3 endpoint', () => {
      // Act
      const text = JSON.stringify([
        policies('write'),
        tenantDataSessionPolicy(T1, tables(partition, region)),
      ]);
      const arns = text.match(/arn:[a-z-]+:/g) ?? [];

      // Assess
      expect(new Set(arns)).toEqual(new Set([`arn:${partition}:`]));
      const hosts = [...text.matchAll(/"kms:ViaService":"([^"]+)"/g)].map((m) => m[1]);
      expect(hosts.length).toBeGreaterThan(0);
      for (const host of hosts) expect(host).toMatch(new RegExp(`^(s3|dynamodb)\\.${region}\\.${suffix}$`));
    });

    it('a write session reaches its own prefix and nothing beside it', async () => {
      // Prepare
      const own = `${bucketArn}/${root.prefix}/part-0.parquet`;

      // Act / Assess: its own prefix, a sibling prefix, another bucket
      expect(await decide('write', 's3:PutObject', own)).toBe('Allowed');
      expect(await decide('write', 's3:GetObject', own)).toBe('Allowed');
      expect(await decide('write', 's3:PutObject', `${bucketArn}/${root.prefix}2/part-0.parquet`)).toBe(
        'ImplicitlyDenied',
      );
      expect(
        await decide('write', 's3:GetObject', `arn:${partition}:s3:::other-bucket/${root.prefix}/x`),
      ).toBe('ImplicitlyDenied');
    });

    it('the storage key only through this partition’s S3 in its region', async () => {
      // Act / Assess: through S3 of the region (decryption of older objects); through another suffix,
      // DynamoDB, or directly
      expect(
        await decide('write', 'kms:Decrypt', storageKeyArn, {
          'kms:ViaService': `s3.${region}.${suffix}`,
        }),
      ).toBe('Allowed');
      const wrongSuffix = suffix === 'amazonaws.com' ? 'amazonaws.com.cn' : 'amazonaws.com';
      for (const via of [`s3.${region}.${wrongSuffix}`, `dynamodb.${region}.${suffix}`, undefined])
        expect(
          await decide('write', 'kms:Decrypt', storageKeyArn, via ? { 'kms:ViaService': via } : {}),
          String(via),
        ).toBe('ImplicitlyDenied');
    });
  });
}

function tables(partition: AwsPartition, region: string) {
  const table = (name: string) => `arn:${partition}:dynamodb:${region}:${ACCOUNT}:table/${name}`;
  return {
    tenantDataTableArn: table('tenant-data'),
    auditTableArn: table('audit'),
    auditChainTableArn: table('audit-chain'),
    tableKeyArn: `arn:${partition}:kms:${region}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000002`,
  };
}

describe('the largest location the API accepts', () => {
  it('fits STS’s session-policy limit in every partition, with the current and every previous KMS key and write access', () => {
    // Prepare: the longest bucket name S3 allows and the longest, deepest prefix registration accepts.
    const bucket = `${'b'.repeat(30)}.${'c'.repeat(32)}`;
    const segments: string[] = [];
    while ([...segments, 'x'].join('/').length < MAX_PREFIX_LENGTH - 10) segments.push('segment-long-9');
    const prefix = `${segments.join('/')}/${'z'.repeat(MAX_PREFIX_LENGTH - segments.join('/').length - 1)}`;
    const root = parseStorageRoot(`s3://${bucket}/${prefix}`);
    expect(root.bucket).toHaveLength(63);
    expect(root.prefix).toHaveLength(MAX_PREFIX_LENGTH);
    for (const { partition, region } of PARTITIONS) {
      // Act
      const text = packedSessionPolicy(
        sessionPolicyFor({
          ...root,
          access: 'write',
          partition,
          // The longest key ids KMS issues (multi-Region keys: `mrk-` and 32 hex digits), as many as accepted.
          kmsKeyArn: `arn:${partition}:kms:${region}:${ACCOUNT}:key/mrk-${'a'.repeat(32)}`,
          previousKmsKeyArns: Array.from(
            { length: MAX_PREVIOUS_KMS_KEYS },
            (_, i) => `arn:${partition}:kms:${region}:${ACCOUNT}:key/mrk-${String(i).repeat(32)}`,
          ),
        }),
      );
      // Assess: with room to spare (STS also packs the session tags, reported as PackedPolicySize).
      expect(text.length, partition).toBeLessThan(STS_SESSION_POLICY_MAX_CHARS * 0.9);
    }
  });

  it('a managed location’s write session (tenant key, storage key to decrypt, the four SSE denies) fits too, in the longest bucket name', () => {
    // Prepare: the managed root of the longest bucket name S3 allows (the platform's is CDK-generated)
    const root = managedRoot(`${'b'.repeat(30)}.${'c'.repeat(32)}`, T1, L1);
    for (const { partition, region } of PARTITIONS) {
      // Act
      const text = packedSessionPolicy(
        sessionPolicyFor({
          ...root,
          access: 'write',
          partition,
          kmsKeyArn: `arn:${partition}:kms:${region}:${ACCOUNT}:key/mrk-${'a'.repeat(32)}`,
          previousKmsKeyArns: [`arn:${partition}:kms:${region}:${ACCOUNT}:key/mrk-${'b'.repeat(32)}`],
          enforceKmsKey: true,
        }),
      );
      // Assess: with room to spare for the packed session tags
      expect(text.length, partition).toBeLessThan(STS_SESSION_POLICY_MAX_CHARS * 0.9);
    }
  });
});
