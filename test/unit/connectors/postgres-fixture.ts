import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { PostgresTlsMode } from '../../../shared/connectors/postgres-runner.js';
import { PostgresRunner, type PostgresRunnerProps } from '../../../shared/connectors/postgres-runner.js';
import type { AuditEventInput } from '../../../shared/domain/audit-events.js';
import { type Permission, permissionsOf, type Role } from '../../../shared/domain/permissions.js';
import { QueryAst } from '../../../shared/domain/query-ast.js';
import type { QueryRules } from '../../../shared/domain/query-rules.js';
import { mintTenantScope, type TenantScope } from '../../../shared/domain/tenant-scope.js';
import { NotFoundError, ValidationError } from '../../../shared/errors.js';
import { fieldErrors } from '../../../shared/http/api.js';
import {
  type ConnectionSource,
  type QueryableConnection,
  type QueryResponse,
  runConnectionQuery,
} from '../../../shared/services/query.js';
import { startTestPostgres, type TestPostgres } from '../../support/postgres.js';

/** Strings that have broken query builders somewhere: quotes, escapes, wildcards, comments, Unicode tricks. */
export const HOSTILE = [
  '',
  ' ',
  'a',
  'A',
  'ab',
  'abc',
  'b',
  "'",
  "''",
  '"',
  '""',
  '\\',
  '\\\\',
  '%',
  '_',
  '%_',
  'a%',
  '_a',
  'a_c',
  'x\\%y',
  "'; DROP TABLE people; --",
  '"; DROP TABLE people; --',
  '1; SELECT pg_sleep(10)',
  "' OR '1'='1",
  '$1',
  '$$',
  "E'\\x27'",
  'ａbc',
  'аbc',
  '\u202Eevil\u202C',
  '\u200B',
  'e\u0301',
  'é',
  '💥',
  '𝔞',
  '\uFEFF',
  'NULL',
  'null',
  'true',
  '0',
  '-1',
  '1e3',
  '-- comment',
  '/* x */',
  '\n',
  '\t',
  'name',
  'people',
  'secret',
] as const;

export const PEOPLE_COLUMNS = ['id', 'name', 'nick', 'age', 'active', 'secret'] as const;
export const VISIBLE_PEOPLE_COLUMNS = ['id', 'name', 'nick', 'age', 'active'] as const;
export type PeopleColumn = (typeof PEOPLE_COLUMNS)[number];
export const COLUMN_TYPES: Record<PeopleColumn, 'int' | 'text' | 'bool'> = {
  id: 'int',
  name: 'text',
  nick: 'text',
  age: 'int',
  active: 'bool',
  secret: 'text',
};
export type PersonRow = Record<PeopleColumn, string | number | boolean | null>;

/** A weird table whose real name and columns are themselves hostile; quoting must carry them intact. */
export const WEIRD_TABLE = 'we"ird; DROP TABLE people;--';

export const TENANT_ID = 't_01jabcdefghjkmnpqrstvwxyz0';

/** Deterministic fixture rows of `people` built from the hostile strings (secrets carry a marker). */
export function peopleRows(): PersonRow[] {
  const ages = [null, -5, 0, 1, 7, 42, 2147483647, -2147483648];
  const actives = [null, true, false];
  const rows: PersonRow[] = [];
  for (let i = 0; i < 48; i++) {
    rows.push({
      id: i + 1,
      name: i % 9 === 4 ? null : HOSTILE[i % HOSTILE.length]!,
      nick: i % 7 === 3 ? null : HOSTILE[(i * 7 + 3) % HOSTILE.length]!,
      age: ages[i % ages.length]!,
      active: actives[i % actives.length]!,
      secret: `SECRET-${i}-${randomBytes(4).toString('hex')}`,
    });
  }
  return rows;
}

export interface QueryFixture {
  pg: TestPostgres;
  people: PersonRow[];
  appPassword: string;
  connection(overrides?: Partial<QueryableConnection>): QueryableConnection;
  admin: pg.Client;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a cluster with the fixture tables and an unprivileged `app` role that the runner connects as. */
export async function startQueryFixture(): Promise<QueryFixture> {
  const cluster = await startTestPostgres();
  const admin = await cluster.admin();
  const appPassword = randomBytes(16).toString('hex');
  const people = peopleRows();
  await admin.query(`CREATE ROLE app LOGIN PASSWORD '${appPassword}'`);
  const reset = async () => {
    await admin.query(`
      DROP SCHEMA IF EXISTS "sa""les" CASCADE;
      DROP TABLE IF EXISTS private_t;
      CREATE SCHEMA "sa""les";
      CREATE TABLE "sa""les".orders (id int PRIMARY KEY, total numeric);
      INSERT INTO "sa""les".orders VALUES (1, 9.5), (2, 20);
      GRANT USAGE ON SCHEMA "sa""les" TO app;
      GRANT SELECT ON "sa""les".orders TO app;
      CREATE TABLE private_t (id int);
      DROP VIEW IF EXISTS slow, people_view, my_tls;
      DROP TABLE IF EXISTS people, things, "we""ird; DROP TABLE people;--", bounded;
      CREATE TABLE people (id int PRIMARY KEY, name text, nick text, age int, active boolean, secret text);
      CREATE TABLE things (
        id serial PRIMARY KEY, note text NOT NULL, amount numeric, data jsonb, at timestamptz DEFAULT now(),
        ref uuid, doubled int GENERATED ALWAYS AS (id * 2) STORED, code varchar(8) UNIQUE,
        CONSTRAINT note_short CHECK (length(note) < 50)
      );
      CREATE TABLE "we""ird; DROP TABLE people;--" ("co""l" text, "__proto__" int, "Ａdmin" text);
      CREATE TABLE bounded (id int PRIMARY KEY);
      INSERT INTO bounded SELECT generate_series(1, 1500);
      CREATE VIEW people_view AS SELECT id, name FROM people;
      CREATE VIEW slow AS SELECT 1 AS id, pg_sleep(3)::text AS s;
      CREATE VIEW my_tls AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;
      REVOKE ALL ON private_t FROM app;
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app;
    `);
    for (const p of people)
      await admin.query('INSERT INTO people VALUES ($1, $2, $3, $4, $5, $6)', [
        p.id,
        p.name,
        p.nick,
        p.age,
        p.active,
        p.secret,
      ]);
    await admin.query(`INSERT INTO "we""ird; DROP TABLE people;--" VALUES ('q"uote', 1, 'fullwidth')`);
  };
  await reset();
  return {
    pg: cluster,
    people,
    appPassword,
    admin,
    reset,
    connection: (overrides = {}) => ({
      connectionId: 'c_01jabcdefghjkmnpqrstvwxyz0',
      host: cluster.host,
      port: cluster.port,
      database: cluster.database,
      user: 'app',
      password: appPassword,
      tlsMode: 'require' as PostgresTlsMode,
      ...overrides,
    }),
    stop: async () => {
      await admin.end();
      await cluster.stop();
    },
  };
}

/** An in-memory recorder that keeps every event it is given. */
export class RecordingAudit {
  readonly events: AuditEventInput[] = [];
  fail = false;
  async record(_scope: TenantScope, event: AuditEventInput): Promise<void> {
    if (this.fail) throw Object.assign(new Error('audit down'), { name: 'ServiceUnavailableException' });
    this.events.push(event);
  }
}

/** One tenant's connection store: the given connection, and 404 for every other id or tenant. */
export function singleConnection(
  scope: TenantScope,
  connection: () => QueryableConnection,
): ConnectionSource {
  return {
    loadConnectionWithPassword: async (asked, id) => {
      const c = connection();
      if (asked.tenantId !== scope.tenantId || id !== c.connectionId)
        throw new NotFoundError('No such connection.');
      return c;
    },
  };
}

export const scope = mintTenantScope({ tenantId: TENANT_ID, userId: 'u_01jabcdefghjkmnpqrstvwxyz0' });

export function callerWith(role: Role, scopes?: Permission[]) {
  return {
    scope,
    permissions: scopes ? new Set(scopes) : permissionsOf(role),
    actor: { userId: scope.userId, ip: '127.0.0.1', userAgent: 'test' },
  };
}

/** What the route does with a body: zod-validate it (400 naming paths as the middy stack does), then run. */
export async function submit(
  deps: { connections: ConnectionSource; runner: PostgresRunner; audit: RecordingAudit },
  role: Role,
  raw: unknown,
  connectionId = 'c_01jabcdefghjkmnpqrstvwxyz0',
): Promise<QueryResponse> {
  const parsed = QueryAst().safeParse(raw);
  if (!parsed.success) throw new ValidationError(fieldErrors('body', parsed.error));
  return runConnectionQuery(deps, callerWith(role), connectionId, parsed.data);
}

export function newRunner(props: PostgresRunnerProps = {}): PostgresRunner {
  return new PostgresRunner({ statementTimeoutMs: 2_000, ...props });
}

export const HIDE_SECRET: QueryRules = { hiddenColumns: [{ table: 'people', columns: ['secret'] }] };
