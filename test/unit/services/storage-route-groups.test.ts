import { describe, expect, it, vi } from 'vitest';
import { TenantKeyUnavailableError } from '../../../shared/crypto/envelope.js';
import type { Role } from '../../../shared/domain/permissions.js';
import { externalNotRevocable, managedDenied } from '../../../shared/domain/storage-revocation.js';
import { type HttpProblemError, ServiceUnavailableError } from '../../../shared/errors.js';
import { StorageCredentialRevocation } from '../../../shared/services/storage-credential-revocation.js';
import { StorageCredentials } from '../../../shared/services/storage-credentials.js';
import type { StorageServiceDeps } from '../../../shared/services/storage-deps.js';
import { StorageLocations } from '../../../shared/services/storage-locations.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import type { StorageLocationRecord, StorageStore } from '../../../shared/store/storage-store.js';
import type { StorageCredentialVendor } from '../../../shared/store/storage-vendor.js';
import { ExternalRootUnverifiedError } from '../../../shared/store/storage-verifier.js';
import {
  NoLiveStorageCredentialsError,
  type TenantStorageAccess,
} from '../../../shared/store/tenant-storage-access.js';
import type { MemberRecord } from '../../../shared/store/tenant-store.js';
import { T1 as T, U1 as U } from '../../support/fixed-ids.js';
import { tenantCallerAs } from '../../support/tenant-callers.js';

const OWNER = 'u_01jx0000000000000000000009';
const TENANT_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b7c2f7e-0000-4000-8000-0000000000a1';
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

const caller = (role: Role) =>
  tenantCallerAs({ tenantId: T, userId: U, role, credentialId: 's', ip: '192.0.2.1' });

/** The route groups with fakes for their ports; every port records what it was asked. */
function setup(objects?: { purge: ReturnType<typeof vi.fn> }) {
  const store = {
    getLocation: vi.fn(async () => location),
    allLocations: vi.fn(async () => [location]),
    getExternalId: vi.fn(async () => undefined as string | undefined),
    getOrCreateExternalId: vi.fn(async () => 'strongroom-tenant-id'),
    createExternalLocation: vi.fn(async () => {}),
    createManagedLocation: vi.fn(async () => {}),
    deleteLocation: vi.fn(async () => {}),
    fenceLocation: vi.fn(async () => {}),
    liftLocationFence: vi.fn(async () => {}),
  };
  const members = {
    getMember: vi.fn(
      async (_scope: unknown, userId: string) =>
        ({ userId, role: userId === OWNER ? 'owner' : 'editor' }) as MemberRecord | undefined,
    ),
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
    drop: vi.fn(),
  };
  const role = {
    arn: `arn:aws:iam::123456789012:role/strongroom/prod/eu-west-1/tenant-storage/storage-${T}`,
    createdAt: 0,
  };
  const access = {
    state: vi.fn(async () => ({ version: 1, entries: [] as unknown[], role }) as never),
    ensureRole: vi.fn(async () => role),
    revokeUser: vi.fn(async (_scope: unknown, userId: string) => ({
      userId,
      revokedBefore: '2026-11-22T12:00:01Z',
      credentials: [managedDenied('2026-11-22T12:00:01Z', 'vended to this user')],
    })),
    revokeLocation: vi.fn(async () => ({
      revokedBefore: '2026-11-22T12:00:01Z',
      credentials: [managedDenied('2026-11-22T12:00:01Z', 'vended for this location')],
    })),
  };
  const audit = {
    record: vi.fn(async () => {}),
    auditPut: vi.fn(() => ({ Put: { TableName: 'audit', Item: {} } })),
  };
  const verifier = { verify: vi.fn(async () => {}) };
  const tenantKeys = { keyArnFor: vi.fn(async (_scope: unknown) => TENANT_KEY) };
  const deps: StorageServiceDeps = {
    store: store as unknown as StorageStore,
    vendor: vendor as unknown as StorageCredentialVendor,
    access: access as unknown as TenantStorageAccess,
    tenantKeys,
    audit: audit as unknown as AuditRecorder,
    managedBucket: 'platform-storage',
    reservedBuckets: ['platform-storage', 'platform-exports'],
    platformAccountId: '123456789012',
    region: 'eu-west-1',
    verifier,
    members,
    ...(objects ? { objects } : {}),
  };
  // The route groups under test, each built from one deps object as the storage function builds them
  // (functions/storage/lazy/).
  const credentials = new StorageCredentials(deps);
  const locations = new StorageLocations(deps);
  const revocation = new StorageCredentialRevocation(deps);
  return {
    credentials,
    locations,
    revocation,
    store,
    vendor,
    access,
    audit,
    verifier,
    role,
    members,
    tenantKeys,
  };
}

const status = (error: unknown) => (error as HttpProblemError).status;

describe('StorageCredentials.vend', () => {
  it('a viewer asking for write is 403 before anything is read, vended or audited', async () => {
    // Prepare
    const { credentials, store, vendor, audit } = setup();

    // Act
    const error = await credentials
      .vend(caller('viewer'), { location: location.locationId, access: 'write', durationSeconds: 900 })
      .catch((e) => e);

    // Assess: nothing read, vended or audited
    expect(status(error)).toBe(403);
    expect(store.getLocation).not.toHaveBeenCalled();
    expect(vendor.vend).not.toHaveBeenCalled();
    expect(audit.record).not.toHaveBeenCalled();
  });

  it('passes the tenant role and the revocation cutoff to the vendor and audits the key id, never the secret', async () => {
    // Prepare: a revocation of this user and one of another
    const { credentials, vendor, access, audit, role } = setup();
    access.state.mockResolvedValueOnce({
      version: 2,
      entries: [
        { users: [U], notBefore: '2026-11-22T11:00:00Z' },
        { users: ['u_01jx0000000000000000000002'], notBefore: '2026-11-22T11:30:00Z' },
      ],
      role,
    } as never);

    // Act
    const result = await credentials.vend(caller('editor'), {
      location: location.locationId,
      access: 'write',
      durationSeconds: 1800,
    });

    // Assess: the credentials; the vendor given the role and this user's cutoff; the key id audited, no
    // secret
    expect(result).toMatchObject({
      accessKeyId: 'ASIAKEY',
      bucket: 'platform-storage',
      prefix: location.prefix,
      access: 'write',
    });
    expect(vendor.vend).toHaveBeenCalledWith(
      expect.objectContaining({
        scope: caller('editor').access.scope,
        role,
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

  it('a managed vend names the tenant’s own key: to the vendor (the session demands it) and in the sse hint, Bucket Keys off', async () => {
    // Prepare
    const { credentials, vendor, tenantKeys } = setup();

    // Act
    const result = await credentials.vend(caller('editor'), {
      location: location.locationId,
      access: 'write',
      durationSeconds: 900,
    });

    // Assess: looked up for this tenant, passed to the vendor, told to the client
    expect(tenantKeys.keyArnFor).toHaveBeenCalledWith(caller('editor').access.scope);
    expect(vendor.vend).toHaveBeenCalledWith(expect.objectContaining({ tenantKeyArn: TENANT_KEY }));
    expect(result.sse).toEqual({ type: 'aws:kms', keyArn: TENANT_KEY, bucketKeyEnabled: false });
  });

  it('a managed vend whose tenant key cannot be read vends nothing', async () => {
    // Prepare: the TENANT item names no key (what the key directory answers then)
    const { credentials, vendor, tenantKeys, audit } = setup();
    tenantKeys.keyArnFor.mockRejectedValueOnce(new TenantKeyUnavailableError());

    // Act
    const error = await credentials
      .vend(caller('editor'), { location: location.locationId, access: 'write', durationSeconds: 900 })
      .catch((e) => e);

    // Assess
    expect(status(error)).toBe(409);
    expect(vendor.vend).not.toHaveBeenCalled();
    expect(audit.record).not.toHaveBeenCalled();
  });

  it('when the audit cannot be written, no credentials are returned', async () => {
    // Prepare: the audit fails
    const { credentials, audit } = setup();
    audit.record.mockRejectedValueOnce(
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
    );

    // Act / Assess
    await expect(
      credentials.vend(caller('viewer'), {
        location: location.locationId,
        access: 'read',
        durationSeconds: 900,
      }),
    ).rejects.toThrow('throttled');
  });

  it('an s3:// path outside every location of the tenant is 404', async () => {
    // Prepare
    const { credentials, vendor } = setup();

    // Act
    const error = await credentials
      .vend(caller('viewer'), {
        location: 's3://platform-storage/tenants/t_other/x',
        access: 'read',
        durationSeconds: 900,
      })
      .catch((e) => e);

    // Assess
    expect(status(error)).toBe(404);
    expect(vendor.vend).not.toHaveBeenCalled();
  });
});

describe('StorageCredentials.vend: access that changed while STS was issuing', () => {
  const vendWrite = (credentials: StorageCredentials) =>
    credentials
      .vend(caller('editor'), { location: location.locationId, access: 'write', durationSeconds: 900 })
      .catch((e: unknown) => e);
  const withheld = (audit: ReturnType<typeof setup>['audit']) =>
    (audit.record.mock.calls as unknown as [unknown, { action: string; details: Record<string, unknown> }][])
      .map(([, event]) => event)
      .filter((event) => event.action === 'storage-credentials.withheld');

  it('re-reads the member and the location consistently after STS, and vends when nothing changed', async () => {
    // Prepare
    const { credentials, members, store } = setup();
    // Act
    const result = await vendWrite(credentials);
    // Assess
    expect(result).toMatchObject({ accessKeyId: 'ASIAKEY' });
    expect(members.getMember).toHaveBeenCalledWith(caller('editor').access.scope, U);
    expect(store.getLocation).toHaveBeenLastCalledWith(expect.anything(), location.locationId, {
      consistent: true,
    });
  });

  for (const [name, change, reason] of [
    [
      'the member was removed',
      (d: ReturnType<typeof setup>) => d.members.getMember.mockResolvedValueOnce(undefined),
      'member-removed',
    ],
    [
      "the member's removal or demotion has begun (fenced)",
      (d: ReturnType<typeof setup>) =>
        d.members.getMember.mockResolvedValueOnce({
          userId: U,
          role: 'editor',
          storageFenceUntil: Date.now() + 60_000,
        } as MemberRecord),
      'member-access-reduced',
    ],
    [
      'the member was demoted below the access asked for',
      (d: ReturnType<typeof setup>) =>
        d.members.getMember.mockResolvedValueOnce({ userId: U, role: 'viewer' } as MemberRecord),
      'member-access-reduced',
    ],
    [
      'the location is being deleted (fenced)',
      (d: ReturnType<typeof setup>) =>
        d.store.getLocation
          .mockResolvedValueOnce(location)
          .mockResolvedValueOnce({ ...location, storageFenceUntil: Date.now() + 60_000 }),
      'location-removed',
    ],
    [
      'the location was deleted',
      (d: ReturnType<typeof setup>) =>
        d.store.getLocation.mockResolvedValueOnce(location).mockResolvedValueOnce(undefined as never),
      'location-removed',
    ],
  ] as const) {
    it(`${name}: 409 storage-access-changed, the credential withheld and audited by key id, never as vended`, async () => {
      // Prepare
      const deps = setup();
      change(deps);
      // Act
      const error = (await vendWrite(deps.credentials)) as HttpProblemError;
      // Assess
      expect(error.status).toBe(409);
      expect(error.type).toMatch(/storage-access-changed$/);
      expect(JSON.stringify(error)).not.toContain('ASIAKEY');
      expect(withheld(deps.audit)).toEqual([
        expect.objectContaining({
          details: expect.objectContaining({ reason, accessKeyId: 'ASIAKEY', userId: U }),
        }),
      ]);
      expect(JSON.stringify(deps.audit.record.mock.calls)).not.toContain('SECRET');
      expect(deps.audit.record.mock.calls.map((c) => (c as unknown[])[1])).not.toContainEqual(
        expect.objectContaining({ action: 'storage-credentials.vended' }),
      );
    });
  }

  it('an expired fence does not withhold anything', async () => {
    // Prepare: a fence that has expired
    const { credentials, members } = setup();
    members.getMember.mockResolvedValueOnce({
      userId: U,
      role: 'editor',
      storageFenceUntil: Date.now() - 1,
    } as MemberRecord);

    // Act / Assess
    expect(await vendWrite(credentials)).toMatchObject({ accessKeyId: 'ASIAKEY' });
  });

  it('cached credentials were issued before any fence, so the deny covers them: no re-read', async () => {
    // Prepare: the vendor answers from its cache
    const { credentials, vendor, members } = setup();
    vendor.vend.mockResolvedValueOnce({
      credentials: {
        accessKeyId: 'ASIAKEY',
        secretAccessKey: 'SECRET',
        sessionToken: 'TOKEN',
        expiration: '2026-11-22T12:15:00.000Z',
      },
      cached: true,
    });

    // Act / Assess
    expect(await vendWrite(credentials)).toMatchObject({ accessKeyId: 'ASIAKEY' });

    // Assess: the membership not read again
    expect(members.getMember).not.toHaveBeenCalled();
  });
});

describe('StorageCredentials.vend: the tenant role and closure', () => {
  it('a tenant without a storage role gets one before its first managed vend', async () => {
    // Prepare: no role yet
    const { credentials, access, vendor, role } = setup();
    access.state.mockResolvedValueOnce({ version: 0, entries: [] } as never);

    // Act
    await credentials.vend(caller('viewer'), {
      location: location.locationId,
      access: 'read',
      durationSeconds: 900,
    });

    // Assess
    expect(access.ensureRole).toHaveBeenCalledTimes(1);
    expect(vendor.vend).toHaveBeenCalledWith(expect.objectContaining({ role }));
  });

  it('a tenant being deleted vends nothing (404)', async () => {
    // Prepare: the tenant is closed
    const { credentials, access, vendor } = setup();
    access.state.mockResolvedValueOnce({
      version: 3,
      entries: [],
      closedAt: '2026-11-22T12:00:00Z',
    } as never);

    // Act
    const error = await credentials
      .vend(caller('owner'), { location: location.locationId, access: 'read', durationSeconds: 900 })
      .catch((e) => e);

    // Assess
    expect(status(error)).toBe(404);
    expect(vendor.vend).not.toHaveBeenCalled();
  });
});

describe('StorageCredentialRevocation.revoke', () => {
  it('answers per kind of location, drops the user’s cached credentials and audits the same words', async () => {
    // Prepare: one managed and one external outcome
    const { revocation, access, vendor, audit } = setup();
    const outcomes = [
      managedDenied('2026-11-22T12:00:01Z', 'vended to this user'),
      externalNotRevocable('2026-11-22T12:14:00Z', 'vended to this user'),
    ];
    access.revokeUser.mockResolvedValueOnce({
      userId: 'u_01jx0000000000000000000002',
      revokedBefore: '2026-11-22T12:00:01Z',
      credentials: outcomes,
    });

    // Act
    const result = await revocation.revoke(caller('admin'), 'u_01jx0000000000000000000002');

    // Assess: the outcomes answered, the user's cache dropped, the same words audited
    expect(result).toEqual({
      userId: 'u_01jx0000000000000000000002',
      revokedBefore: '2026-11-22T12:00:01Z',
      credentials: outcomes,
    });
    expect(access.revokeUser).toHaveBeenCalledWith(
      caller('admin').access.scope,
      'u_01jx0000000000000000000002',
      {
        refuse: true,
      },
    );
    expect(vendor.drop).toHaveBeenCalledWith(T, { userId: 'u_01jx0000000000000000000002' });
    expect(audit.record).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({
        action: 'storage-credentials.revoked',
        details: {
          userId: 'u_01jx0000000000000000000002',
          revokedBefore: '2026-11-22T12:00:01Z',
          credentials: outcomes,
        },
      }),
    );
  });

  it('a user who holds nothing of this tenant is a 404 naming body.userId, and nothing is audited', async () => {
    // Prepare: the user holds nothing
    const { revocation, access, audit, vendor } = setup();
    access.revokeUser.mockRejectedValueOnce(new NoLiveStorageCredentialsError());

    // Act
    const error = await revocation.revoke(caller('admin'), 'u_01jx0000000000000000000003').catch((e) => e);

    // Assess
    expect(status(error)).toBe(404);
    expect((error as HttpProblemError).errors).toEqual([
      { path: 'body.userId', message: 'No live storage credentials of this tenant' },
    ]);
    expect(audit.record).not.toHaveBeenCalled();
    expect(vendor.drop).not.toHaveBeenCalled();
  });

  it("an admin cannot revoke an owner's credentials (403); an owner can", async () => {
    // Prepare
    const { revocation, access } = setup();

    // Act / Assess: an admin
    expect(status(await revocation.revoke(caller('admin'), OWNER).catch((e) => e))).toBe(403);
    expect(access.revokeUser).not.toHaveBeenCalled();

    // Act / Assess: an owner
    await revocation.revoke(caller('owner'), OWNER);
    expect(access.revokeUser).toHaveBeenCalledWith(caller('owner').access.scope, OWNER, { refuse: true });
  });
});

describe('StorageLocations.deleteLocation', () => {
  it('denies the location’s credentials first, then deletes it with an audit event that says what happened', async () => {
    // Prepare
    const { locations, access, store, audit, vendor } = setup();

    // Act
    const result = await locations.deleteLocation(caller('admin'), location.locationId);

    // Assess: fenced, denied, then deleted; the cache dropped; the event says what happened
    expect(result).toEqual({
      locationId: location.locationId,
      kind: 'managed',
      revokedBefore: '2026-11-22T12:00:01Z',
      credentials: [managedDenied('2026-11-22T12:00:01Z', 'vended for this location')],
    });
    expect(store.fenceLocation).toHaveBeenCalledWith(
      expect.anything(),
      location.locationId,
      expect.any(Number),
    );
    expect(store.fenceLocation.mock.invocationCallOrder[0]).toBeLessThan(
      access.revokeLocation.mock.invocationCallOrder[0]!,
    );
    expect(access.revokeLocation.mock.invocationCallOrder[0]).toBeLessThan(
      store.deleteLocation.mock.invocationCallOrder[0]!,
    );
    expect(store.liftLocationFence).not.toHaveBeenCalled();
    expect(vendor.drop).toHaveBeenCalledWith(T, { locationId: location.locationId });
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({
        action: 'storage-location.removed',
        details: expect.objectContaining({ credentials: result.credentials }),
      }),
    );
  });

  it('deletes a managed location’s objects after the deny and before the item, and counts them', async () => {
    // Prepare
    const purge = vi.fn(async () => ({ deleted: 42, done: true }));
    const { locations, access, store, audit } = setup({ purge });

    // Act
    const result = await locations.deleteLocation(caller('admin'), location.locationId);

    // Assess: its own prefix, with the trailing slash; between the deny and the deletion; answered and audited
    expect(purge).toHaveBeenCalledWith(`${location.prefix}/`);
    expect(access.revokeLocation.mock.invocationCallOrder[0]!).toBeLessThan(
      purge.mock.invocationCallOrder[0]!,
    );
    expect(purge.mock.invocationCallOrder[0]!).toBeLessThan(
      store.deleteLocation.mock.invocationCallOrder[0]!,
    );
    expect(result.objectsDeleted).toBe(42);
    expect(audit.auditPut).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({ details: expect.objectContaining({ objectsDeleted: 42 }) }),
    );
  });

  it('answers 409 deletion-in-progress when the objects do not fit, keeping the location for the retry', async () => {
    // Prepare: more objects than one request's budget
    const purge = vi.fn(async () => ({ deleted: 10_000, done: false }));
    const { locations, store, audit } = setup({ purge });

    // Act
    const error = await locations.deleteLocation(caller('admin'), location.locationId).catch((e) => e);

    // Assess: the problem with the count; the location item stays, fenced for good (nothing vended or
    // signed for a half-deleted location), and the versions deleted so far are audited
    expect(status(error)).toBe(409);
    expect((error as HttpProblemError).type).toBe('deletion-in-progress');
    expect((error as HttpProblemError).extensions).toEqual({ objectsDeleted: 10_000 });
    expect(store.deleteLocation).not.toHaveBeenCalled();
    expect(store.liftLocationFence).not.toHaveBeenCalled();
    expect(store.fenceLocation).toHaveBeenLastCalledWith(
      expect.anything(),
      location.locationId,
      Number.MAX_SAFE_INTEGER,
    );
    expect(audit.record).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({
        action: 'storage-location.objects-deleted',
        details: expect.objectContaining({ objectsDeleted: 10_000, done: false }),
      }),
    );
  });

  it('keeps a half-deleted location fenced for good after a fault in the purge, and on a retry that fails early', async () => {
    // Prepare: the purge fails half-way; then the retry's revocation fails before any purge
    const purge = vi.fn(async () => {
      throw new Error('S3 failed');
    });
    const { locations, store, access } = setup({ purge });

    // Act
    await locations.deleteLocation(caller('admin'), location.locationId).catch(() => undefined);
    store.getLocation.mockResolvedValueOnce({ ...location, storageFenceUntil: Number.MAX_SAFE_INTEGER });
    access.revokeLocation.mockRejectedValueOnce(new Error('IAM failed'));
    await locations.deleteLocation(caller('admin'), location.locationId).catch(() => undefined);

    // Assess: never lifted, every fence set the permanent one after the first purge began
    expect(store.liftLocationFence).not.toHaveBeenCalled();
    expect(store.fenceLocation.mock.calls.map((c) => (c as unknown[])[2])).toEqual([
      expect.any(Number),
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    ]);
  });

  it('never deletes anything in a customer’s bucket (external location)', async () => {
    // Prepare
    const purge = vi.fn(async () => ({ deleted: 0, done: true }));
    const { locations, store } = setup({ purge });
    store.getLocation.mockResolvedValueOnce({
      ...location,
      kind: 'external',
      bucket: 'customer-lake',
      prefix: 'data',
      root: 's3://customer-lake/data',
      roleArn: 'arn:aws:iam::999988887777:role/lake',
    });

    // Act
    const result = await locations.deleteLocation(caller('admin'), location.locationId);

    // Assess
    expect(purge).not.toHaveBeenCalled();
    expect(result).not.toHaveProperty('objectsDeleted');
    expect(store.deleteLocation).toHaveBeenCalledOnce();
  });

  it('a location in use is a 409 before anyone is cut off', async () => {
    // Prepare: the location is in use
    const { locations, access, store } = setup();
    store.getLocation.mockResolvedValueOnce({ ...location, instanceCount: 1 });

    // Act / Assess
    expect(status(await locations.deleteLocation(caller('admin'), location.locationId).catch((e) => e))).toBe(
      409,
    );

    // Assess: nobody cut off, nothing deleted
    expect(access.revokeLocation).not.toHaveBeenCalled();
    expect(store.deleteLocation).not.toHaveBeenCalled();
  });

  it('if the deny cannot be written, nothing is deleted (503)', async () => {
    // Prepare: the deny cannot be written
    const { locations, access, store, audit } = setup();
    access.revokeLocation.mockRejectedValueOnce(new ServiceUnavailableError(2));

    // Act / Assess
    expect(status(await locations.deleteLocation(caller('admin'), location.locationId).catch((e) => e))).toBe(
      503,
    );

    // Assess: nothing deleted or audited, and the fence lifted with its own value
    expect(store.deleteLocation).not.toHaveBeenCalled();
    expect(audit.auditPut).not.toHaveBeenCalled();
    // The fence is lifted with the value it was set with, so vending works again at once.
    expect(store.liftLocationFence).toHaveBeenCalledWith(
      expect.anything(),
      location.locationId,
      (store.fenceLocation.mock.calls[0] as unknown[])[2],
    );
  });

  it('a location in use is refused before it is fenced', async () => {
    // Prepare: the location is in use
    const { locations, store } = setup();
    store.getLocation.mockResolvedValueOnce({ ...location, instanceCount: 1 });

    // Act
    await locations.deleteLocation(caller('admin'), location.locationId).catch(() => undefined);

    // Assess
    expect(store.fenceLocation).not.toHaveBeenCalled();
  });
});

describe('StorageLocations.registerLocation', () => {
  it('a managed location makes sure the tenant has its storage role before writing the location', async () => {
    // Prepare
    const { locations, access, store } = setup();

    // Act
    await locations.registerLocation(caller('admin'), { managed: true });

    // Assess
    expect(access.ensureRole.mock.invocationCallOrder[0]).toBeLessThan(
      store.createManagedLocation.mock.invocationCallOrder[0]!,
    );
  });

  it('a managed location is not written when the role cannot be made', async () => {
    // Prepare: the role cannot be made
    const { locations, access, store } = setup();
    access.ensureRole.mockRejectedValueOnce(new ServiceUnavailableError(2));

    // Act / Assess
    expect(status(await locations.registerLocation(caller('admin'), { managed: true }).catch((e) => e))).toBe(
      503,
    );

    // Assess
    expect(store.createManagedLocation).not.toHaveBeenCalled();
  });

  it.each([
    [{ root: 's3://platform-storage/tenants/x', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [{ root: 's3://platform-exports', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [{ root: 's3://lake/a//b', roleArn: 'arn:aws:iam::210987654321:role/r' }, 'body.root'],
    [
      { root: 's3://lake/data', roleArn: 'arn:aws:iam::123456789012:role/strongroom-storage' },
      'body.roleArn',
    ],
  ])('refuses %j with 400 naming %s and writes nothing', async (body, path) => {
    // Prepare
    const { locations, store } = setup();

    // Act
    const error = await locations.registerLocation(caller('admin'), body).catch((e) => e);

    // Assess: the field named, nothing written
    expect(status(error)).toBe(400);
    expect((error as HttpProblemError).errors?.[0]?.path).toBe(path);
    expect(store.createExternalLocation).not.toHaveBeenCalled();
    expect(store.getOrCreateExternalId).not.toHaveBeenCalled();
  });

  it('a role or region of another partition is a 400 naming the field, before anything is verified or written', async () => {
    // Act / Assess: each role or region of another partition
    for (const [body, path] of [
      [{ root: 's3://lake/data', roleArn: 'arn:aws-cn:iam::210987654321:role/r' }, 'body.roleArn'],
      [{ root: 's3://lake/data', roleArn: 'arn:aws-us-gov:iam::210987654321:role/r' }, 'body.roleArn'],
      [
        { root: 's3://lake/data', roleArn: 'arn:aws:iam::210987654321:role/r', region: 'cn-north-1' },
        'body.region',
      ],
      [
        { root: 's3://lake/data', roleArn: 'arn:aws:iam::210987654321:role/r', region: 'us-gov-west-1' },
        'body.region',
      ],
    ] as const) {
      const { locations, store, verifier } = setup();
      const error = (await locations
        .registerLocation(caller('admin'), body)
        .catch((e) => e)) as HttpProblemError;
      expect(error.status, path).toBe(400);
      expect(error.errors?.map((e) => e.path)).toEqual([path]);
      expect(verifier.verify).not.toHaveBeenCalled();
      expect(store.createExternalLocation).not.toHaveBeenCalled();
    }
  });

  it('verifies the root with the tenant ExternalId before writing anything', async () => {
    // Prepare
    const { locations, store, verifier } = setup();

    // Act
    const view = await locations.registerLocation(caller('admin'), {
      root: 's3://lake/data/',
      roleArn: 'arn:aws:iam::210987654321:role/r',
    });

    // Assess: verified with the tenant's ExternalId, then written with it
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
    // Prepare: the role cannot reach the root
    const { locations, store, verifier } = setup();
    verifier.verify.mockRejectedValueOnce(
      new ExternalRootUnverifiedError('cannot list', new Error('AccessDenied')),
    );

    // Act
    const error = await locations
      .registerLocation(caller('admin'), {
        root: 's3://someone-elses/data',
        roleArn: 'arn:aws:iam::210987654321:role/r',
      })
      .catch((e) => e);

    // Assess
    expect(status(error)).toBe(424);
    expect(store.createExternalLocation).not.toHaveBeenCalled();
  });
});
