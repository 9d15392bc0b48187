import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import type { PostgresRunner } from '../../shared/connectors/postgres-runner.js';
import type { QueryAst, SelectQuery } from '../../shared/domain/query-ast.js';
import { type ApiRequest, createApiHandler, implement } from '../../shared/http/api.js';
import { authorizerFor, identityRecordsFor, rateLimiterFor, requireTenant } from '../../shared/http/auth.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import type { RouteDef } from '../../shared/http/route.js';
import {
  queryConnection,
  queryRoutes,
  queryTenantRecords,
  testConnection,
} from '../../shared/schemas/query.js';
import type { QueryCallerContext } from '../../shared/services/query.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';

const runtime = functionRuntime();
const identity = identityRecordsFor(runtime);
const tenantDataTable = runtime.require('tenantDataTable');
const auditTable = runtime.require('auditTable');
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
const tenantClients = tenantDataClientsFor(runtime);
const audit = auditRecorderFor(runtime, { tenantClients });

// Each way of querying is loaded by the first request that takes it (shared/aws/loaded-on-use.ts), a chunk a
// cold start neither parses nor runs: over the tenant's own records, the use case, the DynamoDB compiler and
// the records reader; against a registered connection (a query or a test), the use case, the SQL compiler and
// the connections store with its decryption (tenant keys), and behind them, at the first statement, pg.
const records = loadedOnUse(async () => {
  const [{ runRecordsQuery }, { TenantRecordsReader }] = await Promise.all([
    import('../../shared/services/query.js'),
    import('../../shared/store/tenant-records-reader.js'),
  ]);
  const reader = new TenantRecordsReader({
    tenantClients,
    tableNames: { tenantData: tenantDataTable, audit: auditTable },
  });
  return { run: (caller: QueryCallerContext, ast: SelectQuery) => runRecordsQuery({ reader }, caller, ast) };
});
// Pools and introspected schemas live as long as this warm function, in memory only.
const runner: Pick<PostgresRunner, 'schema' | 'run' | 'test'> = loadedOnUse(async () => {
  const { PostgresRunner } = await import('../../shared/connectors/postgres-runner.js');
  return new PostgresRunner({ hostPolicy });
});
const connectionQueries = loadedOnUse(async () => {
  const [query, { ConnectionsStore }, { envelopeCipherFor, TenantCrypto }, { TenantItemKeyDirectory }] =
    await Promise.all([
      import('../../shared/services/query.js'),
      import('../../shared/store/connections-store.js'),
      import('../../shared/crypto/envelope.js'),
      import('../../shared/store/tenant-key-directory.js'),
    ]);
  const crypto = new TenantCrypto({
    cipher: envelopeCipherFor(runtime),
    keys: new TenantItemKeyDirectory({ clients: tenantClients, tableName: tenantDataTable }),
  });
  const deps = {
    connections: new ConnectionsStore({
      clients: tenantClients,
      tableName: tenantDataTable,
      crypto,
      hostPolicy,
    }),
    runner,
    audit,
  };
  return {
    run: (caller: QueryCallerContext, connectionId: string, ast: QueryAst) =>
      query.runConnectionQuery(deps, caller, connectionId, ast),
    test: (caller: QueryCallerContext, connectionId: string) =>
      query.testConnection(deps, caller, connectionId),
  };
});

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
      body: await connectionQueries.run(caller(req), req.params.connectionId, req.body),
    })),
    implement(queryTenantRecords, async (req) => ({
      status: 200,
      body: await records.run(caller(req), req.body),
    })),
    implement(testConnection, async (req) => ({
      status: 200,
      body: await connectionQueries.test(caller(req), req.params.connectionId),
    })),
  ],
});
