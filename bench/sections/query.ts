import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { PostgresRunner } from '../../shared/connectors/postgres-runner.js';
import { permissionsOf } from '../../shared/domain/permissions.js';
import { QueryAst, type WhereNode } from '../../shared/domain/query-ast.js';
import { checkQueryAllowed } from '../../shared/domain/query-rules.js';
import { compileSql } from '../../shared/domain/sql-compiler.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import { runConnectionQuery } from '../../shared/services/query.js';
import { startTestPostgres } from '../../test/support/postgres.js';
import type { BenchSection } from './types.js';

/**
 * Query layer bench: validation + rule check + compilation time per AST (small select, a 200-node where
 * tree, a 100-row insert), and the end-to-end cost of a select through the use case (rules, cached schema,
 * compile, READ ONLY transaction with statement timeout) over the same SQL sent raw with `pg` on a
 * throwaway local cluster. Run alone with `npx tsx bench/sections/query.ts`.
 */
export async function run(options: { iterations?: number } = {}) {
  const iterations = options.iterations ?? 2000;
  const cluster = await startTestPostgres();
  const password = 'bench-password-1';
  const admin = await cluster.admin();
  await admin.query(`
    CREATE ROLE app LOGIN PASSWORD '${password}';
    CREATE TABLE people (id int PRIMARY KEY, name text, city text, age int, active boolean);
    INSERT INTO people SELECT i, 'person ' || i, CASE WHEN i % 3 = 0 THEN 'Oslo' ELSE 'Paris' END, i % 90, i % 2 = 0
      FROM generate_series(1, 10000) AS i;
    GRANT SELECT ON people TO app;
    ANALYZE people;
  `);
  await admin.end();

  const scope = mintTenantScope({
    tenantId: 't_01jbenchbenchbenchbenchben',
    userId: 'u_01jbenchbenchbenchbenchben',
  });
  const connection = {
    connectionId: 'c_01jbenchbenchbenchbenchben',
    host: cluster.host,
    port: cluster.port,
    database: cluster.database,
    user: 'app',
    password,
    tlsMode: 'require' as const,
  };
  const runner = new PostgresRunner();
  const caller = {
    scope,
    permissions: permissionsOf('viewer'),
    actor: { ip: '127.0.0.1', userAgent: 'bench' },
  };
  const deps = {
    connections: { loadConnectionWithPassword: async () => connection },
    runner,
    audit: { record: async () => {} },
  };
  const schema = await runner.schema({
    key: `${scope.tenantId}/${connection.connectionId}`,
    ...connection,
    tls: { mode: 'require' },
  });

  const leaf = (i: number): WhereNode => ({ op: 'eq', column: i % 2 ? 'name' : 'city', value: `v${i}` });
  const small = {
    operation: 'select',
    table: 'people',
    columns: ['id', 'name'],
    where: {
      op: 'and',
      conditions: [
        { op: 'eq', column: 'city', value: 'Oslo' },
        { op: 'gte', column: 'age', value: 30 },
      ],
    },
    orderBy: [{ column: 'id' }],
    limit: 50,
  };
  const wide = {
    operation: 'select',
    table: 'people',
    where: {
      op: 'or',
      conditions: Array.from({ length: 4 }, (_, i) => ({
        op: 'and',
        conditions: Array.from({ length: 48 }, (_, j) => leaf(i * 48 + j)),
      })),
    },
    limit: 10,
  };
  const insert = {
    operation: 'insert',
    table: 'people',
    columns: ['id', 'name', 'city', 'age', 'active'],
    values: Array.from({ length: 100 }, (_, i) => [100000 + i, `n${i}`, 'Oslo', i, true]),
  };
  const compileUs = (raw: unknown) => {
    const n = Math.max(200, Math.floor(iterations / 4));
    for (let i = 0; i < 50; i++) compileSql(QueryAst().parse(raw), schema);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const ast = QueryAst().parse(raw);
      checkQueryAllowed(ast, { permissions: permissionsOf('owner') }, undefined);
      compileSql(ast, schema);
    }
    return Math.round(((performance.now() - start) / n) * 1000);
  };
  const compiled = {
    small: compileUs(small),
    wide: compileUs(wide),
    insert: compileUs(insert),
  };

  // End to end: the same select, raw through pg and through the use case; alternated to share noise.
  const ast = QueryAst().parse(small);
  const sql = compileSql(ast, schema);
  const raw = new pg.Pool({ ...connection, ssl: { rejectUnauthorized: false }, max: 1 });
  for (let i = 0; i < 200; i++) {
    await raw.query(sql.text, sql.values);
    await runConnectionQuery(deps, caller, connection.connectionId, ast);
  }
  let rawMs = 0;
  let layerMs = 0;
  for (let i = 0; i < iterations; i++) {
    let t = performance.now();
    await raw.query({ text: sql.text, values: sql.values, rowMode: 'array' });
    rawMs += performance.now() - t;
    t = performance.now();
    await runConnectionQuery(deps, caller, connection.connectionId, ast);
    layerMs += performance.now() - t;
  }
  await raw.end();
  await runner.close();
  await cluster.stop();
  return {
    iterations,
    'compile: 2-condition select (µs, validate + rules + SQL)': compiled.small,
    'compile: 200-node where tree (µs)': compiled.wide,
    'compile: 100-row insert (µs)': compiled.insert,
    'select 50 rows, raw pg (ms)': round(rawMs / iterations),
    'select 50 rows, query layer (ms)': round(layerMs / iterations),
    'query layer overhead per select (ms)': round((layerMs - rawMs) / iterations),
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  run().then((result) => {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}

/** The section as bench/run.ts runs it: one row per measure. */
export const querySection: BenchSection = {
  name: 'query',
  async run() {
    const { iterations, ...measures } = await run({ iterations: 500 });
    return {
      title: `Query layer: compile time per AST and select overhead over raw pg (${iterations} iterations, throwaway Postgres)`,
      columns: ['measure', 'value'],
      rows: Object.entries(measures).map(([name, value]) => [name, String(value)]),
    };
  },
};
