import { canonicalJson } from './audit-chain.js';
import type { AuditEventView } from './audit-events.js';

/** Columns of the audit CSV export, in order. */
export const AUDIT_CSV_COLUMNS = [
  'sequence',
  'id',
  'time',
  'action',
  'actor_user_id',
  'actor_api_key_id',
  'actor_ip',
  'actor_user_agent',
  'resource_type',
  'resource_id',
  'details',
] as const;

/** Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection), plus our escape. */
const FORMULA_START = /^[=+\-@\t\r']/;

/**
 * Neutralises a cell against spreadsheet formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or
 * carriage return gets a leading apostrophe. A cell that already starts with an apostrophe gets one too, so
 * the escape is reversible: strip exactly one leading `'` from any cell that starts with one
 * (`unneutraliseCell`) and the original value comes back.
 */
export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** Reverses `neutraliseCell`. */
export function unneutraliseCell(value: string): string {
  return value.startsWith("'") ? value.slice(1) : value;
}

/** One RFC 4180 record: every field quoted, quotes doubled, CRLF line ending. */
export function csvRecord(cells: readonly string[]): string {
  return `${cells.map((cell) => `"${cell.replaceAll('"', '""')}"`).join(',')}\r\n`;
}

/** The header record of the export. */
export function auditCsvHeader(): string {
  return csvRecord(AUDIT_CSV_COLUMNS);
}

/** One event as a neutralised CSV record; details are canonical JSON. */
export function auditCsvRow(event: AuditEventView): string {
  const cells = [
    event.sequence === null ? '' : String(event.sequence),
    event.id,
    event.time,
    event.action,
    event.actor.userId ?? '',
    event.actor.apiKeyId ?? '',
    event.actor.ip,
    event.actor.userAgent,
    event.resource.type,
    event.resource.id,
    event.details === undefined ? '' : canonicalJson(event.details),
  ];
  return csvRecord(cells.map(neutraliseCell));
}
