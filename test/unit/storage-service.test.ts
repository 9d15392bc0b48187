import { describe, expect, it, vi } from 'vitest';
import { type Role, permissionsOf } from '../../shared/domain/permissions.js';
import type { AuditRecorder } from '../../shared/http/audit-seam.js';
import { type HttpProblemError, TooManyRequestsError } from '../../shared/http/errors.js';
import {
  REVOCATIONS_PER_TENANT_PER_HOUR,
  type StorageCaller,
  StorageService,
} from '../../shared/services/storage.js';
import type { StorageLocationRecord, StorageStore } from '../../shared/store/storage-store.js';
import { ExternalRootUnverifiedError } from '../../shared/store/storage-verifier.js';
import type { StorageCredentialVendor, StorageRevocations } from '../../shared/store/storage-vendor.js';
import { mintTenantScope } from '../../shared/store/tenant-scope.js';

const T = 't_01jx0000000000000000000001';
const U = 'u_01jx0000000000000000000001';
const OWNER = 'u_01jx0000000000000000000009';
const location: StorageLocationRecord = {
  locationId: 'l_01jx0000000000000000000001',
  kind: 'managed',
  root: `s3://platform-storage/tenants/${T}/l_01jx0000000000000000000001`,
  bucket: 'platform-storage',
  prefix: `tenants/${T}/l_01jx0000000000000000000001`,
  region: 'eu-west-1',
  createdAt: '2026-11-22T00:00:00Z',
  createdBy: U,
};

function caller(role: Role): StorageCaller {
  return {
    access: {
      scope: mintTenantScope({ tenantId: T, userId: U }),
      roleCeiling: role,
      permissions: permissionsOf(role),
    },
    principal: { kind: 'session', userId: U, credentialId: 's', mfaEnabled: false },
    ip: '192.0.2.1',
    userAgent: 'test',
  };
}

/** The service with fakes for its ports; every port records what it was asked. */
function setup() {
  const store = {
    getLocation: vi.fn(async () => location),
    allLocations: vi.fn(async () => [location]),
    getExternalId: vi.fn(async () => undefined as string | undefined),
    getOrCreateExternalId: vi.fn(async () => 'strongroom-tenant-id'),
    createExternalLocation: vi.fn(async () => {}),
  };
  const vendor = {
    vend: vi.fn(async () => ({
      credentials: {
        accessKeyId: 'ASIAKEY',
        secretAccessKey: 'SECRET',
        sessionToken: 'TOKEN',
        expiration: '2026-11-22T12:15:00.000Z',
      },
      cached: false,
    })),
    dropUser: vi.fn(),
    dropLocation: vi.fn(),
  };
  const revocations = {
    revokedBefore: vi.fn(async () => undefined),
    revoke: vi.fn(async () => ({ notBefore: '2026-11-22T12:00:01Z' })),
  };
  const audit = {
    record: vi.fn(async () => {}),
    auditPut: vi.fn(() => ({ Put: { TableName: 'audit', Item: {} } })),
  };
  const rateLimiter = { consume: vi.fn(async () => {}) };
  const verifier = { verify: vi.fn(async () => {}) };
  const service = new StorageService({
    store: store as unknown as StorageStore,
    vendor: vendor as unknown as StorageCredentialVendor,
    revocations: revocations as unknown as StorageRevocations,
    audit: audit as unknown as AuditRecorder,
    managedBucket: 'platform-storage',
    reservedBuckets: ['platform-storage', 'platform-exports'],
    platformAccountId: '123456789012',
    region: 'eu-west-1',
    rateLimiter,
    verifier,
    memberRole: async (_t, userId) => (userId === OWNER ? 'owner' : 'editor'),
  });
  return { service, store, vendor, revocations, audit, rateLimiter, verifier };
}

const status = (error: unknown) => (error as HttpProblemError).status;

describe('StorageService.vend', () => {
  it('a viewer asking for write is 403 before anything is read, vended or audited', async () => {
    const { service, store, vendor, audit } = setup();
    const error = await service
      .vend(caller('viewer'), { location: location.locationId, access: 'write', durationSeconds: 900 })
      .catch((e) => e);
    expect(status(error)).toBe(403);
    expect(store.getLocation).not.toHaveBeenCalled();
    expect(vendor.vend).not.toHaveBeenCalled();
    expect(audit.record).not.toHaveBeenCalled();
  });

  it('passes the revocation cutoff to the vendor and audits the key id, never the secret', async () => {
    const { service, vendor, revocations, audit } = setup();
    revocations.revokedBefore.mockResolvedValueOnce('2026-11-22T11:00:00Z' as never);
    const result = await service.vend(caller('editor'), {
      location: location.locationId,
      access: 'write',
      durationSeconds: 1800,
    });
    expect(result).toMatchObject({
      accessKeyId: 'ASIAKEY',
      bucket: 'platform-storage',
      prefix: location.prefix,
      access: 'write',
    });
    expect(vendor.vend).toHaveBeenCalledWith(
      expect.objectContaining({
        tenantId: T,
        userId: U,
        revokedBefore: '2026-11-22T11:00:00Z',
        durationSeconds: 1800,
      }),
    );
    const event = (audit.record.mock.calls[0] as unknown[])[1] as {
      action: string;
      details: Record<string, unknown>;
    };
    expect(event.action).toBe('storage-credentials.vended');
    expect(event.details).toMatchObject({
      accessKeyId: 'ASIAKEY',
      access: 'write',
      durationSeconds: 1800,
      locationId: location.locationId,
    });
    expect(JSON.stringify(event)).not.toContain('SECRET');
    expect(JSON.stringify(event)).not.toContain('TOKEN');
  });

  it('when the audit cannot be written, no credentials are returned', async () => {
    const { service, audit } = setup();
    audit.record.mockRejectedValueOnce(
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
    );
    await expect(
      service.vend(caller('viewer'), { location: location.locationId, access: 'read', durationSeconds: 900 }),
    ).rejects.toThrow('throttled');
  });

  it('an s3:// path outside every location of the tenant is 404', async () => {
    const { service, vendor } = setup();
    const error = await service
      .vend(caller('viewer'), {
        location: 's3://platform-storage/tenants/t_other/x',
        access: 'read',
        durationSeconds: 900,
      })
      .catch((e) => e);
    expect(status(error)).toBe(404);
    expect(vendor.vend).not.toHaveBeenCalled();
  });
});

describe('StorageService.revoke', () => {
  it('is rate limited per tenant; a 429 revokes nothing', async () => {
    const { service, rateLimiter, revocations } = setup();
    rateLimiter.consume.mockRejectedValueOnce(new TooManyRequestsError(60));
    const error = await service.revoke(caller('admin'), 'u_01jx0000000000000000000002').catch((e) => e);
    expect(status(error)).toBe(429);
    expect(rateLimiter.consume).toHaveBeenCalledWith(
      'storage-revocations',
      T,
      REVOCATIONS_PER_TENANT_PER_HOUR,
      3600,
    );
    expect(revocations.revoke).not.toHaveBeenCalled();
  });

  it("an admin cannot revoke an owner's credentials (403); an owner can", async () => {
    const { service, revocations, vendor, audit } = setup();
    expect(status(await service.revoke(caller('admin'), OWNER).catch((e) => e))).toBe(403);
    expect(revocations.revoke).not.toHaveBeenCalled();
    await service.revoke(caller('owner'), OWNER);
    expect(revocations.revoke).toHaveBeenCalledWith(T, OWNER);
    expect(vendor.dropUser).toHaveBeenCalledWith(T, OWNER);
    expect(audit.record).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({
        action: 'storage-credentials.revoked',
        details: { userId: OWNER, revokedBefore: '2026-11-22T12:00:01Z' },
      }),
    );
  });
});

describe('StorageService.registerLocation', () => {
  it.each([
    [{ root: 's3://platform-storage/tenants/x', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [{ root: 's3://platform-exports', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [{ root: 's3://lake/a//b', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [
      { root: 's3://lake/data', roleArn: 'arn:aws:iam::123456789012:role/strongroom-storage' },
      'body.roleArn',
    ],
  ])('refuses %j with 400 naming %s and writes nothing', async (body, path) => {
    const { service, store } = setup();
    const error = await service.registerLocation(caller('admin'), body).catch((e) => e);
    expect(status(error)).toBe(400);
    expect((error as HttpProblemError).errors?.[0]?.path).toBe(path);
    expect(store.createExternalLocation).not.toHaveBeenCalled();
    expect(store.getOrCreateExternalId).not.toHaveBeenCalled();
  });

  it('verifies the root with the tenant ExternalId before writing anything', async () => {
    const { service, store, verifier } = setup();
    const view = await service.registerLocation(caller('admin'), {
      root: 's3://lake/data/',
      roleArn: 'arn:aws:iam::210987654321:role/r',
    });
    expect(view).toMatchObject({
      root: 's3://lake/data',
      externalId: 'strongroom-tenant-id',
      roleArn: 'arn:aws:iam::210987654321:role/r',
    });
    expect(verifier.verify).toHaveBeenCalledWith({
      tenantId: T,
      userId: U,
      root: { bucket: 'lake', prefix: 'data' },
      roleArn: 'arn:aws:iam::210987654321:role/r',
      externalId: 'strongroom-tenant-id',
      region: 'eu-west-1',
    });
    expect((store.createExternalLocation.mock.calls[0] as unknown[])[3]).toMatchObject({
      value: 'strongroom-tenant-id',
      isNew: false,
    });
  });

  it('a root the role cannot reach is refused and nothing is registered', async () => {
    const { service, store, verifier } = setup();
    verifier.verify.mockRejectedValueOnce(
      new ExternalRootUnverifiedError('cannot list', new Error('AccessDenied')),
    );
    const error = await service
      .registerLocation(caller('admin'), {
        root: 's3://someone-elses/data',
        roleArn: 'arn:aws:iam::210987654321:role/r',
      })
      .catch((e) => e);
    expect(status(error)).toBe(424);
    expect(store.createExternalLocation).not.toHaveBeenCalled();
  });
});
