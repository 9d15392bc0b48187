import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { type KeyPolicyDocument, tenantKeyPolicy, tenantKeyTags } from '../../../shared/domain/key-policy.js';
import type { AwsPartition } from '../../../shared/domain/partitions.js';
import type { StorageAccess } from '../../../shared/domain/storage-limits.js';
import { managedBucketPolicyStatements, sessionPolicyFor } from '../../../shared/domain/storage-policy.js';
import { managedRoot } from '../../../shared/domain/storage-roots.js';
import {
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRolePolicy,
} from '../../../shared/domain/tenant-storage-role.js';
import { ACCOUNT, L1, T1, T2, U1 } from '../../support/fixed-ids.js';
import { simulate } from '../../support/iam-simulator.js';

/**
 * Managed objects under the tenant's own KMS key (issue 13 item 7, review F3), proved with every policy that
 * decides together: the vended session policy, the tenant storage role's inline grant, its permissions
 * boundary and, for KMS, the tenant key's own policy (`ManagedObjectsViaS3`). S3 asks KMS on the session's
 * behalf (`kms:ViaService`), with the object's ARN as encryption context unless a Bucket Key is used, when
 * it is the bucket's ARN. In each partition.
 */

const PARTITIONS: { partition: AwsPartition; region: string; suffix: string }[] = [
  { partition: 'aws', region: 'eu-west-1', suffix: 'amazonaws.com' },
  { partition: 'aws-us-gov', region: 'us-gov-west-1', suffix: 'amazonaws.com' },
  { partition: 'aws-cn', region: 'cn-north-1', suffix: 'amazonaws.com.cn' },
];
const BUCKET = 'strongroom-prod-storage';
const STAGE = 'prod';

for (const { partition, region, suffix } of PARTITIONS) {
  const key = (n: string) =>
    `arn:${partition}:kms:${region}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-0000000000${n}`;
  const STORAGE_KEY = key('01');
  const TENANT_KEY: Record<string, string> = { [T1]: key('a1'), [T2]: key('a2') };
  const BUCKET_ARN = `arn:${partition}:s3:::${BUCKET}`;
  const VIA_S3 = `s3.${region}.${suffix}`;
  const LAYOUT = tenantStorageLayout({
    stage: STAGE,
    region,
    boundaryArn: `arn:${partition}:iam::${ACCOUNT}:policy/strongroom-${STAGE}-${region}-tenant-storage-boundary`,
  });
  const BOUNDARY = tenantStorageBoundaryPolicy({
    bucketArn: BUCKET_ARN,
    storageKeyArn: STORAGE_KEY,
    layout: LAYOUT,
  });
  const ROLE_POLICY = tenantStorageRolePolicy({
    tenantId: T1,
    bucketArn: BUCKET_ARN,
    storageKeyArn: STORAGE_KEY,
  });
  const root = managedRoot(BUCKET, T1, L1);
  const OWN_OBJECT = `${root.prefix}/data/part-0.parquet`;
  const sessionPolicy = (access: StorageAccess) =>
    sessionPolicyFor({
      ...root,
      access,
      partition,
      kmsKeyArn: TENANT_KEY[T1]!,
      previousKmsKeyArns: [STORAGE_KEY],
      enforceKmsKey: true,
    });
  const keyPolicyOf = (tenantId: string): KeyPolicyDocument =>
    tenantKeyPolicy({
      accountId: ACCOUNT,
      partition,
      tenantId,
      applicationRoleArns: [`arn:${partition}:iam::${ACCOUNT}:role/strongroom-connections`],
      adminRoleArns: [],
      managedObjects: { bucketName: BUCKET, region, rolePath: LAYOUT.rolePath },
    });
  /** CDK's default key policy (the storage key's): the account's IAM policies decide. */
  const accountKeyPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
  const sessionContext = (access: StorageAccess) => ({
    'aws:PrincipalArn': tenantStorageRoleArn(LAYOUT, T1),
    'aws:PrincipalTag/TenantId': T1,
    'aws:PrincipalTag/UserId': U1,
    'aws:PrincipalTag/Access': access,
    'aws:PrincipalTag/LocationId': L1,
  });
  const PRINCIPAL = `arn:${partition}:sts::${ACCOUNT}:assumed-role/storage-${T1}/${T1.slice(2)}.u${U1.slice(2)}.v00000000a`;

  /** S3 asking KMS for `action` on `keyArn` for this session, as it does for an object (or a Bucket Key). */
  const kms = (
    action: string,
    keyArn: string,
    options: { access?: StorageAccess; arn?: string; via?: string | null; keyTenant?: string | null } = {},
  ): string => {
    const access = options.access ?? 'write';
    const keyTenant =
      options.keyTenant === undefined
        ? Object.entries(TENANT_KEY).find(([, arn]) => arn === keyArn)?.[0]
        : (options.keyTenant ?? undefined);
    const via = options.via === undefined ? VIA_S3 : options.via;
    const context: Record<string, string | string[]> = {
      ...sessionContext(access),
      'kms:EncryptionContext:aws:s3:arn': options.arn ?? `${BUCKET_ARN}/${OWN_OBJECT}`,
      'kms:EncryptionContextKeys': ['aws:s3:arn'],
      ...(via ? { 'kms:ViaService': via } : {}),
    };
    if (keyTenant)
      for (const tag of tenantKeyTags(STAGE, keyTenant)) context[`aws:ResourceTag/${tag.key}`] = tag.value;
    return decideKms(action, keyArn, context, access, keyTenant ? keyPolicyOf(keyTenant) : accountKeyPolicy);
  };

  /** The managed bucket's own policy (CDK's and local mode's): denies only. */
  const BUCKET_POLICY = {
    Version: '2012-10-17',
    Statement: managedBucketPolicyStatements(BUCKET_ARN, STORAGE_KEY),
  };
  /**
   * An object-creating request (`s3:PutObject`: PutObject, CreateMultipartUpload, CopyObject, and the parts
   * and completion of an upload) of this session with these SSE headers, judged with the bucket's policy.
   */
  const put = (headers: Record<string, string>, objectKey = OWN_OBJECT, access: StorageAccess = 'write') =>
    simulate({
      principal: PRINCIPAL,
      action: 's3:PutObject',
      resource: `${BUCKET_ARN}/${objectKey}`,
      resourceAccount: ACCOUNT,
      context: { ...sessionContext(access), ...headers },
      identityPolicies: [ROLE_POLICY],
      sessionPolicy: sessionPolicy(access),
      boundary: BOUNDARY,
      resourcePolicy: BUCKET_POLICY,
    });
  /** The same request judged by the bucket's policy alone (an identity policy that allows everything). */
  const putUnderBucketPolicyOnly = (headers: Record<string, string>) =>
    simulate({
      principal: PRINCIPAL,
      action: 's3:PutObject',
      resource: `${BUCKET_ARN}/${OWN_OBJECT}`,
      resourceAccount: ACCOUNT,
      context: { ...sessionContext('write'), ...headers },
      identityPolicies: [
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] },
      ],
      resourcePolicy: BUCKET_POLICY,
    });
  const sse = (keyId?: string) => ({
    's3:x-amz-server-side-encryption': 'aws:kms',
    ...(keyId ? { 's3:x-amz-server-side-encryption-aws-kms-key-id': keyId } : {}),
  });

  describe(`managed objects under the tenant key (${partition}, ${region}): KMS through S3`, () => {
    it('a write session may have S3 generate and decrypt data keys with its tenant’s key for objects under its prefix', () => {
      // Act / Assess
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
        expect(kms(action, TENANT_KEY[T1]!), action).toBe('Allowed');
    });

    it('a read session may have S3 decrypt with it, never generate data keys', () => {
      // Act / Assess
      expect(kms('kms:Decrypt', TENANT_KEY[T1]!, { access: 'read' })).toBe('Allowed');
      expect(kms('kms:GenerateDataKey', TENANT_KEY[T1]!, { access: 'read' })).not.toBe('Allowed');
    });

    it('refuses a Bucket Key (context: the bucket ARN), another tenant’s prefix and a sibling prefix', () => {
      // Act / Assess
      for (const arn of [
        BUCKET_ARN,
        `${BUCKET_ARN}/tenants/${T2}/${L1}/x`,
        `${BUCKET_ARN}/tenants/${T1}x/${L1}/x`,
      ])
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
          expect(kms(action, TENANT_KEY[T1]!, { arn }), `${action} ${arn}`).not.toBe('Allowed');
    });

    it('refuses another tenant’s key, and a key tagged for this tenant whose policy is another tenant’s', () => {
      // Act / Assess: T2's key (its tag and policy are T2's); T2's key carrying T1's tag (its policy still names T2's role)
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        expect(kms(action, TENANT_KEY[T2]!), action).not.toBe('Allowed');
        const mistagged = runUnsafeSimulationWithTag(action);
        expect(mistagged, `${action} mistagged`).not.toBe('Allowed');
      }
    });

    it('the storage key: decrypt only (objects written before), never a new data key', () => {
      // Act / Assess
      expect(kms('kms:Decrypt', STORAGE_KEY)).toBe('Allowed');
      expect(kms('kms:GenerateDataKey', STORAGE_KEY)).not.toBe('Allowed');
    });

    it('never directly, through another service, or through S3 of another region', () => {
      // Act / Assess
      for (const via of [null, `dynamodb.${region}.${suffix}`, `s3.us-east-1.amazonaws.com`])
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
          expect(kms(action, TENANT_KEY[T1]!, { via }), `${action} ${via}`).not.toBe('Allowed');
    });

    it('each layer is needed: without the tenant-key statements of the role, the boundary or the session policy, or the key policy’s ManagedObjectsViaS3, S3 gets no data key', () => {
      // Prepare: each policy without what it adds for the tenant key
      const without = (policy: { Statement: { Sid?: string }[] }, sids: string[]) => ({
        ...policy,
        Statement: policy.Statement.filter((statement) => !sids.includes(statement.Sid ?? '')),
      });
      const context: Record<string, string | string[]> = {
        ...sessionContext('write'),
        'kms:EncryptionContext:aws:s3:arn': `${BUCKET_ARN}/${OWN_OBJECT}`,
        'kms:EncryptionContextKeys': ['aws:s3:arn'],
        'kms:ViaService': VIA_S3,
        ...Object.fromEntries(tenantKeyTags(STAGE, T1).map((t) => [`aws:ResourceTag/${t.key}`, t.value])),
      };
      const tenantKeySids = ['TenantKeyRead', 'TenantKeyWrite'];
      const decideWith = (layers: Parameters<typeof decideKms>[5], keyPolicy: unknown = keyPolicyOf(T1)) =>
        decideKms('kms:GenerateDataKey', TENANT_KEY[T1]!, context, 'write', keyPolicy, layers);

      // Act / Assess: all together allow; each one missing refuses
      expect(decideWith({})).toBe('Allowed');
      expect(decideWith({ role: without(ROLE_POLICY, tenantKeySids) })).not.toBe('Allowed');
      expect(decideWith({ boundary: without(BOUNDARY, tenantKeySids) })).not.toBe('Allowed');
      expect(decideWith({ session: without(sessionPolicy('write'), ['Key']) })).not.toBe('Allowed');
      expect(decideWith({}, without(keyPolicyOf(T1), ['ManagedObjectsViaS3']))).not.toBe('Allowed');
    });

    it('an untagged key of the account is not the tenant’s key', () => {
      // Act / Assess: the tenant key's own policy but no tenantId tag (the role and boundary find keys by tag)
      expect(kms('kms:GenerateDataKey', TENANT_KEY[T1]!, { keyTenant: null })).not.toBe('Allowed');
    });
  });

  /** T2's key wrongly tagged with T1's id: the key policy (ManagedObjectsViaS3 names T2's role) still refuses. */
  function runUnsafeSimulationWithTag(action: string): string {
    const context: Record<string, string | string[]> = {
      ...sessionContext('write'),
      'kms:EncryptionContext:aws:s3:arn': `${BUCKET_ARN}/${OWN_OBJECT}`,
      'kms:EncryptionContextKeys': ['aws:s3:arn'],
      'kms:ViaService': VIA_S3,
      'aws:ResourceTag/tenantId': T1,
    };
    return decideKms(action, TENANT_KEY[T2]!, context, 'write', keyPolicyOf(T2));
  }

  /**
   * One KMS request through every policy that decides. The simulator's unchecked engine (the one that reads
   * `kms:EncryptionContext:<key>` as written) takes no session policy, so the session policy is judged on its
   * own and must allow too: for a key policy that grants the account (not the session itself), AWS allows
   * only what the identity policy, the boundary, the session policy and the key policy all allow, and any
   * explicit deny in one of them refuses.
   */
  function decideKms(
    action: string,
    keyArn: string,
    context: Record<string, string | string[]>,
    access: StorageAccess,
    keyPolicy: unknown,
    layers: { role?: unknown; boundary?: unknown; session?: unknown } = {},
  ): string {
    const run = (identity: unknown, boundary: unknown | undefined) =>
      runUnsafeSimulation(
        {
          request: {
            principal: PRINCIPAL,
            action,
            resource: { resource: keyArn, accountId: ACCOUNT },
            contextVariables: context,
          },
          identityPolicies: [{ name: 'identity', policy: identity }],
          ...(boundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: boundary }] } : {}),
          resourcePolicy: createValidatedPolicy(keyPolicy, validateResourcePolicy, { name: 'key-policy' }),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        } as never,
        {},
      );
    const withRole = run(layers.role ?? ROLE_POLICY, layers.boundary ?? BOUNDARY);
    const withSession = run(layers.session ?? sessionPolicy(access), undefined);
    if (withRole === 'ExplicitlyDenied' || withSession === 'ExplicitlyDenied') return 'ExplicitlyDenied';
    return withRole === 'Allowed' && withSession === 'Allowed' ? 'Allowed' : 'ImplicitlyDenied';
  }

  describe(`managed objects under the tenant key (${partition}, ${region}): what a session may write`, () => {
    it('allows a write (PutObject, CreateMultipartUpload, CopyObject target) naming aws:kms and the tenant key ARN', async () => {
      // Act / Assess
      expect(await put(sse(TENANT_KEY[T1]))).toBe('Allowed');
      expect(
        await put({ ...sse(TENANT_KEY[T1]), 's3:x-amz-copy-source': `${BUCKET}/${root.prefix}/old` }),
      ).toBe('Allowed');
    });

    it('allows the parts of an upload (UploadPart, UploadPartCopy, CompleteMultipartUpload: no encryption headers), which the upload’s creation encrypts', async () => {
      // Act / Assess: S3 sends no SSE context keys for a part; a copied part names its source only
      expect(await put({})).toBe('Allowed');
      expect(await put({ 's3:x-amz-copy-source': `${BUCKET}/${root.prefix}/old` })).toBe('Allowed');
    });

    it('why each deny also asks that its header be present: a `StringNotEqualsIfExists` deny still refuses a part (a missing key makes an IfExists condition true)', async () => {
      // Prepare: the session policy with the IfExists form instead of StringNotEquals + Null
      const ifExists = JSON.parse(
        JSON.stringify(sessionPolicy('write')).replaceAll('"StringNotEquals"', '"StringNotEqualsIfExists"'),
      );
      for (const statement of ifExists.Statement)
        if (statement.Effect === 'Deny') delete statement.Condition.Null;
      // Act
      const decision = await simulate({
        principal: PRINCIPAL,
        action: 's3:PutObject',
        resource: `${BUCKET_ARN}/${OWN_OBJECT}`,
        resourceAccount: ACCOUNT,
        context: sessionContext('write'),
        identityPolicies: [ROLE_POLICY],
        sessionPolicy: ifExists,
        boundary: BOUNDARY,
      });
      // Assess
      expect(decision).toBe('ExplicitlyDenied');
    });

    it('a PutObject naming no encryption passes S3’s layer but gets no data key: the bucket default (the storage key) is refused to the session, role and boundary', () => {
      // Act / Assess: S3 would ask KMS for GenerateDataKey on the bucket's default key for this object
      expect(kms('kms:GenerateDataKey', STORAGE_KEY)).not.toBe('Allowed');
      // … and each layer refuses on its own: the session policy, and the role's grant within its boundary
      const context: Record<string, string | string[]> = {
        ...sessionContext('write'),
        'kms:EncryptionContext:aws:s3:arn': `${BUCKET_ARN}/${OWN_OBJECT}`,
        'kms:EncryptionContextKeys': ['aws:s3:arn'],
        'kms:ViaService': VIA_S3,
      };
      const allowAll = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      };
      const only = (layers: Parameters<typeof decideKms>[5]) =>
        decideKms('kms:GenerateDataKey', STORAGE_KEY, context, 'write', accountKeyPolicy, {
          role: allowAll,
          session: allowAll,
          ...layers,
        });
      expect(only({ session: sessionPolicy('write') })).not.toBe('Allowed');
      expect(only({ role: ROLE_POLICY })).not.toBe('Allowed');
      expect(only({ boundary: BOUNDARY })).not.toBe('Allowed');
      expect(only({ boundary: allowAll })).toBe('Allowed');
    });

    it('refuses a write with SSE-S3, DSSE, SSE-C, aws:kms but no key (the aws/s3 managed key), or under the storage key or another tenant’s key', async () => {
      // Prepare
      const refused: Record<string, string>[] = [
        { 's3:x-amz-server-side-encryption': 'AES256' },
        sse(),
        sse(STORAGE_KEY),
        sse(TENANT_KEY[T2]),
        // The key's id or an alias instead of its ARN: S3 hands the policy what the client sent.
        sse(TENANT_KEY[T1]!.split('/')[1]),
        sse(`alias/strongroom/${STAGE}/tenant/${T1}`),
        // DSSE with the right key is another encryption type.
        { ...sse(TENANT_KEY[T1]), 's3:x-amz-server-side-encryption': 'aws:kms:dsse' },
        // SSE-C (the client's own key), alone or beside the right headers.
        { 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' },
        { ...sse(TENANT_KEY[T1]), 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' },
      ];
      // Act
      const decisions = await Promise.all(refused.map((headers) => put(headers)));
      // Assess: explicit denies (the session's, and the bucket's where it can tell)
      expect(decisions).toEqual(refused.map(() => 'ExplicitlyDenied'));
    });

    it('the bucket’s own policy refuses what it can tell without the tenant’s key: another encryption type, aws:kms without a key, SSE-C and the storage key, never a part', async () => {
      // Prepare
      const refused: Record<string, string>[] = [
        { 's3:x-amz-server-side-encryption': 'AES256' },
        { 's3:x-amz-server-side-encryption': 'aws:kms:dsse' },
        sse(),
        sse(STORAGE_KEY),
        { 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' },
      ];
      // Act
      const decisions = await Promise.all(refused.map(putUnderBucketPolicyOnly));
      // Assess
      expect(decisions).toEqual(refused.map(() => 'ExplicitlyDenied'));
      expect(await putUnderBucketPolicyOnly(sse(TENANT_KEY[T1]))).toBe('Allowed');
      expect(await putUnderBucketPolicyOnly({})).toBe('Allowed');
    });

    it('a key id without the encryption header passes IAM (S3 refuses it as an invalid request; were S3 to use the key, KMS refuses any key but the tenant’s, as shown above)', async () => {
      // Act / Assess
      for (const keyArn of [TENANT_KEY[T1]!, TENANT_KEY[T2]!])
        expect(await put({ 's3:x-amz-server-side-encryption-aws-kms-key-id': keyArn }), keyArn).toBe(
          'Allowed',
        );
      // The storage key by name is refused by the bucket's own policy.
      expect(await put({ 's3:x-amz-server-side-encryption-aws-kms-key-id': STORAGE_KEY })).toBe(
        'ExplicitlyDenied',
      );
    });

    it('a read session writes nothing, with or without the key; reads and deletes need no headers', async () => {
      // Act / Assess
      expect(await put(sse(TENANT_KEY[T1]), OWN_OBJECT, 'read')).not.toBe('Allowed');
      for (const action of ['s3:GetObject', 's3:DeleteObject'])
        expect(
          await simulate({
            principal: PRINCIPAL,
            action,
            resource: `${BUCKET_ARN}/${OWN_OBJECT}`,
            resourceAccount: ACCOUNT,
            context: sessionContext('write'),
            identityPolicies: [ROLE_POLICY],
            sessionPolicy: sessionPolicy('write'),
            boundary: BOUNDARY,
          }),
          action,
        ).toBe('Allowed');
    });
  });
}
