import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import type { PostgresRunner } from '../../shared/connectors/postgres-runner.js';
import { envelopeCipherFor, TenantCrypto } from '../../shared/crypto/envelope.js';
import { type ApiRequest, createApiHandler, implement } from '../../shared/http/api.js';
import { authorizerFor, identityStoreFor, rateLimiterFor, requireTenant } from '../../shared/http/auth.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import type { RouteDef } from '../../shared/http/route.js';
import {
  queryConnection,
  queryRoutes,
  queryTenantRecords,
  testConnection,
} from '../../shared/schemas/query.js';
import {
  type QueryCallerContext,
  runConnectionQuery,
  runRecordsQuery,
  testConnection as tryConnection,
} from '../../shared/services/query.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { ConnectionsStore } from '../../shared/store/connections-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantItemKeyDirectory } from '../../shared/store/tenant-key-directory.js';
import { TenantRecordsReader } from '../../shared/store/tenant-records-reader.js';

const runtime = functionRuntime();
const identity = identityStoreFor(runtime);
const tenantDataTable = runtime.require('tenantDataTable');
const auditTable = runtime.require('auditTable');
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
const tenantClients = tenantDataClientsFor(runtime);
const crypto = new TenantCrypto({
  cipher: envelopeCipherFor(runtime),
  keys: new TenantItemKeyDirectory({ clients: tenantClients, tableName: tenantDataTable }),
});
const connections = new ConnectionsStore({
  clients: tenantClients,
  tableName: tenantDataTable,
  crypto,
  hostPolicy,
});
// Pools and introspected schemas live as long as this warm function, in memory only. pg and the runner
// are loaded at the first connection query or test (a chunk of its own): record queries never need them.
const runner: Pick<PostgresRunner, 'schema' | 'run' | 'test'> = loadedOnUse(async () => {
  const { PostgresRunner } = await import('../../shared/connectors/postgres-runner.js');
  return new PostgresRunner({ hostPolicy });
});
const reader = new TenantRecordsReader({
  tenantClients,
  tableNames: { tenantData: tenantDataTable, audit: auditTable },
});
const audit = auditRecorderFor(runtime, { tenantClients });

function caller(request: ApiRequest<RouteDef>): QueryCallerContext {
  const { scope, permissions, principal } = requireTenant(request.auth);
  return {
    scope,
    permissions,
    actor: {
      userId: principal.userId,
      ...(principal.kind === 'api-key' ? { apiKeyId: principal.credentialId } : {}),
      ip: request.sourceIp,
      userAgent: request.userAgent,
    },
  };
}

/** Queries: a query AST against a registered connection, or over the tenant's own records. */
export const handler = createApiHandler({
  runtime,
  area: 'query',
  allRoutes: queryRoutes,
  authorizer: authorizerFor(runtime, { identity }),
  rateLimiter: rateLimiterFor(identity),
  onRefused: auditRefusalsTo(audit),
  routes: [
    implement(queryConnection, async (req) => ({
      status: 200,
      body: await runConnectionQuery(
        { connections, runner, audit },
        caller(req),
        req.params.connectionId,
        req.body,
      ),
    })),
    implement(queryTenantRecords, async (req) => ({
      status: 200,
      body: await runRecordsQuery({ reader }, caller(req), req.body),
    })),
    implement(testConnection, async (req) => ({
      status: 200,
      body: await tryConnection({ connections, runner, audit }, caller(req), req.params.connectionId),
    })),
  ],
});
