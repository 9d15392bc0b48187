import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_CREDENTIAL_SECONDS,
  PolicyTooLargeError,
  REVOCATION_POLICY_MAX_CHARS,
  addRevocation,
  packedSessionPolicy,
  pruneRevocations,
  type RevocationEntry,
  revocationCutoff,
  revocationOf,
  revocationPolicy,
  kmsKeyRegion,
  revokedBefore,
  sessionPolicyFor,
  storageRolePolicy,
} from '../../shared/domain/storage-policy.js';
import {
  MAX_PREFIX_LENGTH,
  StorageRootError,
  ancestorPrefixes,
  bucketNameProblem,
  formatStorageRoot,
  managedRoot,
  narrowestContainingRoot,
  parseStorageRoot,
  rootContains,
  rootsOverlap,
} from '../../shared/domain/storage-roots.js';

describe('parseStorageRoot', () => {
  it.each([
    ['s3://my-bucket/data', 'my-bucket', 'data'],
    ['s3://my-bucket/data/', 'my-bucket', 'data'],
    ['s3://my-bucket/a/b=1/c', 'my-bucket', 'a/b=1/c'],
    ['s3://my-bucket', 'my-bucket', ''],
    ['s3://my-bucket/', 'my-bucket', ''],
    ['s3://my.bucket.example/x', 'my.bucket.example', 'x'],
  ])('%s → %s / %s', (uri, bucket, prefix) => {
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
    expect(() => parseStorageRoot(uri)).toThrow(StorageRootError);
    expect(() => parseStorageRoot(uri)).toThrow(message);
  });

  it('formats back to the canonical form', () => {
    expect(formatStorageRoot(parseStorageRoot('s3://b-1/x/y/'))).toBe('s3://b-1/x/y');
    expect(formatStorageRoot(parseStorageRoot('s3://b-1'))).toBe('s3://b-1');
  });

  it('every accepted root is a fixed point of parse ∘ format', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._\-=]{1,8}$/).filter((s) => s !== '.' && s !== '..');
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
    expect(bucketNameProblem('strongroom-prod-storage')).toBeUndefined();
  });
});

describe('containment', () => {
  const r = (uri: string) => parseStorageRoot(uri);

  it('respects the / boundary: data2 is not inside data', () => {
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data2'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/data'), r('s3://bk1/data2'))).toBe(false);
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data/x'))).toBe(true);
    expect(rootContains(r('s3://bk1/data'), r('s3://bk1/data'))).toBe(true);
    expect(rootContains(r('s3://bk1/data/x'), r('s3://bk1/data'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/data/x'), r('s3://bk1/data'))).toBe(true);
  });

  it('a whole bucket contains everything in it and nothing elsewhere', () => {
    expect(rootContains(r('s3://bk1'), r('s3://bk1/a/b'))).toBe(true);
    expect(rootContains(r('s3://bk1'), r('s3://bk10/a'))).toBe(false);
    expect(rootsOverlap(r('s3://bk1/a'), r('s3://bk2/a'))).toBe(false);
  });

  it('lists proper ancestors shortest first', () => {
    expect(ancestorPrefixes(r('s3://bk1/data/x/y'))).toEqual(['', 'data', 'data/x']);
    expect(ancestorPrefixes(r('s3://bk1/data'))).toEqual(['']);
    expect(ancestorPrefixes(r('s3://bk1'))).toEqual([]);
  });

  it('finds the narrowest registered root containing a path', () => {
    const roots = [
      { id: 'l1', ...r('s3://bk1/data') },
      { id: 'l2', ...r('s3://bk1/data/deep') },
      { id: 'l3', ...r('s3://bk1/data2') },
    ];
    expect(narrowestContainingRoot(r('s3://bk1/data/deep/file'), roots)?.id).toBe('l2');
    expect(narrowestContainingRoot(r('s3://bk1/data/deeper'), roots)?.id).toBe('l1');
    expect(narrowestContainingRoot(r('s3://bk1/data2/x'), roots)?.id).toBe('l3');
    expect(narrowestContainingRoot(r('s3://bk1/dat'), roots)).toBeUndefined();
    expect(narrowestContainingRoot(r('s3://bk2/data'), roots)).toBeUndefined();
  });

  it('overlap is exactly "one is an ancestor-or-self of the other" (property)', () => {
    const seg = fc.constantFrom('a', 'b', 'a2', 'ab');
    const root = fc.array(seg, { maxLength: 4 }).map((s) => ({ bucket: 'bkt', prefix: s.join('/') }));
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

/** A storage key ARN in the longest-named commercial region. */
const LONG_KEY = 'arn:aws:kms:ap-southeast-3:123456789012:key/mrk-0123456789abcdef0123456789abcdef';

describe('storage key statement', () => {
  it('takes the ViaService region from the key ARN and refuses anything but a key ARN', () => {
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
      expect(() => storageRolePolicy({ bucketArn: 'arn:aws:s3:::b', storageKeyArn: notAKey })).toThrow(
        TypeError,
      );
    }
  });

  it('read sessions get Decrypt, write sessions Decrypt and GenerateDataKey, without a key none', () => {
    const kms = (access: 'read' | 'write', kmsKeyArn?: string) =>
      sessionPolicyFor({ bucket: 'b', prefix: 'p', access, ...(kmsKeyArn ? { kmsKeyArn } : {}) })
        .Statement.filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')))
        .map((s) => [s.Action].flat());
    expect(kms('read', LONG_KEY)).toEqual([['kms:Decrypt']]);
    expect(kms('write', LONG_KEY)).toEqual([['kms:Decrypt', 'kms:GenerateDataKey']]);
    expect(kms('read')).toEqual([]);
    expect(kms('write')).toEqual([]);
  });
});

describe('session policy size', () => {
  it('the largest accepted root fits STS with room to spare', () => {
    const text = packedSessionPolicy(
      sessionPolicyFor({ bucket: 'b'.repeat(63), prefix: 'p'.repeat(MAX_PREFIX_LENGTH), access: 'write' }),
    );
    expect(text.length).toBeLessThan(2048);
  });

  it('a managed write policy with the storage key fits STS for the longest bucket name and ids', () => {
    const root = managedRoot('b'.repeat(63), `t_${'0'.repeat(26)}`, `l_${'0'.repeat(26)}`);
    const text = packedSessionPolicy(sessionPolicyFor({ ...root, access: 'write', kmsKeyArn: LONG_KEY }));
    expect(text).toContain('"kms:ViaService":"s3.ap-southeast-3.amazonaws.com"');
    expect(text.length).toBeLessThan(2048);
  });

  it('the storage role policy and a full revocation policy fit IAM’s 10,240 characters per role together', () => {
    const bucketArn = `arn:aws:s3:::${'b'.repeat(63)}`;
    const rolePolicy = JSON.stringify(storageRolePolicy({ bucketArn, storageKeyArn: LONG_KEY }));
    expect(rolePolicy.length + REVOCATION_POLICY_MAX_CHARS).toBeLessThanOrEqual(10_240);
    // It is also the permissions boundary, a managed policy: at most 6,144 characters.
    expect(rolePolicy.length).toBeLessThanOrEqual(6_144);
  });

  it('a policy over 2048 characters fails closed', () => {
    const policy = sessionPolicyFor({ bucket: 'bucket', prefix: 'p'.repeat(1200), access: 'write' });
    expect(() => packedSessionPolicy(policy)).toThrow(PolicyTooLargeError);
  });

  it('refuses an unnormalised prefix', () => {
    expect(() => sessionPolicyFor({ bucket: 'b', prefix: 'data/', access: 'read' })).toThrow(TypeError);
    expect(() => sessionPolicyFor({ bucket: 'b', prefix: 'da*ta', access: 'read' })).toThrow(TypeError);
  });
});

describe('revocation list', () => {
  const T1 = 't_01jx0000000000000000000001';
  const T2 = 't_01jx0000000000000000000002';
  const now = Date.parse('2026-11-22T10:30:00.250Z');

  it('cutoffs round up to the next second', () => {
    expect(revocationCutoff(now)).toBe('2026-11-22T10:30:01Z');
    expect(revocationCutoff(Date.parse('2026-11-22T10:30:00.000Z'))).toBe('2026-11-22T10:30:01Z');
  });

  it('keeps one entry per user with the latest cutoff and prunes expired ones', () => {
    const old = revocationOf({
      tenantId: T1,
      userId: 'u_old',
      notBefore: new Date(now - (MAX_CREDENTIAL_SECONDS + 61) * 1000).toISOString(),
    });
    const recent = revocationOf({ tenantId: T1, userId: 'u_a', notBefore: '2026-11-22T10:00:00Z' });
    const entries = addRevocation(
      [old, recent],
      revocationOf({ tenantId: T1, userId: 'u_a', notBefore: '2026-11-22T10:30:01Z' }),
      now,
    );
    expect(entries).toEqual([{ tenants: [T1], users: ['u_a'], notBefore: '2026-11-22T10:30:01Z' }]);
    expect(pruneRevocations([old], now)).toEqual([]);
  });

  /** n revocations, each of a different user in tenant `tenantOf(i)`, one second apart. */
  function revokeMany(n: number, tenantOf: (i: number) => string) {
    let entries: RevocationEntry[] = [];
    const revoked: { tenantId: string; userId: string; cutoff: string }[] = [];
    for (let i = 0; i < n; i++) {
      const tenantId = tenantOf(i);
      const userId = `u_${String(i).padStart(26, '0')}`;
      const cutoff = revocationCutoff(now + i * 1000);
      entries = addRevocation(entries, revocationOf({ tenantId, userId, notBefore: cutoff }), now + i * 1000);
      revoked.push({ tenantId, userId, cutoff });
    }
    return { entries, revoked };
  }

  const coversAll = (
    entries: RevocationEntry[],
    revoked: { tenantId: string; userId: string; cutoff: string }[],
  ) => {
    expect(JSON.stringify(revocationPolicy(entries)).length).toBeLessThanOrEqual(REVOCATION_POLICY_MAX_CHARS);
    for (const r of revoked) expect(revokedBefore(entries, r.tenantId, r.userId)! >= r.cutoff).toBe(true);
  };

  it('compacts users of one tenant into the tenant first', () => {
    const { entries, revoked } = revokeMany(60, (i) => (i % 2 ? T1 : T2));
    coversAll(entries, revoked);
    expect(entries.every((e) => e.tenants !== undefined)).toBe(true);
    // An unrelated tenant is untouched.
    expect(revokedBefore(entries, 't_01jx0000000000000000000009', 'u_x')).toBeUndefined();
  });

  it('with one user per tenant, merges neighbours in time and keeps unrelated tenants untouched', () => {
    const tenant = (i: number) => `t_01jx${String(i).padStart(22, '0')}`;
    const { entries, revoked } = revokeMany(100, tenant);
    coversAll(entries, revoked);
    expect(entries.some((e) => e.tenants === undefined)).toBe(false);
    expect(revokedBefore(entries, 't_01jx9999999999999999999999', revoked[0]!.userId)).toBeUndefined();
  });

  it('falls back to denying everything issued before the latest cutoff only when nothing else fits', () => {
    const tenant = (i: number) => `t_01jx${String(i).padStart(22, '0')}`;
    const { entries, revoked } = revokeMany(400, tenant);
    coversAll(entries, revoked);
  });

  it('revokedBefore applies tenant, user and global entries', () => {
    const entries: RevocationEntry[] = [
      revocationOf({ tenantId: T1, userId: 'u_a', notBefore: '2026-01-01T00:00:02Z' }),
      revocationOf({ tenantId: T1, notBefore: '2026-01-01T00:00:01Z' }),
      { tenants: [T2, 't_x'], users: ['u_c', 'u_d'], notBefore: '2026-01-01T00:00:04Z' },
    ];
    expect(revokedBefore(entries, T1, 'u_a')).toBe('2026-01-01T00:00:02Z');
    expect(revokedBefore(entries, T1, 'u_b')).toBe('2026-01-01T00:00:01Z');
    expect(revokedBefore(entries, 't_other', 'u_a')).toBeUndefined();
    expect(revokedBefore(entries, 't_x', 'u_c')).toBe('2026-01-01T00:00:04Z');
    expect(revokedBefore(entries, 't_x', 'u_a')).toBeUndefined();
    expect(revokedBefore([{ notBefore: '2026-01-01T00:00:03Z' }], 't_other', 'u_a')).toBe(
      '2026-01-01T00:00:03Z',
    );
    expect(revocationPolicy([])).toBeUndefined();
  });
});
