import { LONE_SURROGATE } from './text.js';
import * as z from './zod.js';

/**
 * The query AST (DESIGN.md §4 "Connections and queries"): what a caller may ask of a database, as data.
 * Nothing here is ever pasted into a query: identifiers are looked up in an introspected schema (or a fixed
 * record-type whitelist) and values become bound parameters. Every dimension is bounded so a caller cannot
 * make validation, compilation or the database do unbounded work.
 */
export const QUERY_LIMITS = {
  /** Rows a select returns per page. */
  maxLimit: 1000,
  defaultLimit: 100,
  /** Nesting of and/or/not below `where` (a leaf comparison at depth 8 is fine, a 9th level is not). */
  maxWhereDepth: 8,
  /** Children of one and/or node. */
  maxConditions: 50,
  /** Nodes in one where tree. */
  maxWhereNodes: 200,
  /** Values of one `in`. */
  maxInValues: 100,
  maxColumns: 100,
  maxOrderBy: 8,
  /** Rows of one insert. */
  maxInsertRows: 100,
  /** Postgres truncates identifiers at 63 bytes; nothing longer can name a real table or column. */
  maxIdentifierLength: 63,
  maxStringValue: 8192,
  maxCursor: 2048,
  /** Serialised size of a whole AST, so ASTs built in code (not only HTTP bodies) are bounded too. */
  maxAstBytes: 60 * 1024,
} as const;

/** Strings the databases could not store as sent: NUL (Postgres text refuses it) and lone surrogates. */
function checkText(value: string, ctx: z.core.$RefinementCtx<string>): void {
  if (value.includes('\u0000')) ctx.addIssue({ code: 'custom', message: 'NUL characters are not allowed' });
  else if (LONE_SURROGATE.test(value))
    ctx.addIssue({ code: 'custom', message: 'Not well-formed Unicode (lone surrogate)' });
}

/** A table or column name as the caller spells it; only ever compared with names read from the schema. */
export const Identifier = z.onFirstUse(() =>
  z.string().check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxIdentifierLength), z.superRefine(checkText)),
);

const Text = z.onFirstUse(() =>
  z.string().check(z.maxLength(QUERY_LIMITS.maxStringValue), z.superRefine(checkText)),
);

/** A value: bound as a parameter, never part of the query text. */
export const Scalar = z.onFirstUse(() => z.union([Text(), z.number(), z.boolean()]));
export type Scalar = z.OutputOf<typeof Scalar>;
/** A value that may be null (insert and update only; filters use `isNull`). */
export const NullableScalar = z.onFirstUse(() => z.union([Scalar(), z.null()]));
export type NullableScalar = z.OutputOf<typeof NullableScalar>;

export const COMPARISON_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte'] as const;

/**
 * How a `like` value is matched. Every mode except `pattern` escapes `%`, `_` and `\` in the value, so a
 * user's text is always taken literally; `pattern` is the explicit opt-in to SQL wildcards.
 */
export const LIKE_MODES = ['contains', 'startsWith', 'endsWith', 'exact', 'pattern'] as const;
export type LikeMode = (typeof LIKE_MODES)[number];

const Comparison = z.onFirstUse(() =>
  z.strictObject({ op: z.enum(COMPARISON_OPS), column: Identifier(), value: Scalar() }),
);
const In = z.onFirstUse(() =>
  z.strictObject({
    op: z.literal('in'),
    column: Identifier(),
    values: z.array(Scalar()).check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxInValues)),
  }),
);
const Like = z.onFirstUse(() =>
  z
    .strictObject({
      op: z.literal('like'),
      column: Identifier(),
      value: Text(),
      mode: z._default(z.enum(LIKE_MODES), 'contains'),
      ignoreCase: z._default(z.boolean(), false),
    })
    .check(
      z.superRefine((like, ctx) => {
        // A pattern ending in an unpaired escape is an error in Postgres; refuse it here with a path.
        if (like.mode === 'pattern' && /(^|[^\\])(\\\\)*\\$/.test(like.value))
          ctx.addIssue({
            code: 'custom',
            path: ['value'],
            message: 'Pattern ends with an unpaired escape (\\)',
          });
      }),
    ),
);
const IsNull = z.onFirstUse(() => z.strictObject({ op: z.literal('isNull'), column: Identifier() }));

export type ComparisonNode = z.OutputOf<typeof Comparison>;
export type InNode = z.OutputOf<typeof In>;
export type LikeNode = z.OutputOf<typeof Like>;
export type IsNullNode = z.OutputOf<typeof IsNull>;
export type LeafNode = ComparisonNode | InNode | LikeNode | IsNullNode;
export type WhereNode =
  | LeafNode
  | { op: 'and'; conditions: WhereNode[] }
  | { op: 'or'; conditions: WhereNode[] }
  | { op: 'not'; condition: WhereNode };

const requiredWhere = (issue: { input?: unknown }) =>
  issue.input === undefined
    ? 'A where condition is required (to change every row, say so with a condition that matches them)'
    : undefined;

/** A where node, recursively; one named schema so the OpenAPI document refers to it instead of unrolling it. */
export const WhereNodeSchema: () => z.ZodMiniType<WhereNode> = z.onFirstUse(
  () =>
    z
      .lazy(() =>
        z.discriminatedUnion(
          'op',
          [
            Comparison(),
            In(),
            Like(),
            IsNull(),
            z.strictObject({
              op: z.literal('and'),
              conditions: z
                .array(WhereNodeSchema())
                .check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxConditions)),
            }),
            z.strictObject({
              op: z.literal('or'),
              conditions: z
                .array(WhereNodeSchema())
                .check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxConditions)),
            }),
            z.strictObject({ op: z.literal('not'), condition: WhereNodeSchema() }),
          ],
          { error: requiredWhere },
        ),
      )
      .check(z.meta({ id: 'QueryWhere' })) as z.ZodMiniType<WhereNode>,
);

/**
 * Depth and size of a where tree, checked on the raw input without recursion before the recursive schema
 * runs, so a deeply nested body is refused at the first level too deep (with its path) and can never
 * exhaust the stack. Returns the first problem found.
 */
export function whereShapeProblem(
  input: unknown,
): { path: (string | number)[]; message: string } | undefined {
  const stack: { node: unknown; depth: number; path: (string | number)[] }[] = [
    { node: input, depth: 1, path: [] },
  ];
  let nodes = 0;
  while (stack.length > 0) {
    const { node, depth, path } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (++nodes > QUERY_LIMITS.maxWhereNodes)
      return { path: [], message: `The where tree has more than ${QUERY_LIMITS.maxWhereNodes} nodes` };
    const { op, conditions, condition } = node as { op?: unknown; conditions?: unknown; condition?: unknown };
    if (op !== 'and' && op !== 'or' && op !== 'not') continue;
    if (depth >= QUERY_LIMITS.maxWhereDepth)
      return { path, message: `The where tree is nested deeper than ${QUERY_LIMITS.maxWhereDepth} levels` };
    if (op === 'not') stack.push({ node: condition, depth: depth + 1, path: [...path, 'condition'] });
    else if (Array.isArray(conditions))
      for (let i = conditions.length - 1; i >= 0; i--)
        stack.push({ node: conditions[i], depth: depth + 1, path: [...path, 'conditions', i] });
  }
  return undefined;
}

const Where = z.onFirstUse(() =>
  z.pipe(
    z.transform((input: unknown, ctx) => {
      const problem = whereShapeProblem(input);
      if (problem) ctx.issues.push({ code: 'custom', path: problem.path, message: problem.message, input });
      return input;
    }),
    WhereNodeSchema(),
  ),
);

/** Number of nodes in a where tree. */
export function whereNodeCount(node: WhereNode): number {
  if (node.op === 'and' || node.op === 'or')
    return 1 + node.conditions.reduce((sum, c) => sum + whereNodeCount(c), 0);
  if (node.op === 'not') return 1 + whereNodeCount(node.condition);
  return 1;
}

function uniqueList<T extends z.ZodMiniType<string>>(item: T, max: number, what: string) {
  return z.array(item).check(
    z.minLength(1),
    z.maxLength(max),
    z.superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((name, index) => {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index], message: `Duplicate ${what}` });
        seen.add(name);
      });
    }),
  );
}

const Columns = z.onFirstUse(() => uniqueList(Identifier(), QUERY_LIMITS.maxColumns, 'column'));

export const OrderBy = z.onFirstUse(() =>
  z.strictObject({
    column: Identifier(),
    direction: z._default(z.enum(['asc', 'desc']), 'asc'),
  }),
);

export const SelectQuery = z.onFirstUse(() =>
  z.strictObject({
    operation: z.literal('select'),
    table: Identifier(),
    /** Omitted: every column the caller may see. */
    columns: z.optional(Columns()),
    where: z.optional(Where()),
    orderBy: z.optional(z.array(OrderBy()).check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxOrderBy))),
    limit: z._default(
      z.number().check(z.int(), z.minimum(1), z.maximum(QUERY_LIMITS.maxLimit)),
      QUERY_LIMITS.defaultLimit,
    ),
    /** The `nextCursor` of the previous page of the same query. Opaque; validated before use. */
    cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxCursor))),
  }),
);

export const InsertQuery = z.onFirstUse(() =>
  z
    .strictObject({
      operation: z.literal('insert'),
      table: Identifier(),
      columns: Columns(),
      /** One array of values per row, in the order of `columns`. */
      values: z
        .array(z.array(NullableScalar()))
        .check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxInsertRows)),
      returning: z.optional(Columns()),
    })
    .check(
      z.superRefine((insert, ctx) => {
        insert.values.forEach((row, index) => {
          if (row.length !== insert.columns.length)
            ctx.addIssue({
              code: 'custom',
              path: ['values', index],
              message: `Expected ${insert.columns.length} values (one per column), got ${row.length}`,
            });
        });
      }),
    ),
);

const Assignment = z.onFirstUse(() => z.strictObject({ column: Identifier(), value: NullableScalar() }));

export const UpdateQuery = z.onFirstUse(() =>
  z
    .strictObject({
      operation: z.literal('update'),
      table: Identifier(),
      set: z.array(Assignment()).check(z.minLength(1), z.maxLength(QUERY_LIMITS.maxColumns)),
      /** Mandatory: an update of every row must be asked for explicitly with a condition. */
      where: Where(),
      returning: z.optional(Columns()),
    })
    .check(
      z.superRefine((update, ctx) => {
        const seen = new Set<string>();
        update.set.forEach((assignment, index) => {
          if (seen.has(assignment.column))
            ctx.addIssue({ code: 'custom', path: ['set', index, 'column'], message: 'Duplicate column' });
          seen.add(assignment.column);
        });
      }),
    ),
);

export const DeleteQuery = z.onFirstUse(() =>
  z.strictObject({
    operation: z.literal('delete'),
    table: Identifier(),
    /** Mandatory, like update's. */
    where: Where(),
    returning: z.optional(Columns()),
  }),
);

/** Any query a caller may send; `operation` decides which. */
export const QueryAst = z.onFirstUse(() =>
  z.discriminatedUnion('operation', [SelectQuery(), InsertQuery(), UpdateQuery(), DeleteQuery()]).check(
    z.superRefine((ast, ctx) => {
      const bytes = Buffer.byteLength(JSON.stringify(ast), 'utf8');
      if (bytes > QUERY_LIMITS.maxAstBytes)
        ctx.addIssue({
          code: 'custom',
          message: `The query is larger than ${QUERY_LIMITS.maxAstBytes} bytes`,
        });
    }),
  ),
);

export type SelectQuery = z.OutputOf<typeof SelectQuery>;
export type InsertQuery = z.OutputOf<typeof InsertQuery>;
export type UpdateQuery = z.OutputOf<typeof UpdateQuery>;
export type DeleteQuery = z.OutputOf<typeof DeleteQuery>;
export type QueryAst = z.OutputOf<typeof QueryAst>;
export type WriteQuery = InsertQuery | UpdateQuery | DeleteQuery;

/** Whether a query changes data. */
export function isWrite(ast: QueryAst): ast is WriteQuery {
  return ast.operation !== 'select';
}

/** Every column a where tree mentions, in order of appearance. */
export function whereColumns(node: WhereNode | undefined, into: string[] = []): string[] {
  if (!node) return into;
  if (node.op === 'and' || node.op === 'or') for (const child of node.conditions) whereColumns(child, into);
  else if (node.op === 'not') whereColumns(node.condition, into);
  else into.push(node.column);
  return into;
}

/** What the audit log keeps of a query: its shape, never its values or results. */
export interface QueryShape {
  operation: QueryAst['operation'];
  table: string;
  /** Columns read, written, filtered or ordered on (deduplicated, as named by the caller). */
  columns: string[];
}

/** The audit shape of a query. */
export function queryShape(ast: QueryAst): QueryShape {
  const columns: string[] = [];
  switch (ast.operation) {
    case 'select':
      columns.push(
        ...(ast.columns ?? []),
        ...whereColumns(ast.where),
        ...(ast.orderBy ?? []).map((o) => o.column),
      );
      break;
    case 'insert':
      columns.push(...ast.columns, ...(ast.returning ?? []));
      break;
    case 'update':
      columns.push(...ast.set.map((s) => s.column), ...whereColumns(ast.where), ...(ast.returning ?? []));
      break;
    case 'delete':
      columns.push(...whereColumns(ast.where), ...(ast.returning ?? []));
      break;
  }
  return { operation: ast.operation, table: ast.table, columns: [...new Set(columns)] };
}
