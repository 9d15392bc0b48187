import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresRunner } from '../../../shared/connectors/postgres-runner.js';
import { HttpProblemError } from '../../../shared/errors.js';
import { postgresTarget, type QueryableConnection } from '../../../shared/services/query.js';
import {
  HIDE_SECRET,
  newRunner,
  type QueryFixture,
  RecordingAudit,
  scope,
  singleConnection,
  startQueryFixture,
  submit,
  WEIRD_TABLE,
} from './postgres-fixture.js';

let fx: QueryFixture;
let runner: PostgresRunner;
let audit: RecordingAudit;
let connection: QueryableConnection;

beforeAll(async () => {
  fx = await startQueryFixture();
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

beforeEach(async () => {
  await runner?.close();
  runner = newRunner({ statementTimeoutMs: 500 });
  audit = new RecordingAudit();
  connection = fx.connection({ rules: HIDE_SECRET });
  await fx.reset();
});

const deps = () => ({ connections: singleConnection(scope, () => connection), runner, audit });
const run = (role: Parameters<typeof submit>[1], body: unknown) => submit(deps(), role, body);

async function problem(promise: Promise<unknown>): Promise<HttpProblemError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpProblemError);
  return error as HttpProblemError;
}

async function count(table = 'people'): Promise<number> {
  const r = await fx.admin.query(`SELECT count(*)::int AS n FROM "${table.replaceAll('"', '""')}"`);
  return r.rows[0].n;
}

describe('select', () => {
  it('filters, orders, pages with an opaque cursor and returns rows as arrays in column order', async () => {
    // Prepare: ids 10..19, newest first
    const query = {
      operation: 'select',
      table: 'people',
      columns: ['id', 'age'],
      where: {
        op: 'and',
        conditions: [
          { op: 'gte', column: 'id', value: 10 },
          { op: 'lt', column: 'id', value: 20 },
        ],
      },
      orderBy: [{ column: 'id', direction: 'desc' }],
    };

    // Act
    const first = await run('viewer', { ...query, limit: 4 });
    const second = await run('viewer', { ...query, limit: 8, cursor: first.nextCursor });

    // Assess
    expect(first.columns).toEqual(['id', 'age']);
    expect(first.rows.map((r) => r[0])).toEqual([19, 18, 17, 16]);
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(second.rows.map((r) => r[0])).toEqual([15, 14, 13, 12, 11, 10]);
    expect(second.nextCursor).toBeNull();
  });

  it('stops a page early to fit the response size, continuing exactly after it; a lone oversized row is 400', async () => {
    // Prepare: about three rows of [id, name] fit in 60 bytes.
    await runner.close();
    runner = newRunner({ maxResultBytes: 60 });
    const body = {
      operation: 'select',
      table: 'people',
      columns: ['id', 'age'],
      orderBy: [{ column: 'id' }],
      limit: 10,
    };

    // Act
    const ids: unknown[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await run('viewer', { ...body, ...(cursor ? { cursor } : {}) });
      ids.push(...page.rows.map((r) => r[0]));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    await fx.admin.query("UPDATE people SET name = repeat('x', 100) WHERE id = 1");
    const huge = await problem(
      run('viewer', { operation: 'select', table: 'people', columns: ['name'], limit: 1 }),
    );
    const returning = await problem(
      run('owner', {
        operation: 'update',
        table: 'people',
        set: [{ column: 'nick', value: 'y'.repeat(100) }],
        where: { op: 'eq', column: 'id', value: 2 },
        returning: ['nick'],
      }),
    );

    // Assess
    expect(ids).toEqual(fx.people.map((p) => p.id));
    expect(pages).toBeGreaterThan(fx.people.length / 10);
    expect([huge.status, huge.errors?.[0]?.path]).toEqual([400, 'body.columns']);
    expect([returning.status, returning.errors?.[0]?.path]).toEqual([400, 'body.returning']);
    const nick = await fx.admin.query('SELECT nick FROM people WHERE id = 2');
    expect(nick.rows[0].nick).toBe(fx.people[1]!.nick);
  });

  it('refuses a cursor of another query, a forged one and garbage with 400 naming body.cursor', async () => {
    // Prepare: a page's cursor, and a forged one
    const page = await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 2 });
    const forged = Buffer.from(JSON.stringify({ v: 1, o: '0; DROP TABLE people', f: 'x' })).toString(
      'base64url',
    );

    // Act / Assess: forged, garbage, an empty array
    for (const cursor of [forged, 'not a cursor!', Buffer.from('[]').toString('base64url')]) {
      const e = await problem(
        run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 2, cursor }),
      );
      expect(e.status).toBe(400);
      expect(e.errors?.[0]?.path).toBe('body.cursor');
    }

    // Act / Assess: the real cursor on another query
    const other = await problem(
      run('viewer', {
        operation: 'select',
        table: 'people',
        columns: ['name'],
        limit: 2,
        cursor: page.nextCursor,
      }),
    );
    expect(other.status).toBe(400);

    // Assess: nothing changed
    expect(await count()).toBe(fx.people.length);
  });

  it('quotes real identifiers that are themselves hostile, and finds no table for look-alikes', async () => {
    // Act
    const weird = await run('viewer', {
      operation: 'select',
      table: WEIRD_TABLE,
      columns: ['co"l', '__proto__', 'Ａdmin'],
    });
    const homoglyph = await problem(
      run('viewer', { operation: 'select', table: WEIRD_TABLE, columns: ['Admin'] }),
    );
    const rtl = await problem(run('viewer', { operation: 'select', table: '\u202Eelpoep' }));
    const cyrillic = await problem(run('viewer', { operation: 'select', table: 'pеople' }));

    // Assess
    expect(weird).toMatchObject({
      columns: ['co"l', '__proto__', 'Ａdmin'],
      rows: [['q"uote', 1, 'fullwidth']],
    });
    expect(homoglyph.status).toBe(400);
    expect(homoglyph.errors).toEqual([
      { path: 'body.columns.0', message: `Unknown column "Admin" in table "${WEIRD_TABLE}"` },
    ]);
    expect(rtl.errors?.[0]?.path).toBe('body.table');
    expect(cyrillic.errors?.[0]?.path).toBe('body.table');
    expect(await count()).toBe(fx.people.length);
  });

  it("answers 400 naming the path for unknown tables and columns, '; DROP TABLE, NUL and lone surrogates", async () => {
    // Prepare: each hostile body with the field it must name
    const cases: [unknown, string][] = [
      [{ operation: 'select', table: "people'; DROP TABLE people; --" }, 'body.table'],
      [{ operation: 'select', table: 'people', columns: ['id', 'nope'] }, 'body.columns.1'],
      [
        { operation: 'select', table: 'people', where: { op: 'eq', column: 'id"; --', value: 1 } },
        'body.where.column',
      ],
      [{ operation: 'select', table: 'people', orderBy: [{ column: '1' }] }, 'body.orderBy.0.column'],
      [
        { operation: 'select', table: 'people', where: { op: 'eq', column: 'name', value: 'a\u0000b' } },
        'body.where.value',
      ],
      [{ operation: 'select', table: 'peo\u0000ple' }, 'body.table'],
      [
        { operation: 'select', table: 'people', where: { op: 'eq', column: 'name', value: '\uD800' } },
        'body.where.value',
      ],
      [
        { operation: 'select', table: 'people', where: { op: 'eq', column: 'age', value: 'abc' } },
        'body.where.value',
      ],
      [
        { operation: 'select', table: 'people', where: { op: 'like', column: 'age', value: '1' } },
        'body.where.column',
      ],
      [{ operation: 'select', table: 'people', limit: 1001 }, 'body.limit'],
    ];

    // Act / Assess
    for (const [body, path] of cases) {
      const e = await problem(run('viewer', body));
      expect(e.status, JSON.stringify(body)).toBe(400);
      expect(e.errors?.map((x) => x.path)).toContain(path);
    }

    // Assess: nothing changed
    expect(await count()).toBe(fx.people.length);
  });

  it('stops a slow query at the statement timeout with a 504 problem and gives the client back', async () => {
    // Act
    const started = Date.now();
    const e = await problem(run('viewer', { operation: 'select', table: 'slow' }));
    const elapsed = Date.now() - started;
    const stats = runner.poolStats(postgresTarget(scope, connection));
    const after = await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 1 });

    // Assess
    expect(e.status).toBe(504);
    expect(e.type).toBe('timeout');
    expect(elapsed).toBeLessThan(2_500);
    expect(stats).toEqual({ total: 1, idle: 1, waiting: 0 });
    expect(after.rows).toEqual([[1]]);
    // The server holds no backend still running the sleep.
    const active = await fx.admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%slow%' AND state = 'active' AND pid <> pg_backend_pid()",
    );
    expect(active.rows[0].n).toBe(0);
    expect(audit.events.at(-2)?.details).toMatchObject({
      operation: 'select',
      table: 'slow',
      outcome: 'failed',
      status: 504,
    });
  });

  it('runs reads in a read-only transaction over TLS', async () => {
    // Act: a statement that writes, handed to the runner as a read (a compiler bug cannot write through it).
    const tls = await run('viewer', { operation: 'select', table: 'my_tls' });
    const target = postgresTarget(scope, connection);
    const write = await problem(
      runner.run(target, { text: 'DELETE FROM people', values: [], columns: [], kind: 'read', pageSize: 1 }),
    );

    // Assess
    expect(tls.rows).toEqual([[true]]);
    expect([write.status, write.type]).toEqual([403, 'read-only']);
    expect(await count()).toBe(fx.people.length);
    expect(runner.poolStats(target)).toEqual({ total: 1, idle: 1, waiting: 0 });
  });
});

describe('hidden columns and connection rules', () => {
  it('refuses the hidden column in every position with 403 naming it, and leaves it out of default columns', async () => {
    // Prepare: the hidden column in each position
    const bodies = [
      { operation: 'select', table: 'people', columns: ['id', 'secret'] },
      {
        operation: 'select',
        table: 'people',
        where: { op: 'like', column: 'secret', value: 'SECRET', mode: 'startsWith' },
      },
      {
        operation: 'select',
        table: 'people',
        where: { op: 'not', condition: { op: 'isNull', column: 'secret' } },
      },
      { operation: 'select', table: 'people', orderBy: [{ column: 'secret' }] },
      { operation: 'insert', table: 'people', columns: ['id', 'secret'], values: [[100, 'x']] },
      {
        operation: 'update',
        table: 'people',
        set: [{ column: 'secret', value: 'x' }],
        where: { op: 'eq', column: 'id', value: 1 },
      },
      {
        operation: 'update',
        table: 'people',
        set: [{ column: 'name', value: 'x' }],
        where: { op: 'eq', column: 'secret', value: 'x' },
      },
      {
        operation: 'delete',
        table: 'people',
        where: { op: 'eq', column: 'id', value: 1 },
        returning: ['secret'],
      },
    ];

    // Act / Assess
    for (const body of bodies) {
      const e = await problem(run('editor', body));
      expect(e.status, JSON.stringify(body)).toBe(403);
      expect(e.detail).toBe('Column "secret" of table "people" is hidden');
    }

    // Act / Assess: a select of the default columns
    const all = await run('editor', { operation: 'select', table: 'people', limit: 1 });
    expect(all.columns).toEqual(['id', 'name', 'nick', 'age', 'active']);

    // Assess: nothing changed
    expect(await count()).toBe(fx.people.length);
  });

  it('shows the hidden column to those who manage connections (they set the rules)', async () => {
    // Act
    const admin = await run('admin', {
      operation: 'select',
      table: 'people',
      columns: ['secret'],
      where: { op: 'eq', column: 'id', value: 1 },
    });

    // Assess
    expect(admin.rows).toEqual([[fx.people[0]!.secret]]);
  });

  it('enforces read-only connections and allowed/denied tables with 403 naming the table', async () => {
    // Act / Assess: a read-only connection
    connection = fx.connection({ rules: { readOnly: true } });
    const ro = await problem(
      run('owner', { operation: 'delete', table: 'people', where: { op: 'eq', column: 'id', value: 1 } }),
    );
    expect([ro.status, ro.detail]).toEqual([403, 'This connection is read-only']);

    // Act / Assess: allowed tables
    connection = fx.connection({ rules: { allowedTables: ['people'] } });
    const notAllowed = await problem(run('viewer', { operation: 'select', table: 'things' }));
    expect([notAllowed.status, notAllowed.detail]).toEqual([
      403,
      'Table "things" is not among this connection\'s allowed tables',
    ]);

    // Act / Assess: denied tables
    connection = fx.connection({ rules: { deniedTables: ['things'] } });
    const denied = await problem(run('owner', { operation: 'select', table: 'things' }));
    expect([denied.status, denied.detail]).toEqual([403, 'Table "things" is denied on this connection']);

    // Assess: nothing changed
    expect(await count()).toBe(fx.people.length);
  });
});

describe('writes', () => {
  it("refuses a viewer's and a reviewer's write with 403 before touching the database", async () => {
    // Act / Assess
    for (const role of ['viewer', 'reviewer'] as const) {
      const e = await problem(
        run(role, { operation: 'insert', table: 'things', columns: ['note'], values: [['x']] }),
      );
      expect([e.status, e.detail]).toEqual([403, 'The insert operation needs the query:write permission']);
    }

    // Assess: nothing written or audited
    expect(await count('things')).toBe(0);
    expect(audit.events).toEqual([]);
  });

  it('refuses update and delete without where with 400 naming body.where', async () => {
    // Act / Assess
    for (const body of [
      { operation: 'delete', table: 'people' },
      { operation: 'update', table: 'people', set: [{ column: 'name', value: 'x' }] },
    ]) {
      const e = await problem(run('owner', body));
      expect(e.status).toBe(400);
      expect(e.errors?.[0]?.path).toBe('body.where');
    }

    // Assess: nothing changed
    expect(await count()).toBe(fx.people.length);
  });

  it('inserts, updates and deletes in transactions, returning only what is asked, audited before commit', async () => {
    // Act
    const inserted = await run('editor', {
      operation: 'insert',
      table: 'things',
      columns: ['note', 'amount', 'data', 'ref', 'code'],
      values: [['it\'s "quoted"', '12.50', { not: 'allowed' } as never, null, 'a']],
    }).catch((e: unknown) => e);
    const ok = await run('editor', {
      operation: 'insert',
      table: 'things',
      columns: ['note', 'amount', 'data', 'ref', 'code'],
      values: [
        ['it\'s "quoted"', '12.50', 'a json string', '0b7e8f0e-8a4c-4c39-9d5e-2f6f1f4f8a11', 'a'],
        ['two', 3, true, null, 'b'],
      ],
      returning: ['id', 'note', 'data', 'doubled'],
    });
    const updated = await run('editor', {
      operation: 'update',
      table: 'things',
      set: [{ column: 'amount', value: null }],
      where: { op: 'eq', column: 'code', value: 'b' },
      returning: ['amount'],
    });
    const deleted = await run('editor', {
      operation: 'delete',
      table: 'things',
      where: { op: 'eq', column: 'code', value: 'a' },
    });

    // Assess
    expect((inserted as HttpProblemError).status).toBe(400);
    expect(ok).toEqual({
      columns: ['id', 'note', 'data', 'doubled'],
      rows: [
        [1, 'it\'s "quoted"', 'a json string', 2],
        [2, 'two', true, 4],
      ],
      nextCursor: null,
      rowCount: 2,
    });
    expect(updated).toMatchObject({ rows: [[null]], rowCount: 1 });
    expect(deleted).toEqual({ columns: [], rows: [], nextCursor: null, rowCount: 1 });
    const left = await fx.admin.query('SELECT id, note, amount FROM things');
    expect(left.rows).toEqual([{ id: 2, note: 'two', amount: null }]);
    expect(audit.events.map((e) => e.details)).toEqual([
      {
        operation: 'insert',
        table: 'things',
        columns: ['note', 'amount', 'data', 'ref', 'code', 'id', 'doubled'],
        outcome: 'committed',
        rowCount: 2,
      },
      {
        operation: 'update',
        table: 'things',
        columns: ['amount', 'code'],
        outcome: 'committed',
        rowCount: 1,
      },
      { operation: 'delete', table: 'things', columns: ['code'], outcome: 'committed', rowCount: 1 },
    ]);
    expect(JSON.stringify(audit.events)).not.toContain('quoted');
  });

  it('rolls back a multi-row insert when one row violates a constraint (409/400), leaving nothing behind', async () => {
    // Act: a duplicate, a failed check, a null, a generated column, a view
    const dup = await problem(
      run('editor', {
        operation: 'insert',
        table: 'things',
        columns: ['note', 'code'],
        values: [
          ['one', 'same'],
          ['two', 'same'],
        ],
      }),
    );
    const check = await problem(
      run('editor', {
        operation: 'insert',
        table: 'things',
        columns: ['note'],
        values: [['ok'], ['x'.repeat(60)]],
      }),
    );
    const notNull = await problem(
      run('editor', { operation: 'insert', table: 'things', columns: ['note'], values: [[null]] }),
    );
    const generated = await problem(
      run('editor', { operation: 'insert', table: 'things', columns: ['doubled'], values: [[1]] }),
    );
    const view = await problem(
      run('editor', {
        operation: 'delete',
        table: 'people_view',
        where: { op: 'eq', column: 'id', value: 1 },
      }),
    );

    // Assess: each the documented problem, and nothing left behind
    expect([dup.status, dup.type, dup.detail]).toEqual([
      409,
      'constraint-violation',
      'The change conflicts with constraint "things_code_key".',
    ]);
    expect([check.status, check.detail]).toEqual([400, 'A value violates constraint "note_short".']);
    expect([notNull.status, notNull.errors?.[0]?.path]).toEqual([400, 'body.values.0.0']);
    expect([generated.status, generated.errors?.[0]?.path]).toEqual([400, 'body.columns.0']);
    expect([view.status, view.errors?.[0]?.path]).toEqual([400, 'body.table']);
    expect(await count('things')).toBe(0);
  });

  it('rolls back a write whose audit event cannot be written', async () => {
    // Prepare: the audit fails
    audit.fail = true;

    // Act
    const error = await runCatching(() =>
      run('editor', { operation: 'delete', table: 'people', where: { op: 'eq', column: 'id', value: 1 } }),
    );

    // Assess: rolled back
    expect(error).toBeInstanceOf(Error);
    expect(await count()).toBe(fx.people.length);
  });

  it('returns no rows when the read cannot be audited (fails closed)', async () => {
    // Prepare: the audit fails
    audit.fail = true;

    // Act
    const error = await runCatching(() => run('viewer', { operation: 'select', table: 'people', limit: 1 }));

    // Assess
    expect((error as Error).name).toBe('ServiceUnavailableException');
  });

  it('rolls back a write that would change more than 1000 rows', async () => {
    // Act
    const e = await problem(
      run('owner', { operation: 'delete', table: 'bounded', where: { op: 'gt', column: 'id', value: 0 } }),
    );

    // Assess: refused, and nothing deleted
    expect(e.status).toBe(400);
    expect(e.errors?.[0]).toEqual({
      path: 'body.where',
      message: 'Matches 1500 rows; one write may change at most 1000',
    });
    expect(await count('bounded')).toBe(1500);
  });
});

describe('connections', () => {
  it('verifies the server against the CA with verify-full, and fails closed without it (502)', async () => {
    // Act: with the CA, then without it
    connection = fx.connection({ tlsMode: 'verify-full', caPem: fx.pg.caPem });
    const verified = await run('viewer', { operation: 'select', table: 'my_tls' });
    connection = fx.connection({ tlsMode: 'verify-full' });
    const unverified = await problem(run('viewer', { operation: 'select', table: 'my_tls' }));

    // Assess
    expect(verified.rows).toEqual([[true]]);
    expect([unverified.status, unverified.type, unverified.detail]).toEqual([
      502,
      'data-source-unavailable',
      'The TLS handshake with the database failed.',
    ]);
  });

  it('answers 502 without the password when the credentials are wrong, and makes a new pool when they change', async () => {
    // Prepare: a wrong password
    connection = fx.connection({ password: 'wrong-password-123' });

    // Act / Assess
    const e = await problem(run('viewer', { operation: 'select', table: 'people', limit: 1 }));
    expect([e.status, e.detail]).toEqual([502, 'The database refused the credentials.']);
    expect(JSON.stringify({ ...e, message: e.message })).not.toContain('wrong-password-123');

    // Act / Assess: the right one again
    connection = fx.connection();
    const ok = await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 1 });
    expect(ok.rows).toEqual([[1]]);
  });

  it('caches the schema for its TTL only', async () => {
    // Prepare: a runner with a one-minute schema cache, and a column added after the first read
    let now = 1_000_000;
    await runner.close();
    runner = newRunner({ schemaTtlMs: 60_000, now: () => now });
    await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 1 });
    await fx.admin.query('ALTER TABLE people ADD COLUMN extra text');

    // Act: the new column at once, and a minute later
    const stale = await problem(
      run('viewer', { operation: 'select', table: 'people', columns: ['extra'], limit: 1 }),
    );
    now += 60_001;
    const fresh = await run('viewer', { operation: 'select', table: 'people', columns: ['extra'], limit: 1 });

    // Assess
    expect(stale.status).toBe(400);
    expect(fresh.rows).toEqual([[null]]);
  });

  it('refuses hosts that resolve to a disallowed address (403) and connects to the checked address otherwise', async () => {
    // Prepare
    await runner.close();
    runner = newRunner({ hostPolicy: { allowPrivateNetworks: false } });
    const body = { operation: 'select', table: 'my_tls' };

    // Act
    connection = fx.connection({ host: '127.0.0.1' });
    const literal = await problem(run('viewer', body));
    connection = fx.connection({ host: 'localhost' });
    const named = await problem(run('viewer', body));
    await runner.close();
    runner = newRunner({ hostPolicy: { allowPrivateNetworks: true } });
    connection = fx.connection({ host: 'localhost', tlsMode: 'verify-full', caPem: fx.pg.caPem });
    const allowed = await run('viewer', body);

    // Assess
    expect([literal.status, literal.type]).toEqual([403, 'host-not-allowed']);
    expect([named.status, named.type]).toEqual([403, 'host-not-allowed']);
    expect(allowed.rows).toEqual([[true]]);
  });

  it('replaces a pooled client whose server connection died while idle, without failing the request', async () => {
    // Prepare: a warm pool with one idle client, then its backend is killed (as after a long freeze).
    await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 1 });
    const killed = await fx.admin.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'strongroom-query'",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    const after = await run('viewer', { operation: 'select', table: 'people', columns: ['id'], limit: 1 });

    // Assess
    expect(killed.rows).toEqual([{ ok: true }]);
    expect(after.rows).toEqual([[1]]);
    expect(runner.poolStats(postgresTarget(scope, connection))).toEqual({ total: 1, idle: 1, waiting: 0 });
  });

  it("queries only the connection's schema, whatever its name", async () => {
    // Prepare: a schema with a quote in its name
    connection = fx.connection({ schema: 'sa"les' });

    // Act: a table of it, and one of the default schema
    const orders = await run('viewer', { operation: 'select', table: 'orders', orderBy: [{ column: 'id' }] });
    const people = await problem(run('viewer', { operation: 'select', table: 'people' }));

    // Assess
    expect(orders).toEqual({
      columns: ['id', 'total'],
      rows: [
        [1, '9.5'],
        [2, '20'],
      ],
      nextCursor: null,
    });
    expect([people.status, people.errors?.[0]?.path]).toEqual([400, 'body.table']);
  });

  it("answers 403 when the database user lacks the table privilege (the database's own refusal)", async () => {
    // Act
    const e = await problem(run('owner', { operation: 'select', table: 'private_t' }));

    // Assess
    expect([e.status, e.type]).toEqual([403, 'database-permission-denied']);
  });

  it('answers 404 for another tenant’s connection id', async () => {
    // Act
    const e = await problem(
      submit(deps(), 'owner', { operation: 'select', table: 'people' }, 'c_01jzzzzzzzzzzzzzzzzzzzzzzz'),
    );

    // Assess
    expect(e.status).toBe(404);
  });
});

async function runCatching(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return error;
  }
}
