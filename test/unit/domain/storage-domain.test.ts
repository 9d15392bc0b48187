import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CREDENTIAL_SECONDS } from '../../../shared/domain/storage-limits.js';
import {
  kmsKeyRegion,
  PolicyTooLargeError,
  packedSessionPolicy,
  sessionPolicyFor,
} from '../../../shared/domain/storage-policy.js';
import {
  addRevocation,
  externalExpiryBound,
  externalNotRevocable,
  managedDenied,
  noneLive,
  pruneRevocations,
  REVOCATION_POLICY_MAX_CHARS,
  type RevocationEntry,
  revocationCutoff,
  revocationOf,
  revocationPolicy,
  revokedBefore,
} from '../../../shared/domain/storage-revocation.js';
import {
  ancestorPrefixes,
  bucketNameProblem,
  formatStorageRoot,
  MAX_PREFIX_LENGTH,
  managedRoot,
  narrowestContainingRoot,
  parseStorageRoot,
  rootContains,
  rootsOverlap,
  StorageRootError,
} from '../../../shared/domain/storage-roots.js';
import {
  ROLE_INLINE_POLICIES_MAX_CHARS,
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRoleName,
  tenantStorageRolePolicy,
  tenantStorageTrustPolicy,
} from '../../../shared/domain/tenant-storage-role.js';

describe('parseStorageRoot', () => {
  it.each([
    ['s3://my-bucket/data', 'my-bucket', 'data'],
    ['s3://my-bucket/data/', 'my-bucket', 'data'],
    ['s3://my-bucket/a/b=1/c', 'my-bucket', 'a/b=1/c'],
    ['s3://my-bucket', 'my-bucket', ''],
    ['s3://my-bucket/', 'my-bucket', ''],
    ['s3://my.bucket.example/x', 'my.bucket.example', 'x'],
  ])('%s → %s / %s', (uri, bucket, prefix) => {
    // Act / Assess
    expect(parseStorageRoot(uri)).toEqual({ bucket, prefix });
  });

  it.each([
    ['https://b/x', 'looks like'],
    ['S3://bucket/x', 'looks like'],
    ['s3://ab/x', '3 to 63'],
    [`s3://${'a'.repeat(64)}/x`, '3 to 63'],
    ['s3://My-Bucket/x', 'lower-case'],
    ['s3://-bucket/x', 'lower-case'],
    ['s3://bucket-/x', 'lower-case'],
    ['s3://my..bucket/x', 'adjacent dots'],
    ['s3://my.-bucket/x', 'dot next to a hyphen'],
    ['s3://192.168.1.1/x', 'IP address'],
    ['s3://xn--bucket/x', 'reserved prefix'],
    ['s3://sthree-bucket/x', 'reserved prefix'],
    ['s3://bucket-s3alias/x', 'reserved suffix'],
    ['s3://bucket--ol-s3/x', 'reserved suffix'],
    ['s3://b_ucket/x', 'lower-case'],
    ['s3://bucket//x', 'start with "/"'],
    ['s3://bucket//', 'start with "/"'],
    ['s3://bucket/a//b', '"//"'],
    ['s3://bucket/a//', '"//"'],
    ['s3://bucket/a/./b', '"." or ".."'],
    ['s3://bucket/a/../b', '"." or ".."'],
    ['s3://bucket/..', '"." or ".."'],
    ['s3://bucket/a/*', 'no *'],
    ['s3://bucket/a?', 'no *'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable smuggled into a prefix.
    ['s3://bucket/${aws:username}', 'no *'],
    ['s3://bucket/a b', 'no *'],
    [`s3://bucket/${'a'.repeat(MAX_PREFIX_LENGTH + 1)}`, 'longer than'],
    [`s3://bucket/${Array(25).fill('a').join('/')}`, 'segments'],
  ])('refuses %s (%s)', (uri, message) => {
    // Act / Assess
    expect(() => parseStorageRoot(uri)).toThrow(StorageRootError);
    expect(() => parseStorageRoot(uri)).toThrow(message);
  });

  it('formats back to the canonical form', () => {
    // Act / Assess
    expect(formatStorageRoot(parseStorageRoot('s3://b-1/x/y/'))).toBe('s3://b-1/x/y');
    expect(formatStorageRoot(parseStorageRoot('s3://b-1'))).toBe('s3://b-1');
  });

  it('every accepted root is a fixed point of parse ∘ format', () => {
    // Prepare: prefixes of up to six segments of allowed characters
    const segment = fc.stringMatching(/^[A-Za-z0-9._\-=]{1,8}$/).filter((s) => s !== '.' && s !== '..');

    // Act / Assess: each parses, formats and parses back to itself, normalised
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const root = parseStorageRoot(`s3://bucket-1/${segments.join('/')}`);
        expect(parseStorageRoot(formatStorageRoot(root))).toEqual(root);
        expect(root.prefix.startsWith('/') || root.prefix.endsWith('/') || root.prefix.includes('//')).toBe(
          false,
        );
      }),
    );
  });

  it('bucketNameProblem accepts ordinary names', () => {
    // Act / Assess
    expect(bucketNameProblem('strongroom-prod-storage')).toBeUndefined();
  });
});

describe('containment', () => {
  const r = (uri: string) => parseStorageRoot(uri);

  it('respects the / boundary: data2 is not inside data', () => {
    // Act / Assess
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data2'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/data'), r('s3://bk1/data2'))).toBe(false);
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data/x'))).toBe(true);
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data'))).toBe(true);
    expect(rootContains(r('s3://bk1/data/x'), r('s3://bk1/data'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/data/x'), r('s3://bk1/data'))).toBe(true);
  });

  it('a whole bucket contains everything in it and nothing elsewhere', () => {
    // Act / Assess
    expect(rootContains(r('s3://bk1'), r('s3://bk1/a/b'))).toBe(true);
    expect(rootContains(r('s3://bk1'), r('s3://bk10/a'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/a'), r('s3://bk2/a'))).toBe(false);
  });

  it('lists proper ancestors shortest first', () => {
    // Act / Assess
    expect(ancestorPrefixes(r('s3://bk1/data/x/y'))).toEqual(['', 'data', 'data/x']);
    expect(ancestorPrefixes(r('s3://bk1/data'))).toEqual(['']);
    expect(ancestorPrefixes(r('s3://bk1'))).toEqual([]);
  });

  it('finds the narrowest registered root containing a path', () => {
    // Prepare: a root, a root inside it, and a sibling that shares its first letters
    const roots = [
      { id: 'l1', ...r('s3://bk1/data') },
      { id: 'l2', ...r('s3://bk1/data/deep') },
      { id: 'l3', ...r('s3://bk1/data2') },
    ];

    // Act / Assess
    expect(narrowestContainingRoot(r('s3://bk1/data/deep/file'), roots)?.id).toBe('l2');
    expect(narrowestContainingRoot(r('s3://bk1/data/deeper'), roots)?.id).toBe('l1');
    expect(narrowestContainingRoot(r('s3://bk1/data2/x'), roots)?.id).toBe('l3');
    expect(narrowestContainingRoot(r('s3://bk1/dat'), roots)).toBeUndefined();
    expect(narrowestContainingRoot(r('s3://bk2/data'), roots)).toBeUndefined();
  });

  it('overlap is exactly "one is an ancestor-or-self of the other" (property)', () => {
    // Prepare: roots of up to four short segments that share prefixes as strings
    const seg = fc.constantFrom('a', 'b', 'a2', 'ab');
    const root = fc.array(seg, { maxLength: 4 }).map((s) => ({ bucket: 'bkt', prefix: s.join('/') }));

    // Act / Assess: overlap and containment agree with the key prefixes each root covers
    fc.assert(
      fc.property(root, root, (x, y) => {
        const keysOf = (p: string) => (p ? `${p}/` : '');
        const shareKeys =
          keysOf(x.prefix).startsWith(keysOf(y.prefix)) || keysOf(y.prefix).startsWith(keysOf(x.prefix));
        expect(rootsOverlap(x, y)).toBe(shareKeys);
        const ancestorOrSelf = [...ancestorPrefixes(y), y.prefix].includes(x.prefix);
        expect(rootContains(x, y)).toBe(ancestorOrSelf);
      }),
    );
  });
});

const T_LONG = `t_${'0'.repeat(26)}`;
/** A storage key ARN in the longest-named commercial region. */
const LONG_KEY = 'arn:aws:kms:ap-southeast-3:123456789012:key/mrk-0123456789abcdef0123456789abcdef';

describe('storage key statement', () => {
  it('takes the ViaService region from the key ARN and refuses anything but a key ARN', () => {
    // Act / Assess
    expect(kmsKeyRegion('arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001')).toBe(
      'eu-west-1',
    );
    for (const notAKey of [
      'arn:aws:kms:eu-west-1:123456789012:alias/strongroom/prod/storage',
      'arn:aws:kms:eu-west-1:123456789012:key/*',
      'arn:aws:kms:*:123456789012:key/abc',
      '0b7c2f7e-0000-4000-8000-000000000001',
      '',
    ]) {
      expect(() => kmsKeyRegion(notAKey), notAKey).toThrow(TypeError);
      expect(() =>
        sessionPolicyFor({ bucket: 'b', prefix: 'p', access: 'read', kmsKeyArn: notAKey }),
      ).toThrow(TypeError);
      expect(() =>
        tenantStorageRolePolicy({ tenantId: T_LONG, bucketArn: 'arn:aws:s3:::b', storageKeyArn: notAKey }),
      ).toThrow(TypeError);
    }
  });

  it('read sessions get Decrypt, write sessions Decrypt and GenerateDataKey, without a key none', () => {
    // Prepare
    const kms = (access: 'read' | 'write', kmsKeyArn?: string) =>
      sessionPolicyFor({ bucket: 'b', prefix: 'p', access, ...(kmsKeyArn ? { kmsKeyArn } : {}) })
        .Statement.filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')))
        .map((s) => [s.Action].flat());

    // Act / Assess
    expect(kms('read', LONG_KEY)).toEqual([['kms:Decrypt']]);
    expect(kms('write', LONG_KEY)).toEqual([['kms:Decrypt', 'kms:GenerateDataKey']]);
    expect(kms('read')).toEqual([]);
    expect(kms('write')).toEqual([]);
  });
});

describe('session policy size', () => {
  it('the largest accepted root fits STS with room to spare', () => {
    // Act
    const text = packedSessionPolicy(
      sessionPolicyFor({ bucket: 'b'.repeat(63), prefix: 'p'.repeat(MAX_PREFIX_LENGTH), access: 'write' }),
    );

    // Assess
    expect(text.length).toBeLessThan(2048);
  });

  it('a managed write policy with the storage key fits STS for the longest bucket name and ids', () => {
    // Prepare
    const root = managedRoot('b'.repeat(63), `t_${'0'.repeat(26)}`, `l_${'0'.repeat(26)}`);

    // Act
    const text = packedSessionPolicy(sessionPolicyFor({ ...root, access: 'write', kmsKeyArn: LONG_KEY }));

    // Assess
    expect(text).toContain('"kms:ViaService":"s3.ap-southeast-3.amazonaws.com"');
    expect(text.length).toBeLessThan(2048);
  });

  it('a tenant role’s grant and a full revocation policy fit IAM’s 10,240 characters per role together', () => {
    // Act: the longest grant
    const bucketArn = `arn:aws:s3:::${'b'.repeat(63)}`;
    const grant = JSON.stringify(
      tenantStorageRolePolicy({ tenantId: T_LONG, bucketArn, storageKeyArn: LONG_KEY }),
    );

    // Assess: it and a full revocation list fit one role
    expect(grant.length).toBeLessThanOrEqual(2048);
    expect(grant.length + REVOCATION_POLICY_MAX_CHARS).toBeLessThanOrEqual(ROLE_INLINE_POLICIES_MAX_CHARS);

    // Act / Assess: the boundary is a managed policy: at most 6,144 characters, for the longest stage and
    // region names.
    const boundary = tenantStorageBoundaryPolicy({
      bucketArn,
      storageKeyArn: LONG_KEY,
      layout: tenantStorageLayout({
        stage: 's'.repeat(32),
        region: 'ap-southeast-3',
        boundaryArn: `arn:aws-us-gov:iam::123456789012:policy/${'p'.repeat(100)}`,
      }),
    });
    expect(JSON.stringify(boundary).length).toBeLessThanOrEqual(6_144);
  });

  it('a policy over 2048 characters fails closed', () => {
    // Prepare
    const policy = sessionPolicyFor({ bucket: 'bucket', prefix: 'p'.repeat(1200), access: 'write' });

    // Act / Assess
    expect(() => packedSessionPolicy(policy)).toThrow(PolicyTooLargeError);
  });

  it('refuses an unnormalised prefix', () => {
    // Act / Assess
    expect(() => sessionPolicyFor({ bucket: 'b', prefix: 'data/', access: 'read' })).toThrow(TypeError);
    expect(() => sessionPolicyFor({ bucket: 'b', prefix: 'da*ta', access: 'read' })).toThrow(TypeError);
  });
});

describe('tenant storage role names and documents', () => {
  const layout = tenantStorageLayout({
    stage: 'prod',
    region: 'eu-west-1',
    boundaryArn: 'arn:aws:iam::123456789012:policy/strongroom-prod-eu-west-1-tenant-storage-boundary',
  });

  it('names the role after the tenant on the deployment’s path, within IAM’s 64 characters', () => {
    // Act / Assess
    expect(tenantStorageRoleArn(layout, T_LONG)).toBe(
      `arn:aws:iam::123456789012:role/strongroom/prod/eu-west-1/tenant-storage/storage-${T_LONG}`,
    );
    expect(tenantStorageRoleName(T_LONG).length).toBeLessThanOrEqual(64);
    for (const bad of ['', 't_*', 'u_01jx0000000000000000000001', `t_${'0'.repeat(25)}/`, '*'])
      expect(() => tenantStorageRoleName(bad), bad).toThrow(TypeError);
  });

  it('refuses a layout from anything but a stage, a region and an IAM policy ARN', () => {
    // Prepare
    const boundaryArn = layout.boundaryArn;

    // Act / Assess
    expect(() => tenantStorageLayout({ stage: 'Prod/x', region: 'eu-west-1', boundaryArn })).toThrow(
      TypeError,
    );
    expect(() => tenantStorageLayout({ stage: 'prod', region: 'eu/west', boundaryArn })).toThrow(TypeError);
    expect(() =>
      tenantStorageLayout({ stage: 'prod', region: 'eu-west-1', boundaryArn: 'arn:aws:iam::1:role/x' }),
    ).toThrow(TypeError);
    expect(
      tenantStorageLayout({
        stage: 'prod',
        region: 'cn-north-1',
        boundaryArn: boundaryArn.replace('aws', 'aws-cn'),
      }).partition,
    ).toBe('aws-cn');
  });

  it('pins the trust policy to the tenant and the role’s grant to its prefix, by literal id', () => {
    // Act
    const trust = JSON.stringify(tenantStorageTrustPolicy({ layout, tenantId: T_LONG }));

    // Assess: the tenant and the vending roles in the trust, the tenant's prefix in the grant, no tag variable
    expect(trust).toContain(`"aws:RequestTag/TenantId":"${T_LONG}"`);
    expect(trust).toContain('arn:aws:iam::123456789012:role/strongroom/prod/eu-west-1/storage-vending/*');
    const grant = JSON.stringify(
      tenantStorageRolePolicy({ tenantId: T_LONG, bucketArn: 'arn:aws:s3:::b', storageKeyArn: LONG_KEY }),
    );
    expect(grant).toContain(`arn:aws:s3:::b/tenants/${T_LONG}/*`);
    expect(grant).not.toContain('PrincipalTag/TenantId}');

    // Act / Assess
    expect(() => tenantStorageTrustPolicy({ layout, tenantId: 't_*' })).toThrow(TypeError);
  });
});

describe('revocation list (one tenant)', () => {
  const now = Date.parse('2026-11-22T10:30:00.250Z');

  it('cutoffs round up to the next second', () => {
    // Act / Assess
    expect(revocationCutoff(now)).toBe('2026-11-22T10:30:01Z');
    expect(revocationCutoff(Date.parse('2026-11-22T10:30:00.000Z'))).toBe('2026-11-22T10:30:01Z');
  });

  it('keeps one entry per user or location with the latest cutoff and prunes expired ones', () => {
    // Prepare: an expired entry, a user's and a location of the same id
    const old = revocationOf({
      userId: 'u_old',
      notBefore: new Date(now - (MAX_CREDENTIAL_SECONDS + 61) * 1000).toISOString(),
    });
    const recent = revocationOf({ userId: 'u_a', notBefore: '2026-11-22T10:00:00Z' });
    const location = revocationOf({ locationId: 'u_a', notBefore: '2026-11-22T10:00:00Z' });

    // Act: the user revoked again
    const entries = addRevocation(
      [old, recent, location],
      revocationOf({ userId: 'u_a', notBefore: '2026-11-22T10:30:01Z' }),
      now,
    );

    // Assess
    // A location named like a user is a different subject.
    expect(entries).toEqual([
      { locations: ['u_a'], notBefore: '2026-11-22T10:00:00Z' },
      { users: ['u_a'], notBefore: '2026-11-22T10:30:01Z' },
    ]);
    expect(pruneRevocations([old], now)).toEqual([]);
    expect(() => revocationOf({ userId: 'u', locationId: 'l', notBefore: 'x' })).toThrow(TypeError);
  });

  /** n revocations of different users, one second apart. */
  function revokeMany(n: number) {
    let entries: RevocationEntry[] = [];
    const revoked: { userId: string; cutoff: string }[] = [];
    for (let i = 0; i < n; i++) {
      const userId = `u_${String(i).padStart(26, '0')}`;
      const cutoff = revocationCutoff(now + i * 1000);
      entries = addRevocation(entries, revocationOf({ userId, notBefore: cutoff }), now + i * 1000);
      revoked.push({ userId, cutoff });
    }
    return { entries, revoked };
  }

  const coversAll = (entries: RevocationEntry[], revoked: { userId: string; cutoff: string }[]) => {
    expect(JSON.stringify(revocationPolicy(entries)).length).toBeLessThanOrEqual(REVOCATION_POLICY_MAX_CHARS);
    for (const r of revoked) expect(revokedBefore(entries, { userId: r.userId })! >= r.cutoff).toBe(true);
  };

  it('merges users with neighbouring cutoffs first, never denying a user nobody revoked', () => {
    // Act
    const { entries, revoked } = revokeMany(120);

    // Assess
    coversAll(entries, revoked);
    expect(entries.every((e) => e.users !== undefined)).toBe(true);
    expect(revokedBefore(entries, { userId: 'u_somebody_else' })).toBeUndefined();
  });

  it('falls back to every session of the tenant before the latest cutoff only past a few hundred users', () => {
    // Act
    const { entries, revoked } = revokeMany(600);

    // Assess
    coversAll(entries, revoked);
    // Revocations after the fall-back start a fresh list beside the tenant-wide entry.
    expect(entries.filter((e) => !e.users && !e.locations)).toHaveLength(1);
  });

  it('revokedBefore applies user, location and tenant-wide entries', () => {
    // Prepare
    const entries: RevocationEntry[] = [
      revocationOf({ userId: 'u_a', notBefore: '2026-01-01T00:00:02Z' }),
      revocationOf({ locationId: 'l_x', notBefore: '2026-01-01T00:00:05Z' }),
      { users: ['u_c', 'u_d'], notBefore: '2026-01-01T00:00:04Z' },
    ];

    // Act / Assess
    expect(revokedBefore(entries, { userId: 'u_a' })).toBe('2026-01-01T00:00:02Z');
    expect(revokedBefore(entries, { userId: 'u_a', locationId: 'l_x' })).toBe('2026-01-01T00:00:05Z');
    expect(revokedBefore(entries, { userId: 'u_b', locationId: 'l_y' })).toBeUndefined();
    expect(revokedBefore(entries, { userId: 'u_d' })).toBe('2026-01-01T00:00:04Z');
    expect(revokedBefore([...entries, { notBefore: '2026-01-01T00:00:03Z' }], { userId: 'u_b' })).toBe(
      '2026-01-01T00:00:03Z',
    );
    expect(revocationPolicy([])).toBeUndefined();
  });

  it('deny statements name the user or location tag and the issue time, never the tenant (the role is the tenant’s)', () => {
    // Act
    const policy = revocationPolicy([
      revocationOf({ userId: 'u_a', notBefore: '2026-01-01T00:00:02Z' }),
      revocationOf({ locationId: 'l_x', notBefore: '2026-01-01T00:00:03Z' }),
      revocationOf({ notBefore: '2026-01-01T00:00:04Z' }),
    ])!;

    // Assess
    expect(policy.Statement.map((s) => s.Condition)).toEqual([
      {
        StringEquals: { 'aws:PrincipalTag/UserId': 'u_a' },
        DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:02Z' },
      },
      {
        StringEquals: { 'aws:PrincipalTag/LocationId': 'l_x' },
        DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:03Z' },
      },
      { DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:04Z' } },
    ]);
  });
});

describe('what a revocation says per kind of location', () => {
  it('managed: denied, with the cutoff', () => {
    // Act / Assess
    expect(managedDenied('2026-01-01T00:00:02Z', 'vended to this user')).toEqual({
      kind: 'managed',
      effect: 'denied',
      issuedBefore: '2026-01-01T00:00:02Z',
      detail:
        "Every managed-location credential vended to this user issued before 2026-01-01T00:00:02Z is refused by an explicit deny on this tenant's own storage role; AWS applies it within seconds.",
    });
  });

  it('external: not revocable, the time they expire by, and that remote signing is not available yet', () => {
    // Act
    const outcome = externalNotRevocable(
      externalExpiryBound('2026-01-01T00:00:02Z'),
      'vended for this location',
    );

    // Assess
    expect(outcome).toMatchObject({
      kind: 'external',
      effect: 'not-revocable',
      expireBy: '2026-01-01T00:15:02Z',
    });
    expect(outcome.detail).toContain('cannot deny');
    expect(outcome.detail).toContain('by 2026-01-01T00:15:02Z at the latest');
    expect(outcome.detail).toContain('900 seconds');
    expect(outcome.detail).toContain('Remote signing');
    expect(outcome.detail).toContain('not available yet');

    // Act / Assess
    expect(noneLive('external', 'vended to this user')).toMatchObject({
      kind: 'external',
      effect: 'none-live',
    });
  });
});
