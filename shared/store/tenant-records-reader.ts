import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { type CompiledRecordsQuery, encodeRecordsCursor } from '../domain/dynamo-query-compiler.js';
import { assertTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import { rowsWithin } from './result-size.js';
import type { TenantDataClients } from './tenant-data-client.js';

export interface TenantRecordsReaderProps {
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  tableNames: { tenantData: string; audit: string };
  /** Items DynamoDB evaluates per request (before the filter). */
  itemsPerRequest?: number;
  /** Requests per page at most: a selective filter returns a short page with a cursor instead of scanning on. */
  maxRequests?: number;
  /** Serialised rows per response at most (default 5 MiB, below Lambda's 6 MB response limit). */
  maxResultBytes?: number;
}

export interface RecordsPage {
  columns: string[];
  rows: unknown[][];
  nextCursor: string | null;
}

/**
 * Runs compiled records queries with the caller's tenant-scoped DynamoDB client (credentials limited by
 * IAM to the tenant's partition), so even a compiler bug could not read another tenant's items.
 */
export class TenantRecordsReader {
  readonly #p: Required<TenantRecordsReaderProps>;

  constructor(props: TenantRecordsReaderProps) {
    this.#p = { itemsPerRequest: 200, maxRequests: 5, maxResultBytes: 5 * 1024 * 1024, ...props };
  }

  /** One page of the query's rows, as arrays in column order (absent attributes are null). */
  async select(scope: TenantScope, compiled: CompiledRecordsQuery): Promise<RecordsPage> {
    assertTenantScope(scope);
    // The compiler put the tenant into the key condition; it must be this scope's tenant.
    if (compiled.tenantId !== scope.tenantId) throw new Error('records query is not for this tenant');
    const client = await this.#p.tenantClients.forScope(scope);
    const skName = compiled.sortKey;
    const matched: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined =
      compiled.startAfterSk !== undefined
        ? { [compiled.partitionKey]: scope.tenantId, [skName]: compiled.startAfterSk }
        : undefined;
    let lastEvaluated: Record<string, unknown> | undefined;
    for (let request = 0; request < this.#p.maxRequests; request++) {
      const page: QueryCommandOutput = await client.send(
        new QueryCommand({
          TableName: this.#p.tableNames[compiled.table],
          KeyConditionExpression: compiled.keyCondition,
          ...(compiled.filter ? { FilterExpression: compiled.filter } : {}),
          ProjectionExpression: compiled.projection,
          ExpressionAttributeNames: compiled.names,
          ExpressionAttributeValues: compiled.values,
          ScanIndexForward: compiled.scanForward,
          Limit: this.#p.itemsPerRequest,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      matched.push(...(page.Items ?? []));
      lastEvaluated = page.LastEvaluatedKey;
      if (matched.length > compiled.pageSize || !lastEvaluated) break;
      startKey = lastEvaluated;
    }
    const wanted = matched.slice(0, compiled.pageSize);
    const allRows = wanted.map((item) => compiled.paths.map((path) => valueAt(item, path)));
    // Audit details can make pages large: stop early to fit a Lambda response, and continue from there.
    const fit = rowsWithin(allRows, this.#p.maxResultBytes);
    const items = wanted.slice(0, fit);
    let nextSk: string | undefined;
    if (matched.length > compiled.pageSize || fit < wanted.length) nextSk = String(items.at(-1)?.[skName]);
    else if (lastEvaluated) nextSk = String(lastEvaluated[skName]);
    return {
      columns: compiled.columns,
      rows: allRows.slice(0, fit),
      nextCursor: nextSk?.startsWith(compiled.skPrefix)
        ? encodeRecordsCursor(nextSk, compiled.fingerprint)
        : null,
    };
  }
}

function valueAt(item: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = item;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return null;
    current = (current as Record<string, unknown>)[key];
  }
  return current ?? null;
}
