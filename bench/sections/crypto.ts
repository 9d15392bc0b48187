import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMS, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import type { EnvelopeCipherOptions } from '../../shared/crypto/envelope.js';
import { newId } from '../../shared/domain/ids.js';
import { connectionSk } from '../../shared/domain/item-layout.js';
import { permissionsOf } from '../../shared/domain/permissions.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import { tenantCaller } from '../../shared/http/auth.js';
import type { Authorizer } from '../../shared/http/auth-context.js';
import * as routes from '../../shared/schemas/connections.js';

/**
 * Crypto bench: KMS calls per 1,000 encrypt+decrypt operations through the envelope cipher with its data-key
 * cache (and, for scale, without it), the cipher's own time per operation, and the connections handler's
 * overhead for reading a masked connection (middy stack, validation, store, masking) with DynamoDB answered
 * instantly by aws-sdk-client-mock and a pass-through authorizer (the identity bench measures authorization).
 * KMS is aws-sdk-client-mock too, issuing real random data keys, so the numbers are ours, not the network's.
 * Run alone with `npx tsx bench/sections/crypto.ts`.
 */

const KEY = 'arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-4000-8000-000000000001';
const OPS = 1000;

function emulateKms(kms: ReturnType<typeof mockClient>) {
  const issued = new Map<string, Uint8Array>();
  kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string; NumberOfBytes?: number }) => {
    const plaintext = new Uint8Array(randomBytes(input.NumberOfBytes ?? 32));
    const blob = new Uint8Array(randomBytes(48));
    issued.set(Buffer.from(blob).toString('hex'), Uint8Array.from(plaintext));
    return { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: blob };
  });
  kms.on(DecryptCommand).callsFake((input: { KeyId: string; CiphertextBlob: Uint8Array }) => ({
    KeyId: input.KeyId,
    Plaintext: Uint8Array.from(issued.get(Buffer.from(input.CiphertextBlob).toString('hex'))!),
  }));
}

/** One workload: `ops` encrypt+decrypt pairs over `records` distinct records of one tenant. */
async function workload(records: number, limits?: EnvelopeCipherOptions['limits'], ops = OPS) {
  const { EnvelopeCipher } = await import('../../shared/crypto/envelope.js');
  const cipher = new EnvelopeCipher({ kms: new KMS({ region: 'eu-central-1' }), limits });
  const owner = { tenantId: newId('t'), keyArn: KEY };
  const start = performance.now();
  for (let i = 0; i < ops; i++) {
    const binding = { purpose: 'connection-password', recordId: `c_${i % records}` };
    const ciphertext = await cipher.encrypt(owner, binding, `password ${i}`);
    await cipher.decrypt(owner, binding, ciphertext);
  }
  const calls = cipher.kmsCalls();
  return {
    kms: ((calls.GenerateDataKey + calls.Encrypt + calls.Decrypt) * OPS) / ops,
    usPerPair: ((performance.now() - start) * 1000) / ops,
  };
}

/** Reads of a masked connection through the real middy stack and store; returns µs per request. */
async function maskedReadOverhead(ddb: ReturnType<typeof mockClient>, iterations: number) {
  // Imported here, after the section set the Powertools environment: the logger reads it when created.
  const { createApiHandler, implement } = await import('../../shared/http/api.js');
  const { ConnectionsService } = await import('../../shared/services/connections.js');
  const { AuditStore } = await import('../../shared/store/audit-store.js');
  const { ConnectionsStore } = await import('../../shared/store/connections-store.js');
  const { EnvelopeCipher, TenantCrypto } = await import('../../shared/crypto/envelope.js');
  const tenantId = newId('t');
  const userId = newId('u');
  const connectionId = newId('c');
  const scope = mintTenantScope({ tenantId, userId });
  ddb.on(GetCommand).resolves({
    Item: {
      pk: tenantId,
      sk: connectionSk(connectionId),
      connectionId,
      name: 'Warehouse',
      host: 'db.example.com',
      port: 5432,
      database: 'app',
      user: 'reader',
      tlsMode: 'require',
      passwordUpdatedAt: new Date().toISOString(),
      createdAt: new Date().toISOString(),
      createdBy: userId,
      updatedAt: new Date().toISOString(),
      updatedBy: userId,
      version: 1,
    },
  });
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-central-1' }));
  const tenantClients = { forScope: async () => db };
  const hostPolicy = { allowPrivateNetworks: false };
  const crypto = new TenantCrypto({
    cipher: new EnvelopeCipher({ kms: new KMS({ region: 'eu-central-1' }) }),
    keys: { keyArnFor: async () => KEY },
  });
  const service = new ConnectionsService({
    store: new ConnectionsStore({ clients: tenantClients, tableName: 'tenant-data', crypto, hostPolicy }),
    audit: new AuditStore({
      tableName: 'audit',
      chainTableName: 'audit-chain',
      tenantClients,
      platformClient: db,
    }),
    hostPolicy,
  });
  const authorizer: Authorizer = {
    authorize: async () => ({
      principal: { kind: 'session', userId, credentialId: 's', mfaEnabled: false },
      tenant: { scope, roleCeiling: 'viewer', permissions: permissionsOf('viewer') },
    }),
  };
  const handler = createApiHandler({
    area: 'connections',
    allRoutes: routes.connectionsRoutes,
    authorizer,
    routes: [
      implement(routes.getConnection, async (req) => ({
        status: 200,
        body: await service.get(tenantCaller(req), req.params.connectionId),
      })),
    ],
  });
  const path = `/v1/tenants/${tenantId}/connections/${connectionId}`;
  const event = () =>
    ({
      resource: '/v1/tenants/{tenantId}/connections/{connectionId}',
      path,
      httpMethod: 'GET',
      headers: { authorization: 'Bearer bench' },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: { tenantId, connectionId },
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { identity: { sourceIp: '203.0.113.1', userAgent: 'bench' } },
    }) as unknown as APIGatewayProxyEvent;
  const context = lambdaContext('strongroom-connections');
  for (let i = 0; i < 200; i++) await handler(event(), context);
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const response = await handler(event(), context);
    if (response.statusCode !== 200 || !response.body.includes('"password":"********"'))
      throw new Error(`unexpected response ${response.statusCode}`);
  }
  return ((performance.now() - start) * 1000) / iterations;
}

/** The section: one table (title, columns, rows), as bench/sections/types.ts's BenchSection expects. */
export const cryptoSection = {
  name: 'crypto',
  async run() {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
    const kms = mockClient(KMSClient);
    const ddb = mockClient(DynamoDBDocumentClient);
    try {
      emulateKms(kms);
      await workload(1); // warm-up
      const rows: string[][] = [];
      for (const [label, records] of [
        ['1 record (re-encrypt and read one secret)', 1],
        ['10 records (steady state: a tenant with 10 connections)', 10],
        ['1,000 distinct records (worst case: every secret new)', 1000],
      ] as const) {
        const cached = await workload(records);
        // maxMessagesEncrypted 1 and a 1 ms age: every operation goes to KMS, as without a cache (measured
        // over 200 pairs and scaled to 1,000, to keep the section short).
        const uncached = await workload(
          Math.min(records, 200),
          { maxMessagesEncrypted: 1, maxAgeMs: 1 },
          200,
        );
        rows.push([label, String(cached.kms), String(uncached.kms), cached.usPerPair.toFixed(0)]);
      }
      const readUs = await maskedReadOverhead(ddb, 2000);
      rows.push([
        'GET masked connection: handler overhead per request (µs, AWS excluded)',
        '0',
        '0',
        readUs.toFixed(0),
      ]);
      return {
        title: `Crypto: KMS calls per ${OPS.toLocaleString('en')} encrypt+decrypt pairs`,
        columns: ['workload', 'KMS calls (cache)', 'KMS calls (no cache)', 'µs per pair (cache)'],
        rows,
      };
    } finally {
      kms.restore();
      ddb.restore();
    }
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cryptoSection.run().then((table) => {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    process.stdout.write(
      `\n${table.title}\n\n${line(table.columns)}\n${line(table.columns.map(() => '---'))}\n${table.rows.map(line).join('\n')}\n`,
    );
  });
}
