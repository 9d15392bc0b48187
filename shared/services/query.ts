import type { PostgresRunner, PostgresTarget, QueryRows } from '../connectors/postgres-runner.js';
import type { AuditActor } from '../domain/audit-events.js';
import type { DataSourceFailure } from '../domain/data-source-failures.js';
import { compileRecordsQuery, TENANT_RECORD_TYPES } from '../domain/dynamo-query-compiler.js';
import type { Permission } from '../domain/permissions.js';
import { type QueryAst, queryShape, type SelectQuery } from '../domain/query-ast.js';
import {
  checkQueryAllowed,
  hiddenColumnsFor,
  permissionFor,
  QueryRefusedError,
} from '../domain/query-rules.js';
import { type CompiledSql, compileSql, encodeSqlCursor, QueryCompileError } from '../domain/sql-compiler.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { ForbiddenError, HttpProblemError, ValidationError } from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { DecryptedConnection } from '../store/connections-store.js';
import { AUDIT_TABLE, TENANT_DATA_TABLE } from '../store/tables.js';
import type { RecordsPage, TenantRecordsReader } from '../store/tenant-records-reader.js';

/** A registered Postgres connection with its password decrypted (in memory only, for this request). */
export type QueryableConnection = DecryptedConnection;

/** Where connections come from (the connections store); throws NotFoundError for another tenant's ids. */
export interface ConnectionSource {
  loadConnectionWithPassword(scope: TenantScope, connectionId: string): Promise<QueryableConnection>;
}

export interface QueryCallerContext {
  scope: TenantScope;
  permissions: ReadonlySet<Permission>;
  actor: AuditActor;
}

export interface ConnectionQueryDeps {
  connections: ConnectionSource;
  runner: Pick<PostgresRunner, 'schema' | 'run'>;
  audit: Pick<AuditRecorder, 'record'>;
}

/** The API's answer to a query: rows as arrays in `columns` order. */
export interface QueryResponse {
  columns: string[];
  rows: unknown[][];
  nextCursor: string | null;
  /** Writes: rows changed. */
  rowCount?: number;
}

/** Maps the domain's refusals and compile errors to the HTTP problems the API documents. */
export function toHttpError(error: unknown): unknown {
  if (error instanceof QueryRefusedError) return new ForbiddenError(error.message, 'query-refused');
  if (error instanceof QueryCompileError)
    return new ValidationError([
      { path: error.path ? `body.${error.path}` : 'body', message: error.message },
    ]);
  return error;
}

/** The runner's view of a connection. */
export function postgresTarget(scope: TenantScope, connection: QueryableConnection): PostgresTarget {
  return {
    key: `${scope.tenantId}/${connection.connectionId}`,
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password,
    tls: { mode: connection.tlsMode, ...(connection.caPem ? { caPem: connection.caPem } : {}) },
    ...(connection.schema ? { schema: connection.schema } : {}),
  };
}

/**
 * Runs a query AST against one of the tenant's connections: the operation's permission, then the
 * connection's rules, then compilation against the introspected schema, then execution. Every executed
 * query is audited with its shape (never values or rows); a write is committed only once its audit event
 * is written.
 */
export async function runConnectionQuery(
  deps: ConnectionQueryDeps,
  caller: QueryCallerContext,
  connectionId: string,
  ast: QueryAst,
): Promise<QueryResponse> {
  const audit = (details: Record<string, unknown>) =>
    deps.audit.record(caller.scope, {
      action: 'connection.queried',
      actor: caller.actor,
      resource: { type: 'connection', id: connectionId },
      details: { ...queryShape(ast), ...details },
    });
  let connection: QueryableConnection | undefined;
  try {
    const permission = permissionFor(ast);
    if (!caller.permissions.has(permission))
      throw new QueryRefusedError(`The ${ast.operation} operation needs the ${permission} permission`);
    connection = await deps.connections.loadConnectionWithPassword(caller.scope, connectionId);
    checkQueryAllowed(ast, caller, connection.rules);
  } catch (error) {
    // A refusal of a connection of this tenant is audited like an executed query: its shape and why.
    if (error instanceof QueryRefusedError && connection) {
      await audit({ outcome: 'refused', reason: error.message });
      const refused = toHttpError(error) as HttpProblemError;
      refused.audited = true;
      throw refused;
    }
    throw toHttpError(error);
  }
  try {
    const target = postgresTarget(caller.scope, connection);
    let schema: Awaited<ReturnType<ConnectionQueryDeps['runner']['schema']>>;
    try {
      schema = await deps.runner.schema(target);
    } catch (error) {
      // The database could not be reached, or refused the login: audited with the class of failure.
      if (error instanceof HttpProblemError) await audit(failedOutcome(error));
      throw error;
    }
    const compiled = compileSql(ast, schema, {
      hidden: hiddenColumnsFor(ast.table, caller, connection.rules),
    });

    let result: QueryRows;
    let auditFailed = false;
    try {
      result = await deps.runner.run(target, compiled, {
        beforeCommit: (rowCount) =>
          audit({ outcome: 'committed', rowCount }).catch((error: unknown) => {
            auditFailed = true;
            throw error;
          }),
      });
    } catch (error) {
      // The database ran (or tried to run) it: that is audited too, with what went wrong but no values.
      if (!auditFailed && error instanceof HttpProblemError) await audit(failedOutcome(error));
      throw error;
    }
    if (compiled.kind === 'read') await audit({ outcome: 'read', rowCount: result.rowCount });
    return toResponse(compiled, result);
  } catch (error) {
    throw toHttpError(error);
  }
}

/** What an audited failure says: the status and problem, and for a data source that failed, its class. */
function failedOutcome(error: HttpProblemError): Record<string, unknown> {
  const failure = error.extensions.failure;
  return {
    outcome: 'failed',
    status: error.status,
    problem: error.type,
    ...(typeof failure === 'string' ? { failure } : {}),
  };
}

/** The answer of a connection test: a failed one is a 200 naming the class of failure. */
export interface ConnectionTestResult {
  connectionId: string;
  outcome: 'connected' | 'failed';
  failure: DataSourceFailure | null;
  detail: string;
  /** How the server was verified: its certificate checked against the name, encrypted only, or neither. */
  tls: 'verified' | 'encrypted-unverified' | 'none';
  latencyMs: number | null;
  testedAt: string;
}

export interface ConnectionTestDeps {
  connections: ConnectionSource;
  runner: Pick<PostgresRunner, 'test'>;
  audit: Pick<AuditRecorder, 'record'>;
  now?: () => number;
}

const TLS_VERIFICATION = {
  'verify-full': 'verified',
  require: 'encrypted-unverified',
  disable: 'none',
} as const;

/**
 * Tries one of the tenant's connections without running a statement (connect, TLS, log in, close), for
 * `connections:manage`. The outcome, failed or not, is audited (`connection.tested`) before it is returned.
 */
export async function testConnection(
  deps: ConnectionTestDeps,
  caller: QueryCallerContext,
  connectionId: string,
): Promise<ConnectionTestResult> {
  // Defence in depth: the route demands it; this use case must not trust that.
  if (!caller.permissions.has('connections:manage'))
    throw new ForbiddenError('Testing a connection needs the connections:manage permission.');
  const connection = await deps.connections.loadConnectionWithPassword(caller.scope, connectionId);
  const testedAt = new Date((deps.now ?? Date.now)()).toISOString();
  let result: ConnectionTestResult;
  try {
    const { latencyMs } = await deps.runner.test(postgresTarget(caller.scope, connection));
    result = {
      connectionId,
      outcome: 'connected',
      failure: null,
      detail: 'Connected, negotiated TLS as configured and logged in; no statement was run.',
      tls: TLS_VERIFICATION[connection.tlsMode],
      latencyMs,
      testedAt,
    };
  } catch (error) {
    const failure = error instanceof HttpProblemError ? error.extensions.failure : undefined;
    if (!(error instanceof HttpProblemError) || error.status !== 502 || typeof failure !== 'string')
      throw error;
    result = {
      connectionId,
      outcome: 'failed',
      failure: failure as DataSourceFailure,
      detail: error.detail ?? error.title,
      tls: TLS_VERIFICATION[connection.tlsMode],
      latencyMs: null,
      testedAt,
    };
  }
  await deps.audit.record(caller.scope, {
    action: 'connection.tested',
    actor: caller.actor,
    resource: { type: 'connection', id: connectionId },
    details: {
      outcome: result.outcome,
      ...(result.failure ? { failure: result.failure } : {}),
      tls: result.tls,
    },
  });
  return result;
}

function toResponse(compiled: CompiledSql, result: QueryRows): QueryResponse {
  if (compiled.kind === 'write')
    return { columns: result.columns, rows: result.rows, nextCursor: null, rowCount: result.rowCount };
  // The next page starts after the rows returned (a page may stop short of `limit` to fit the response).
  const nextCursor =
    result.hasMore && compiled.fingerprint !== undefined
      ? encodeSqlCursor((compiled.offset ?? 0) + result.rows.length, compiled.fingerprint)
      : null;
  return { columns: result.columns, rows: result.rows, nextCursor };
}

export interface RecordsQueryDeps {
  reader: Pick<TenantRecordsReader, 'select'>;
  now?: () => number;
}

/**
 * Runs a select over the tenant's own records (members, instances, storage locations, API key metadata,
 * audit events): a DynamoDB Query fixed to the caller's partition, read with tenant-scoped credentials.
 */
export async function runRecordsQuery(
  deps: RecordsQueryDeps,
  caller: QueryCallerContext,
  ast: SelectQuery,
): Promise<RecordsPage> {
  try {
    if (!caller.permissions.has('query:read'))
      throw new QueryRefusedError('The select operation needs the query:read permission');
    const table = TENANT_RECORD_TYPES.get(ast.table)?.table === 'audit' ? AUDIT_TABLE : TENANT_DATA_TABLE;
    const compiled = compileRecordsQuery(
      ast,
      { tenantId: caller.scope.tenantId, userId: caller.scope.userId, permissions: caller.permissions },
      {
        partitionKey: table.partitionKey,
        sortKey: table.sortKey,
        ttlAttribute: table.ttlAttribute,
        nowEpochSeconds: Math.floor((deps.now ?? Date.now)() / 1000),
      },
    );
    return await deps.reader.select(caller.scope, compiled);
  } catch (error) {
    throw toHttpError(error);
  }
}
