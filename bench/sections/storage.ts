import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { newId } from '../../shared/domain/ids.js';
import { permissionsOf } from '../../shared/domain/permissions.js';
import { StorageService } from '../../shared/services/storage.js';
import { AuditStore } from '../../shared/store/audit-store.js';
import { StorageStore } from '../../shared/store/storage-store.js';
import { StorageCredentialVendor, StorageRevocations } from '../../shared/store/storage-vendor.js';
import { mintTenantScope } from '../../shared/store/tenant-scope.js';

/**
 * Storage vending bench: the service's own cost per vend with every AWS call answered instantly by
 * aws-sdk-client-mock (so the time is ours, not the network's), and how many AWS calls one vend makes on a
 * cache miss and on a hit. Run alone with `npx tsx bench/sections/storage.ts`.
 */
export async function run(options: { iterations?: number } = {}) {
  const iterations = options.iterations ?? 2000;
  const ddb = mockClient(DynamoDBDocumentClient);
  const sts = mockClient(STSClient);
  const tenantId = newId('t');
  const userIds = Array.from({ length: iterations }, () => newId('u'));
  const location = {
    pk: tenantId,
    sk: 'LOCATION#l',
    locationId: newId('l'),
    kind: 'managed',
    root: `s3://bench-storage/tenants/${tenantId}/l`,
    bucket: 'bench-storage',
    prefix: `tenants/${tenantId}/l`,
    region: 'eu-west-1',
    createdAt: new Date().toISOString(),
    createdBy: userIds[0],
  };
  ddb.on(GetCommand, { TableName: 'tenant-data' }).resolves({ Item: location });
  ddb.on(GetCommand, { TableName: 'identity' }).resolves({});
  ddb.on(PutCommand).resolves({});
  sts.on(AssumeRoleCommand).callsFake(() => ({
    Credentials: {
      AccessKeyId: `ASIA${Math.random().toString(36).slice(2, 18).toUpperCase()}`,
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + 900_000),
    },
  }));
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const tenantClients = { forScope: async () => db };
  const vendor = new StorageCredentialVendor({
    sts: new STSClient({ region: 'eu-west-1' }),
    storageRoleArn: 'arn:aws:iam::123456789012:role/storage',
  });
  const service = new StorageService({
    store: new StorageStore({
      tenantClients,
      platformClient: db,
      tenantDataTable: 'tenant-data',
      identityTable: 'identity',
    }),
    vendor,
    revocations: new StorageRevocations({
      db,
      identityTable: 'identity',
      iam: new IAMClient({ region: 'eu-west-1' }),
      storageRoleArn: 'arn:aws:iam::123456789012:role/storage',
    }),
    audit: new AuditStore({ tableName: 'audit', tenantClients, platformClient: db }),
    managedBucket: 'bench-storage',
    reservedBuckets: ['bench-storage'],
    region: 'eu-west-1',
  });
  const callerFor = (userId: string) => ({
    access: {
      scope: mintTenantScope({ tenantId, userId }),
      role: 'editor' as const,
      permissions: permissionsOf('editor'),
    },
    principal: { kind: 'session' as const, userId, credentialId: 's', mfaEnabled: false },
    ip: '127.0.0.1',
    userAgent: 'bench',
  });
  const body = { location: location.locationId, access: 'read' as const, durationSeconds: 900 };

  // Warm up the module graph and the JIT.
  for (let i = 0; i < 200; i++) await service.vend(callerFor(newId('u')), body);

  const count = () => ({ dynamodb: ddb.calls().length, sts: sts.calls().length });
  ddb.resetHistory();
  sts.resetHistory();
  const missStart = performance.now();
  for (const userId of userIds) await service.vend(callerFor(userId), body);
  const missMs = (performance.now() - missStart) / iterations;
  const missCalls = count();

  ddb.resetHistory();
  sts.resetHistory();
  const hitStart = performance.now();
  for (const userId of userIds) await service.vend(callerFor(userId), body);
  const hitMs = (performance.now() - hitStart) / iterations;
  const hitCalls = count();

  ddb.restore();
  sts.restore();
  return {
    iterations,
    'vend overhead, cache miss (µs, AWS excluded)': Math.round(missMs * 1000),
    'vend overhead, cache hit (µs, AWS excluded)': Math.round(hitMs * 1000),
    'AWS calls per vend, miss: DynamoDB': missCalls.dynamodb / iterations,
    'AWS calls per vend, miss: STS': missCalls.sts / iterations,
    'AWS calls per vend, hit: DynamoDB': hitCalls.dynamodb / iterations,
    'AWS calls per vend, hit: STS': hitCalls.sts / iterations,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  run().then((result) => {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
