import { describe, expect, it } from 'vitest';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { QUERY_LIMITS, QueryAst, queryShape } from '../../../shared/domain/query-ast.js';
import { checkQueryAllowed, type QueryRules } from '../../../shared/domain/query-rules.js';
import * as z from '../../../shared/domain/zod.js';
import { fieldErrors } from '../../../shared/http/api.js';

/** The errors the API would answer with (the middy stack's zod → `errors: [{path, message}]`). */
function errorsOf(body: unknown) {
  const result = QueryAst().safeParse(body);
  if (result.success) return [];
  return fieldErrors('body', result.error);
}
const paths = (body: unknown) => errorsOf(body).map((e) => e.path);

const leaf = { op: 'eq', column: 'id', value: 1 };
function nestedNot(levels: number): unknown {
  let node: unknown = leaf;
  for (let i = 0; i < levels; i++) node = { op: 'not', condition: node };
  return node;
}

describe('query AST validation', () => {
  it('accepts a leaf at depth 8 and refuses a ninth level, naming where it starts', () => {
    // Act / Assess: seven nots over a leaf pass; eight are refused where the ninth level starts
    expect(errorsOf({ operation: 'select', table: 't', where: nestedNot(7) })).toEqual([]);
    expect(errorsOf({ operation: 'select', table: 't', where: nestedNot(8) })).toEqual([
      {
        path: `body.where${'.condition'.repeat(7)}`,
        message: 'The where tree is nested deeper than 8 levels',
      },
    ]);
  });

  it('refuses a 20,000-level nesting at level 8 without walking it recursively', () => {
    // Act / Assess
    expect(errorsOf({ operation: 'select', table: 't', where: nestedNot(20_000) })).toEqual([
      {
        path: `body.where${'.condition'.repeat(7)}`,
        message: 'The where tree is nested deeper than 8 levels',
      },
    ]);
  });

  it('documents the where tree as one recursive schema, not unrolled per level', () => {
    // Act
    const json = JSON.stringify(z.toJSONSchema(QueryAst(), { io: 'input', unrepresentable: 'any' }));

    // Assess
    expect(json.length).toBeLessThan(20_000);
    expect(json).toContain('"$ref":"#/$defs/QueryWhere"');
  });

  it('bounds and/or width, total nodes, in-lists, columns, orderBy, rows and limit', () => {
    // Prepare
    const many = (n: number) => Array.from({ length: n }, () => leaf);

    // Act / Assess: each bound, one past it
    expect(paths({ operation: 'select', table: 't', where: { op: 'and', conditions: many(51) } })).toEqual([
      'body.where.conditions',
    ]);
    const wide = {
      op: 'or',
      conditions: Array.from({ length: 5 }, () => ({ op: 'and', conditions: many(45) })),
    };
    expect(errorsOf({ operation: 'select', table: 't', where: wide })).toEqual([
      { path: 'body.where', message: 'The where tree has more than 200 nodes' },
    ]);
    expect(
      paths({
        operation: 'select',
        table: 't',
        where: { op: 'in', column: 'a', values: Array(101).fill(1) },
      }),
    ).toEqual(['body.where.values']);
    expect(paths({ operation: 'select', table: 't', where: { op: 'in', column: 'a', values: [] } })).toEqual([
      'body.where.values',
    ]);
    expect(paths({ operation: 'select', table: 't', columns: ['a', 'b', 'a'] })).toEqual(['body.columns.2']);
    expect(paths({ operation: 'select', table: 't', limit: 0 })).toEqual(['body.limit']);
    expect(paths({ operation: 'select', table: 't', limit: 1001 })).toEqual(['body.limit']);
    expect(paths({ operation: 'select', table: 't', limit: 2.5 })).toEqual(['body.limit']);
    expect(paths({ operation: 'select', table: 't', orderBy: Array(9).fill({ column: 'a' }) })).toEqual([
      'body.orderBy',
    ]);
    const rows = Array.from({ length: 101 }, () => [1]);
    expect(paths({ operation: 'insert', table: 't', columns: ['a'], values: rows })).toEqual(['body.values']);
    expect(paths({ operation: 'insert', table: 't', columns: ['a', 'b'], values: [[1, 2], [1]] })).toEqual([
      'body.values.1',
    ]);
  });

  it('bounds string sizes and the whole AST', () => {
    // Act / Assess
    expect(paths({ operation: 'select', table: 'x'.repeat(64) })).toEqual(['body.table']);
    expect(
      paths({ operation: 'select', table: 't', where: { op: 'eq', column: 'a', value: 'v'.repeat(8193) } }),
    ).toEqual(['body.where.value']);
    const big = Array.from({ length: 100 }, () => ['v'.repeat(700)]);
    expect(errorsOf({ operation: 'insert', table: 't', columns: ['a'], values: big })).toEqual([
      { path: 'body', message: `The query is larger than ${QUERY_LIMITS.maxAstBytes} bytes` },
    ]);
  });

  it('refuses NUL and lone surrogates in identifiers and values, and unknown fields', () => {
    // Act / Assess
    expect(paths({ operation: 'select', table: 'a\u0000' })).toEqual(['body.table']);
    expect(paths({ operation: 'select', table: 't', columns: ['\uDC00x'] })).toEqual(['body.columns.0']);
    expect(
      paths({ operation: 'update', table: 't', set: [{ column: 'a', value: 'x\uD800' }], where: leaf }),
    ).toEqual(['body.set.0.value']);
    expect(paths({ operation: 'select', table: 't', sql: 'DROP TABLE t' })).toEqual(['body.sql']);
    expect(paths({ operation: 'select', table: 't', where: { ...leaf, raw: true } })).toEqual([
      'body.where.raw',
    ]);
    expect(paths({ operation: 'drop', table: 't' })).toEqual(['body.operation']);
    // Well-formed astral characters are fine.
    expect(
      errorsOf({ operation: 'select', table: '𝔱', where: { op: 'eq', column: 'a', value: '💥' } }),
    ).toEqual([]);
  });

  it('needs a where for update and delete, and refuses a pattern ending in a lone escape', () => {
    // Act / Assess
    expect(errorsOf({ operation: 'delete', table: 't' })).toEqual([
      {
        path: 'body.where',
        message:
          'A where condition is required (to change every row, say so with a condition that matches them)',
      },
    ]);
    expect(paths({ operation: 'update', table: 't', set: [{ column: 'a', value: 1 }] })).toEqual([
      'body.where',
    ]);
    expect(
      paths({
        operation: 'select',
        table: 't',
        where: { op: 'like', column: 'a', value: 'ab\\', mode: 'pattern' },
      }),
    ).toEqual(['body.where.value']);
    expect(
      errorsOf({
        operation: 'select',
        table: 't',
        where: { op: 'like', column: 'a', value: 'ab\\\\', mode: 'pattern' },
      }),
    ).toEqual([]);
    // Outside `pattern` mode the value is taken literally, so a trailing backslash is just a character.
    expect(
      errorsOf({ operation: 'select', table: 't', where: { op: 'like', column: 'a', value: 'ab\\' } }),
    ).toEqual([]);
  });

  it('defaults like to a literal contains match and select to 100 rows', () => {
    // Act
    const ast = QueryAst().parse({
      operation: 'select',
      table: 't',
      where: { op: 'like', column: 'a', value: '50%' },
    });

    // Assess
    expect(ast).toEqual({
      operation: 'select',
      table: 't',
      where: { op: 'like', column: 'a', value: '50%', mode: 'contains', ignoreCase: false },
      limit: 100,
    });
  });

  it('describes a query for the audit log by shape only', () => {
    // Prepare: an update with a value in it
    const ast = QueryAst().parse({
      operation: 'update',
      table: 'people',
      set: [{ column: 'name', value: 'secret value' }],
      where: {
        op: 'or',
        conditions: [
          { op: 'eq', column: 'id', value: 7 },
          { op: 'isNull', column: 'name' },
        ],
      },
      returning: ['id'],
    });

    // Act / Assess: the shape names the table and the columns, never the value
    expect(queryShape(ast)).toEqual({ operation: 'update', table: 'people', columns: ['name', 'id'] });
    expect(JSON.stringify(queryShape(ast))).not.toContain('secret value');
  });
});

describe('query rules', () => {
  const rules: QueryRules = {
    allowedTables: ['a', 'b'],
    deniedTables: ['b'],
    hiddenColumns: [{ table: 'a', columns: ['h'] }],
  };
  const check = (role: 'viewer' | 'editor' | 'admin', body: unknown, r: QueryRules | undefined = rules) => {
    try {
      checkQueryAllowed(QueryAst().parse(body), { permissions: permissionsOf(role) }, r);
      return 'allowed';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('needs query:read to select and query:write to write', () => {
    // Act / Assess
    expect(check('viewer', { operation: 'select', table: 'a' })).toBe('allowed');
    expect(check('viewer', { operation: 'delete', table: 'a', where: leaf })).toBe(
      'The delete operation needs the query:write permission',
    );
    expect(check('editor', { operation: 'delete', table: 'a', where: leaf })).toBe('allowed');
  });

  it('applies allowed and denied tables to everyone, read-only to every write', () => {
    // Act / Assess
    expect(check('admin', { operation: 'select', table: 'c' })).toBe(
      'Table "c" is not among this connection\'s allowed tables',
    );
    expect(check('admin', { operation: 'select', table: 'b' })).toBe(
      'Table "b" is denied on this connection',
    );
    expect(
      check('admin', { operation: 'insert', table: 'a', columns: ['x'], values: [[1]] }, { readOnly: true }),
    ).toBe('This connection is read-only');
  });

  it('hides columns from everyone without connections:manage, in every position', () => {
    // Prepare
    const hidden = 'Column "h" of table "a" is hidden';

    // Act / Assess: an editor, the hidden column in each place; an admin may
    expect(check('editor', { operation: 'select', table: 'a', columns: ['h'] })).toBe(hidden);
    expect(
      check('editor', {
        operation: 'select',
        table: 'a',
        where: { op: 'not', condition: { op: 'isNull', column: 'h' } },
      }),
    ).toBe(hidden);
    expect(check('editor', { operation: 'select', table: 'a', orderBy: [{ column: 'h' }] })).toBe(hidden);
    expect(check('editor', { operation: 'insert', table: 'a', columns: ['h'], values: [[1]] })).toBe(hidden);
    expect(
      check('editor', { operation: 'update', table: 'a', set: [{ column: 'h', value: 1 }], where: leaf }),
    ).toBe(hidden);
    expect(check('editor', { operation: 'delete', table: 'a', where: leaf, returning: ['h'] })).toBe(hidden);
    expect(check('admin', { operation: 'select', table: 'a', columns: ['h'] })).toBe('allowed');
  });
});
