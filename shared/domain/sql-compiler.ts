import { createHash } from 'node:crypto';
import type { InsertQuery, LikeNode, NullableScalar, QueryAst, SelectQuery, WhereNode } from './query-ast.js';

/**
 * How the compiler treats a column's values, from its Postgres type. Values are checked against it so a
 * wrong type is a 400 naming the field instead of a database error, and JSON columns get JSON text.
 */
export type ColumnTypeClass =
  | 'text'
  | 'integer'
  | 'numeric'
  | 'boolean'
  | 'json'
  | 'uuid'
  | 'temporal'
  | 'other';

export interface DbColumn {
  name: string;
  /** Type as Postgres formats it, e.g. `character varying(40)`. */
  type: string;
  typeClass: ColumnTypeClass;
  nullable: boolean;
  /** False for generated columns, which cannot be written. */
  writable: boolean;
}

export interface DbTable {
  name: string;
  /** Plain and partitioned tables; views and foreign tables are read-only here. */
  writable: boolean;
  /** In the table's column order. Maps, not objects: a column called `__proto__` must stay a name. */
  columns: ReadonlyMap<string, DbColumn>;
  primaryKey: readonly string[];
}

/** The introspected schema of one connection: the only source of identifiers the compiler emits. */
export interface DbSchema {
  schema: string;
  tables: ReadonlyMap<string, DbTable>;
}

/** SQL text with positional parameters; identifiers come only from the schema, values only from `values`. */
export interface CompiledSql {
  text: string;
  values: unknown[];
  /** Names of the result columns, in order. */
  columns: string[];
  kind: 'read' | 'write';
  /** Selects: rows per page (the query fetches one more to know whether a next page exists). */
  pageSize?: number;
  /** Selects: where this page starts. */
  offset?: number;
  /** Selects: binds a cursor to the query it came from. */
  fingerprint?: string;
}

/** An AST that does not fit the schema (unknown table or column, wrong value type); the HTTP layer answers 400. */
export class QueryCompileError extends Error {
  /** Dotted path into the AST, e.g. `where.conditions.1.column`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.name = 'QueryCompileError';
    this.path = path;
  }
}

export interface CompileOptions {
  /** Columns the caller may not see on the queried table (from query-rules); never emitted by default. */
  hidden?: ReadonlySet<string>;
}

/** The largest offset a cursor may carry; beyond it a caller should filter instead of paging. */
export const MAX_CURSOR_OFFSET = 10_000_000;

/** Double-quotes an identifier (doubling embedded quotes). Only ever called with names read from the schema. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new TypeError('identifier contains NUL');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Escapes LIKE metacharacters so a value matches literally with `ESCAPE '\'`. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The LIKE pattern a like node means. */
export function likePattern(node: Pick<LikeNode, 'value' | 'mode'>): string {
  switch (node.mode) {
    case 'contains':
      return `%${escapeLike(node.value)}%`;
    case 'startsWith':
      return `${escapeLike(node.value)}%`;
    case 'endsWith':
      return `%${escapeLike(node.value)}`;
    case 'exact':
      return escapeLike(node.value);
    case 'pattern':
      return node.value;
  }
}

/** Compiles a validated, permitted AST against an introspected schema into parameterised SQL. */
export function compileSql(ast: QueryAst, schema: DbSchema, options: CompileOptions = {}): CompiledSql {
  return new SqlBuilder(schema, ast.table, options.hidden ?? new Set()).compile(ast);
}

class SqlBuilder {
  readonly #values: unknown[] = [];
  readonly #table: DbTable;
  readonly #hidden: ReadonlySet<string>;
  readonly #schema: DbSchema;

  constructor(schema: DbSchema, table: string, hidden: ReadonlySet<string>) {
    const found = schema.tables.get(table);
    if (!found) throw new QueryCompileError('table', `Unknown table "${table}"`);
    this.#schema = schema;
    this.#table = found;
    this.#hidden = hidden;
  }

  compile(ast: QueryAst): CompiledSql {
    switch (ast.operation) {
      case 'select':
        return this.#select(ast);
      case 'insert':
        return this.#insert(ast);
      case 'update': {
        this.#requireWritable();
        const sets = ast.set.map((s, i) => {
          const column = this.#column(s.column, `set.${i}.column`, { write: true });
          return `${quoteIdent(column.name)} = ${this.#param(column, s.value, `set.${i}.value`, true)}`;
        });
        const where = this.#where(ast.where, 'where');
        const returning = this.#returning(ast.returning);
        return this.#write(`UPDATE ${this.#target()} SET ${sets.join(', ')} WHERE ${where}`, returning);
      }
      case 'delete': {
        this.#requireWritable();
        const where = this.#where(ast.where, 'where');
        const returning = this.#returning(ast.returning);
        return this.#write(`DELETE FROM ${this.#target()} WHERE ${where}`, returning);
      }
    }
  }

  #select(ast: SelectQuery): CompiledSql {
    const columns = ast.columns
      ? ast.columns.map((name, i) => this.#column(name, `columns.${i}`).name)
      : [...this.#table.columns.keys()].filter((name) => !this.#hidden.has(name));
    if (columns.length === 0)
      throw new QueryCompileError('columns', `Table "${this.#table.name}" has no column you may see`);
    const where = ast.where ? ` WHERE ${this.#where(ast.where, 'where')}` : '';
    const order: string[] = [];
    const ordered = new Set<string>();
    (ast.orderBy ?? []).forEach((o, i) => {
      const column = this.#column(o.column, `orderBy.${i}.column`);
      if (ordered.has(column.name)) return;
      ordered.add(column.name);
      order.push(`${quoteIdent(column.name)} ${o.direction === 'desc' ? 'DESC' : 'ASC'}`);
    });
    // The primary key breaks ties so offset pages neither repeat nor skip rows; a hidden key column is left
    // out because ordering by it would leak its values.
    for (const key of this.#table.primaryKey) {
      if (ordered.has(key) || this.#hidden.has(key)) continue;
      ordered.add(key);
      order.push(`${quoteIdent(key)} ASC`);
    }
    const fingerprint = queryFingerprint(ast);
    const offset = ast.cursor === undefined ? 0 : decodeSqlCursor(ast.cursor, fingerprint);
    const orderBy = order.length > 0 ? ` ORDER BY ${order.join(', ')}` : '';
    const limit = this.#push(ast.limit + 1);
    const offsetParam = this.#push(offset);
    return {
      text: `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${this.#target()}${where}${orderBy} LIMIT ${limit} OFFSET ${offsetParam}`,
      values: this.#values,
      columns,
      kind: 'read',
      pageSize: ast.limit,
      offset,
      fingerprint,
    };
  }

  #insert(ast: InsertQuery): CompiledSql {
    this.#requireWritable();
    const columns = ast.columns.map((name, i) => this.#column(name, `columns.${i}`, { write: true }));
    const rows = ast.values.map(
      (row, r) =>
        `(${row.map((value, c) => this.#param(columns[c]!, value, `values.${r}.${c}`, true)).join(', ')})`,
    );
    const returning = this.#returning(ast.returning);
    const names = columns.map((c) => quoteIdent(c.name)).join(', ');
    return this.#write(`INSERT INTO ${this.#target()} (${names}) VALUES ${rows.join(', ')}`, returning);
  }

  #write(text: string, returning: string[]): CompiledSql {
    const suffix = returning.length > 0 ? ` RETURNING ${returning.map(quoteIdent).join(', ')}` : '';
    return { text: text + suffix, values: this.#values, columns: returning, kind: 'write' };
  }

  #returning(names: string[] | undefined): string[] {
    return (names ?? []).map((name, i) => this.#column(name, `returning.${i}`).name);
  }

  #requireWritable(): void {
    if (!this.#table.writable)
      throw new QueryCompileError(
        'table',
        `"${this.#table.name}" is a view or foreign table and cannot be written`,
      );
  }

  #target(): string {
    return `${quoteIdent(this.#schema.schema)}.${quoteIdent(this.#table.name)}`;
  }

  #column(name: string, path: string, options: { write?: boolean } = {}): DbColumn {
    const column = this.#table.columns.get(name);
    // A hidden column is reported exactly like a missing one: its existence is not the caller's business.
    // (query-rules refuses hidden names first with a 403; this is the compiler's own guarantee.)
    if (!column || this.#hidden.has(name))
      throw new QueryCompileError(path, `Unknown column "${name}" in table "${this.#table.name}"`);
    if (options.write && !column.writable)
      throw new QueryCompileError(path, `Column "${name}" is generated and cannot be written`);
    return column;
  }

  #push(value: unknown): string {
    this.#values.push(value);
    return `$${this.#values.length}`;
  }

  #param(column: DbColumn, value: NullableScalar, path: string, write = false): string {
    if (value === null) {
      if (write && !column.nullable)
        throw new QueryCompileError(path, `Column "${column.name}" does not accept null`);
      return this.#push(null);
    }
    return this.#push(coerceValue(column, value, path));
  }

  #where(node: WhereNode, path: string): string {
    switch (node.op) {
      case 'and':
      case 'or':
        return `(${node.conditions
          .map((child, i) => this.#where(child, `${path}.conditions.${i}`))
          .join(node.op === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `(NOT ${this.#where(node.condition, `${path}.condition`)})`;
      case 'isNull': {
        const column = this.#column(node.column, `${path}.column`);
        return `(${quoteIdent(column.name)} IS NULL)`;
      }
      case 'in': {
        const column = this.#column(node.column, `${path}.column`);
        const params = node.values.map((v, i) => this.#param(column, v, `${path}.values.${i}`));
        return `(${quoteIdent(column.name)} IN (${params.join(', ')}))`;
      }
      case 'like': {
        const column = this.#column(node.column, `${path}.column`);
        if (column.typeClass !== 'text')
          throw new QueryCompileError(
            `${path}.column`,
            `like needs a text column; "${column.name}" is ${column.type}`,
          );
        const op = node.ignoreCase ? 'ILIKE' : 'LIKE';
        // E'\\' is one backslash whatever standard_conforming_strings says.
        return `(${quoteIdent(column.name)} ${op} ${this.#push(likePattern(node))} ESCAPE E'\\\\')`;
      }
      default: {
        const column = this.#column(node.column, `${path}.column`);
        const param = this.#param(column, node.value, `${path}.value`);
        return `(${quoteIdent(column.name)} ${SQL_COMPARISON[node.op]} ${param})`;
      }
    }
  }
}

const SQL_COMPARISON = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

const INTEGER = /^[+-]?\d{1,19}$/;
const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a value against its column's type class and shapes it for the driver; throws naming `path`. */
export function coerceValue(column: DbColumn, value: string | number | boolean, path: string): unknown {
  const refuse = (expected: string): never => {
    throw new QueryCompileError(path, `Column "${column.name}" (${column.type}) expects ${expected}`);
  };
  switch (column.typeClass) {
    case 'integer':
      if (typeof value === 'number') return Number.isSafeInteger(value) ? value : refuse('an integer');
      return typeof value === 'string' && INTEGER.test(value) ? value : refuse('an integer');
    case 'numeric':
      if (typeof value === 'number') return value;
      return typeof value === 'string' && NUMERIC.test(value) ? value : refuse('a number');
    case 'boolean':
      return typeof value === 'boolean' ? value : refuse('true or false');
    case 'text':
    case 'temporal':
      return typeof value === 'string' ? value : refuse('a string');
    case 'uuid':
      return typeof value === 'string' && UUID.test(value) ? value : refuse('a UUID');
    case 'json':
      // The driver would send a string as raw JSON text; send every value as the JSON it is.
      return JSON.stringify(value);
    case 'other':
      return typeof value === 'boolean' ? String(value) : value;
  }
}

/** Binds cursors to their query: SHA-256 of the AST without its cursor and page size. */
export function queryFingerprint(ast: SelectQuery): string {
  const { cursor: _cursor, limit: _limit, ...shape } = ast;
  return createHash('sha256').update(JSON.stringify(shape)).digest('base64url').slice(0, 22);
}

/** The opaque cursor of the page starting at `offset` of the query with `fingerprint`. */
export function encodeSqlCursor(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ v: 1, o: offset, f: fingerprint }), 'utf8').toString('base64url');
}

/**
 * The offset a cursor carries, after checking it is well-formed, in range and made for this very query.
 * The offset is then bound as a parameter; nothing of a cursor ever reaches the SQL text.
 */
export function decodeSqlCursor(cursor: string, fingerprint: string): number {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new QueryCompileError('cursor', 'Not a cursor returned by this API');
  }
  const c = parsed as { v?: unknown; o?: unknown; f?: unknown };
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    c.v !== 1 ||
    typeof c.o !== 'number' ||
    !Number.isSafeInteger(c.o) ||
    c.o < 0 ||
    c.o > MAX_CURSOR_OFFSET
  )
    throw new QueryCompileError('cursor', 'Not a cursor returned by this API');
  if (c.f !== fingerprint)
    throw new QueryCompileError(
      'cursor',
      'The cursor belongs to a different query; send the same query with it',
    );
  return c.o;
}
