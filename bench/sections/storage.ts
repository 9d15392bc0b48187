import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freePort, startMoto } from '../../infra/local/moto.js';
import { provisionLocal } from '../../infra/local/provision.js';
import { applyEnvironment, PROJECT_ROOT } from '../../infra/local/system.js';
import type { StorageServiceDeps } from '../../shared/services/storage-deps.js';
import type { BenchSection, BenchTable } from './types.js';

/** Counts AWS calls per service and the time spent waiting on them, by wrapping the clients' `send`. */
function instrument() {
  const counts = { dynamodb: 0, sts: 0, iam: 0, awsMs: 0 };
  const classes = [DynamoDBClient, DynamoDBDocumentClient, STSClient, IAMClient];
  const saved = classes.map((cls) => Object.getOwnPropertyDescriptor(cls.prototype, 'send'));
  let inFlight = 0;
  let waitingSince = 0;
  // The document client sends through its own stack, not the wrapped client's `send`: count both.
  for (const [name, cls] of [
    ['dynamodb', DynamoDBClient],
    ['dynamodb', DynamoDBDocumentClient],
    ['sts', STSClient],
    ['iam', IAMClient],
  ] as const) {
    const original = cls.prototype.send as (...args: unknown[]) => Promise<unknown>;
    (cls.prototype as { send: unknown }).send = async function (this: unknown, ...args: unknown[]) {
      counts[name]++;
      // Wall-clock time with at least one call in flight: parallel calls are not counted twice.
      if (inFlight++ === 0) waitingSince = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        if (--inFlight === 0) counts.awsMs += performance.now() - waitingSince;
      }
    };
  }
  return {
    counts,
    restore() {
      // Other sections run in this process after us: put back exactly what was there.
      classes.forEach((cls, i) => {
        const descriptor = saved[i];
        if (descriptor) Object.defineProperty(cls.prototype, 'send', descriptor);
        else delete (cls.prototype as { send?: unknown }).send;
      });
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Storage credential vending against the emulator, in process, warm: the vend use case (location lookup,
 * revocation check, STS on a miss, audit) with the AWS calls it makes on a cache miss and on a hit.
 * "Overhead" is our own time: total minus time waiting on AWS. The bearer authorizer in front of the route
 * adds its own calls (see the identity section); they are not counted here.
 */
export const storageSection: BenchSection = {
  name: 'storage',
  async run(): Promise<BenchTable> {
    const moto = await startMoto({ projectRoot: PROJECT_ROOT, port: await freePort() });
    const instrumented = instrument();
    try {
      applyEnvironment(
        await provisionLocal({ endpoint: moto.endpoint, region: 'us-east-1', stage: 'bench' }),
      );
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
      // Imported after the environment is set; every client below is created now, against this emulator.
      const { functionRuntime } = await import('../../shared/aws/runtime.js');
      const { newId } = await import('../../shared/domain/ids.js');
      const { permissionsOf } = await import('../../shared/domain/permissions.js');
      const { StorageCredentialRevocation } = await import(
        '../../shared/services/storage-credential-revocation.js'
      );
      const { StorageCredentials } = await import('../../shared/services/storage-credentials.js');
      const { StorageLocations } = await import('../../shared/services/storage-locations.js');
      const { auditRecorderFor } = await import('../../shared/store/audit-store.js');
      const { StorageStore } = await import('../../shared/store/storage-store.js');
      const { StorageCredentialVendor } = await import('../../shared/store/storage-vendor.js');
      const { tenantStorageAccessFor } = await import('../../shared/store/tenant-storage-access.js');
      const { tenantDataClientsFor } = await import('../../shared/store/tenant-data-client.js');
      const { mintTenantScope, tenantKey } = await import('../../shared/domain/tenant-scope.js');
      const { TenantStore } = await import('../../shared/store/tenant-store.js');
      const { memberSk } = await import('../../shared/domain/item-layout.js');
      const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
      const { CreateKeyCommand, KMSClient } = await import('@aws-sdk/client-kms');
      const { TenantItemKeyDirectory } = await import('../../shared/store/tenant-key-directory.js');
      const { TENANT_SK } = await import('../../shared/domain/item-layout.js');

      const tenantClients = tenantDataClientsFor(functionRuntime());
      const platform = functionRuntime().dynamo;
      const access = tenantStorageAccessFor(functionRuntime(), { tenantClients, vending: true });
      const deps: StorageServiceDeps = {
        store: new StorageStore({
          tenantClients,
          platformClient: platform,
          tenantDataTable: process.env.TENANT_DATA_TABLE!,
          identityTable: process.env.IDENTITY_TABLE!,
        }),
        vendor: new StorageCredentialVendor({
          sts: functionRuntime().client(STSClient),
          storageKeyArn: process.env.STORAGE_KEY_ARN!,
          recordIssue: (scope, userId, kind, untilMs) => access.recordIssue(scope, userId, kind, untilMs),
        }),
        access,
        tenantKeys: new TenantItemKeyDirectory({
          clients: tenantClients,
          tableName: process.env.TENANT_DATA_TABLE!,
        }),
        audit: auditRecorderFor(functionRuntime(), { tenantClients, platformClient: platform }),
        managedBucket: process.env.STORAGE_BUCKET!,
        reservedBuckets: [process.env.STORAGE_BUCKET!],
        region: 'us-east-1',
        members: new TenantStore(tenantClients, process.env.TENANT_DATA_TABLE!),
      };
      // The route groups measured, each built from one deps object as the storage function builds them
      // (functions/storage/lazy/).
      const locations = new StorageLocations(deps);
      const credentials = new StorageCredentials(deps);
      const revocation = new StorageCredentialRevocation(deps);
      const tenantId = newId('t');
      const callerFor = (userId: string, role: 'editor' | 'admin' = 'editor') => ({
        access: {
          scope: mintTenantScope({ tenantId, userId }),
          roleCeiling: role,
          permissions: permissionsOf(role),
        },
        principal: { kind: 'session' as const, userId, credentialId: 's', mfaEnabled: false },
        ip: '127.0.0.1',
        userAgent: 'bench',
      });
      // Members as the tenants function writes them: a vend re-reads its caller's membership after STS.
      const member = async (caller: ReturnType<typeof callerFor>) => {
        const db = await tenantClients.forScope(caller.access.scope);
        await db.send(
          new PutCommand({
            TableName: process.env.TENANT_DATA_TABLE!,
            Item: {
              ...tenantKey(caller.access.scope, memberSk(caller.principal.userId)),
              tenantId,
              userId: caller.principal.userId,
              role: caller.access.roleCeiling,
              email: `${caller.principal.userId}@bench.test`,
              name: 'bench',
              addedAt: new Date().toISOString(),
              addedBy: caller.principal.userId,
            },
          }),
        );
        return caller;
      };
      // The tenant's own key, as the tenants function records it: managed vends write under it.
      const { KeyMetadata } = await functionRuntime().client(KMSClient).send(new CreateKeyCommand({}));
      const tenantDb = await tenantClients.forScope(mintTenantScope({ tenantId, userId: 'u_bench' }));
      await tenantDb.send(
        new PutCommand({
          TableName: process.env.TENANT_DATA_TABLE!,
          Item: {
            ...tenantKey(mintTenantScope({ tenantId, userId: 'u_bench' }), TENANT_SK),
            keyArn: KeyMetadata!.Arn,
          },
        }),
      );
      const admin = await member(callerFor(newId('u'), 'admin'));
      const location = await locations.registerLocation(admin, { managed: true });
      const editor = await member(callerFor(newId('u')));

      const { counts } = instrumented;
      const measure = async (label: string, runs: number, once: (i: number) => Promise<unknown>) => {
        await once(-1); // warm: clients, the tenant's scoped credentials
        const totals: number[] = [];
        const overheads: number[] = [];
        let calls = { dynamodb: 0, sts: 0, iam: 0 };
        for (let i = 0; i < runs; i++) {
          const before = { ...counts };
          const started = performance.now();
          await once(i);
          const total = performance.now() - started;
          totals.push(total);
          overheads.push(total - (counts.awsMs - before.awsMs));
          calls = {
            dynamodb: counts.dynamodb - before.dynamodb,
            sts: counts.sts - before.sts,
            iam: counts.iam - before.iam,
          };
        }
        return [
          label,
          median(totals).toFixed(1),
          Math.max(0, median(overheads)).toFixed(2),
          String(calls.dynamodb),
          String(calls.sts),
          String(calls.iam),
        ];
      };

      const byId = (durationSeconds: number) => ({
        location: location.locationId,
        access: 'read' as const,
        durationSeconds,
      });
      const rows = [
        // A fresh lifetime each run is a fresh cache key: every run is a miss.
        await measure('vend by location id, cache miss', 40, (i) =>
          credentials.vend(editor, byId(1000 + i + 1)),
        ),
        await measure('vend by location id, cache hit', 60, () => credentials.vend(editor, byId(900))),
        await measure('vend by s3:// path, cache hit', 60, () =>
          credentials.vend(editor, {
            location: `${location.root}/data/file.parquet`,
            access: 'read',
            durationSeconds: 900,
          }),
        ),
        // Single-flight: 50 identical vends at once in one warm function (a fresh lifetime: a cache miss).
        await measure('50 concurrent identical vends (all calls)', 3, (i) =>
          Promise.all(Array.from({ length: 50 }, () => credentials.vend(editor, byId(2000 + i + 1)))),
        ),
        // The editor holds live managed credentials (vended above): each run denies on the tenant's role.
        await measure('revocation (holder + list + tenant role deny)', 15, () =>
          revocation.revoke(admin, editor.principal.userId),
        ),
      ];
      return {
        title:
          'Storage: vend use case per request (in-process against the emulator; warm function; authorizer not included)',
        columns: [
          'request',
          'total ms (median)',
          'overhead ms (AWS excluded)',
          'DynamoDB calls',
          'STS calls',
          'IAM calls',
        ],
        rows,
      };
    } finally {
      instrumented.restore();
      await moto.stop();
    }
  },
};
