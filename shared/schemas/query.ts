import { DATA_SOURCE_FAILURES } from '../domain/data-source-failures.js';
import { QueryAst, SelectQuery } from '../domain/query-ast.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { ConnectionId, TenantId } from './common.js';

/** A page of rows: each row an array in `columns` order (so any column name, even `__proto__`, is safe). */
export const QueryResult = z.onFirstUse(() =>
  z
    .object({
      columns: z.array(z.string()),
      rows: z.array(z.array(z.unknown())),
      /** Send it back as `cursor` with the same query for the next page; null on the last page and for writes. */
      nextCursor: z.nullable(z.string()),
      /** Writes: rows changed. */
      rowCount: z.optional(z.number().check(z.int())),
    })
    .check(z.meta({ id: 'QueryResult' })),
);

export const queryConnection = defineRoute({
  id: 'queryConnection',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}/query',
  area: 'query',
  summary:
    'Run a query AST against a connection: select needs query:read, insert/update/delete query:write; the connection’s rules apply; audited',
  tags: ['query'],
  // Writes additionally need query:write, checked against the AST's operation before anything runs.
  auth: { kind: 'tenant', permission: 'query:read' },
  get params() {
    return z.strictObject({ tenantId: TenantId(), connectionId: ConnectionId() });
  },
  get body() {
    return QueryAst();
  },
  response: {
    status: 200,
    description: 'The rows (selects, or returned by a write)',
    get schema() {
      return QueryResult();
    },
  },
});

export const queryTenantRecords = defineRoute({
  id: 'queryTenantRecords',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/query',
  area: 'query',
  summary:
    'Select over the tenant’s own records: members, instances, storageLocations, apiKeys (metadata), auditEvents',
  tags: ['query'],
  auth: { kind: 'tenant', permission: 'query:read' },
  get params() {
    return z.strictObject({ tenantId: TenantId() });
  },
  get body() {
    return SelectQuery();
  },
  response: {
    status: 200,
    description: 'The rows',
    get schema() {
      return QueryResult();
    },
  },
});

/** What a connection test found. */
export const ConnectionTest = z.onFirstUse(() =>
  z
    .object({
      connectionId: ConnectionId(),
      outcome: z.enum(['connected', 'failed']),
      failure: z.nullable(z.enum(DATA_SOURCE_FAILURES)),
      detail: z.string(),
      tls: z.enum(['verified', 'encrypted-unverified', 'none']),
      latencyMs: z.nullable(z.number().check(z.int(), z.nonnegative())),
      testedAt: z.string(),
    })
    .check(z.meta({ id: 'ConnectionTest' })),
);

export const testConnection = defineRoute({
  id: 'testConnection',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}/test',
  // Served where queries run: the test must reach the database from the same network a query would.
  area: 'query',
  summary:
    'Try a connection without running a statement: resolve and check the host, connect with its TLS mode, log in, close; audited',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:manage' },
  get params() {
    return z.strictObject({ tenantId: TenantId(), connectionId: ConnectionId() });
  },
  rateLimits: [{ name: 'connection-test', per: 'tenant', limit: 60, windowSeconds: 3600 }],
  response: {
    status: 200,
    description:
      'The outcome: a database that cannot be reached or refuses the login is a 200 with outcome "failed" and the class of failure',
    get schema() {
      return ConnectionTest();
    },
  },
});

export const queryRoutes = [queryConnection, queryTenantRecords, testConnection];
