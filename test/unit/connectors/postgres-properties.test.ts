import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresRunner } from '../../../shared/connectors/postgres-runner.js';
import type { LikeMode, WhereNode } from '../../../shared/domain/query-ast.js';
import { likePattern } from '../../../shared/domain/sql-compiler.js';
import { HttpProblemError } from '../../../shared/errors.js';
import { postgresTarget } from '../../../shared/services/query.js';
import {
  COLUMN_TYPES,
  HIDE_SECRET,
  HOSTILE,
  newRunner,
  PEOPLE_COLUMNS,
  type PeopleColumn,
  type PersonRow,
  type QueryFixture,
  RecordingAudit,
  scope,
  singleConnection,
  startQueryFixture,
  submit,
  VISIBLE_PEOPLE_COLUMNS,
} from './postgres-fixture.js';

// Property: for generated ASTs with hostile strings in every value and identifier position, run through
// validation, rules, compilation and the real database, the outcome is either exactly the rows an
// in-memory evaluation of the same AST selects (in the same order, same page), or a 400/403 — never a
// syntax error, never a 5xx, never a row outside the where clause, never the hidden column.

let fx: QueryFixture;
let runner: PostgresRunner;
const audit = new RecordingAudit();

beforeAll(async () => {
  fx = await startQueryFixture();
  runner = newRunner();
}, 120_000);

afterAll(async () => {
  await runner?.close();
  await fx?.stop();
});

type Tri = boolean | null;

function compareText(a: string, b: string): number {
  // The test cluster uses the C collation: byte order of the UTF-8 encoding.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function compareValues(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'string' && typeof b === 'string') return compareText(a, b);
  return Number(a) - Number(b);
}

/** LIKE as Postgres evaluates it: `%` any run, `_` one character, `\` takes the next character literally. */
function likeMatches(text: string, pattern: string, ignoreCase: boolean): boolean {
  // Postgres folds only ASCII in the C locale.
  const fold = (s: string) => (ignoreCase ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s);
  const chars = [...fold(pattern)];
  let regex = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') regex += escapeRegex(chars[++i] ?? '');
    else if (c === '%') regex += '[\\s\\S]*';
    else if (c === '_') regex += '[\\s\\S]';
    else regex += escapeRegex(c);
  }
  return new RegExp(`^${regex}$`, 'u').test(fold(text));
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** SQL's three-valued evaluation of a where tree over one row. */
function evaluate(node: WhereNode, row: PersonRow): Tri {
  switch (node.op) {
    case 'and': {
      const r = node.conditions.map((c) => evaluate(c, row));
      return r.includes(false) ? false : r.includes(null) ? null : true;
    }
    case 'or': {
      const r = node.conditions.map((c) => evaluate(c, row));
      return r.includes(true) ? true : r.includes(null) ? null : false;
    }
    case 'not': {
      const r = evaluate(node.condition, row);
      return r === null ? null : !r;
    }
    case 'isNull':
      return row[node.column as PeopleColumn] === null;
    case 'in': {
      const v = row[node.column as PeopleColumn];
      if (v === null) return null;
      return node.values.some((x) => compareValues(v, x) === 0);
    }
    case 'like': {
      const v = row[node.column as PeopleColumn];
      if (v === null) return null;
      return likeMatches(String(v), likePattern(node), node.ignoreCase);
    }
    default: {
      const v = row[node.column as PeopleColumn];
      if (v === null) return null;
      const c = compareValues(v, node.value);
      return { eq: c === 0, ne: c !== 0, lt: c < 0, lte: c <= 0, gt: c > 0, gte: c >= 0 }[node.op];
    }
  }
}

interface GeneratedSelect {
  operation: 'select';
  table: string;
  columns?: string[];
  where?: WhereNode;
  orderBy?: { column: string; direction: 'asc' | 'desc' }[];
  limit: number;
}

/** The page the database must return, computed in memory. */
function expectedPage(ast: GeneratedSelect, people: PersonRow[]) {
  const columns = (ast.columns ?? [...VISIBLE_PEOPLE_COLUMNS]) as PeopleColumn[];
  const matching = people.filter((row) => (ast.where ? evaluate(ast.where, row) === true : true));
  const order = [...(ast.orderBy ?? [])];
  if (!order.some((o) => o.column === 'id')) order.push({ column: 'id', direction: 'asc' });
  const seen = new Set<string>();
  const keys = order.filter((o) => {
    if (seen.has(o.column)) return false;
    seen.add(o.column);
    return true;
  });
  matching.sort((a, b) => {
    for (const { column, direction } of keys) {
      const x = a[column as PeopleColumn];
      const y = b[column as PeopleColumn];
      if (x === y) continue;
      // Postgres: NULLS LAST when ascending, NULLS FIRST when descending, i.e. null sorts as largest.
      const c = x === null ? 1 : y === null ? -1 : compareValues(x, y);
      if (c !== 0) return direction === 'desc' ? -c : c;
    }
    return 0;
  });
  return {
    columns,
    rows: matching.slice(0, ast.limit).map((row) => columns.map((c) => row[c])),
    hasMore: matching.length > ast.limit,
  };
}

const storableText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  // NUL is the one code point Postgres text cannot hold; it has its own (refused) generator below.
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('\u0000', '')),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => s.replaceAll('\u0000', '')),
  },
);
// Not storable: must be refused with a 400, never reach the database.
const unstorableText = fc.constantFrom('a\u0000b', '\uD800', 'x\uDFFFy');
const storableInt = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -2147483648, max: 2147483647 }) },
  { weight: 2, arbitrary: fc.constantFrom(-5, 0, 1, 7, 42, 2147483647, -2147483648, '12', '-3') },
);
const outOfRangeInt = fc.constantFrom(2 ** 40, 1.5, '99999999999999999999', '1e3');

interface Generators {
  text: fc.Arbitrary<string>;
  int: fc.Arbitrary<number | string>;
  identifier: fc.Arbitrary<string>;
  table: fc.Arbitrary<string>;
  /** Values of any type in any column. */
  mistyped: boolean;
}

/** Well-formed ASTs over the visible columns, hostile strings in every value position. */
const WELL_FORMED: Generators = {
  text: storableText,
  int: storableInt,
  identifier: fc.constantFrom(...VISIBLE_PEOPLE_COLUMNS),
  table: fc.constant('people'),
  mistyped: false,
};

/** Hostile everywhere: unknown and hidden identifiers, unstorable strings, wrong types, out-of-range numbers. */
const HOSTILE_EVERYWHERE: Generators = {
  text: fc.oneof({ weight: 5, arbitrary: storableText }, { weight: 1, arbitrary: unstorableText }),
  int: fc.oneof({ weight: 5, arbitrary: storableInt }, { weight: 1, arbitrary: outOfRangeInt }),
  identifier: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...PEOPLE_COLUMNS) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
  ),
  table: fc.oneof(
    { weight: 10, arbitrary: fc.constant('people') },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
  ),
  mistyped: true,
};

function selectArbitrary(g: Generators): fc.Arbitrary<GeneratedSelect> {
  const valueFor = (column: string): fc.Arbitrary<string | number | boolean> => {
    const type = COLUMN_TYPES[column as PeopleColumn];
    const typed = type === 'int' ? g.int : type === 'bool' ? fc.boolean() : g.text;
    if (!g.mistyped) return typed;
    return fc.oneof(
      { weight: 8, arbitrary: typed },
      { weight: 1, arbitrary: fc.oneof(g.text, g.int, fc.boolean()) },
    );
  };
  const textColumn = g.mistyped ? g.identifier : fc.constantFrom('name', 'nick');
  const leaf: fc.Arbitrary<WhereNode> = g.identifier.chain((column) =>
    fc.oneof(
      fc.record({
        op: fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte'),
        column: fc.constant(column),
        value: valueFor(column),
      }) as fc.Arbitrary<WhereNode>,
      fc.record({
        op: fc.constant('in'),
        column: fc.constant(column),
        values: fc.array(valueFor(column), { minLength: 1, maxLength: 5 }),
      }) as fc.Arbitrary<WhereNode>,
      fc.record({
        op: fc.constant('like'),
        column: textColumn,
        value: g.text,
        mode: fc.constantFrom<LikeMode>('contains', 'startsWith', 'endsWith', 'exact', 'pattern'),
        ignoreCase: fc.boolean(),
      }) as fc.Arbitrary<WhereNode>,
      fc.record({ op: fc.constant('isNull'), column: fc.constant(column) }) as fc.Arbitrary<WhereNode>,
    ),
  );
  const where: fc.Arbitrary<WhereNode> = fc.letrec<{ node: WhereNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: leaf },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('and'),
          conditions: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('or'),
          conditions: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('not'), condition: tie('node') }) },
    ) as fc.Arbitrary<WhereNode>,
  })).node;
  return fc.record(
    {
      operation: fc.constant('select' as const),
      table: g.table,
      columns: fc.uniqueArray(g.identifier, { minLength: 1, maxLength: 6 }),
      where,
      orderBy: fc.uniqueArray(
        fc.record({ column: g.identifier, direction: fc.constantFrom<'asc' | 'desc'>('asc', 'desc') }),
        { minLength: 1, maxLength: 3, selector: (o) => o.column },
      ),
      limit: fc.integer({ min: 1, max: 60 }),
    },
    { requiredKeys: ['operation', 'table', 'limit'] },
  );
}

function mentionsSecret(ast: GeneratedSelect): boolean {
  return JSON.stringify([ast.columns, ast.orderBy, collectColumns(ast.where)]).includes('"secret"');
}

function collectColumns(node: WhereNode | undefined): string[] {
  if (!node) return [];
  if (node.op === 'and' || node.op === 'or') return node.conditions.flatMap(collectColumns);
  if (node.op === 'not') return collectColumns(node.condition);
  return [node.column];
}

/** Puts the fixture rows back exactly (one statement). */
async function restorePeople() {
  const values: unknown[] = [];
  const rows = fx.people.map((p, i) => {
    values.push(p.id, p.name, p.nick, p.age, p.active, p.secret);
    return `($${i * 6 + 1}, $${i * 6 + 2}, $${i * 6 + 3}, $${i * 6 + 4}, $${i * 6 + 5}, $${i * 6 + 6})`;
  });
  await fx.admin.query(`BEGIN; DELETE FROM people`);
  await fx.admin.query(`INSERT INTO people VALUES ${rows.join(', ')}`, values);
  await fx.admin.query('COMMIT');
}

describe('generated selects against the real database', () => {
  const seed = Number(process.env.QUERY_PROPERTY_SEED ?? Date.now() % 2 ** 31);

  async function check(g: Generators, numRuns: number) {
    // Prepare: a viewer's query service on the fixture's connection, the secret column hidden
    const deps = {
      connections: singleConnection(scope, () => fx.connection({ rules: HIDE_SECRET })),
      runner,
      audit,
    };
    const outcomes = { ok: 0, 400: 0, 403: 0 };
    const refusals: string[] = [];

    // Act / Assess: each generated select is refused with 400/403 or answers the page computed in memory
    await fc.assert(
      fc.asyncProperty(selectArbitrary(g), async (ast) => {
        let response: Awaited<ReturnType<typeof submit>>;
        try {
          response = await submit(deps, 'viewer', ast);
        } catch (error) {
          if (error instanceof pg.DatabaseError)
            throw new Error(`database error leaked: ${error.code} ${error.message}`);
          expect(error).toBeInstanceOf(HttpProblemError);
          const status = (error as HttpProblemError).status;
          expect([400, 403]).toContain(status);
          if (status === 403) expect(mentionsSecret(ast)).toBe(true);
          outcomes[status as 400 | 403]++;
          if (!g.mistyped) refusals.push(JSON.stringify((error as HttpProblemError).errors));
          return;
        }
        outcomes.ok++;
        expect(response.columns).not.toContain('secret');
        expect(JSON.stringify(response.rows)).not.toContain('SECRET-');
        const expected = expectedPage(ast, fx.people);
        expect(response.columns).toEqual(expected.columns);
        expect(response.rows).toEqual(expected.rows);
        expect(response.nextCursor !== null).toBe(expected.hasMore);
      }),
      { numRuns, seed },
    );

    // Assess: nothing was changed by anything the generator sent, and every client went back to the pool.
    const after = await fx.admin.query('SELECT count(*)::int AS n FROM people');
    expect(after.rows[0].n).toBe(fx.people.length);
    const stats = runner.poolStats(postgresTarget(scope, fx.connection()));
    expect(stats.waiting).toBe(0);
    expect(stats.idle).toBe(stats.total);
    return { ...outcomes, refusals };
  }

  it('well-formed ASTs with hostile values return exactly the rows the where clause selects, in order', async () => {
    // Act: 300 well-formed selects
    const outcomes = await check(WELL_FORMED, 300);

    // Assess: the one refusal well-formed input can meet: a wildcard pattern ending in an unpaired escape.
    for (const refusal of outcomes.refusals) expect(refusal).toContain('unpaired escape');
    expect(outcomes.ok).toBeGreaterThan(270);
  }, 300_000);

  it('ASTs hostile everywhere give the right rows or a 400/403; never a database error or the hidden column', async () => {
    // Act: 400 selects hostile everywhere
    const outcomes = await check(HOSTILE_EVERYWHERE, 400);

    // Assess: most answer, and both kinds of refusal occur
    expect(outcomes.ok).toBeGreaterThan(20);
    expect(outcomes[400]).toBeGreaterThan(0);
    expect(outcomes[403]).toBeGreaterThan(0);
  }, 300_000);

  it('updates and deletes exactly the rows the where clause selects, nothing else (property)', async () => {
    // Prepare: an editor's service; where trees of well-formed selects
    const deps = {
      connections: singleConnection(scope, () => fx.connection({ rules: HIDE_SECRET })),
      runner,
      audit,
    };
    const wheres = selectArbitrary(WELL_FORMED)
      .filter((a) => a.where !== undefined)
      .map((a) => a.where as WhereNode);
    const allIds = fx.people.map((p) => p.id as number);
    let writes = 0;

    // Act / Assess: each update or delete returns and changes exactly the rows its tree selects (the rows
    // are put back after each)
    await fc.assert(
      fc.asyncProperty(wheres, fc.boolean(), async (where, remove) => {
        const expected = fx.people
          .filter((row) => evaluate(where, row) === true)
          .map((row) => row.id as number);
        const body = remove
          ? { operation: 'delete', table: 'people', where, returning: ['id'] }
          : {
              operation: 'update',
              table: 'people',
              set: [{ column: 'nick', value: '\u0001MARK' }],
              where,
              returning: ['id'],
            };
        let response: Awaited<ReturnType<typeof submit>>;
        try {
          response = await submit(deps, 'editor', body);
        } catch (error) {
          expect((error as HttpProblemError).status).toBe(400);
          expect(JSON.stringify((error as HttpProblemError).errors)).toContain('unpaired escape');
          return;
        }
        writes++;
        try {
          const byNumber = (a: number, b: number) => a - b;
          expect(response.rows.map((r) => r[0] as number).sort(byNumber)).toEqual(expected);
          expect(response.rowCount).toBe(expected.length);
          const state = await fx.admin.query('SELECT id, nick FROM people ORDER BY id');
          const ids = state.rows.map((r) => r.id as number);
          if (remove) expect(ids).toEqual(allIds.filter((id) => !expected.includes(id)));
          else {
            expect(ids).toEqual(allIds);
            const marked = state.rows.filter((r) => r.nick === '\u0001MARK').map((r) => r.id as number);
            expect(marked).toEqual(expected);
          }
        } finally {
          await restorePeople();
        }
      }),
      { numRuns: 150, seed },
    );

    // Assess: most runs wrote
    expect(writes).toBeGreaterThan(120);
  }, 300_000);

  it('audits each query with its shape only: no value from the where clause, no row', async () => {
    // Prepare: a value in the where clause that is easy to find
    const before = audit.events.length;
    const deps = {
      connections: singleConnection(scope, () => fx.connection({ rules: HIDE_SECRET })),
      runner,
      audit,
    };
    const marker = "'; DROP TABLE people; -- marker-7f3a";

    // Act
    await submit(deps, 'viewer', {
      operation: 'select',
      table: 'people',
      columns: ['id', 'name'],
      where: { op: 'ne', column: 'name', value: marker },
    });

    // Assess: one event, with the shape, without the value or any secret
    const event = audit.events.at(-1)!;
    expect(audit.events.length).toBe(before + 1);
    expect(event.action).toBe('connection.queried');
    expect(event.details).toMatchObject({
      operation: 'select',
      table: 'people',
      columns: ['id', 'name'],
      outcome: 'read',
    });
    const text = JSON.stringify(event);
    expect(text).not.toContain('marker-7f3a');
    for (const p of fx.people) if (p.secret) expect(text).not.toContain(String(p.secret));
  });
});
