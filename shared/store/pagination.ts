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
