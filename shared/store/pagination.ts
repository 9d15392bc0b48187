import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.js';

/** Encodes DynamoDB's LastEvaluatedKey as an opaque cursor. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

/**
 * Decodes a cursor and checks it points into the expected partition and item type, so a forged cursor
 * can neither move a query to another tenant nor make DynamoDB fail: it is a 400 naming `query.cursor`.
 */
export function decodeCursor(
  cursor: string | undefined,
  expect: { pk: string; skPrefix: string; keys?: readonly string[] },
): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () => new ValidationError([{ path: 'query.cursor', message: 'Invalid cursor' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const record = parsed as Record<string, unknown>;
  const allowed = new Set(expect.keys ?? ['pk', 'sk']);
  for (const [k, v] of Object.entries(record)) if (!allowed.has(k) || typeof v !== 'string') throw invalid();
  if (record.pk !== expect.pk || typeof record.sk !== 'string' || !record.sk.startsWith(expect.skPrefix))
    throw invalid();
  return record as Record<string, string>;
}

/** A page request as the list routes take it. */
export interface PageRequest {
  cursor?: string;
  limit: number;
}

/** What one page of a partition's items of one type is asked for with. */
export interface PageQuery {
  tableName: string;
  pk: string;
  /** The item type: sort keys starting with it (shared/domain/item-layout.ts). */
  skPrefix: string;
  /** Extra conditions on the items read (placeholders only). */
  filter?: { expression: string; names?: Record<string, string>; values: Record<string, unknown> };
  /** Descending sort-key order (newest first where the sort key is time-ordered). */
  newestFirst?: boolean;
  /** Only these attributes (the key attributes always come along for the cursor). */
  projection?: { expression: string; names: Record<string, string> };
}

/**
 * One page of a partition's items of one type, behind an opaque cursor that cannot leave the partition or
 * the type (a forged one is a 400 naming `query.cursor`).
 */
export async function queryPage(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  query: PageQuery,
  page: PageRequest,
): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
  const result = await db.send(
    new QueryCommand({
      TableName: query.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ...(query.filter ? { FilterExpression: query.filter.expression } : {}),
      ...(query.projection ? { ProjectionExpression: query.projection.expression } : {}),
      ExpressionAttributeNames: {
        ...query.projection?.names,
        ...query.filter?.names,
        '#pk': 'pk',
        '#sk': 'sk',
      },
      ExpressionAttributeValues: { ':pk': query.pk, ':prefix': query.skPrefix, ...query.filter?.values },
      ExclusiveStartKey: decodeCursor(page.cursor, { pk: query.pk, skPrefix: query.skPrefix }),
      Limit: page.limit,
      ...(query.newestFirst ? { ScanIndexForward: false } : {}),
    }),
  );
  return { items: result.Items ?? [], nextCursor: encodeCursor(result.LastEvaluatedKey) ?? null };
}

/** The items of each page a query reads, page after page (the query's own Limit, if any, sizes the pages). */
export async function* queryPages(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  input: QueryCommandInput,
): AsyncGenerator<Record<string, unknown>[]> {
  let startKey = input.ExclusiveStartKey;
  do {
    const out = await db.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    yield out.Items ?? [];
    startKey = out.LastEvaluatedKey;
  } while (startKey);
}

/** Every item a query matches, page after page. */
export async function* queryAll(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  input: QueryCommandInput,
): AsyncGenerator<Record<string, unknown>> {
  for await (const items of queryPages(db, input)) yield* items;
}

/** Every item a query matches, each mapped, as one array (for partitions known to stay small). */
export async function queryAllItems<T>(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  input: QueryCommandInput,
  map: (item: Record<string, unknown>) => T,
): Promise<T[]> {
  const found: T[] = [];
  for await (const item of queryAll(db, input)) found.push(map(item));
  return found;
}
