import { DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { REVOCATION_POLICY_NAME, sessionPolicyFor } from '../../shared/domain/storage-policy.js';
import type { HttpProblemError } from '../../shared/http/errors.js';
import type { StorageLocationRecord } from '../../shared/store/storage-store.js';
import {
  CredentialVendingUnavailableError,
  ExternalRoleDeniedError,
  SessionPolicyTooLargeError,
  StorageCredentialVendor,
  StorageRevocations,
  onStorageRevocation,
  roleSessionName,
} from '../../shared/store/storage-vendor.js';

const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';
const U1 = 'u_01jx0000000000000000000001';
const U2 = 'u_01jx0000000000000000000002';
const STORAGE_ROLE = 'arn:aws:iam::123456789012:role/strongroom-prod-storage';
const STORAGE_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001';
const T0 = Date.parse('2026-11-22T12:00:00.000Z');

const managed: StorageLocationRecord = {
  locationId: 'l_01jx0000000000000000000001',
  kind: 'managed',
  root: `s3://strongroom-prod-storage/tenants/${T1}/l_01jx0000000000000000000001`,
  bucket: 'strongroom-prod-storage',
  prefix: `tenants/${T1}/l_01jx0000000000000000000001`,
  region: 'eu-west-1',
  createdAt: '2026-11-22T00:00:00Z',
  createdBy: U1,
};
const external: StorageLocationRecord = {
  ...managed,
  locationId: 'l_01jx0000000000000000000002',
  kind: 'external',
  root: 's3://customer-lake/data',
  bucket: 'customer-lake',
  prefix: 'data',
  roleArn: 'arn:aws:iam::210987654321:role/strongroom-access',
};

const sts = mockClient(STSClient);
let clock = T0;
let keyCounter = 0;

function stsIssues() {
  sts.on(AssumeRoleCommand).callsFake((input) => ({
    Credentials: {
      AccessKeyId: `ASIA${String(++keyCounter).padStart(16, '0')}`,
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(clock + input.DurationSeconds * 1000),
    },
  }));
}

function vendor() {
  return new StorageCredentialVendor({
    sts: new STSClient({ region: 'eu-west-1' }),
    storageRoleArn: STORAGE_ROLE,
    storageKeyArn: STORAGE_KEY,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
  });
}

beforeEach(() => {
  sts.reset();
  clock = T0;
});

describe('StorageCredentialVendor: the AssumeRole request', () => {
  it('managed: storage role, session policy, tags, SourceIdentity, session name, duration', async () => {
    // Prepare
    stsIssues();
    // Act
    const result = await vendor().vend({
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'write',
      durationSeconds: 1800,
    });
    // Assess
    expect(result.cached).toBe(false);
    expect(result.credentials.expiration).toBe(new Date(T0 + 1_800_000).toISOString());
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: STORAGE_ROLE,
      RoleSessionName: `${T1}-${U1}`,
      DurationSeconds: 1800,
      Policy: JSON.stringify(
        sessionPolicyFor({
          bucket: managed.bucket,
          prefix: managed.prefix,
          access: 'write',
          kmsKeyArn: STORAGE_KEY,
        }),
      ),
      Tags: [
        { Key: 'TenantId', Value: T1 },
        { Key: 'UserId', Value: U1 },
        { Key: 'Access', Value: 'write' },
      ],
      SourceIdentity: U1,
    });
    const input = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input;
    expect(input.ExternalId).toBeUndefined();
    expect(input.TransitiveTagKeys).toBeUndefined();
    expect(input.RoleSessionName!.length).toBeLessThanOrEqual(64);
    // SSE-KMS: the bucket's own key, through S3 only.
    expect(JSON.parse(input.Policy!).Statement.find((s: { Sid: string }) => s.Sid === 'Key')).toEqual({
      Sid: 'Key',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: STORAGE_KEY,
      Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
  });

  it('external: the customer role with the tenant ExternalId and the same session policy', async () => {
    stsIssues();
    await vendor().vend({
      tenantId: T1,
      userId: U1,
      location: external,
      access: 'read',
      durationSeconds: 900,
      externalId: 'strongroom-abc',
    });
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: external.roleArn,
      ExternalId: 'strongroom-abc',
      Policy: JSON.stringify(sessionPolicyFor({ bucket: 'customer-lake', prefix: 'data', access: 'read' })),
      SourceIdentity: U1,
    });
    // The customer's bucket key is the customer's: no KMS statement, least of all for our storage key.
    const policy = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input.Policy!;
    expect(policy).not.toContain('kms:');
    expect(policy).not.toContain(STORAGE_KEY);
  });

  it('refuses an external vend without an ExternalId before calling STS', async () => {
    stsIssues();
    await expect(
      vendor().vend({ tenantId: T1, userId: U1, location: external, access: 'read', durationSeconds: 900 }),
    ).rejects.toThrow(/ExternalId/);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it('keeps RoleSessionName within 64 characters of allowed characters', () => {
    expect(roleSessionName(T1, U1)).toBe(`${T1}-${U1}`);
    expect(roleSessionName('t'.repeat(40), 'u/'.repeat(40))).toMatch(/^[\w+=,.@-]{64}$/);
  });
});

describe('StorageCredentialVendor: cache', () => {
  it('serves the same credentials until five minutes before expiry, then renews', async () => {
    stsIssues();
    const v = vendor();
    const req = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    const first = await v.vend(req);
    clock = T0 + 9 * 60_000; // 6 minutes left
    const second = await v.vend(req);
    clock = T0 + 10 * 60_000; // exactly 5 minutes left: too little
    const third = await v.vend(req);
    expect(second).toEqual({ credentials: first.credentials, cached: true });
    expect(third.cached).toBe(false);
    expect(third.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });

  it('never shares across users, tenants, access levels, locations or lifetimes', async () => {
    stsIssues();
    const v = vendor();
    const base = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    const variants = [
      base,
      { ...base, userId: U2 },
      { ...base, tenantId: T2 },
      { ...base, access: 'write' as const },
      { ...base, location: { ...managed, locationId: 'l_01jx0000000000000000000009' } },
      { ...base, durationSeconds: 3600 },
    ];
    const keys = [];
    for (const r of variants) keys.push((await v.vend(r)).credentials.accessKeyId);
    expect(new Set(keys).size).toBe(variants.length);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, variants.length);
  });

  it('concurrent misses for one key make one STS call', async () => {
    stsIssues();
    const v = vendor();
    const req = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    const results = await Promise.all([v.vend(req), v.vend(req), v.vend(req)]);
    expect(new Set(results.map((r) => r.credentials.accessKeyId)).size).toBe(1);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
  });

  it('does not serve credentials issued before a revocation cutoff, and waits out the cutoff second', async () => {
    stsIssues();
    const v = vendor();
    const req = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    const before = await v.vend(req);
    clock = T0 + 500;
    const cutoff = '2026-11-22T12:00:01Z';
    const after = await v.vend({ ...req, revokedBefore: cutoff });
    expect(after.cached).toBe(false);
    expect(after.credentials.accessKeyId).not.toBe(before.credentials.accessKeyId);
    // The fake sleep moved the clock to the cutoff before STS was called.
    expect(clock).toBe(Date.parse(cutoff));
    const again = await v.vend({ ...req, revokedBefore: cutoff });
    expect(again).toEqual({ credentials: after.credentials, cached: true });
  });

  it('a request that knows of a revocation never takes a concurrent call started before it', async () => {
    // Prepare: STS answers slowly; the first request starts before the cutoff
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let issued = 0;
    sts.on(AssumeRoleCommand).callsFake(async () => {
      issued++;
      if (issued === 1) await gate;
      return {
        Credentials: {
          AccessKeyId: `ASIA${issued}`,
          SecretAccessKey: 's',
          SessionToken: 't',
          Expiration: new Date(clock + 900_000),
        },
      };
    });
    const v = vendor();
    const req = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    const early = v.vend(req);
    await Promise.resolve();
    // Act: a revocation lands; a second request carries its cutoff
    clock = T0 + 1000;
    const late = v.vend({ ...req, revokedBefore: '2026-11-22T12:00:01Z' });
    release();
    // Assess
    expect((await early).credentials.accessKeyId).toBe('ASIA1');
    expect((await late).credentials.accessKeyId).toBe('ASIA2');
  });

  it('dropUser and dropLocation forget only the matching entries', async () => {
    stsIssues();
    const v = vendor();
    const base = {
      tenantId: T1,
      userId: U1,
      location: managed,
      access: 'read' as const,
      durationSeconds: 900,
    };
    await v.vend(base);
    await v.vend({ ...base, userId: U2 });
    await v.vend({ ...base, tenantId: T2 });
    v.dropUser(T1, U1);
    expect(v.cacheSize).toBe(2);
    expect((await v.vend({ ...base, userId: U2 })).cached).toBe(true);
    expect((await v.vend({ ...base, tenantId: T2 })).cached).toBe(true);
    v.dropLocation(T1, managed.locationId);
    expect(v.cacheSize).toBe(1);
    expect((await v.vend(base)).cached).toBe(false);
    v.dropUser(T1, undefined);
    expect(v.cacheSize).toBe(1);
    expect((await v.vend({ ...base, tenantId: T2 })).cached).toBe(true);
  });
});

describe('StorageCredentialVendor: failures fail closed', () => {
  const req = { tenantId: T1, userId: U1, location: managed, access: 'read' as const, durationSeconds: 900 };

  it.each([
    [
      'throttling',
      new STSServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
    ],
    [
      'outage',
      new STSServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
      }),
    ],
    [
      'access denied on our own role',
      new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }),
    ],
    ['network', Object.assign(new Error('connect ECONNREFUSED'), { name: 'ECONNREFUSED' })],
  ])('%s → 503 with Retry-After and nothing cached', async (_label, error) => {
    sts.on(AssumeRoleCommand).rejects(error);
    const v = vendor();
    const failure = await v.vend(req).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CredentialVendingUnavailableError);
    expect((failure as HttpProblemError).status).toBe(503);
    expect((failure as HttpProblemError).headers['Retry-After']).toBe('5');
    expect(v.cacheSize).toBe(0);
  });

  it('STS returning no credentials is a 503, never a partial answer', async () => {
    sts.on(AssumeRoleCommand).resolves({});
    const failure = await vendor()
      .vend(req)
      .catch((e: unknown) => e);
    expect((failure as HttpProblemError).status).toBe(503);
  });

  it('a session policy too large for STS is a 400 naming the location, before any STS call', async () => {
    stsIssues();
    const huge = { ...managed, prefix: 'p'.repeat(1500) };
    const failure = await vendor()
      .vend({ ...req, location: huge })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SessionPolicyTooLargeError);
    expect((failure as HttpProblemError).status).toBe(400);
    expect((failure as HttpProblemError).errors).toEqual([
      { path: 'body.location', message: 'The location root is too long for a session policy' },
    ]);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it('STS PackedPolicyTooLarge is the same 400', async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'PackedPolicyTooLargeException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const failure = await vendor()
      .vend(req)
      .catch((e: unknown) => e);
    expect((failure as HttpProblemError).status).toBe(400);
  });

  it('a customer role that refuses us is a 424, not retried as an outage', async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const failure = await vendor()
      .vend({ ...req, location: external, externalId: 'strongroom-x' })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ExternalRoleDeniedError);
    expect((failure as HttpProblemError).status).toBe(424);
  });
});

describe('StorageRevocations', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const iam = mockClient(IAMClient);
  let stored: { version: number; entries: unknown[] } | undefined;

  function revocations() {
    return new StorageRevocations({
      db: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
      identityTable: 'identity',
      iam: new IAMClient({ region: 'eu-west-1' }),
      storageRoleArn: STORAGE_ROLE,
      now: () => clock,
    });
  }

  beforeEach(() => {
    ddb.reset();
    iam.reset();
    stored = undefined;
    ddb.on(GetCommand).callsFake(() => ({ Item: stored ? { ...stored } : undefined }));
    ddb.on(PutCommand).callsFake((input) => {
      const expected = input.ExpressionAttributeValues?.[':v'] ?? 0;
      if ((stored?.version ?? 0) !== expected)
        throw new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
      stored = { version: input.Item.version, entries: input.Item.entries };
      return {};
    });
    iam.on(PutRolePolicyCommand).resolves({});
  });

  it('adds a deny keyed on tenant, user and issue time to the storage role and notifies caches', async () => {
    // Prepare
    clock = T0 + 250;
    const heard: string[] = [];
    const unsubscribe = onStorageRevocation((t, u) => heard.push(`${t}/${u}`));
    // Act
    const { notBefore } = await revocations().revoke(T1, U1);
    unsubscribe();
    // Assess
    expect(notBefore).toBe('2026-11-22T12:00:01Z');
    expect(heard).toEqual([`${T1}/${U1}`]);
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, {
      RoleName: 'strongroom-prod-storage',
      PolicyName: REVOCATION_POLICY_NAME,
    });
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(policy.Statement).toEqual([
      {
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:PrincipalTag/TenantId': T1, 'aws:PrincipalTag/UserId': U1 },
          DateLessThan: { 'aws:TokenIssueTime': '2026-11-22T12:00:01Z' },
        },
      },
    ]);
    expect(await revocations().revokedBefore(T1, U1)).toBe('2026-11-22T12:00:01Z');
    expect(await revocations().revokedBefore(T2, U1)).toBeUndefined();
  });

  it('prunes entries past the longest credential lifetime and deletes the policy when empty', async () => {
    stored = { version: 3, entries: [{ tenants: [T1], users: [U2], notBefore: '2026-11-22T10:00:00Z' }] };
    iam.on(DeleteRolePolicyCommand).resolves({});
    await revocations().revoke(T1, U1);
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(policy.Statement).toHaveLength(1);
    expect(stored?.version).toBe(4);
    // Two hours on, the list is empty and reads say nothing is revoked.
    clock = T0 + 2 * 3600_000;
    expect(await revocations().entries()).toEqual([]);
  });

  it('retries on a concurrent writer and never loses its entry', async () => {
    stored = { version: 1, entries: [] };
    let first = true;
    ddb.on(PutCommand).callsFake((input) => {
      if (first) {
        // Another revocation lands between our read and our write.
        first = false;
        stored = { version: 2, entries: [{ tenants: [T2], users: [U2], notBefore: '2026-11-22T12:00:00Z' }] };
      }
      if (stored!.version !== input.ExpressionAttributeValues?.[':v'])
        throw new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
      stored = { version: input.Item.version, entries: input.Item.entries };
      return {};
    });
    await revocations().revoke(T1, U1);
    const last = iam.commandCalls(PutRolePolicyCommand).at(-1)!.args[0].input.PolicyDocument!;
    expect(last).toContain(U1);
    expect(last).toContain(U2);
    expect(stored?.version).toBe(3);
  });

  it('revokeTenant denies every user of the tenant and tells caches to drop the whole tenant', async () => {
    const heard: (string | undefined)[] = [];
    const unsubscribe = onStorageRevocation((_t, u) => heard.push(u));
    await revocations().revokeTenant(T1);
    unsubscribe();
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(policy.Statement[0].Condition).toEqual({
      StringEquals: { 'aws:PrincipalTag/TenantId': T1 },
      DateLessThan: { 'aws:TokenIssueTime': '2026-11-22T12:00:01Z' },
    });
    expect(heard).toEqual([undefined]);
    expect(await revocations().revokedBefore(T1, U2)).toBe('2026-11-22T12:00:01Z');
    expect(await revocations().revokedBefore(T2, U2)).toBeUndefined();
  });

  it('an IAM failure surfaces (no silent success)', async () => {
    iam.on(PutRolePolicyCommand).rejects(Object.assign(new Error('throttled'), { name: 'Throttling' }));
    await expect(revocations().revoke(T1, U1)).rejects.toThrow('throttled');
  });
});
