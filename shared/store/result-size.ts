import { ValidationError } from '../errors.js';

/**
 * How many leading rows fit in `maxBytes` of JSON. Throws a 400 when not even the first row fits: paging
 * cannot help, only selecting fewer columns can.
 */
export function rowsWithin(rows: readonly unknown[], maxBytes: number, columnsPath = 'body.columns'): number {
  let bytes = 2;
  for (let i = 0; i < rows.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(rows[i]), 'utf8') + 1;
    if (bytes > maxBytes) {
      if (i === 0)
        throw new ValidationError(
          [
            {
              path: columnsPath,
              message: `One row is larger than ${maxBytes} bytes; ask for fewer columns`,
            },
          ],
          'A row is too large to return.',
        );
      return i;
    }
  }
  return rows.length;
}
