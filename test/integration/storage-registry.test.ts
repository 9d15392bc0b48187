import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, functionRuntime } from '../../shared/aws/runtime.js';
import { newId } from '../../shared/domain/ids.js';
import { permissionsOf } from '../../shared/domain/permissions.js';
import { formatStorageRoot, rootsOverlap, type StorageRoot } from '../../shared/domain/storage-roots.js';
import { mintTenantScope, type TenantScope } from '../../shared/domain/tenant-scope.js';
import { tenantStorageRoleName } from '../../shared/domain/tenant-storage-role.js';
import type { HttpProblemError } from '../../shared/errors.js';
import { StorageLocations } from '../../shared/services/storage-locations.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import {
  type StorageLocationRecord,
  StorageRegistrationConflictError,
  StorageStore,
} from '../../shared/store/storage-store.js';
import { StorageCredentialVendor } from '../../shared/store/storage-vendor.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantItemKeyDirectory } from '../../shared/store/tenant-key-directory.js';
import { tenantStorageAccessFor } from '../../shared/store/tenant-storage-access.js';
import { TenantStore } from '../../shared/store/tenant-store.js';

/**
 * The global root registry against the emulator's real transactions: a model-based test that random
 * register/delete sequences by two tenants are accepted exactly when no other tenant's root overlaps, and
 * races between overlapping registrations of two tenants admit exactly one.
 */
let store: StorageStore;
let audit: ReturnType<typeof auditRecorderFor>;
const T = [newId('t'), newId('t')];
const U = newId('u');
let scopes: TenantScope[];

beforeAll(() => {
  const tenantClients = tenantDataClientsFor(functionRuntime());
  store = new StorageStore({
    tenantClients,
    platformClient: functionRuntime().dynamo,
    tenantDataTable: process.env.TENANT_DATA_TABLE!,
    identityTable: process.env.IDENTITY_TABLE!,
  });
  audit = auditRecorderFor(functionRuntime(), { tenantClients });
  scopes = T.map((tenantId) => mintTenantScope({ tenantId, userId: U }));
});

const actor = { userId: U, ip: '127.0.0.1', userAgent: 'test' };

async function register(scope: TenantScope, root: StorageRoot): Promise<StorageLocationRecord | 'conflict'> {
  const location: StorageLocationRecord = {
    locationId: newId('l'),
    kind: 'external',
    root: formatStorageRoot(root),
    bucket: root.bucket,
    prefix: root.prefix,
    region: 'us-east-1',
    roleArn: 'arn:aws:iam::210987654321:role/r',
    createdAt: new Date().toISOString(),
    createdBy: U,
  };
  const existing = await store.getExternalId(scope);
  try {
    await store.createExternalLocation(
      scope,
      location,
      root,
      { value: existing ?? `strongroom-${scope.tenantId}`, isNew: !existing, createdAt: location.createdAt },
      audit.auditPut(scope, {
        action: 'storage-location.registered',
        actor,
        resource: { type: 'storage-location', id: location.locationId },
      }),
    );
    return location;
  } catch (error) {
    if (error instanceof StorageRegistrationConflictError && error.reason !== 'external-id-changed')
      return 'conflict';
    throw error;
  }
}

async function remove(scope: TenantScope, location: StorageLocationRecord) {
  await store.deleteLocation(
    scope,
    location,
    { bucket: location.bucket, prefix: location.prefix },
    audit.auditPut(scope, {
      action: 'storage-location.removed',
      actor,
      resource: { type: 'storage-location', id: location.locationId },
    }),
  );
}

const PREFIXES = ['', 'a', 'a/b', 'a/b/c', 'a2', 'a/c', 'b'];

type Op =
  | { kind: 'register'; tenant: 0 | 1; prefix: string }
  | { kind: 'delete'; tenant: 0 | 1; pick: number };

describe('root registry (model-based, real transactions)', () => {
  let run = 0;

  it('accepts a registration exactly when no other tenant’s root overlaps and the root is free', async () => {
    // Prepare: sequences of registrations and deletions by two tenants over a few prefixes
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('register' as const),
        tenant: fc.constantFrom(0 as const, 1 as const),
        prefix: fc.constantFrom(...PREFIXES),
      }),
      fc.record({
        kind: fc.constant('delete' as const),
        tenant: fc.constantFrom(0 as const, 1 as const),
        pick: fc.nat(10),
      }),
    );

    // Act / Assess: each registration is accepted exactly when an in-memory model of the roots says so
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 14 }), async (ops: Op[]) => {
        const bucket = `model-bucket-${++run}-${Date.now()}`;
        const model: { tenant: number; location: StorageLocationRecord }[] = [];
        for (const o of ops) {
          if (o.kind === 'register') {
            const root = { bucket, prefix: o.prefix };
            const expectAccept = !model.some(
              (m) =>
                m.location.prefix === o.prefix || (m.tenant !== o.tenant && rootsOverlap(m.location, root)),
            );
            const outcome = await register(scopes[o.tenant]!, root);
            expect(
              outcome === 'conflict' ? 'conflict' : 'accepted',
              JSON.stringify({ o, model: model.map((m) => [m.tenant, m.location.prefix]) }),
            ).toBe(expectAccept ? 'accepted' : 'conflict');
            if (outcome !== 'conflict') model.push({ tenant: o.tenant, location: outcome });
          } else {
            const own = model.filter((m) => m.tenant === o.tenant);
            if (own.length === 0) continue;
            const victim = own[o.pick % own.length]!;
            await remove(scopes[o.tenant]!, victim.location);
            model.splice(model.indexOf(victim), 1);
          }
        }
      }),
      { numRuns: 12 },
    );
  });

  // moto runs transactions without isolation from concurrent requests, so a true race here would test the
  // emulator; DynamoDB serialises transactions that share an item, and test/unit/store/storage-store.test.ts proves
  // every overlapping pair shares a conditioned node. Here: in either order, exactly one wins.
  it('two tenants registering overlapping roots: exactly one wins, in either order', async () => {
    // Act / Assess: in either order, over three overlapping pairs
    for (let i = 0; i < 6; i++) {
      const bucket = `order-bucket-${i}-${Date.now()}`;
      const other = ['', 'x/y', 'x'][i % 3]!;
      const first = i < 3 ? 0 : 1;
      const a = await register(scopes[first]!, { bucket, prefix: first === 0 ? 'x' : other });
      const b = await register(scopes[1 - first]!, { bucket, prefix: first === 0 ? other : 'x' });
      expect(a).not.toBe('conflict');
      expect(b).toBe('conflict');
    }
  });

  it('a location still used by an instance is not deleted (409) and stays registered', async () => {
    // Prepare: a location an instance uses
    const bucket = `inuse-bucket-${Date.now()}`;
    const location = await register(scopes[0]!, { bucket, prefix: 'p' });
    if (location === 'conflict') throw new Error('setup failed');
    await store.createInstance(
      scopes[0]!,
      {
        instanceId: newId('i'),
        name: `inst-${Date.now()}`,
        defaultStorageRoot: location.root,
        storageLocationId: location.locationId,
        createdAt: location.createdAt,
        createdBy: U,
      },
      audit.auditPut(scopes[0]!, {
        action: 'instance.created',
        actor,
        resource: { type: 'instance', id: 'i' },
      }),
    );

    // Act
    const error = await remove(scopes[0]!, location).catch((e: unknown) => e);

    // Assess: refused, and the root still registered
    expect((error as HttpProblemError).status).toBe(409);
    expect(await register(scopes[1]!, { bucket, prefix: 'p/q' })).toBe('conflict');
  });

  it('tenant deletion: releaseTenant closes the tenant’s storage, removes its role and frees every root, even one in use', async () => {
    // Prepare
    const iam = new IAMClient(clientConfig());
    const tenantClients = tenantDataClientsFor(functionRuntime());
    const access = tenantStorageAccessFor(functionRuntime(), { tenantClients, vending: true });
    const locations = new StorageLocations({
      store,
      vendor: new StorageCredentialVendor({
        sts: new STSClient(clientConfig()),
        storageKeyArn: process.env.STORAGE_KEY_ARN!,
        recordIssue: (scope, userId, kind, until) => access.recordIssue(scope, userId, kind, until),
      }),
      access,
      tenantKeys: new TenantItemKeyDirectory({
        clients: tenantClients,
        tableName: process.env.TENANT_DATA_TABLE!,
      }),
      audit,
      managedBucket: process.env.STORAGE_BUCKET!,
      reservedBuckets: [process.env.STORAGE_BUCKET!],
      region: 'us-east-1',
      members: new TenantStore(tenantClients, process.env.TENANT_DATA_TABLE!),
    });
    const bucket = `gone-bucket-${Date.now()}`;
    const leaving = mintTenantScope({ tenantId: newId('t'), userId: U });
    const admin = {
      access: { scope: leaving, roleCeiling: 'admin' as const, permissions: permissionsOf('admin') },
      principal: { kind: 'session' as const, userId: U, credentialId: 's', mfaEnabled: false },
      ip: '127.0.0.1',
      userAgent: 'test',
    };
    await locations.registerLocation(admin, { managed: true });
    const a = await register(leaving, { bucket, prefix: 'a' });
    const b = await register(leaving, { bucket, prefix: 'a/b' });
    if (a === 'conflict' || b === 'conflict') throw new Error('setup failed');
    await store.createInstance(
      leaving,
      {
        instanceId: newId('i'),
        name: 'in-use',
        defaultStorageRoot: a.root,
        storageLocationId: a.locationId,
        createdAt: a.createdAt,
        createdBy: U,
      },
      audit.auditPut(leaving, { action: 'instance.created', actor, resource: { type: 'instance', id: 'i' } }),
    );
    expect(await register(scopes[1]!, { bucket, prefix: '' })).toBe('conflict');
    const roleName = tenantStorageRoleName(leaving.tenantId);
    await iam.send(new GetRoleCommand({ RoleName: roleName }));

    // Act
    const result = await locations.releaseTenant(leaving, actor);

    // Assess
    expect(result.released).toBe(3);
    expect(await store.allLocations(leaving)).toEqual([]);
    expect(await register(scopes[1]!, { bucket, prefix: '' })).not.toBe('conflict');
    const state = await access.state(leaving);
    expect(state.closedAt).toBeDefined();
    expect(state.entries).toContainEqual({ notBefore: result.revokedBefore });
    const gone = await iam.send(new GetRoleCommand({ RoleName: roleName })).catch((e: unknown) => e);
    expect((gone as Error).name).toBe('NoSuchEntityException');
    // Closed: no role is made for it again, and a repeat finds nothing left to do.
    await expect(access.ensureRole(leaving)).rejects.toMatchObject({ status: 404 });
    expect((await locations.releaseTenant(leaving, actor)).released).toBe(0);
  });
});
