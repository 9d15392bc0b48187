import { describe, expect, it, vi } from 'vitest';
import { permissionsOf, type Role } from '../../../shared/domain/permissions.js';
import { STORAGE_VALIDATION_CHECKS } from '../../../shared/domain/storage-validation.js';
import { ServiceUnavailableError } from '../../../shared/errors.js';
import { StorageSelfTest } from '../../../shared/services/storage-self-test.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import type { ProbeOutcome, StorageProbeSession } from '../../../shared/store/storage-probe.js';
import type { StorageLocationRecord, StorageStore } from '../../../shared/store/storage-store.js';
import type { StorageCredentialVendor } from '../../../shared/store/storage-vendor.js';
import type { TenantStorageAccess } from '../../../shared/store/tenant-storage-access.js';
import type { MemberRecord } from '../../../shared/store/tenant-store.js';
import { SELF_TEST_WITHOUT_IAM } from '../../support/storage-self-test.js';
import { tenantCallerAs } from '../../support/tenant-callers.js';

const T = 't_01jx0000000000000000000001';
const U = 'u_01jx0000000000000000000001';
const KEY = 'arn:aws:kms:eu-west-1:210987654321:key/0b7c2f7e-0000-4000-8000-0000000000c1';
const TENANT_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-0000000000a1';
const external: StorageLocationRecord = {
  locationId: 'l_01jx0000000000000000000001',
  kind: 'external',
  root: 's3://customer-lake/data',
  bucket: 'customer-lake',
  prefix: 'data',
  region: 'eu-west-1',
  roleArn: 'arn:aws:iam::210987654321:role/strongroom',
  kmsKeyArn: KEY,
  createdAt: '2026-11-22T00:00:00Z',
  createdBy: U,
};

const caller = (role: Role) =>
  tenantCallerAs({ tenantId: T, userId: U, role, credentialId: 's', ip: '192.0.2.1' });

interface S3Object {
  body: string;
  sse?: string;
  keyId?: string;
}

/**
 * An S3 that decides like AWS would with Strongroom's session policies: a session reaches only keys under
 * `prefix/`, lists only with the trailing slash, and writes only if it is a write session. `leak` widens it
 * the way a broken policy would.
 */
function fakeS3(options: { leak?: 'outside' | 'sibling' | 'read-writes' | 'list'; failList?: boolean } = {}) {
  const objects = new Map<string, S3Object>();
  const deletes: string[] = [];
  const puts: { key: string; sse?: { type: string; keyArn: string; bucketKeyEnabled?: boolean } }[] = [];
  const inScope = (key: string) => key.startsWith('data/');
  const session = (access: 'read' | 'write'): StorageProbeSession => {
    const deny = (): ProbeOutcome<never> => ({ outcome: 'denied', error: 'AccessDenied' });
    return {
      list: async (_bucket: string, prefix: string) => {
        if (options.failList) return { outcome: 'failed', error: 'NoSuchBucket' };
        return prefix === 'data/' || options.leak === 'list'
          ? { outcome: 'allowed', value: undefined }
          : deny();
      },
      put: async (
        _bucket: string,
        key: string,
        body: string,
        sse?: { type: string; keyArn: string; bucketKeyEnabled?: boolean },
      ) => {
        puts.push({ key, ...(sse ? { sse } : {}) });
        const writes =
          access === 'write' || options.leak === 'read-writes'
            ? inScope(key) ||
              (options.leak === 'outside' && key.startsWith('strongroom-validation-outside/')) ||
              (options.leak === 'sibling' && key.startsWith('data-'))
            : false;
        if (!writes) return deny();
        objects.set(key, { body, sse: sse ? 'aws:kms' : 'AES256', ...(sse ? { keyId: sse.keyArn } : {}) });
        return { outcome: 'allowed', value: undefined };
      },
      get: async (_bucket: string, key: string) => {
        const object = objects.get(key);
        if (!inScope(key) || !object) return deny();
        return {
          outcome: 'allowed',
          value: {
            body: object.body,
            ...(object.sse ? { serverSideEncryption: object.sse } : {}),
            ...(object.keyId ? { kmsKeyId: object.keyId } : {}),
          },
        };
      },
      delete: async (_bucket: string, key: string) => {
        deletes.push(key);
        objects.delete(key);
        return { outcome: 'allowed', value: undefined };
      },
      close: () => {},
    } as unknown as StorageProbeSession;
  };
  const probes = vi.fn((credentials: { accessKeyId: string }) =>
    session(credentials.accessKeyId === 'ASIAWRITE' ? 'write' : 'read'),
  );
  return { probes, objects, deletes, puts };
}

function setup(
  options: {
    location?: StorageLocationRecord;
    enforcesIam?: boolean;
    vend?: (access: string) => unknown;
  } = {},
  s3 = fakeS3(),
) {
  const location = options.location ?? external;
  const vendor = {
    vend: vi.fn(async (request: { access: 'read' | 'write' }) => {
      const refusal = options.vend?.(request.access);
      if (refusal) throw refusal;
      return {
        credentials: {
          accessKeyId: request.access === 'write' ? 'ASIAWRITE' : 'ASIAREAD',
          secretAccessKey: 'SECRET',
          sessionToken: 'TOKEN',
          expiration: '2026-11-22T12:15:00.000Z',
        },
        cached: false,
        vendId: request.access === 'write' ? 'v_00000000w' : 'v_00000000r',
      };
    }),
    drop: vi.fn(),
  };
  const audit = { record: vi.fn(async () => {}), auditPut: vi.fn() };
  const selfTest = new StorageSelfTest({
    store: {
      getLocation: vi.fn(async (_s: unknown, id: string) =>
        id === location.locationId ? location : undefined,
      ),
      getExternalId: vi.fn(async () => 'strongroom-ext'),
    } as unknown as StorageStore,
    vendor: vendor as unknown as StorageCredentialVendor,
    access: {
      state: vi.fn(async () => ({ version: 1, entries: [] })),
      ensureRole: vi.fn(async () => ({ arn: 'arn:aws:iam::123456789012:role/r', createdAt: 0 })),
    } as unknown as TenantStorageAccess,
    tenantKeys: { keyArnFor: vi.fn(async () => TENANT_KEY) },
    audit: audit as unknown as AuditRecorder,
    managedBucket: 'platform-storage',
    reservedBuckets: ['platform-storage'],
    region: 'eu-west-1',
    members: { getMember: vi.fn(async () => ({ userId: U, role: 'owner' }) as MemberRecord) },
    probes: s3.probes,
    enforcesIam: options.enforcesIam ?? true,
  });
  return { selfTest, vendor, audit, s3 };
}

const statuses = (result: { checks: { name: string; status: string }[] }) =>
  Object.fromEntries(result.checks.map((c) => [c.name, c.status]));

describe('StorageSelfTest.validateLocation', () => {
  it('against an S3 that enforces the policy: every check passes, in order, and the probe object is gone', async () => {
    // Prepare
    const { selfTest, s3, audit } = setup();
    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);
    // Assess
    expect(result.result).toBe('passed');
    expect(result.checks.map((c) => c.name)).toEqual([...STORAGE_VALIDATION_CHECKS]);
    expect(new Set(result.checks.map((c) => c.status))).toEqual(new Set(['pass']));
    expect([...s3.objects.keys()]).toEqual([]);
    expect(audit.record).toHaveBeenLastCalledWith(
      expect.anything(),
      expect.objectContaining({
        action: 'storage-location.validated',
        details: { result: 'passed', checks: result.checks.map(({ name, status }) => ({ name, status })) },
      }),
    );
  });

  it.each([
    ['outside', 'write-outside-prefix-refused', 'strongroom-validation-outside/'],
    ['sibling', 'write-sibling-prefix-refused', 'data-strongroom-validation/'],
    ['read-writes', 'read-session-cannot-write', 'data/.strongroom-validation/'],
  ] as const)(
    'a scope that leaks (%s) fails %s and the stray object is removed',
    async (leak, check, strayPrefix) => {
      // Prepare
      const s3 = fakeS3({ leak });
      const { selfTest } = setup({}, s3);
      // Act
      const result = await selfTest.validateLocation(caller('owner'), external.locationId);
      // Assess: exactly that check fails; nothing is left behind
      expect(result.result).toBe('failed');
      const failed = result.checks.filter((c) => c.status === 'fail');
      expect(failed.map((c) => c.name)).toEqual([check]);
      expect(failed[0]!.detail).toMatch(/was allowed\. Removing the object: allowed\./);
      expect(s3.deletes.some((k) => k.startsWith(strayPrefix))).toBe(true);
      expect([...s3.objects.keys()]).toEqual([]);
    },
  );

  it('a listing without the trailing slash that is allowed fails list-sibling-prefix-refused', async () => {
    // Prepare: S3 lets the listing without the slash through
    const { selfTest } = setup({}, fakeS3({ leak: 'list' }));

    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);

    // Assess
    expect(statuses(result)['list-sibling-prefix-refused']).toBe('fail');
  });

  it('a refusal for another reason than AccessDenied is a failure, not a pass', async () => {
    // Prepare: listing fails for a reason other than AccessDenied
    const { selfTest } = setup({}, fakeS3({ failList: true }));

    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);

    // Assess
    expect(statuses(result)).toMatchObject({
      'read-inside-prefix': 'fail',
      'list-sibling-prefix-refused': 'fail',
    });
  });

  it('a managed location: the probe is written under the tenant’s own key with Bucket Keys off, and kms-key checks that key', async () => {
    // Prepare: a managed location (its prefix as the fake S3 scopes sessions)
    const managed: StorageLocationRecord = {
      ...external,
      kind: 'managed',
      root: 's3://platform-storage/data',
      bucket: 'platform-storage',
      kmsKeyArn: undefined,
      roleArn: undefined,
    };
    const s3 = fakeS3();
    const { selfTest } = setup({ location: managed }, s3);
    // Act
    const result = await selfTest.validateLocation(caller('owner'), managed.locationId);
    // Assess: the write session's probe named the tenant key; kms-key passed for that key
    expect(s3.puts[0]).toEqual({
      key: 'data/.strongroom-validation/' + s3.puts[0]!.key.split('/').pop(),
      sse: { type: 'aws:kms', keyArn: TENANT_KEY, bucketKeyEnabled: false },
    });
    expect(statuses(result)['kms-key']).toBe('pass');
    expect(result.checks.find((c) => c.name === 'kms-key')!.detail).toContain(
      `${TENANT_KEY} (the tenant's own key)`,
    );
  });

  it('a key S3 did not use fails kms-key', async () => {
    // Prepare: the vend's sse hint is lost, so the object lands under the bucket default
    const { selfTest } = setup({
      location: { ...external, kmsKeyArn: undefined, previousKmsKeyArns: [KEY] },
    });
    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);
    // Assess
    expect(statuses(result)['kms-key']).toBe('fail');
    expect(result.checks.find((c) => c.name === 'kms-key')!.detail).toMatch(/AES256/);
  });

  it('an external location without keys: kms-key is not applicable; a whole bucket: nothing outside it to refuse', async () => {
    // Prepare
    const { selfTest } = setup({
      location: { ...external, kmsKeyArn: undefined, prefix: '', root: 's3://customer-lake' },
    });

    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);

    // Assess
    expect(statuses(result)).toMatchObject({
      'kms-key': 'not-applicable',
      'write-outside-prefix-refused': 'not-applicable',
      'write-sibling-prefix-refused': 'not-applicable',
      'list-sibling-prefix-refused': 'not-applicable',
    });
  });

  it('where IAM is not enforced, refusals are not tried and nothing is passed that was not judged', async () => {
    // Prepare: an S3 that would allow everything
    const s3 = fakeS3({ leak: 'outside' });
    const { selfTest } = setup({ enforcesIam: false }, s3);
    // Act
    const result = await selfTest.validateLocation(caller('owner'), external.locationId);
    // Assess
    expect(result.result).toBe('incomplete');
    expect(statuses(result)).toEqual(SELF_TEST_WITHOUT_IAM);
    expect(s3.deletes.filter((k) => !k.startsWith('data/.strongroom-validation/'))).toEqual([]);
  });

  it('credentials refused for the caller: that check fails with the reason, every other is not run', async () => {
    // Prepare: an API key whose scopes stop at read (the service's own 403)
    const { selfTest } = setup();
    const readOnly = caller('owner');
    readOnly.access = { ...readOnly.access, permissions: permissionsOf('viewer') };
    // Act
    const result = await selfTest.validateLocation(readOnly, external.locationId);
    // Assess
    expect(result.result).toBe('failed');
    expect(result.checks[0]).toMatchObject({ name: 'credentials-issued', status: 'fail' });
    expect(result.checks[0]!.detail).toMatch(/storage:write-credentials/);
    expect(result.checks.slice(1).map((c) => c.status)).toEqual(Array(7).fill('not-run'));
  });

  it('a dependency that is down is a 503, not a failed check', async () => {
    // Prepare: STS down
    const { selfTest } = setup({ vend: () => new ServiceUnavailableError(5, 'STS is unavailable') });

    // Act / Assess
    await expect(selfTest.validateLocation(caller('owner'), external.locationId)).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
  });

  it("another tenant's location id is a 404 and nothing is vended", async () => {
    // Prepare
    const { selfTest, vendor, audit } = setup();

    // Act / Assess
    await expect(
      selfTest.validateLocation(caller('owner'), 'l_01jx0000000000000000000099'),
    ).rejects.toMatchObject({ status: 404 });

    // Assess: nothing vended, nothing recorded
    expect(vendor.vend).not.toHaveBeenCalled();
    expect(audit.record).not.toHaveBeenCalled();
  });
});
