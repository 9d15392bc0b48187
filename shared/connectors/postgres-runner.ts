import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import pg from 'pg';
import { BoundedCache, bytesFor, estimateBytes } from '../domain/bounded-cache.js';
import { type HostPolicy, isAddressAllowed } from '../domain/connection-host.js';
import type { DataSourceFailure } from '../domain/data-source-failures.js';
import type { ColumnTypeClass, CompiledSql, DbColumn, DbSchema, DbTable } from '../domain/sql-compiler.js';
import {
  ConflictError,
  GatewayTimeoutError,
  HttpProblemError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors.js';
import { registerCache } from '../observability.js';
import { rowsWithin } from '../store/result-size.js';

/**
 * TLS as libpq means it: `require` encrypts but does not verify the server (so a self-signed server
 * works, and a network attacker who can intercept could impersonate it); `verify-full` checks the chain
 * against the given CA (or the system roots) and the host name; `disable` is plain TCP.
 */
export type PostgresTlsMode = 'disable' | 'require' | 'verify-full';

/** Everything needed to reach one registered database. The password lives only in memory. */
export interface PostgresTarget {
  /** Stable id of the connection (tenant and connection id): cache key for pools and schemas. */
  key: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  tls: { mode: PostgresTlsMode; caPem?: string };
  /** The one schema whose tables are queryable; `public` by default. */
  schema?: string;
}

export interface PostgresRunnerProps {
  /** `SET LOCAL statement_timeout` of every query (default 5 s). */
  statementTimeoutMs?: number;
  /** How long an introspected schema is reused (default 5 min). */
  schemaTtlMs?: number;
  connectTimeoutMs?: number;
  /** Clients per connection (default 2: a Lambda serves one request at a time). */
  poolSize?: number;
  idleTimeoutMs?: number;
  /** Pools kept while warm (least recently used are ended first). */
  maxPools?: number;
  /** A write changing more rows is rolled back (default 1000). */
  maxAffectedRows?: number;
  /** Serialised rows per response at most (default 5 MiB, below Lambda's 6 MB response limit). */
  maxResultBytes?: number;
  /**
   * When set, the host is resolved before a pool is made, every address is checked against the policy and
   * the pool connects to the checked address (so DNS rebinding cannot point it at the platform's network).
   */
  hostPolicy?: HostPolicy;
  /** Pools are rebuilt (and the host resolved again) after this long (default 5 min). */
  maxPoolAgeMs?: number;
  now?: () => number;
}

/** What a query returns: rows as arrays in `columns` order, never stored or logged. */
export interface QueryRows {
  columns: string[];
  rows: unknown[][];
  /** Rows changed (writes) or returned (reads). */
  rowCount: number;
  /** Reads: whether more rows follow this page. */
  hasMore: boolean;
}

export interface RunHooks {
  /**
   * Writes: called after the statement succeeded and before COMMIT, with the number of rows changed. If it
   * throws (the audit event could not be written), the change is rolled back.
   */
  beforeCommit?: (rowCount: number) => Promise<void>;
}

/**
 * The database could not be reached or refused the connection: 502 naming the class of failure (`failure`),
 * nothing about the credentials or the server's own words shown.
 */
export class DataSourceUnavailableError extends HttpProblemError {
  readonly failure: DataSourceFailure;

  constructor(failure: DataSourceFailure, detail: string, cause?: unknown) {
    super(502, 'data-source-unavailable', 'Bad Gateway', { detail, cause, extensions: { failure } });
    this.name = 'DataSourceUnavailableError';
    this.failure = failure;
  }
}

/** The database refused the statement for a reason of its own (privileges, a constraint, a value). */
export class DataSourceRefusedError extends HttpProblemError {
  constructor(status: number, type: string, title: string, detail: string, cause?: unknown) {
    super(status, type, title, { detail, cause });
    this.name = 'DataSourceRefusedError';
  }
}

/** A pooled client's socket buffers and objects, estimated; a pool counts as full. */
const PG_CLIENT_BYTES = 64 * 1024;
/** Introspected schemas kept at once, in estimated bytes. */
const MAX_SCHEMA_CACHE_BYTES = 8 * 2 ** 20;

const DEFAULTS = {
  statementTimeoutMs: 5_000,
  schemaTtlMs: 5 * 60_000,
  connectTimeoutMs: 5_000,
  poolSize: 2,
  idleTimeoutMs: 60_000,
  maxPools: 50,
  maxAffectedRows: 1_000,
  maxPoolAgeMs: 5 * 60_000,
  maxResultBytes: 5 * 1024 * 1024,
};

// Types whose driver parsing gives exact JSON values; every other type stays the text Postgres sent
// (int8 and numeric keep their precision, timestamps their zone, bytea becomes `\x…` instead of a Buffer).
const PARSED_TYPES: ReadonlySet<number> = new Set([16, 21, 23, 26, 114, 700, 701, 3802]);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    PARSED_TYPES.has(oid) ? pg.types.getTypeParser(oid, format) : (value: string) => value) as never,
};

interface PoolEntry {
  fingerprint: string;
  pool: pg.Pool;
  createdAt: number;
}

/** The connection's host resolves to an address the deployment does not allow (SSRF guard). */
export class ConnectionHostRefusedError extends HttpProblemError {
  constructor() {
    super(403, 'host-not-allowed', 'Forbidden', {
      detail: "The connection's host resolves to an address this deployment does not allow.",
    });
    this.name = 'ConnectionHostRefusedError';
  }
}

interface SchemaEntry {
  fingerprint: string;
  schema: DbSchema;
  expiresAt: number;
}

/**
 * Runs compiled queries against registered Postgres databases: one small pool per connection while warm,
 * reads in READ ONLY transactions and writes in transactions rolled back on any error, each with a
 * statement timeout; introspected schemas cached in memory only. Clients always go back to their pool.
 */
export class PostgresRunner {
  readonly #props: Required<Omit<PostgresRunnerProps, 'hostPolicy'>> & { hostPolicy?: HostPolicy };
  readonly #pools: BoundedCache<PoolEntry>;
  readonly #pendingPools = new Map<string, Promise<pg.Pool>>();
  readonly #ending = new Set<Promise<void>>();
  readonly #schemas: BoundedCache<SchemaEntry>;
  readonly #pendingSchemas = new Map<string, Promise<DbSchema>>();

  constructor(props: PostgresRunnerProps = {}) {
    this.#props = { ...DEFAULTS, now: Date.now, ...props };
    const timeout = this.#props.statementTimeoutMs;
    if (!Number.isSafeInteger(timeout) || timeout < 1)
      throw new RangeError('statementTimeoutMs must be a positive integer');
    const { maxPools, poolSize } = this.#props;
    this.#pools = new BoundedCache<PoolEntry>({
      name: 'database pools',
      maxEntries: maxPools,
      maxBytes: bytesFor(maxPools, poolSize * PG_CLIENT_BYTES),
      sizeOf: () => poolSize * PG_CLIENT_BYTES,
      // A pool that leaves (evicted, aged out, its connection changed) ends once its clients are back.
      onRemove: (entry) => {
        const ending = entry.pool
          .end()
          .catch(() => {})
          .finally(() => this.#ending.delete(ending));
        this.#ending.add(ending);
      },
    });
    this.#schemas = new BoundedCache<SchemaEntry>({
      name: 'database schemas',
      maxEntries: maxPools,
      maxBytes: MAX_SCHEMA_CACHE_BYTES,
      sizeOf: (entry) => estimateBytes(entry.schema),
    });
    registerCache(this.#pools);
    registerCache(this.#schemas);
  }

  /** Where and how a connection to `target` logs in (the resolved `address`, TLS, the connect timeout). */
  #loginTo(target: PostgresTarget, address: string): pg.ClientConfig {
    return {
      host: address,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      ssl: sslOptions(target),
      connectionTimeoutMillis: this.#props.connectTimeoutMs,
    };
  }

  /**
   * Tries the connection without running a statement: resolves and checks the host, opens one new client
   * (never a pooled one, so a warm pool cannot hide a broken setting) with the connection's TLS mode,
   * authenticates, and closes it. A failure is the 502 a query would get, with its `failure` class.
   */
  async test(target: PostgresTarget): Promise<{ latencyMs: number }> {
    const started = performance.now();
    const address = await this.#resolveHost(target);
    const client = new pg.Client({
      ...this.#loginTo(target, address),
      application_name: 'strongroom-connection-test',
    });
    // A server that drops the socket after the handshake must not crash the function.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      throw connectError(error);
    } finally {
      await client.end().catch(() => {});
    }
    return { latencyMs: Math.round(performance.now() - started) };
  }

  /** The connection's schema: tables, columns, types and primary keys, from the cache while fresh. */
  async schema(target: PostgresTarget): Promise<DbSchema> {
    const fingerprint = targetFingerprint(target);
    const cached = this.#schemas.get(
      target.key,
      (entry) => entry.fingerprint === fingerprint && entry.expiresAt > this.#props.now(),
    );
    if (cached) return cached.schema;
    const pendingKey = `${target.key}\u0000${fingerprint}`;
    let pending = this.#pendingSchemas.get(pendingKey);
    if (!pending) {
      pending = this.#introspect(target)
        .then((schema) => {
          this.#schemas.set(target.key, {
            fingerprint,
            schema,
            expiresAt: this.#props.now() + this.#props.schemaTtlMs,
          });
          return schema;
        })
        .finally(() => this.#pendingSchemas.delete(pendingKey));
      this.#pendingSchemas.set(pendingKey, pending);
    }
    return pending;
  }

  /** Forgets a connection's cached schema (after the database said a table or column is gone). */
  forgetSchema(target: PostgresTarget): void {
    this.#schemas.delete(target.key);
  }

  /** Runs a compiled statement: reads in a READ ONLY transaction, writes in one that rolls back on error. */
  async run(target: PostgresTarget, compiled: CompiledSql, hooks: RunHooks = {}): Promise<QueryRows> {
    return this.#transaction(target, compiled.kind === 'read', async (client) => {
      const result = await client.query({ text: compiled.text, values: compiled.values, rowMode: 'array' });
      const rows = result.rows as unknown[][];
      if (compiled.kind === 'read') {
        const pageSize = compiled.pageSize ?? rows.length;
        const wanted = rows.length > pageSize ? rows.slice(0, pageSize) : rows;
        // A page stops early when it would not fit in a Lambda response; the cursor continues after it.
        const page = wanted.slice(0, rowsWithin(wanted, this.#props.maxResultBytes));
        const hasMore = rows.length > pageSize || page.length < wanted.length;
        return { columns: compiled.columns, rows: page, rowCount: page.length, hasMore };
      }
      const rowCount = result.rowCount ?? 0;
      if (rowCount > this.#props.maxAffectedRows)
        throw new ValidationError(
          [
            {
              path: 'body.where',
              message: `Matches ${rowCount} rows; one write may change at most ${this.#props.maxAffectedRows}`,
            },
          ],
          'The write would change too many rows; nothing was changed.',
        );
      if (rowsWithin(rows, this.#props.maxResultBytes, 'body.returning') < rows.length)
        throw new ValidationError(
          [
            {
              path: 'body.returning',
              message: `The returned rows exceed ${this.#props.maxResultBytes} bytes`,
            },
          ],
          'The write would return too much data; nothing was changed. Return fewer columns.',
        );
      await hooks.beforeCommit?.(rowCount);
      return { columns: compiled.columns, rows, rowCount, hasMore: false };
    });
  }

  /** Clients of a connection's pool, for tests and metrics: none waiting and all idle when at rest. */
  poolStats(target: PostgresTarget): { total: number; idle: number; waiting: number } {
    const pool = this.#pools.peek(target.key)?.pool;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
  }

  /** Ends every pool (tests, shutdown). */
  async close(): Promise<void> {
    this.#pools.clear();
    this.#schemas.clear();
    await Promise.all([...this.#ending]);
  }

  async #transaction<T>(
    target: PostgresTarget,
    readOnly: boolean,
    body: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.#begin(target, readOnly);
    let broken: Error | undefined;
    try {
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // A client that cannot even roll back is not given to the next request.
        broken = rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
      }
      // The cached schema named something the database no longer has: introspect afresh next time.
      if (error instanceof pg.DatabaseError && (error.code === '42P01' || error.code === '42703'))
        this.forgetSchema(target);
      throw mapDatabaseError(error, this.#props.statementTimeoutMs);
    } finally {
      client.release(broken);
    }
  }

  /**
   * A client inside a fresh transaction with the statement timeout set. A pooled client whose socket died
   * while the function was frozen fails on BEGIN, before anything ran: it is discarded and one new client
   * is tried, so a warm function does not answer 502 for a stale socket.
   */
  async #begin(target: PostgresTarget, readOnly: boolean): Promise<pg.PoolClient> {
    // One round trip for both: the timeout is our own integer (checked in the constructor), never input.
    const begin = `${readOnly ? 'BEGIN READ ONLY' : 'BEGIN'}; SET LOCAL statement_timeout = ${this.#props.statementTimeoutMs}`;
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect(target);
      try {
        await client.query(begin);
        return client;
      } catch (error) {
        client.release(error instanceof Error ? error : new Error('BEGIN failed'));
        if (attempt >= 2 || error instanceof pg.DatabaseError)
          throw mapDatabaseError(error, this.#props.statementTimeoutMs);
      }
    }
  }

  async #connect(target: PostgresTarget): Promise<pg.PoolClient> {
    try {
      return await (await this.#pool(target)).connect();
    } catch (error) {
      throw connectError(error);
    }
  }

  async #pool(target: PostgresTarget): Promise<pg.Pool> {
    const fingerprint = targetFingerprint(target);
    // Most recently used last, so eviction takes the coldest; a changed connection or an aged pool misses.
    const existing = this.#pools.get(
      target.key,
      (entry) =>
        entry.fingerprint === fingerprint && this.#props.now() - entry.createdAt < this.#props.maxPoolAgeMs,
    );
    if (existing) return existing.pool;
    const pendingKey = `${target.key}\u0000${fingerprint}`;
    let pending = this.#pendingPools.get(pendingKey);
    if (!pending) {
      pending = this.#resolveHost(target)
        .then((address) => this.#newPool(target, fingerprint, address))
        .finally(() => this.#pendingPools.delete(pendingKey));
      this.#pendingPools.set(pendingKey, pending);
    }
    return pending;
  }

  /** The address to connect to: checked against the host policy when there is one. */
  async #resolveHost(target: PostgresTarget): Promise<string> {
    const policy = this.#props.hostPolicy;
    if (!policy) return target.host;
    let addresses: string[];
    if (isIP(target.host)) addresses = [target.host];
    else {
      try {
        addresses = (await lookup(target.host, { all: true, verbatim: true })).map((a) => a.address);
      } catch (error) {
        throw new DataSourceUnavailableError(
          'unreachable',
          "The connection's host name could not be resolved.",
          error,
        );
      }
    }
    if (addresses.length === 0 || !addresses.every((a) => isAddressAllowed(a, policy)))
      throw new ConnectionHostRefusedError();
    return addresses[0]!;
  }

  #newPool(target: PostgresTarget, fingerprint: string, address: string): pg.Pool {
    // The connection changed (host, password, TLS…) or the pool aged out: its clients are not reused.
    this.#pools.delete(target.key);
    const pool = new pg.Pool({
      ...this.#loginTo(target, address),
      max: this.#props.poolSize,
      idleTimeoutMillis: this.#props.idleTimeoutMs,
      // Backstop if the server stops answering altogether; the statement timeout normally fires first.
      query_timeout: this.#props.statementTimeoutMs + 5_000,
      application_name: 'strongroom-query',
      types: TYPES,
    });
    // An idle client losing its server must not crash the function.
    pool.on('error', () => {});
    this.#pools.set(target.key, { fingerprint, pool, createdAt: this.#props.now() });
    return pool;
  }

  async #introspect(target: PostgresTarget): Promise<DbSchema> {
    const schemaName = target.schema ?? 'public';
    return this.#transaction(target, true, async (client) => {
      const columns = await client.query<IntrospectedColumn>(INTROSPECT_COLUMNS, [schemaName]);
      const keys = await client.query<{ table_name: string; column_name: string }>(INTROSPECT_PRIMARY_KEYS, [
        schemaName,
      ]);
      return buildSchema(schemaName, columns.rows, keys.rows);
    });
  }
}

interface IntrospectedColumn {
  table_name: string;
  relkind: string;
  column_name: string;
  data_type: string;
  type_name: string;
  type_category: string;
  not_null: boolean;
  generated: string;
  identity: string;
}

const INTROSPECT_COLUMNS = `
SELECT c.relname AS table_name, c.relkind::text AS relkind, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type, t.typname AS type_name,
       t.typcategory::text AS type_category, a.attnotnull AS not_null,
       a.attgenerated::text AS generated, a.attidentity::text AS identity
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
 ORDER BY c.relname, a.attnum`;

const INTROSPECT_PRIMARY_KEYS = `
SELECT c.relname AS table_name, a.attname AS column_name
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
 WHERE n.nspname = $1 AND i.indisprimary
 ORDER BY c.relname, array_position(i.indkey::int2[], a.attnum)`;

function buildSchema(
  schemaName: string,
  columns: IntrospectedColumn[],
  keys: { table_name: string; column_name: string }[],
): DbSchema {
  const tables = new Map<string, DbTable & { columns: Map<string, DbColumn>; primaryKey: string[] }>();
  for (const row of columns) {
    let table = tables.get(row.table_name);
    if (!table) {
      table = {
        name: row.table_name,
        writable: row.relkind === 'r' || row.relkind === 'p',
        columns: new Map(),
        primaryKey: [],
      };
      tables.set(row.table_name, table);
    }
    table.columns.set(row.column_name, {
      name: row.column_name,
      type: row.data_type,
      typeClass: typeClassOf(row.type_name, row.type_category),
      nullable: !row.not_null,
      writable: row.generated === '' && row.identity !== 'a',
    });
  }
  for (const key of keys) tables.get(key.table_name)?.primaryKey.push(key.column_name);
  return { schema: schemaName, tables };
}

function typeClassOf(typeName: string, category: string): ColumnTypeClass {
  if (typeName === 'json' || typeName === 'jsonb') return 'json';
  if (typeName === 'uuid') return 'uuid';
  if (typeName === 'bool') return 'boolean';
  if (typeName === 'int2' || typeName === 'int4' || typeName === 'int8') return 'integer';
  if (category === 'N') return 'numeric';
  if (category === 'S') return 'text';
  if (category === 'D') return 'temporal';
  return 'other';
}

function sslOptions(target: PostgresTarget): pg.PoolConfig['ssl'] {
  switch (target.tls.mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false, ...(isIP(target.host) ? {} : { servername: target.host }) };
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ...(target.tls.caPem ? { ca: target.tls.caPem } : {}),
        // The pool may connect to the resolved address: name the host for SNI and check the certificate
        // against the host the connection names, never against the address.
        ...(isIP(target.host) ? {} : { servername: target.host }),
        checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert),
      };
  }
}

/** Identifies a connection's settings (password included, hashed) so a changed connection gets a new pool. */
function targetFingerprint(target: PostgresTarget): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        target.host,
        target.port,
        target.database,
        target.user,
        target.password,
        target.tls.mode,
        target.tls.caPem ?? '',
        target.schema ?? 'public',
      ]),
    )
    .digest('base64url');
}

const CONNECT_FAILURES: Record<string, [DataSourceFailure, string]> = {
  '28P01': ['authentication-failed', 'The database refused the credentials.'],
  '28000': ['authentication-failed', 'The database refused the credentials.'],
  '3D000': ['database-not-found', 'The database does not exist.'],
  '53300': ['busy', 'The database has no free connection slots.'],
  '57P03': ['busy', 'The database is starting up or shutting down.'],
};

/** A failed connection attempt as the 502 its caller gets, by class (the driver's words stay in `cause`). */
function connectError(error: unknown): HttpProblemError {
  if (error instanceof HttpProblemError) return error;
  const code = (error as { code?: string }).code;
  const known = code ? CONNECT_FAILURES[code] : undefined;
  if (known) return new DataSourceUnavailableError(known[0], known[1], error);
  const message = error instanceof Error ? error.message : '';
  if (/timeout/i.test(message) || code === 'ETIMEDOUT')
    return new DataSourceUnavailableError('timeout', 'Connecting to the database timed out.', error);
  if (/ssl|tls|certificate|self[- ]signed/i.test(message) || /CERT|SSL|TLS/.test(code ?? ''))
    return new DataSourceUnavailableError(
      'tls-refused',
      'The TLS handshake with the database failed.',
      error,
    );
  return new DataSourceUnavailableError('unreachable', 'The database could not be reached.', error);
}

/** Turns a driver error into the problem the caller gets; messages name no value and no row. */
export function mapDatabaseError(error: unknown, statementTimeoutMs: number): unknown {
  if (error instanceof HttpProblemError) return error;
  if (!(error instanceof pg.DatabaseError)) {
    const message = error instanceof Error ? error.message : '';
    if (/Query read timeout/i.test(message))
      return new GatewayTimeoutError(`The query took longer than ${statementTimeoutMs} ms and was stopped.`);
    return connectError(error);
  }
  const code = error.code ?? '';
  if (code === '57014')
    return new GatewayTimeoutError(`The query took longer than ${statementTimeoutMs} ms and was cancelled.`);
  if (code === '25006')
    return new DataSourceRefusedError(
      403,
      'read-only',
      'Forbidden',
      'A read tried to change data; it was refused and nothing changed.',
      error,
    );
  if (code === '42501')
    return new DataSourceRefusedError(
      403,
      'database-permission-denied',
      'Forbidden',
      'The database user may not do this.',
      error,
    );
  if (code === '42P01' || code === '42703')
    return new ValidationError(
      [{ path: 'body.table', message: 'The table or a column no longer exists in the database' }],
      'The database schema changed; try again.',
    );
  if (code === '23505' || code === '23503' || code === '23P01')
    return new ConflictError(
      `The change conflicts with constraint "${error.constraint ?? 'unknown'}".`,
      'constraint-violation',
    );
  if (code.startsWith('23'))
    return new DataSourceRefusedError(
      400,
      'constraint-violation',
      'Bad Request',
      `A value violates constraint "${error.constraint ?? error.column ?? 'unknown'}".`,
      error,
    );
  if (code.startsWith('22'))
    return new DataSourceRefusedError(
      400,
      'invalid-value',
      'Bad Request',
      'A value does not fit its column type.',
      error,
    );
  if (code === '40001' || code === '40P01' || code === '55P03')
    return new ServiceUnavailableError(
      1,
      'The database reported a conflict with concurrent work; nothing was changed.',
      error,
    );
  return new DataSourceRefusedError(
    502,
    'data-source-error',
    'Bad Gateway',
    `The database answered with error ${code}.`,
    error,
  );
}
