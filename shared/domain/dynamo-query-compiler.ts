import { createHash } from 'node:crypto';
import { EVENT_PREFIX } from './audit-append.js';
import { APIKEY_SK_PREFIX, INSTANCE_SK_PREFIX, LOCATION_SK_PREFIX, MEMBER_SK_PREFIX } from './item-layout.js';
import type { Permission } from './permissions.js';
import type { LikeNode, Scalar, SelectQuery, WhereNode } from './query-ast.js';
import { QueryRefusedError } from './query-rules.js';
import { QueryCompileError } from './sql-compiler.js';

/**
 * The tenant's own records that `POST /v1/tenants/{t}/query` can read, as tables with whitelisted columns.
 * This map is the one place that knows where each record type lives (item key layouts of
 * shared/store/tenant-store.ts, storage-store.ts and audit-chain.ts); anything not listed here, such as an
 * API key's hash, a password ciphertext or an audit chain record, cannot be named by any AST.
 */
export type RecordAttributeType = 'string' | 'number' | 'list' | 'map';

export interface RecordColumn {
  /** Attribute path in the item (nested for audit actor and resource). */
  path: readonly string[];
  type: RecordAttributeType;
  /** Column visible only to holders of this permission (the REST routes hide it from others too). */
  permission?: Permission;
}

export interface TenantRecordType {
  table: 'tenantData' | 'audit';
  /** Sort-key prefix of the type's items; `begins_with(sk, prefix)` is always part of the key condition. */
  skPrefix: string;
  /** Permission needed to read this type at all (the same as its REST list route). */
  permission: Permission;
  /** Column whose order is the sort-key order: the only column a records query can order by. */
  keyColumn: string;
  columns: ReadonlyMap<string, RecordColumn>;
  /** Items carry a TTL attribute; expired ones (not yet deleted by DynamoDB) are filtered out. */
  expires?: boolean;
  /** A condition every caller without `unless` is bound to, e.g. only their own API keys. */
  ownRowsOnly?: { column: string; unless: Permission };
}

const col = (type: RecordAttributeType, ...path: string[]): RecordColumn => ({ path, type });

export const TENANT_RECORD_TYPES: ReadonlyMap<string, TenantRecordType> = new Map<string, TenantRecordType>([
  [
    'members',
    {
      table: 'tenantData',
      skPrefix: MEMBER_SK_PREFIX,
      permission: 'members:read',
      keyColumn: 'userId',
      columns: new Map([
        ['userId', col('string', 'userId')],
        ['role', col('string', 'role')],
        ['email', col('string', 'email')],
        ['name', col('string', 'name')],
        ['addedAt', col('string', 'addedAt')],
        ['addedBy', col('string', 'addedBy')],
      ]),
    },
  ],
  [
    'instances',
    {
      table: 'tenantData',
      skPrefix: INSTANCE_SK_PREFIX,
      permission: 'instances:read',
      keyColumn: 'instanceId',
      columns: new Map([
        ['instanceId', col('string', 'instanceId')],
        ['name', col('string', 'name')],
        ['defaultStorageRoot', col('string', 'defaultStorageRoot')],
        ['storageLocationId', col('string', 'storageLocationId')],
        ['createdAt', col('string', 'createdAt')],
        ['createdBy', col('string', 'createdBy')],
      ]),
    },
  ],
  [
    'storageLocations',
    {
      table: 'tenantData',
      skPrefix: LOCATION_SK_PREFIX,
      permission: 'instances:read',
      keyColumn: 'locationId',
      columns: new Map([
        ['locationId', col('string', 'locationId')],
        ['kind', col('string', 'kind')],
        ['root', col('string', 'root')],
        ['bucket', col('string', 'bucket')],
        ['prefix', col('string', 'prefix')],
        ['region', col('string', 'region')],
        ['roleArn', { path: ['roleArn'], type: 'string', permission: 'storage-locations:manage' }],
        ['instanceCount', col('number', 'instanceCount')],
        ['createdAt', col('string', 'createdAt')],
        ['createdBy', col('string', 'createdBy')],
      ]),
    },
  ],
  [
    'apiKeys',
    {
      table: 'tenantData',
      skPrefix: APIKEY_SK_PREFIX,
      permission: 'api-keys:create',
      keyColumn: 'keyId',
      // Metadata only: never `secretHash`.
      columns: new Map([
        ['keyId', col('string', 'keyId')],
        ['name', col('string', 'name')],
        ['scopes', col('list', 'scopes')],
        ['createdBy', col('string', 'createdBy')],
        ['createdAt', col('string', 'createdAt')],
        ['expiresAt', col('number', 'expiresAt')],
        ['lastUsedAt', col('number', 'lastUsedAt')],
      ]),
      ownRowsOnly: { column: 'createdBy', unless: 'api-keys:manage' },
    },
  ],
  [
    'auditEvents',
    {
      table: 'audit',
      skPrefix: EVENT_PREFIX,
      permission: 'audit:read',
      keyColumn: 'id',
      expires: true,
      columns: new Map([
        ['id', col('string', 'id')],
        ['time', col('string', 'time')],
        ['action', col('string', 'action')],
        ['actorUserId', col('string', 'actor', 'userId')],
        ['actorApiKeyId', col('string', 'actor', 'apiKeyId')],
        ['actorIp', col('string', 'actor', 'ip')],
        ['actorUserAgent', col('string', 'actor', 'userAgent')],
        ['resourceType', col('string', 'resource', 'type')],
        ['resourceId', col('string', 'resource', 'id')],
        ['details', col('map', 'details')],
      ]),
    },
  ],
]);

/** Who asks, for the permission checks and the forced conditions. */
export interface RecordsCaller {
  tenantId: string;
  userId: string;
  permissions: ReadonlySet<Permission>;
}

/** A DynamoDB Query built only from placeholders: every name in `names`, every value in `values`. */
export interface CompiledRecordsQuery {
  table: TenantRecordType['table'];
  /** The partition the key condition is fixed to. */
  tenantId: string;
  partitionKey: string;
  sortKey: string;
  keyCondition: string;
  filter?: string;
  projection: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
  scanForward: boolean;
  /** Sort key to continue after (from a validated cursor). */
  startAfterSk?: string;
  columns: string[];
  /** Attribute path of each result column. */
  paths: (readonly string[])[];
  pageSize: number;
  fingerprint: string;
  skPrefix: string;
}

/** DynamoDB refuses expressions longer than 4 KB; refuse them here with a path instead. */
const MAX_EXPRESSION_LENGTH = 4_000;

/**
 * Compiles a select over the tenant's records to a DynamoDB Query on the tenant's partition: the key
 * condition always fixes `pk` to the caller's tenant and `begins_with(sk, <type prefix>)`; filters and
 * projections use expression attribute names and values only. Throws QueryCompileError (400) or
 * QueryRefusedError (403).
 */
export function compileRecordsQuery(
  ast: SelectQuery,
  caller: RecordsCaller,
  keys: { partitionKey: string; sortKey: string; ttlAttribute: string; nowEpochSeconds: number },
): CompiledRecordsQuery {
  const type = TENANT_RECORD_TYPES.get(ast.table);
  if (!type)
    throw new QueryCompileError(
      'table',
      `Unknown record type "${ast.table}"; one of ${[...TENANT_RECORD_TYPES.keys()].join(', ')}`,
    );
  if (!caller.permissions.has(type.permission))
    throw new QueryRefusedError(`Reading ${ast.table} needs the ${type.permission} permission`, {
      table: ast.table,
    });

  const b = new ExpressionBuilder();
  const column = (name: string, path: string): RecordColumn => {
    const found = type.columns.get(name);
    if (!found) throw new QueryCompileError(path, `Unknown column "${name}" of ${ast.table}`);
    if (found.permission && !caller.permissions.has(found.permission))
      throw new QueryRefusedError(
        `Column "${name}" of ${ast.table} needs the ${found.permission} permission`,
        {
          table: ast.table,
          column: name,
        },
      );
    return found;
  };

  const columns = ast.columns
    ? ast.columns.map((name, i) => {
        column(name, `columns.${i}`);
        return name;
      })
    : [...type.columns.entries()]
        .filter(([, c]) => !c.permission || caller.permissions.has(c.permission))
        .map(([name]) => name);
  const paths = columns.map((name) => type.columns.get(name)!.path);

  let scanForward = true;
  (ast.orderBy ?? []).forEach((o, i) => {
    column(o.column, `orderBy.${i}.column`);
    if (o.column !== type.keyColumn || i > 0)
      throw new QueryCompileError(
        `orderBy.${i}.column`,
        `${ast.table} can be ordered by "${type.keyColumn}" only`,
      );
    scanForward = o.direction === 'asc';
  });

  const pk = b.name(keys.partitionKey);
  const sk = b.name(keys.sortKey);
  const keyCondition = `${pk} = ${b.value(caller.tenantId)} AND begins_with(${sk}, ${b.value(type.skPrefix)})`;

  const filters: Expr[] = [];
  if (ast.where) filters.push(compileWhere(ast.where, 'where', b, column));
  if (type.ownRowsOnly && !caller.permissions.has(type.ownRowsOnly.unless)) {
    const own = type.columns.get(type.ownRowsOnly.column)!;
    filters.push({ text: `${b.path(own.path)} = ${b.value(caller.userId)}`, binds: 'atom' });
  }
  if (type.expires) {
    const ttl = b.name(keys.ttlAttribute);
    filters.push({
      text: `attribute_not_exists(${ttl}) OR ${ttl} > ${b.value(keys.nowEpochSeconds)}`,
      binds: 'or',
    });
  }
  const filter = filters.length === 0 ? undefined : andAll(filters).text;
  if ((filter?.length ?? 0) > MAX_EXPRESSION_LENGTH)
    throw new QueryCompileError('where', 'The where tree is too large for a records query');

  const projection = [sk, ...new Set(paths.map((p) => b.path(p)))].join(', ');
  const fingerprint = recordsFingerprint(ast);
  return {
    table: type.table,
    tenantId: caller.tenantId,
    partitionKey: keys.partitionKey,
    sortKey: keys.sortKey,
    keyCondition,
    ...(filter ? { filter } : {}),
    projection,
    names: b.names,
    values: b.values,
    scanForward,
    ...(ast.cursor !== undefined
      ? { startAfterSk: decodeRecordsCursor(ast.cursor, fingerprint, type.skPrefix) }
      : {}),
    columns,
    paths,
    pageSize: ast.limit,
    fingerprint,
    skPrefix: type.skPrefix,
  };
}

class ExpressionBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly #nameOf = new Map<string, string>();
  #valueCount = 0;

  /** A placeholder for an attribute name (reused for the same name). */
  name(attribute: string): string {
    let placeholder = this.#nameOf.get(attribute);
    if (!placeholder) {
      placeholder = `#n${this.#nameOf.size}`;
      this.#nameOf.set(attribute, placeholder);
      this.names[placeholder] = attribute;
    }
    return placeholder;
  }

  path(path: readonly string[]): string {
    return path.map((p) => this.name(p)).join('.');
  }

  value(value: unknown): string {
    const placeholder = `:v${this.#valueCount++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

const COMPARISON = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

/**
 * An expression and how loosely it binds. DynamoDB refuses redundant parentheses, so they are added only
 * where precedence (NOT over AND over OR) needs them.
 */
interface Expr {
  text: string;
  binds: 'atom' | 'and' | 'or';
}

function grouped(e: Expr, within: 'and' | 'not'): string {
  if (e.binds === 'atom' || (within === 'and' && e.binds === 'and')) return e.text;
  return `(${e.text})`;
}

/** Joins conditions with AND, parenthesising only the ones that bind more loosely. */
function andAll(parts: Expr[]): Expr {
  if (parts.length === 1) return parts[0]!;
  return { text: parts.map((p) => grouped(p, 'and')).join(' AND '), binds: 'and' };
}

function compileWhere(
  node: WhereNode,
  path: string,
  b: ExpressionBuilder,
  column: (name: string, path: string) => RecordColumn,
): Expr {
  switch (node.op) {
    case 'and':
      return andAll(node.conditions.map((c, i) => compileWhere(c, `${path}.conditions.${i}`, b, column)));
    case 'or': {
      const parts = node.conditions.map((c, i) => compileWhere(c, `${path}.conditions.${i}`, b, column));
      if (parts.length === 1) return parts[0]!;
      return { text: parts.map((p) => p.text).join(' OR '), binds: 'or' };
    }
    case 'not':
      return {
        text: `NOT ${grouped(compileWhere(node.condition, `${path}.condition`, b, column), 'not')}`,
        binds: 'atom',
      };
    case 'isNull': {
      const c = column(node.column, `${path}.column`);
      const p = b.path(c.path);
      return { text: `attribute_not_exists(${p}) OR attribute_type(${p}, ${b.value('NULL')})`, binds: 'or' };
    }
    case 'in': {
      const c = scalarColumn(column(node.column, `${path}.column`), node.column, `${path}.column`);
      const values = node.values.map((v, i) => b.value(checkValue(c, v, `${path}.values.${i}`)));
      return { text: `${b.path(c.path)} IN (${values.join(', ')})`, binds: 'atom' };
    }
    case 'like':
      return { text: compileLike(node, path, b, column(node.column, `${path}.column`)), binds: 'atom' };
    default: {
      const c = scalarColumn(column(node.column, `${path}.column`), node.column, `${path}.column`);
      return {
        text: `${b.path(c.path)} ${COMPARISON[node.op]} ${b.value(checkValue(c, node.value, `${path}.value`))}`,
        binds: 'atom',
      };
    }
  }
}

function compileLike(node: LikeNode, path: string, b: ExpressionBuilder, c: RecordColumn): string {
  if (node.ignoreCase)
    throw new QueryCompileError(`${path}.ignoreCase`, 'Records queries match case-sensitively only');
  const p = b.path(c.path);
  if (c.type === 'list') {
    // On a list (API key scopes), `contains` is membership; nothing else means anything.
    if (node.mode !== 'contains' && node.mode !== 'exact')
      throw new QueryCompileError(`${path}.mode`, 'A list column supports contains only');
    return `contains(${p}, ${b.value(node.value)})`;
  }
  if (c.type !== 'string') throw new QueryCompileError(`${path}.column`, 'like needs a text column');
  switch (node.mode) {
    case 'contains':
      return `contains(${p}, ${b.value(node.value)})`;
    case 'startsWith':
      return `begins_with(${p}, ${b.value(node.value)})`;
    case 'exact':
      return `${p} = ${b.value(node.value)}`;
    default:
      throw new QueryCompileError(`${path}.mode`, 'Records queries support contains, startsWith and exact');
  }
}

function scalarColumn(c: RecordColumn, name: string, path: string): RecordColumn {
  if (c.type === 'list' || c.type === 'map')
    throw new QueryCompileError(
      path,
      `Column "${name}" holds a ${c.type}; filter it with like (contains) or isNull`,
    );
  return c;
}

function checkValue(c: RecordColumn, value: Scalar, path: string): Scalar {
  if (c.type === 'number' && typeof value !== 'number') throw new QueryCompileError(path, 'Expects a number');
  if (c.type === 'string' && typeof value !== 'string') throw new QueryCompileError(path, 'Expects a string');
  return value;
}

function recordsFingerprint(ast: SelectQuery): string {
  const { cursor: _cursor, limit: _limit, ...shape } = ast;
  return createHash('sha256').update(JSON.stringify(shape)).digest('base64url').slice(0, 22);
}

/** The opaque cursor continuing after the item with sort key `sk`. */
export function encodeRecordsCursor(sk: string, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ v: 1, k: sk, f: fingerprint }), 'utf8').toString('base64url');
}

/**
 * The sort key a cursor continues after, once checked to belong to this query and this record type; the
 * partition key is never taken from a cursor, so no cursor can lead into another tenant's partition.
 */
export function decodeRecordsCursor(cursor: string, fingerprint: string, skPrefix: string): string {
  let parsed: { v?: unknown; k?: unknown; f?: unknown };
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new QueryCompileError('cursor', 'Not a cursor returned by this API');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    parsed.v !== 1 ||
    typeof parsed.k !== 'string' ||
    !parsed.k.startsWith(skPrefix) ||
    parsed.k.length > 1024
  )
    throw new QueryCompileError('cursor', 'Not a cursor returned by this API');
  if (parsed.f !== fingerprint)
    throw new QueryCompileError(
      'cursor',
      'The cursor belongs to a different query; send the same query with it',
    );
  return parsed.k;
}
