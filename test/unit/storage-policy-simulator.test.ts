import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../shared/domain/iam.js';
import { ROLES, roleHas } from '../../shared/domain/permissions.js';
import {
  READ_OBJECT_ACTIONS,
  STORAGE_ACCESS,
  WRITE_OBJECT_ACTIONS,
  addRevocation,
  permissionForAccess,
  revocationCutoff,
  revocationOf,
  revocationPolicy,
  sessionPolicyFor,
  storageRolePolicy,
  storageRoleTrustPolicy,
  type StorageAccess,
} from '../../shared/domain/storage-policy.js';
import { managedRoot } from '../../shared/domain/storage-roots.js';

const ACCOUNT = '123456789012';
const BUCKET = 'strongroom-prod-storage';
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';
const U1 = 'u_01jx0000000000000000000001';
const U2 = 'u_01jx0000000000000000000002';
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-storage/${T1}-${U1}`;
const VENDING_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-storage-function`;
const ISSUED = '2026-11-22T10:00:00Z';

type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

interface Probe {
  action: string;
  bucket: string;
  /** Object key, or undefined for a bucket-level action. */
  key?: string;
  /** `s3:prefix` of a ListBucket; undefined means the request has none. */
  listPrefix?: string;
}

interface SessionSetup {
  sessionPolicy: PolicyDocument;
  identityPolicies: { name: string; policy: unknown }[];
  tags: Record<string, string>;
  issued?: string;
}

async function decide(setup: SessionSetup, probe: Probe): Promise<Decision> {
  const context: Record<string, string> = { 'aws:TokenIssueTime': setup.issued ?? ISSUED };
  for (const [k, v] of Object.entries(setup.tags)) context[`aws:PrincipalTag/${k}`] = v;
  if (probe.listPrefix !== undefined) context['s3:prefix'] = probe.listPrefix;
  const resource =
    probe.key === undefined ? `arn:aws:s3:::${probe.bucket}` : `arn:aws:s3:::${probe.bucket}/${probe.key}`;
  const response = await runSimulation(
    {
      request: {
        principal: SESSION,
        action: probe.action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: setup.identityPolicies,
      sessionPolicy: setup.sessionPolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`simulation failed: ${JSON.stringify(response)}`);
  return response.overallResult as Decision;
}

/** Every object action a vend may grant, and list. */
const OBJECT_ACTIONS = [...READ_OBJECT_ACTIONS, ...WRITE_OBJECT_ACTIONS];
const isWriteAction = (a: string) => (WRITE_OBJECT_ACTIONS as readonly string[]).includes(a);

/** The places a credential is tried against: only `own` may ever be allowed. */
function targets(bucket: string, prefix: string, otherTenantPrefix: string) {
  return {
    own: [
      ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}/file.csv` })),
      ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}/deep/er/part-0001.parquet` })),
      { action: 's3:ListBucket', bucket, listPrefix: `${prefix}/` },
      { action: 's3:ListBucket', bucket, listPrefix: `${prefix}/deep/` },
    ],
    denied: {
      sibling: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}2/file.csv` })),
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}` })),
        { action: 's3:ListBucket', bucket, listPrefix: `${prefix}2/` },
        // No slash: S3 would also list `data2/…`.
        { action: 's3:ListBucket', bucket, listPrefix: prefix },
      ],
      otherTenant: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${otherTenantPrefix}/file.csv` })),
        { action: 's3:ListBucket', bucket, listPrefix: `${otherTenantPrefix}/` },
      ],
      bucketRoot: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: 'file.csv' })),
        { action: 's3:ListBucket', bucket },
        { action: 's3:ListBucket', bucket, listPrefix: '' },
        { action: 's3:ListBucketVersions', bucket, listPrefix: `${prefix}/` },
        { action: 's3:ListBucketMultipartUploads', bucket },
        { action: 's3:DeleteObjectVersion', bucket, key: `${prefix}/file.csv` },
        { action: 's3:PutObjectAcl', bucket, key: `${prefix}/file.csv` },
        { action: 's3:PutBucketPolicy', bucket },
      ],
      otherBucket: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket: 'another-bucket', key: `${prefix}/file.csv` })),
        { action: 's3:ListBucket', bucket: 'another-bucket', listPrefix: `${prefix}/` },
      ],
    },
  };
}

describe('managed storage: session policy × storage role policy × tags', () => {
  const root = managedRoot(BUCKET, T1, 'data');
  const other = managedRoot(BUCKET, T2, 'data');
  const rolePolicy = { name: 'storage-role', policy: storageRolePolicy({ bucketArn: BUCKET_ARN }) };

  for (const role of ROLES) {
    for (const access of STORAGE_ACCESS) {
      const vends = roleHas(role, permissionForAccess(access));
      it(`${role} asking for ${access}: ${vends ? 'allowed exactly on its own prefix' : 'refused'}`, async () => {
        // Prepare
        const expectedVend = access === 'read' || ['editor', 'admin', 'owner'].includes(role);
        // Assess (the permission table decides who gets a credential at all)
        expect(vends).toBe(expectedVend);
        if (!vends) return;
        const setup: SessionSetup = {
          sessionPolicy: sessionPolicyFor({ ...root, access }),
          identityPolicies: [rolePolicy],
          tags: { TenantId: T1, UserId: U1, Access: access },
        };
        const t = targets(BUCKET, root.prefix, other.prefix);

        // Act
        const own = await Promise.all(t.own.map(async (p) => [p, await decide(setup, p)] as const));
        const denied = await Promise.all(
          Object.values(t.denied)
            .flat()
            .map(async (p) => [p, await decide(setup, p)] as const),
        );

        // Assess
        for (const [probe, decision] of own) {
          const want = access === 'read' && isWriteAction(probe.action) ? 'ImplicitlyDenied' : 'Allowed';
          expect({ probe, decision }).toEqual({ probe, decision: want });
        }
        for (const [probe, decision] of denied)
          expect({ probe, decision }).not.toEqual({ probe, decision: 'Allowed' });
      });
    }
  }

  it('a session policy naming another tenant prefix still reaches nothing: the role confines to the TenantId tag', async () => {
    // Prepare: an application bug hands T1's user a session policy for T2's root
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ ...other, access: 'write' }),
      identityPolicies: [rolePolicy],
      tags: { TenantId: T1, UserId: U1, Access: 'write' },
    };
    // Act
    const decisions = await Promise.all(
      [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket: BUCKET, key: `${other.prefix}/file.csv` })),
        { action: 's3:ListBucket', bucket: BUCKET, listPrefix: `${other.prefix}/` },
      ].map((p) => decide(setup, p)),
    );
    // Assess
    expect(new Set(decisions)).toEqual(new Set(['ImplicitlyDenied']));
  });

  it('a read-tagged session cannot write even under a write session policy', async () => {
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ ...root, access: 'write' }),
      identityPolicies: [rolePolicy],
      tags: { TenantId: T1, UserId: U1, Access: 'read' },
    };
    const decisions = await Promise.all(
      WRITE_OBJECT_ACTIONS.map((action) =>
        decide(setup, { action, bucket: BUCKET, key: `${root.prefix}/x` }),
      ),
    );
    expect(new Set(decisions)).toEqual(new Set(['ImplicitlyDenied']));
    expect(await decide(setup, { action: 's3:GetObject', bucket: BUCKET, key: `${root.prefix}/x` })).toBe(
      'Allowed',
    );
  });

  it('a session without tags is denied outright', async () => {
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ ...root, access: 'write' }),
      identityPolicies: [rolePolicy],
      tags: {},
    };
    expect(await decide(setup, { action: 's3:GetObject', bucket: BUCKET, key: `${root.prefix}/x` })).toBe(
      'ExplicitlyDenied',
    );
  });
});

describe('external storage: the session policy alone scopes a broad customer role', () => {
  const customerRole = {
    name: 'customer-role',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] },
  };
  const root = { bucket: 'customer-lake', prefix: 'data' };

  for (const access of STORAGE_ACCESS) {
    it(`${access}: allowed on data/, never on data2/, the bucket root or another bucket`, async () => {
      const setup: SessionSetup = {
        sessionPolicy: sessionPolicyFor({ ...root, access }),
        identityPolicies: [customerRole],
        tags: { TenantId: T1, UserId: U1, Access: access },
      };
      const t = targets(root.bucket, root.prefix, 'other-team');
      const own = await Promise.all(t.own.map(async (p) => [p, await decide(setup, p)] as const));
      const denied = await Promise.all(
        Object.values(t.denied)
          .flat()
          .map(async (p) => [p, await decide(setup, p)] as const),
      );
      for (const [probe, decision] of own) {
        const want = access === 'read' && isWriteAction(probe.action) ? 'ImplicitlyDenied' : 'Allowed';
        expect({ probe, decision }).toEqual({ probe, decision: want });
      }
      for (const [probe, decision] of denied)
        expect({ probe, decision }).toEqual({ probe, decision: 'ImplicitlyDenied' });
    });
  }

  it('a whole-bucket root grants that bucket and nothing else', async () => {
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ bucket: 'customer-lake', prefix: '', access: 'read' }),
      identityPolicies: [customerRole],
      tags: { TenantId: T1, UserId: U1, Access: 'read' },
    };
    expect(await decide(setup, { action: 's3:GetObject', bucket: 'customer-lake', key: 'any/key' })).toBe(
      'Allowed',
    );
    expect(await decide(setup, { action: 's3:ListBucket', bucket: 'customer-lake' })).toBe('Allowed');
    expect(await decide(setup, { action: 's3:PutObject', bucket: 'customer-lake', key: 'any/key' })).toBe(
      'ImplicitlyDenied',
    );
    expect(await decide(setup, { action: 's3:GetObject', bucket: 'customer-lake2', key: 'any/key' })).toBe(
      'ImplicitlyDenied',
    );
  });
});

describe('revocation deny on the storage role', () => {
  const root = managedRoot(BUCKET, T1, 'data');
  const now = Date.parse('2026-11-22T10:30:00.250Z');
  const entries = addRevocation(
    [],
    revocationOf({ tenantId: T1, userId: U1, notBefore: revocationCutoff(now) }),
    now,
  );
  const policies = [
    { name: 'storage-role', policy: storageRolePolicy({ bucketArn: BUCKET_ARN }) },
    { name: 'revocations', policy: revocationPolicy(entries)! },
  ];
  const probe = { action: 's3:GetObject', bucket: BUCKET, key: `${root.prefix}/x` };
  const session = (userId: string, tenantId: string, issued: string): SessionSetup => ({
    sessionPolicy: sessionPolicyFor({
      bucket: BUCKET,
      prefix: `tenants/${tenantId}/data`,
      access: 'read' as StorageAccess,
    }),
    identityPolicies: policies,
    tags: { TenantId: tenantId, UserId: userId, Access: 'read' },
    issued,
  });

  it('denies the user’s sessions issued before the revocation, including earlier in the same second', async () => {
    expect(await decide(session(U1, T1, '2026-11-22T10:29:59Z'), probe)).toBe('ExplicitlyDenied');
    expect(await decide(session(U1, T1, '2026-11-22T10:30:00Z'), probe)).toBe('ExplicitlyDenied');
  });

  it('leaves sessions issued after it, other users and the same user in other tenants alone', async () => {
    expect(await decide(session(U1, T1, '2026-11-22T10:30:01Z'), probe)).toBe('Allowed');
    expect(await decide(session(U2, T1, '2026-11-22T10:00:00Z'), probe)).toBe('Allowed');
    const otherTenantProbe = { action: 's3:GetObject', bucket: BUCKET, key: `tenants/${T2}/data/x` };
    expect(await decide(session(U1, T2, '2026-11-22T10:00:00Z'), otherTenantProbe)).toBe('Allowed');
  });

  it('a compacted (tenant-wide) entry denies every user of that tenant, not other tenants', async () => {
    const wide = revocationPolicy([revocationOf({ tenantId: T1, notBefore: '2026-11-22T10:30:01Z' })])!;
    const setup = (tenantId: string, userId: string): SessionSetup => ({
      ...session(userId, tenantId, '2026-11-22T10:00:00Z'),
      identityPolicies: [policies[0]!, { name: 'revocations', policy: wide }],
    });
    expect(await decide(setup(T1, U2), probe)).toBe('ExplicitlyDenied');
    expect(
      await decide(setup(T2, U2), { action: 's3:GetObject', bucket: BUCKET, key: `tenants/${T2}/data/x` }),
    ).toBe('Allowed');
  });
  it('a compacted multi-tenant entry denies exactly its tenants × users', async () => {
    const T3 = 't_01jx0000000000000000000003';
    const merged = revocationPolicy([
      { tenants: [T1, T2], users: [U1, U2], notBefore: '2026-11-22T10:30:01Z' },
    ])!;
    const decideFor = (tenantId: string, userId: string) =>
      decide(
        {
          ...session(userId, tenantId, '2026-11-22T10:00:00Z'),
          identityPolicies: [policies[0]!, { name: 'revocations', policy: merged }],
        },
        { action: 's3:GetObject', bucket: BUCKET, key: `tenants/${tenantId}/data/x` },
      );
    expect(await decideFor(T1, U1)).toBe('ExplicitlyDenied');
    expect(await decideFor(T2, U2)).toBe('ExplicitlyDenied');
    expect(await decideFor(T1, U2)).toBe('ExplicitlyDenied');
    expect(await decideFor(T3, U1)).toBe('Allowed');
    expect(await decideFor(T1, 'u_01jx0000000000000000000003')).toBe('Allowed');
  });
});

describe('storage role trust policy', () => {
  const trust = storageRoleTrustPolicy({ vendingRoleArn: VENDING_ROLE });
  const vendingSession = `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-storage-function/fn`;
  const goodContext = {
    'aws:RequestTag/TenantId': T1,
    'aws:RequestTag/UserId': U1,
    'aws:RequestTag/Access': 'read',
    'sts:SourceIdentity': U1,
    'aws:TagKeys': ['TenantId', 'UserId', 'Access'],
  };

  async function trusts(principal: string, action: string, context: Record<string, string | string[]>) {
    const response = await runSimulation(
      {
        request: {
          principal,
          action,
          resource: { resource: `arn:aws:iam::${ACCOUNT}:role/strongroom-storage`, accountId: ACCOUNT },
          contextVariables: context,
        },
        identityPolicies: [
          {
            name: 'caller',
            policy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }],
            },
          },
        ],
        resourcePolicy: trust,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    if (response.resultType !== 'single') throw new Error(JSON.stringify(response));
    return response.overallResult;
  }

  it('admits the vending function with all tags and a user SourceIdentity', async () => {
    expect(await trusts(vendingSession, 'sts:AssumeRole', goodContext)).toBe('Allowed');
    expect(await trusts(vendingSession, 'sts:TagSession', goodContext)).toBe('Allowed');
    expect(await trusts(vendingSession, 'sts:SetSourceIdentity', goodContext)).toBe('Allowed');
  });

  it('refuses any other principal of the account', async () => {
    const other = `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-tenants-function/fn`;
    expect(await trusts(other, 'sts:AssumeRole', goodContext)).not.toBe('Allowed');
    expect(await trusts(`arn:aws:iam::${ACCOUNT}:root`, 'sts:AssumeRole', goodContext)).not.toBe('Allowed');
  });

  for (const missing of [
    'aws:RequestTag/TenantId',
    'aws:RequestTag/UserId',
    'aws:RequestTag/Access',
    'sts:SourceIdentity',
  ]) {
    it(`refuses an AssumeRole without ${missing}`, async () => {
      const context: Record<string, string | string[]> = { ...goodContext };
      delete context[missing];
      expect(await trusts(vendingSession, 'sts:AssumeRole', context)).not.toBe('Allowed');
    });
  }

  it('refuses malformed tag values and extra tag keys', async () => {
    expect(
      await trusts(vendingSession, 'sts:AssumeRole', { ...goodContext, 'aws:RequestTag/Access': 'admin' }),
    ).not.toBe('Allowed');
    expect(
      await trusts(vendingSession, 'sts:AssumeRole', { ...goodContext, 'aws:RequestTag/TenantId': '*' }),
    ).not.toBe('Allowed');
    expect(
      await trusts(vendingSession, 'sts:TagSession', {
        ...goodContext,
        'aws:TagKeys': ['TenantId', 'UserId', 'Access', 'Admin'],
      }),
    ).not.toBe('Allowed');
  });
});
