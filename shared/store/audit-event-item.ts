import { canonicalJson, eventSk, ttlFor, wellFormed } from '../domain/audit-append.js';
import type { StoredEventItem } from '../domain/audit-chain.js';
import { AUDIT_ACTIONS, type AuditEventInput, type AuditEventView } from '../domain/audit-events.js';
import { ulid } from '../domain/ids.js';

/** Largest canonical size of one event's content; far below DynamoDB's 400 KB item limit. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** Thrown when an audit event cannot be recorded as given (a programming error, not bad user input). */
export class AuditEventInvalidError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'AuditEventInvalidError';
  }
}

/** Builds the stored item of an event: id and time from one ULID, TTL from the retention. */
export function buildEventItem(
  logId: string,
  input: AuditEventInput,
  retentionDays: number,
  nowMs: number,
): StoredEventItem {
  if (!(AUDIT_ACTIONS as readonly string[]).includes(input.action))
    throw new AuditEventInvalidError(`unknown audit action ${String(input.action)}`);
  const id = ulid(nowMs);
  const actor = input.actor;
  const content = wellFormed({
    id: `e_${id}`,
    logId,
    time: new Date(nowMs).toISOString(),
    action: input.action,
    actor: {
      ...(actor.userId !== undefined ? { userId: String(actor.userId) } : {}),
      ...(actor.apiKeyId !== undefined ? { apiKeyId: String(actor.apiKeyId) } : {}),
      ip: String(actor.ip ?? ''),
      userAgent: String(actor.userAgent ?? ''),
    },
    resource: { type: String(input.resource.type), id: String(input.resource.id) },
    ...(input.details !== undefined ? { details: input.details } : {}),
    ttl: ttlFor(nowMs, retentionDays),
  });
  let size: number;
  try {
    size = Buffer.byteLength(canonicalJson(content), 'utf8');
  } catch (error) {
    throw new AuditEventInvalidError(
      `audit event details cannot be stored: ${(error as Error).message}`,
      error,
    );
  }
  if (size > MAX_EVENT_BYTES)
    throw new AuditEventInvalidError(`audit event is larger than ${MAX_EVENT_BYTES} bytes`);
  return { pk: logId, sk: eventSk(id), ...content } as StoredEventItem;
}

/** The API view of a stored event. */
export function toView(item: StoredEventItem, sequence: number | null): AuditEventView {
  const view: AuditEventView = {
    id: item.id,
    time: String(item.time),
    action: String(item.action),
    actor: item.actor as AuditEventView['actor'],
    resource: item.resource as AuditEventView['resource'],
    sequence,
  };
  if (item.details !== undefined) view.details = item.details as Record<string, unknown>;
  return view;
}
