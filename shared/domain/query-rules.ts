import type { Permission } from './permissions.js';
import { Identifier, isWrite, type QueryAst, whereColumns } from './query-ast.js';
import * as z from './zod.js';

/**
 * What an admin may restrict on one connection (stored with the connection): a read-only connection,
 * tables allowed or denied, and columns hidden per table. Names are compared exactly (case-sensitive), as
 * the database spells them.
 */
export const QueryRules = z.onFirstUse(() =>
  z.strictObject({
    readOnly: z.optional(z.boolean()),
    /** When present, only these tables may be queried. */
    allowedTables: z.optional(z.array(Identifier()).check(z.maxLength(500))),
    deniedTables: z.optional(z.array(Identifier()).check(z.maxLength(500))),
    /** Table → columns nobody without `connections:manage` may select, filter, order, write or get back. */
    hiddenColumns: z.optional(
      z
        .array(
          z.strictObject({
            table: Identifier(),
            columns: z.array(Identifier()).check(z.minLength(1), z.maxLength(200)),
          }),
        )
        .check(z.maxLength(500)),
    ),
  }),
);
export type QueryRules = z.OutputOf<typeof QueryRules>;

/** Who is asking: their effective permissions in the tenant. */
export interface QueryCaller {
  permissions: ReadonlySet<Permission>;
}

/** A query refused by permissions or the connection's rules; the HTTP layer answers 403 with `message`. */
export class QueryRefusedError extends Error {
  readonly table: string | undefined;
  readonly column: string | undefined;

  constructor(message: string, where: { table?: string; column?: string } = {}) {
    super(message);
    this.name = 'QueryRefusedError';
    this.table = where.table;
    this.column = where.column;
  }
}

/** The permission an operation needs: reads `query:read`, writes `query:write`. */
export function permissionFor(ast: QueryAst): Permission {
  return isWrite(ast) ? 'query:write' : 'query:read';
}

/**
 * Columns of `table` the caller may not see. Holders of `connections:manage` set the rules and may edit
 * them away at any time, so hiding columns from them would protect nothing; everyone else is bound.
 */
export function hiddenColumnsFor(
  table: string,
  caller: QueryCaller,
  rules: QueryRules | undefined,
): Set<string> {
  if (!rules?.hiddenColumns || caller.permissions.has('connections:manage')) return new Set();
  const hidden = new Set<string>();
  for (const entry of rules.hiddenColumns)
    if (entry.table === table) for (const c of entry.columns) hidden.add(c);
  return hidden;
}

/**
 * Checks, before anything runs, that the caller may run `ast` on a connection with `rules`: the operation's
 * permission, read-only connections, allowed and denied tables, and hidden columns in every position
 * (selected, filtered, ordered, inserted, set, returned). Throws QueryRefusedError naming the table or column.
 */
export function checkQueryAllowed(ast: QueryAst, caller: QueryCaller, rules: QueryRules | undefined): void {
  const permission = permissionFor(ast);
  if (!caller.permissions.has(permission))
    throw new QueryRefusedError(`The ${ast.operation} operation needs the ${permission} permission`);
  if (isWrite(ast) && rules?.readOnly)
    throw new QueryRefusedError('This connection is read-only', { table: ast.table });
  checkTableAllowed(ast.table, rules);

  const hidden = hiddenColumnsFor(ast.table, caller, rules);
  if (hidden.size === 0) return;
  const refuse = (column: string) => {
    if (hidden.has(column))
      throw new QueryRefusedError(`Column "${column}" of table "${ast.table}" is hidden`, {
        table: ast.table,
        column,
      });
  };
  switch (ast.operation) {
    case 'select':
      for (const c of ast.columns ?? []) refuse(c);
      for (const o of ast.orderBy ?? []) refuse(o.column);
      break;
    case 'insert':
      for (const c of ast.columns) refuse(c);
      break;
    case 'update':
      for (const s of ast.set) refuse(s.column);
      break;
    case 'delete':
      break;
  }
  if (ast.operation !== 'insert') for (const c of whereColumns(ast.where)) refuse(c);
  if (ast.operation !== 'select') for (const c of ast.returning ?? []) refuse(c);
}

/** Throws QueryRefusedError unless the connection's rules let `table` be queried at all. */
export function checkTableAllowed(table: string, rules: QueryRules | undefined): void {
  if (rules?.allowedTables && !rules.allowedTables.includes(table))
    throw new QueryRefusedError(`Table "${table}" is not among this connection's allowed tables`, { table });
  if (rules?.deniedTables?.includes(table))
    throw new QueryRefusedError(`Table "${table}" is denied on this connection`, { table });
}
