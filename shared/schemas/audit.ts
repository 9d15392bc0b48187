import { AUDIT_ACTIONS } from '../domain/audit-events.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { Cursor, Limit, TenantParams } from './common.js';

/** An instant as ISO 8601 with a zone (`2026-11-22T12:00:00Z`). */
const Instant = z.onFirstUse(() => z.iso.datetime({ offset: true }));

/** A user id or an API key id: who acted. */
const ActorId = z.onFirstUse(() =>
  z.string().check(z.regex(/^[uk]_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a user or API key id')),
);

const sinceBeforeUntil = (q: { since?: string; until?: string }) =>
  q.since === undefined || q.until === undefined || Date.parse(q.since) <= Date.parse(q.until);
const sinceBeforeUntilIssue = { message: 'until is before since', path: ['until'] };

export const AuditEvent = z.onFirstUse(() =>
  z
    .object({
      id: z.string(),
      time: z.string(),
      action: z.enum(AUDIT_ACTIONS),
      actor: z.object({
        userId: z.optional(z.string()),
        apiKeyId: z.optional(z.string()),
        ip: z.string(),
        userAgent: z.string(),
      }),
      resource: z.object({ type: z.string(), id: z.string() }),
      details: z.optional(z.record(z.string(), z.unknown())),
      sequence: z
        .nullable(z.number().check(z.int()))
        .check(z.describe('Position in the hash chain; null while pending')),
    })
    .check(z.meta({ id: 'AuditEvent' })),
);

const Pending = z.onFirstUse(() => ({
  pending: z
    .number()
    .check(
      z.int(),
      z.describe(
        'Events newer than the newest chained one, not yet integrated into the hash chain (counted up to 1,000)',
      ),
    ),
  oldestPendingAgeSeconds: z.number().check(z.int()),
  pendingCapped: z
    .optional(z.literal(true))
    .check(z.describe('More events are pending than were counted: pending is a lower bound')),
}));

export const AuditEventPage = z.onFirstUse(() =>
  z
    .object({ items: z.array(AuditEvent()), nextCursor: z.optional(z.string()), ...Pending() })
    .check(z.meta({ id: 'AuditEventPage' })),
);

export const AuditVerification = z.onFirstUse(() =>
  z
    .object({
      ok: z
        .boolean()
        .check(z.describe('Nothing broken in what this answer walked (with `complete`: in the whole chain)')),
      checked: z.number().check(z.int(), z.describe('Chain records checked by this answer')),
      complete: z
        .boolean()
        .check(
          z.describe(
            'The walk reached the head; otherwise continue with `nextCursor` (each answer walks a page)',
          ),
        ),
      nextCursor: z.optional(z.string()),
      from: z
        .object({
          sequence: z
            .number()
            .check(z.int(), z.describe('The walk started after this sequence (0: the first record)')),
          checkpoint: z
            .optional(z.string())
            .check(z.describe('UTC day of the authenticated checkpoint it started from, if any')),
        })
        .check(
          z.describe(
            'Everything before an authenticated checkpoint whose events have all expired needs no walk; `from=checkpoint` starts at the latest one',
          ),
        ),
      ...Pending(),
      firstBrokenSequence: z.optional(z.number().check(z.int())),
      reason: z.optional(
        z.enum([
          'missing-chain-record',
          'bad-sequence',
          'broken-link',
          'hash-mismatch',
          'bad-record',
          'missing-event',
          'wrong-event',
          'duplicate-event',
          'not-authentic',
          'head-mismatch',
          'head-not-authentic',
          'head-rolled-back',
          'checkpoint-not-authentic',
        ]),
      ),
      head: z.object({ sequence: z.number().check(z.int()), hash: z.string() }),
    })
    .check(z.meta({ id: 'AuditVerification' })),
);

export const listAuditEvents = defineRoute({
  id: 'listAuditEvents',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/audit-events',
  area: 'audit',
  summary: 'Audit events, newest first, filtered by time, action and actor',
  tags: ['audit'],
  auth: { kind: 'tenant', permission: 'audit:read' },
  get params() {
    return TenantParams();
  },
  get query() {
    return z
      .strictObject({
        since: z.optional(Instant()),
        until: z.optional(Instant()),
        action: z.optional(z.enum(AUDIT_ACTIONS)),
        actor: z.optional(ActorId()),
        cursor: z.optional(Cursor()),
        limit: Limit(),
      })
      .check(z.refine(sinceBeforeUntil, sinceBeforeUntilIssue));
  },
  response: {
    status: 200,
    description: 'A page of events',
    get schema() {
      return AuditEventPage();
    },
  },
});

export const exportAuditEvents = defineRoute({
  id: 'exportAuditEvents',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/audit-events/export',
  area: 'audit',
  summary:
    'CSV export (RFC 4180), oldest first, default the last 90 days. Cells starting with = + - @ tab, CR or an ' +
    'apostrophe get a leading apostrophe (strip one to recover the value). At most 50,000 rows or 5 MiB ' +
    'per response; when more remain, the `Link: <…>; rel="next"` header and `X-Next-Cursor` continue it.',
  tags: ['audit'],
  auth: { kind: 'tenant', permission: 'audit:export' },
  get params() {
    return TenantParams();
  },
  get query() {
    return z
      .strictObject({
        since: z.optional(Instant()),
        until: z.optional(Instant()),
        cursor: z.optional(Cursor()),
      })
      .check(z.refine(sinceBeforeUntil, sinceBeforeUntilIssue));
  },
  response: {
    status: 200,
    description: 'The events as CSV',
    get schema() {
      return z.string();
    },
    contentType: 'text/csv; charset=utf-8',
  },
});

export const verifyAuditChain = defineRoute({
  id: 'verifyAuditChain',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/audit-events/verify',
  area: 'audit',
  summary:
    "Verifies the tenant's hash chain against its authenticated heads and daily checkpoints and reports the " +
    'first broken sequence and what is pending. Walks at most a page of records per request: follow ' +
    '`nextCursor` until `complete`. `from=checkpoint` starts at the latest daily checkpoint instead of the ' +
    'oldest record still required.',
  tags: ['audit'],
  auth: { kind: 'tenant', permission: 'audit:read' },
  get params() {
    return TenantParams();
  },
  get query() {
    return z.strictObject({
      from: z.optional(z.enum(['start', 'checkpoint'])),
      cursor: z.optional(Cursor()),
    });
  },
  response: {
    status: 200,
    description: 'The verification report',
    get schema() {
      return AuditVerification();
    },
  },
});

export const auditRoutes = [listAuditEvents, exportAuditEvents, verifyAuditChain];
