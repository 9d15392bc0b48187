import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRecordsQuery } from '../../../shared/domain/dynamo-query-compiler.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { QueryAst, SelectQuery, type WhereNode } from '../../../shared/domain/query-ast.js';
import {
  compileSql,
  type DbColumn,
  type DbSchema,
  encodeSqlCursor,
  QueryCompileError,
  queryFingerprint,
} from '../../../shared/domain/sql-compiler.js';

const column = (
  name: string,
  typeClass: DbColumn['typeClass'] = 'text',
  type = 'text',
): [string, DbColumn] => [name, { name, type, typeClass, nullable: true, writable: true }];

/** A schema whose own names are hostile: quoting has to carry them intact. */
function schemaWith(table: string, columns: string[]): DbSchema {
  return {
    schema: 'pub"lic',
    tables: new Map([
      [
        table,
        {
          name: table,
          writable: true,
          columns: new Map([column('id', 'integer', 'integer'), ...columns.map((c) => column(c))]),
          primaryKey: ['id'],
        },
      ],
    ]),
  };
}

const SQL_WORDS = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'IS',
  'NULL',
  'LIKE',
  'ILIKE',
  'ESCAPE',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'LIMIT',
  'OFFSET',
  'INSERT',
  'INTO',
  'VALUES',
  'UPDATE',
  'SET',
  'DELETE',
  'RETURNING',
]);

/** Everything in the SQL text that is not a quoted identifier or a placeholder must be fixed grammar. */
function assertOnlyGrammar(text: string) {
  const rest = text
    .replace(/"(?:[^"]|"")*"/g, ' ')
    .replace(/\$\d+/g, ' ')
    .replace(/E'\\\\'/g, ' ');
  for (const token of rest.split(/[\s(),.]+/).filter(Boolean)) {
    if (SQL_WORDS.has(token) || /^(=|<>|<|<=|>|>=)$/.test(token)) continue;
    throw new Error(`unexpected token ${JSON.stringify(token)} in ${text}`);
  }
}

describe('SQL compiler', () => {
  it('quotes schema names, binds every value and escapes like metacharacters', () => {
    // Prepare: a table and a column whose names try to close the quotes
    const schema = schemaWith('t"; DROP', ['na"me']);
    const ast = QueryAst().parse({
      operation: 'select',
      table: 't"; DROP',
      columns: ['na"me'],
      where: {
        op: 'or',
        conditions: [
          { op: 'like', column: 'na"me', value: '50%_\\', mode: 'startsWith' },
          { op: 'not', condition: { op: 'in', column: 'id', values: [1, '2'] } },
          { op: 'like', column: 'na"me', value: 'a%b', mode: 'pattern', ignoreCase: true },
        ],
      },
      limit: 10,
    });

    // Act
    const compiled = compileSql(ast, schema);

    // Assess: every name quoted, every value a placeholder, the like value escaped
    expect(compiled.text).toBe(
      `SELECT "na""me" FROM "pub""lic"."t""; DROP" WHERE (("na""me" LIKE $1 ESCAPE E'\\\\') OR (NOT ("id" IN ($2, $3))) OR ("na""me" ILIKE $4 ESCAPE E'\\\\')) ORDER BY "id" ASC LIMIT $5 OFFSET $6`,
    );
    expect(compiled.values).toEqual(['50\\%\\_\\\\%', 1, '2', 'a%b', 11, 0]);
  });

  it('keeps user strings out of the SQL text whatever they contain (property)', () => {
    // Prepare: any strings but NUL, as table, column and values
    const text = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\u0000'));

    // Act / Assess: for 500 of them, a read and a write are grammar and placeholders only, the value bound as given
    fc.assert(
      fc.property(text, text, fc.array(text, { minLength: 1, maxLength: 4 }), (table, col, values) => {
        const t = table || 't';
        const c = col === 'id' || col === '' ? 'c' : col;
        const schema = schemaWith(t, [c]);
        const where: WhereNode = {
          op: 'and',
          conditions: values.map((v, i) =>
            i % 2
              ? { op: 'like', column: c, value: v, mode: 'contains', ignoreCase: false }
              : { op: 'in', column: c, values: [v] },
          ),
        };
        const compiled = compileSql({ operation: 'select', table: t, columns: [c], where, limit: 5 }, schema);
        assertOnlyGrammar(compiled.text);
        const write = compileSql(
          { operation: 'update', table: t, set: [{ column: c, value: values[0]! }], where, returning: [c] },
          schema,
        );
        assertOnlyGrammar(write.text);
        expect(write.values[0]).toBe(values[0]);
      }),
      { numRuns: 500 },
    );
    // 500 runs take about 2 s on a quiet machine; a busy one (CI shares its cores) needs more than the default 5.
  }, 30_000);

  it('names the AST path of unknown tables, hidden and unknown columns, and wrong value types', () => {
    // Prepare
    const schema = schemaWith('t', ['a']);
    const fail = (body: unknown, hidden: string[] = []) => {
      try {
        compileSql(QueryAst().parse(body), schema, { hidden: new Set(hidden) });
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(QueryCompileError);
        return [(error as QueryCompileError).path, (error as QueryCompileError).message];
      }
    };

    // Act / Assess
    expect(fail({ operation: 'select', table: 'T' })).toEqual(['table', 'Unknown table "T"']);
    expect(fail({ operation: 'select', table: 't', columns: ['a'] }, ['a'])).toEqual([
      'columns.0',
      'Unknown column "a" in table "t"',
    ]);
    expect(
      fail({
        operation: 'select',
        table: 't',
        where: { op: 'and', conditions: [{ op: 'eq', column: 'id', value: 'x' }] },
      }),
    ).toEqual(['where.conditions.0.value', 'Column "id" (integer) expects an integer']);
    expect(fail({ operation: 'select', table: 't', where: { op: 'eq', column: 'a', value: 3 } })).toEqual([
      'where.value',
      'Column "a" (text) expects a string',
    ]);
    expect(
      fail({ operation: 'select', table: 't', where: { op: 'like', column: 'id', value: '1' } })?.[0],
    ).toBe('where.column');
  });

  it('leaves hidden columns out of the default list and out of the tie-breaking order', () => {
    // Prepare: the key and b hidden
    const schema = schemaWith('t', ['a', 'b']);

    // Act
    const compiled = compileSql(QueryAst().parse({ operation: 'select', table: 't' }), schema, {
      hidden: new Set(['id', 'b']),
    });

    // Assess
    expect(compiled.text).toBe('SELECT "a" FROM "pub""lic"."t" LIMIT $1 OFFSET $2');
  });

  it('accepts only its own cursor for the same query, and binds the offset as a parameter', () => {
    // Prepare: a cursor at offset 40 of a five-row select
    const schema = schemaWith('t', ['a']);
    const ast = SelectQuery().parse({ operation: 'select', table: 't', limit: 5 });
    const cursor = encodeSqlCursor(40, queryFingerprint(ast));

    // Act
    const compiled = compileSql({ ...ast, cursor, limit: 7 }, schema);

    // Assess: the limit and the cursor's offset bound
    expect(compiled.values).toEqual([8, 40]);

    // Act / Assess: the cursor on another query, and an offset past the bound
    const other = SelectQuery().parse({ operation: 'select', table: 't', columns: ['a'], cursor });
    expect(() => compileSql(other, schema)).toThrow('The cursor belongs to a different query');
    const huge = encodeSqlCursor(10_000_001, queryFingerprint(ast));
    expect(() => compileSql({ ...ast, cursor: huge }, schema)).toThrow('Not a cursor returned by this API');
  });
});

describe('records compiler', () => {
  const keys = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl', nowEpochSeconds: 1_000 };
  const caller = (role: 'viewer' | 'editor' | 'admin' | 'owner') => ({
    tenantId: 't_01jaaaaaaaaaaaaaaaaaaaaaaa',
    userId: 'u_01jaaaaaaaaaaaaaaaaaaaaaaa',
    permissions: permissionsOf(role),
  });

  it('fixes the key condition to the caller’s partition and the type’s prefix, with placeholders only', () => {
    // Act: a filter value that tries to leave the partition
    const compiled = compileRecordsQuery(
      SelectQuery().parse({
        operation: 'select',
        table: 'apiKeys',
        columns: ['keyId'],
        where: {
          op: 'or',
          conditions: [
            { op: 'eq', column: 'name', value: "x' OR pk <> '" },
            { op: 'like', column: 'scopes', value: 'query:read' },
          ],
        },
        orderBy: [{ column: 'keyId', direction: 'desc' }],
      }),
      caller('editor'),
      keys,
    );

    // Assess: the partition and prefix fixed, every value bound, and an editor sees only their own keys
    expect(compiled).toMatchObject({
      table: 'tenantData',
      keyCondition: '#n0 = :v0 AND begins_with(#n1, :v1)',
      filter: '(#n2 = :v2 OR contains(#n3, :v3)) AND #n4 = :v4',
      projection: '#n1, #n5',
      names: { '#n0': 'pk', '#n1': 'sk', '#n2': 'name', '#n3': 'scopes', '#n4': 'createdBy', '#n5': 'keyId' },
      values: {
        ':v0': 't_01jaaaaaaaaaaaaaaaaaaaaaaa',
        ':v1': 'APIKEY#',
        ':v2': "x' OR pk <> '",
        ':v3': 'query:read',
        ':v4': 'u_01jaaaaaaaaaaaaaaaaaaaaaaa',
      },
      scanForward: false,
    });
  });

  it('refuses what is not whitelisted or not permitted', () => {
    // Prepare
    const fail = (role: 'viewer' | 'admin', body: unknown) => {
      try {
        compileRecordsQuery(SelectQuery().parse(body), caller(role as 'viewer'), keys);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    };

    // Act / Assess
    expect(fail('admin', { operation: 'select', table: 'connections' })).toMatch(
      /^Unknown record type "connections"/,
    );
    expect(fail('admin', { operation: 'select', table: 'apiKeys', columns: ['secretHash'] })).toBe(
      'Unknown column "secretHash" of apiKeys',
    );
    expect(
      fail('admin', { operation: 'select', table: 'members', where: { op: 'eq', column: 'pk', value: 'x' } }),
    ).toBe('Unknown column "pk" of members');
    expect(fail('viewer', { operation: 'select', table: 'auditEvents' })).toBe(
      'Reading auditEvents needs the audit:read permission',
    );
    expect(fail('viewer', { operation: 'select', table: 'storageLocations', columns: ['roleArn'] })).toBe(
      'Column "roleArn" of storageLocations needs the storage-locations:manage permission',
    );
    expect(fail('admin', { operation: 'select', table: 'members', orderBy: [{ column: 'email' }] })).toBe(
      'members can be ordered by "userId" only',
    );
    expect(
      fail('admin', {
        operation: 'select',
        table: 'members',
        where: { op: 'like', column: 'email', value: 'a', mode: 'pattern' },
      }),
    ).toBe('Records queries support contains, startsWith and exact');
  });

  it('filters out expired audit events and emits no redundant parentheses', () => {
    // Act
    const compiled = compileRecordsQuery(
      SelectQuery().parse({
        operation: 'select',
        table: 'auditEvents',
        columns: ['id'],
        where: { op: 'not', condition: { op: 'isNull', column: 'actorUserId' } },
      }),
      caller('admin'),
      keys,
    );

    // Assess: the expiry filter joins the caller's without extra parentheses
    expect(compiled.filter).toBe(
      'NOT (attribute_not_exists(#n2.#n3) OR attribute_type(#n2.#n3, :v2)) AND (attribute_not_exists(#n4) OR #n4 > :v3)',
    );
    expect(compiled.values[':v3']).toBe(1_000);
  });
});
