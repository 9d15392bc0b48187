import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_CSV_COLUMNS,
  auditCsvHeader,
  auditCsvRow,
  csvRecord,
  neutraliseCell,
  unneutraliseCell,
} from '../../../shared/domain/audit-csv.js';

const HOSTILE = [
  '=HYPERLINK("http://evil","x")',
  '+1+1',
  '-2+3',
  '@SUM(A1)',
  '\tcmd',
  '\r=1',
  "'already",
  'plain, with "quotes"\r\nand lines',
  '',
];

describe('audit CSV', () => {
  it('neutralises every formula start and is reversible', () => {
    // Act / Assess: each hostile start is neutralised and comes back; a plain value is left alone
    for (const value of HOSTILE) {
      const cell = neutraliseCell(value);
      expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
      expect(unneutraliseCell(cell)).toBe(value);
    }
    expect(neutraliseCell('ok')).toBe('ok');
  });

  it('writes RFC 4180 records that csv-parse reads back exactly', () => {
    // Prepare
    const text = csvRecord(HOSTILE) + csvRecord(['a', 'b']);

    // Act
    const rows = parse(text, { relax_column_count: true }) as string[][];

    // Assess
    expect(rows).toEqual([HOSTILE, ['a', 'b']]);
    expect(text.endsWith('\r\n')).toBe(true);
  });

  it('renders an event with hostile fields losslessly', () => {
    // Prepare
    const event = {
      id: 'e_01jabcdefghjkmnpqrstvwxyz0',
      time: '2026-11-22T12:00:00.000Z',
      action: 'member.added',
      actor: { userId: '=cmd|/c calc', ip: '-1', userAgent: '@evil\r\n"x"' },
      resource: { type: '+type', id: '\tid' },
      details: { name: '=1+1', note: 'a,"b"' },
      sequence: 7,
    };

    // Act
    const [header, row] = parse(auditCsvHeader() + auditCsvRow(event)) as string[][];

    // Assess
    expect(header).toEqual([...AUDIT_CSV_COLUMNS]);
    const cells = row!.map(unneutraliseCell);
    expect(cells).toEqual([
      '7',
      event.id,
      event.time,
      event.action,
      event.actor.userId,
      '',
      event.actor.ip,
      event.actor.userAgent,
      event.resource.type,
      event.resource.id,
      '{"name":"=1+1","note":"a,\\"b\\""}',
    ]);
    for (const cell of row!) expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
  });
});
