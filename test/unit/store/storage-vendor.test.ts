import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sessionPolicyFor } from '../../../shared/domain/storage-policy.js';
import {
  roleSessionName,
  type VendActor,
  vendIdOfSessionName,
} from '../../../shared/domain/storage-sessions.js';
import { mintTenantScope, type TenantScope } from '../../../shared/domain/tenant-scope.js';
import type { HttpProblemError } from '../../../shared/errors.js';
import type { StorageLocationRecord } from '../../../shared/store/storage-store.js';
import {
  CredentialLifetimeError,
  CredentialVendingUnavailableError,
  ExternalRoleDeniedError,
  SessionPolicyTooLargeError,
} from '../../../shared/store/storage-vend-errors.js';
import {
  ISSUE_LATENCY_MARGIN_MS,
  StorageCredentialVendor,
  type VendRequest,
} from '../../../shared/store/storage-vendor.js';
import { T1, T2, U1, U2 } from '../../support/fixed-ids.js';

const STORAGE_ROLE = `arn:aws:iam::123456789012:role/strongroom/prod/eu-west-1/tenant-storage/storage-${T1}`;
const STORAGE_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001';
const TENANT_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-0000000000a1';
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
const scopeOf = (tenantId: string, userId: string): TenantScope => mintTenantScope({ tenantId, userId });
/** The tenant's storage role, created long enough ago for IAM to have propagated it. */
const ROLE = { arn: STORAGE_ROLE, createdAt: T0 - 3600_000 };
/** What the vendor recorded before calling STS: [tenant, user, kind, until]. */
let recorded: [string, string, string, number][] = [];

/** A vend request with the vendor's inputs spelled out (tenant and user make the scope). */
function request(r: {
  tenantId?: string;
  userId?: string;
  location?: StorageLocationRecord;
  access?: 'read' | 'write';
  durationSeconds?: number;
  externalId?: string;
  revokedBefore?: string;
  role?: typeof ROLE;
  actor?: VendActor;
}): VendRequest {
  const location = r.location ?? managed;
  return {
    scope: scopeOf(r.tenantId ?? T1, r.userId ?? U1),
    location,
    access: r.access ?? 'read',
    durationSeconds: r.durationSeconds ?? 900,
    ...(location.kind === 'managed' ? { role: r.role ?? ROLE, tenantKeyArn: TENANT_KEY } : {}),
    ...(r.externalId ? { externalId: r.externalId } : {}),
    ...(r.revokedBefore ? { revokedBefore: r.revokedBefore } : {}),
    ...(r.actor ? { actor: r.actor } : {}),
  };
}

function stsIssues() {
  sts.on(AssumeRoleCommand).callsFake((input) => ({
    Credentials: {
      AccessKeyId: `ASIA${String(++keyCounter).padStart(16, '0')}`,
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(clock + input.DurationSeconds * 1000),
    },
    PackedPolicySize: 31,
  }));
}

const bare = (id: string) => id.slice(2);
/** The session name of a vend by `actor` (`u…` or `k…`) in T1: tenant, actor, then the vend's own id. */
const sessionNamePattern = (actor: string) => new RegExp(`^${bare(T1)}\\.${actor}\\.[0-9a-hjkmnp-tv-z]{9}$`);

function vendor() {
  return new StorageCredentialVendor({
    sts: new STSClient({ region: 'eu-west-1' }),
    storageKeyArn: STORAGE_KEY,
    recordIssue: async (scope, userId, kind, untilMs) => {
      recorded.push([scope.tenantId, userId, kind, untilMs]);
    },
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
  });
}

beforeEach(() => {
  sts.reset();
  clock = T0;
  recorded = [];
});

describe('StorageCredentialVendor: the AssumeRole request', () => {
  it('managed: the tenant role, session policy, four tags, SourceIdentity, session name, duration', async () => {
    // Prepare
    stsIssues();
    // Act
    const result = await vendor().vend(request({ access: 'write', durationSeconds: 1800 }));
    // Assess
    expect(result.cached).toBe(false);
    expect(result.credentials.expiration).toBe(new Date(T0 + 1_800_000).toISOString());
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: STORAGE_ROLE,
      RoleSessionName: expect.stringMatching(sessionNamePattern(`u${bare(U1)}`)),
      DurationSeconds: 1800,
      Policy: JSON.stringify(
        sessionPolicyFor({
          bucket: managed.bucket,
          prefix: managed.prefix,
          access: 'write',
          kmsKeyArn: TENANT_KEY,
          previousKmsKeyArns: [STORAGE_KEY],
          enforceKmsKey: true,
        }),
      ),
      Tags: [
        { Key: 'TenantId', Value: T1 },
        { Key: 'UserId', Value: U1 },
        { Key: 'Access', Value: 'write' },
        { Key: 'LocationId', Value: managed.locationId },
      ],
      SourceIdentity: U1,
    });
    const input = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input;
    expect(input.ExternalId).toBeUndefined();
    expect(input.TransitiveTagKeys).toBeUndefined();
    expect(input.RoleSessionName!.length).toBe(64);
    // The vend id is the session name's last part: from a CloudTrail line to the audit event and back.
    expect(result.vendId).toMatch(/^v_[0-9a-hjkmnp-tv-z]{9}$/);
    expect(vendIdOfSessionName(input.RoleSessionName!)).toBe(result.vendId);
    expect(result.packedPolicySize).toBe(31);
    // SSE-KMS: the tenant's own key for new objects, through S3 only; the bucket's key to decrypt older ones.
    const statements = JSON.parse(input.Policy!).Statement as { Sid: string }[];
    expect(statements.find((s) => s.Sid === 'Key')).toEqual({
      Sid: 'Key',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: TENANT_KEY,
      Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
    expect(statements.find((s) => s.Sid === 'PreviousKeys')).toEqual({
      Sid: 'PreviousKeys',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: STORAGE_KEY,
      Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
    // Every object it creates must name the tenant's key.
    expect(statements.filter((s) => s.Sid.startsWith('Deny')).map((s) => s.Sid)).toEqual([
      'DenyOtherEncryption',
      'DenyOtherKey',
      'DenyCustomerKey',
    ]);
    // Recorded before the credential existed, with its expiry.
    expect(recorded).toEqual([[T1, U1, 'managed', T0 + 1_800_000 + ISSUE_LATENCY_MARGIN_MS]]);
  });

  it('external: the customer role with the tenant ExternalId, the three tags and the same session policy', async () => {
    // Prepare
    stsIssues();

    // Act
    await vendor().vend(request({ location: external, externalId: 'strongroom-abc' }));

    // Assess: the role, ExternalId, session policy, source identity and the three tags
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: external.roleArn,
      ExternalId: 'strongroom-abc',
      Policy: JSON.stringify(sessionPolicyFor({ bucket: 'customer-lake', prefix: 'data', access: 'read' })),
      SourceIdentity: U1,
      // Customers' trust policies were written for these three.
      Tags: [
        { Key: 'TenantId', Value: T1 },
        { Key: 'UserId', Value: U1 },
        { Key: 'Access', Value: 'read' },
      ],
    });

    // Assess: the customer's bucket key is the customer's: no KMS statement, least of all for our storage key.
    const policy = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input.Policy!;
    expect(policy).not.toContain('kms:');
    expect(policy).not.toContain(STORAGE_KEY);
    expect(recorded).toEqual([[T1, U1, 'external', T0 + 900_000 + ISSUE_LATENCY_MARGIN_MS]]);
  });

  it('an STS answer that expires past the recorded margin (a slow call) moves the record to its expiry', async () => {
    // Prepare: STS issues 45 s after the vendor recorded (past the 30 s margin).
    sts.on(AssumeRoleCommand).callsFake((input) => ({
      Credentials: {
        AccessKeyId: 'ASIA0000000000000SLOW',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(clock + 45_000 + input.DurationSeconds * 1000),
      },
    }));
    // Act
    await vendor().vend(request({ location: external, externalId: 'strongroom-abc' }));
    // Assess: what a revocation reads is never earlier than the credential's expiry.
    expect(recorded).toEqual([
      [T1, U1, 'external', T0 + 900_000 + ISSUE_LATENCY_MARGIN_MS],
      [T1, U1, 'external', T0 + 45_000 + 900_000],
    ]);
  });

  it.each([901, 1800, 3600])(
    'external: %s seconds is a 400 naming durationSeconds, before anything is recorded or assumed',
    async (durationSeconds) => {
      // Prepare
      stsIssues();

      // Act
      const failure = await vendor()
        .vend(request({ location: external, externalId: 'strongroom-abc', durationSeconds }))
        .catch((e: unknown) => e);

      // Assess: refused before anything is recorded or assumed
      expect(failure).toBeInstanceOf(CredentialLifetimeError);
      expect((failure as HttpProblemError).status).toBe(400);
      expect((failure as HttpProblemError).errors?.map((e) => e.path)).toEqual(['body.durationSeconds']);
      expect(recorded).toEqual([]);
      expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    },
  );

  it('refuses an external vend without an ExternalId, or a managed one without the tenant role or key, before STS', async () => {
    // Prepare
    stsIssues();

    // Act / Assess: external without an ExternalId; managed without the tenant role, or without its key
    await expect(vendor().vend(request({ location: external }))).rejects.toThrow(/ExternalId/);
    await expect(vendor().vend({ ...request({}), role: undefined })).rejects.toThrow(/storage role/);
    await expect(vendor().vend({ ...request({}), tenantKeyArn: undefined })).rejects.toThrow(/tenant's key/);

    // Assess: no STS call, nothing recorded
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    expect(recorded).toEqual([]);
  });

  it('a failure to record the holder issues nothing', async () => {
    // Prepare: recording the holder fails
    stsIssues();
    const v = new StorageCredentialVendor({
      sts: new STSClient({ region: 'eu-west-1' }),
      storageKeyArn: STORAGE_KEY,
      recordIssue: async () => {
        throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      },
      now: () => clock,
    });

    // Act / Assess
    await expect(v.vend(request({}))).rejects.toThrow('throttled');

    // Assess: nothing asked of STS, nothing cached
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    expect(v.cacheSize).toBe(0);
  });

  it('keeps RoleSessionName within 64 characters of allowed characters, the vend id always whole', () => {
    // Prepare
    const K1 = 'k_01jx0000000000000000000003';

    // Act / Assess: a user's and a key's names
    expect(roleSessionName(T1, { kind: 'user', id: U1 }, 'v_abcdefghj')).toBe(
      `${bare(T1)}.u${bare(U1)}.abcdefghj`,
    );
    expect(roleSessionName(T1, { kind: 'api-key', id: K1 }, 'v_abcdefghj')).toBe(
      `${bare(T1)}.k${bare(K1)}.abcdefghj`,
    );

    // Act / Assess: an overlong tenant and actor
    const long = roleSessionName('t'.repeat(40), { kind: 'user', id: 'u/'.repeat(40) }, 'v_abcdefghj');
    expect(long).toMatch(/^[\w+=,.@-]{64}$/);
    expect(vendIdOfSessionName(long)).toBe('v_abcdefghj');
  });

  it('an API key and its user never share cached credentials; the session name says which asked', async () => {
    // Prepare
    stsIssues();
    const v = vendor();
    const K1 = 'k_01jx0000000000000000000003';

    // Act: the user, the key, the key again
    const byUser = await v.vend(request({}));
    const byKey = await v.vend(request({ actor: { kind: 'api-key', id: K1 } }));
    const byKeyAgain = await v.vend(request({ actor: { kind: 'api-key', id: K1 } }));

    // Assess: the key's credentials are its own, cached for it; the session names say who asked
    expect(byKey.credentials.accessKeyId).not.toBe(byUser.credentials.accessKeyId);
    expect(byKeyAgain).toMatchObject({ cached: true, vendId: byKey.vendId });
    const names = sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleSessionName);
    expect(names[0]).toMatch(sessionNamePattern(`u${bare(U1)}`));
    expect(names[1]).toMatch(sessionNamePattern(`k${bare(K1)}`));
    expect(names).toHaveLength(2);
  });
});

describe('StorageCredentialVendor: a tenant role IAM has not propagated yet', () => {
  const denied = () =>
    new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } });

  it('retries AccessDenied with backoff while the role is younger than the propagation window', async () => {
    // Prepare: the role was made a moment ago; STS refuses it twice
    let calls = 0;
    sts.on(AssumeRoleCommand).callsFake(() => {
      calls++;
      if (calls <= 2) throw denied();
      return {
        Credentials: {
          AccessKeyId: 'ASIAFRESH',
          SecretAccessKey: 's',
          SessionToken: 't',
          Expiration: new Date(clock + 900_000),
        },
      };
    });
    // Act
    const result = await vendor().vend(request({ role: { arn: STORAGE_ROLE, createdAt: T0 - 500 } }));
    // Assess: 250 ms, then 500 ms of (fake) sleep
    expect(result.credentials.accessKeyId).toBe('ASIAFRESH');
    expect(calls).toBe(3);
    expect(clock).toBe(T0 + 750);
  });

  it('gives up with 503 once the role is old enough, and never retries an old role', async () => {
    // Prepare: STS keeps refusing
    sts.on(AssumeRoleCommand).rejects(denied());

    // Act / Assess: a young role is retried, for 20 seconds at most
    const young = await vendor()
      .vend(request({ role: { arn: STORAGE_ROLE, createdAt: T0 } }))
      .catch((e: unknown) => e);
    expect((young as HttpProblemError).status).toBe(503);
    expect(clock).toBeLessThanOrEqual(T0 + 20_000);
    expect(sts.commandCalls(AssumeRoleCommand).length).toBeGreaterThan(3);

    // Act / Assess: an old role is asked once
    sts.resetHistory();
    const old = await vendor()
      .vend(request({}))
      .catch((e: unknown) => e);
    expect((old as HttpProblemError).status).toBe(503);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
  });
});

describe('StorageCredentialVendor: cache', () => {
  it('serves the same credentials until half their life has passed, then renews', async () => {
    // Prepare
    stsIssues();
    const v = vendor();

    // Act: just under half their life, then half
    const first = await v.vend(request({}));
    clock = T0 + 449_999; // just under half of 900 s
    const second = await v.vend(request({}));
    clock = T0 + 450_000; // half gone: a client would get less than half of what it asked for
    const third = await v.vend(request({}));

    // Assess
    expect(second).toEqual({
      credentials: first.credentials,
      cached: true,
      vendId: first.vendId,
      packedPolicySize: 31,
    });
    expect(third.cached).toBe(false);
    expect(third.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    // Recorded on misses only.
    expect(recorded).toHaveLength(2);
  });

  it('or until the refresh margin before expiry, when that comes first', async () => {
    // Prepare: a 40-minute refresh margin
    stsIssues();
    const v = new StorageCredentialVendor({
      sts: new STSClient({ region: 'eu-west-1' }),
      storageKeyArn: STORAGE_KEY,
      recordIssue: async () => {},
      refreshMarginMs: 40 * 60_000,
      now: () => clock,
    });

    // Act / Assess
    const first = await v.vend(request({ durationSeconds: 3600 }));
    clock = T0 + 20 * 60_000 - 1; // 40 minutes and a bit left
    expect((await v.vend(request({ durationSeconds: 3600 }))).vendId).toBe(first.vendId);
    clock = T0 + 20 * 60_000; // 40 minutes left: inside the margin although not half-way
    expect((await v.vend(request({ durationSeconds: 3600 }))).cached).toBe(false);
  });

  // Prepare: caching off
  it('a cache bound of 0 turns caching off: every vend asks STS, concurrent ones still share a call', async () => {
    stsIssues();
    const v = new StorageCredentialVendor({
      sts: new STSClient({ region: 'eu-west-1' }),
      storageKeyArn: STORAGE_KEY,
      recordIssue: async () => {},
      maxCacheEntries: 0,
      now: () => clock,
    });

    // Act / Assess: two concurrent vends, then another
    const [a, b] = await Promise.all([v.vend(request({})), v.vend(request({}))]);
    expect(b.vendId).toBe(a.vendId);
    const c = await v.vend(request({}));
    expect(c.cached).toBe(false);
    expect(v.cacheSize).toBe(0);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });

  it('never shares across users, tenants, access levels, locations or lifetimes', async () => {
    // Prepare: one request, and one differing in each respect
    stsIssues();
    const v = vendor();
    const variants = [
      request({}),
      request({ userId: U2 }),
      request({ tenantId: T2 }),
      request({ access: 'write' }),
      request({ location: { ...managed, locationId: 'l_01jx0000000000000000000009' } }),
      request({ durationSeconds: 3600 }),
    ];

    // Act
    const keys = [];
    for (const r of variants) keys.push((await v.vend(r)).credentials.accessKeyId);

    // Assess: six credentials, six STS calls
    expect(new Set(keys).size).toBe(variants.length);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, variants.length);
  });

  it('concurrent misses for one key make one STS call', async () => {
    // Prepare
    stsIssues();
    const v = vendor();

    // Act
    const results = await Promise.all([v.vend(request({})), v.vend(request({})), v.vend(request({}))]);

    // Assess
    expect(new Set(results.map((r) => r.credentials.accessKeyId)).size).toBe(1);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
  });

  it('does not serve credentials issued before a revocation cutoff, and waits out the cutoff second', async () => {
    // Prepare: credentials issued before the cutoff
    stsIssues();
    const v = vendor();
    const before = await v.vend(request({}));
    clock = T0 + 500;
    const cutoff = '2026-11-22T12:00:01Z';

    // Act
    const after = await v.vend(request({ revokedBefore: cutoff }));

    // Assess
    expect(after.cached).toBe(false);
    expect(after.credentials.accessKeyId).not.toBe(before.credentials.accessKeyId);
    // The fake sleep moved the clock to the cutoff before STS was called.
    expect(clock).toBe(Date.parse(cutoff));

    // Act / Assess
    const again = await v.vend(request({ revokedBefore: cutoff }));
    expect(again).toEqual({ ...after, cached: true });
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
    const early = v.vend(request({}));
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Act: a revocation lands; a second request carries its cutoff
    clock = T0 + 1000;
    const late = v.vend(request({ revokedBefore: '2026-11-22T12:00:01Z' }));
    release();
    // Assess
    expect((await early).credentials.accessKeyId).toBe('ASIA1');
    expect((await late).credentials.accessKeyId).toBe('ASIA2');
  });

  it('drop forgets only the matching entries: a user, a location, or a whole tenant', async () => {
    // Prepare: four cached entries in two tenants
    stsIssues();
    const v = vendor();
    const other = { ...managed, locationId: 'l_01jx0000000000000000000009' };
    await v.vend(request({}));
    await v.vend(request({ userId: U2 }));
    await v.vend(request({ userId: U2, location: other }));
    await v.vend(request({ tenantId: T2 }));

    // Act / Assess: drop a user
    v.drop(T1, { userId: U1 });
    expect(v.cacheSize).toBe(3);
    expect((await v.vend(request({ userId: U2 }))).cached).toBe(true);
    expect((await v.vend(request({ tenantId: T2 }))).cached).toBe(true);

    // Act / Assess: drop a location
    v.drop(T1, { locationId: managed.locationId });
    expect(v.cacheSize).toBe(2);
    expect((await v.vend(request({ userId: U2, location: other }))).cached).toBe(true);

    // Act / Assess: drop the tenant
    v.drop(T1);
    expect(v.cacheSize).toBe(1);
    expect((await v.vend(request({ tenantId: T2 }))).cached).toBe(true);
  });
});

describe('StorageCredentialVendor: failures fail closed', () => {
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
      'access denied on the tenant role',
      new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }),
    ],
    ['network', Object.assign(new Error('connect ECONNREFUSED'), { name: 'ECONNREFUSED' })],
  ])('%s → 503 with Retry-After and nothing cached', async (_label, error) => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(error);
    const v = vendor();

    // Act
    const failure = await v.vend(request({})).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(CredentialVendingUnavailableError);
    expect((failure as HttpProblemError).status).toBe(503);
    expect((failure as HttpProblemError).headers['Retry-After']).toBe('5');
    expect(v.cacheSize).toBe(0);
  });

  it('STS returning no credentials is a 503, never a partial answer', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).resolves({});

    // Act
    const failure = await vendor()
      .vend(request({}))
      .catch((e: unknown) => e);

    // Assess
    expect((failure as HttpProblemError).status).toBe(503);
  });

  it('a session policy too large for STS is a 400 naming the location, before any STS call', async () => {
    // Prepare: a 1,500-character prefix
    stsIssues();
    const huge = { ...managed, prefix: 'p'.repeat(1500) };

    // Act
    const failure = await vendor()
      .vend(request({ location: huge }))
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(SessionPolicyTooLargeError);
    expect((failure as HttpProblemError).status).toBe(400);
    expect((failure as HttpProblemError).errors).toEqual([
      { path: 'body.location', message: 'The location root is too long for a session policy' },
    ]);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it('STS PackedPolicyTooLarge is the same 400', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'PackedPolicyTooLargeException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    // Act
    const failure = await vendor()
      .vend(request({}))
      .catch((e: unknown) => e);

    // Assess
    expect((failure as HttpProblemError).status).toBe(400);
  });

  it('a customer role that refuses us is a 424, not retried as an outage', async () => {
    // Prepare: the customer role refuses
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );

    // Act
    const failure = await vendor()
      .vend(request({ location: external, externalId: 'strongroom-x' }))
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(ExternalRoleDeniedError);
    expect((failure as HttpProblemError).status).toBe(424);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
  });
});

describe('StorageCredentialVendor: S3-compatible stores with STS', () => {
  const { roleArn: _aws, ...withoutRole } = external;
  const store: StorageLocationRecord = {
    ...withoutRole,
    locationId: 'l_01jx0000000000000000000003',
    region: 'us-east-1',
    endpoint: 'https://minio.example.com',
    stsEndpoint: 'https://sts.minio.example.com',
    pathStyle: true,
  };
  const KEY_PAIR = { accessKeyId: 'MINIOKEY', secretAccessKey: 'minio-secret' };

  function storeVendor(opened: unknown[][]) {
    return new StorageCredentialVendor({
      sts: new STSClient({ region: 'eu-west-1' }),
      storageKeyArn: STORAGE_KEY,
      storeSts: (endpoint, region, keyPair) => {
        opened.push([endpoint, region, keyPair]);
        return new STSClient({ region, endpoint, credentials: keyPair });
      },
      recordIssue: async (scope, userId, kind, untilMs) => {
        recorded.push([scope.tenantId, userId, kind, untilMs]);
      },
      now: () => clock,
    });
  }

  it('assumes at the store’s STS with its key pair, the session policy and nothing AWS-only; the pair is decrypted once', async () => {
    // Prepare
    stsIssues();
    const opened: unknown[][] = [];
    let decrypted = 0;
    const vendorOfStore = storeVendor(opened);
    const storeRequest = (): VendRequest => ({
      ...request({ location: store }),
      store: {
        stsEndpoint: store.stsEndpoint!,
        keyPair: async () => {
          decrypted++;
          return KEY_PAIR;
        },
      },
    });

    // Act: a miss, then a hit
    const first = await vendorOfStore.vend(storeRequest());
    const second = await vendorOfStore.vend(storeRequest());

    // Assess: exactly these parameters (no RoleArn without one, no Tags, SourceIdentity or ExternalId)
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleSessionName: expect.stringMatching(sessionNamePattern(`u${bare(U1)}`)),
        DurationSeconds: 900,
        Policy: JSON.stringify(
          sessionPolicyFor({ bucket: store.bucket, prefix: store.prefix, access: 'read', partition: 'aws' }),
        ),
      },
    ]);
    expect(opened).toEqual([['https://sts.minio.example.com', 'us-east-1', KEY_PAIR]]);
    expect(decrypted).toBe(1);
    expect(recorded.map(([, , kind]) => kind)).toEqual(['external']);
  });

  it('names the store’s role when it has one, and maps a refusal to 424 and an outage to 503', async () => {
    // Prepare
    const withRole = { ...store, roleArn: 'arn:aws:iam:::role/lakehouse' };
    const storeRequest = (location: StorageLocationRecord): VendRequest => ({
      ...request({ location }),
      store: { stsEndpoint: store.stsEndpoint!, keyPair: async () => KEY_PAIR },
    });
    stsIssues();

    // Act
    await storeVendor([]).vend(storeRequest(withRole));
    const named = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input.RoleArn;
    sts.reset();
    sts
      .on(AssumeRoleCommand)
      .rejects(new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {} }));
    const refused = await storeVendor([])
      .vend(storeRequest(store))
      .catch((e: unknown) => e);
    sts.reset();
    sts
      .on(AssumeRoleCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const down = await storeVendor([])
      .vend(storeRequest(store))
      .catch((e: unknown) => e);
    const noClient = await vendor()
      .vend(storeRequest(store))
      .catch((e: unknown) => e);

    // Assess
    expect(named).toBe('arn:aws:iam:::role/lakehouse');
    expect(refused).toBeInstanceOf(ExternalRoleDeniedError);
    expect(down).toBeInstanceOf(CredentialVendingUnavailableError);
    expect(noClient).toBeInstanceOf(Error);
    expect(String(noClient)).toContain('store STS client');
  });
});
