import {
  DeleteTableCommand,
  ListTablesCommand,
  UpdateContinuousBackupsCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
import { TABLES } from '../../shared/store/tables.js';
import { restoreDrill } from '../../tools/restore-drill.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { itemsOf, overwrite, provisionedSequencer } from './audit/support.js';

/**
 * The restore drill (tools/restore-drill.ts) against the emulator: moto restores a table "to a point in
 * time" by copying it as it is now, so what this proves is the drill's own work — it refuses tables without
 * point-in-time recovery, restores all four into new tables, compares them, verifies every audit chain in
 * the copy (and finds a broken one), and leaves no copy behind.
 */
const api = useTestApi();
const runtime = () => functionRuntime();
let tenant: TenantWithRoles;

const tableNames = () => TABLES.map((t) => runtime().require(`${t.id}Table` as 'identityTable'));
const allTables = async () => (await runtime().dynamo.send(new ListTablesCommand({}))).TableNames ?? [];

async function setRecovery(enabled: boolean) {
  for (const TableName of tableNames())
    await runtime().dynamo.send(
      new UpdateContinuousBackupsCommand({
        TableName,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: enabled },
      }),
    );
}

beforeAll(async () => {
  tenant = await tenantWithEveryRole(api, 'Drill');
  await provisionedSequencer().sequence(tenant.tenantId);
  await provisionedSequencer().sequence(PLATFORM_LOG_ID);
});

afterAll(async () => {
  // What the tests leave: the kept copies go, recovery is on as provisioning made it.
  for (const TableName of (await allTables()).filter((n) => n.includes('-drill-')))
    await runtime().dynamo.send(new DeleteTableCommand({ TableName }));
  await setRecovery(true);
});

describe('the restore drill', () => {
  it('refuses tables without point-in-time recovery, and restores nothing', async () => {
    // Prepare: recovery off (provisioning turns it on, as the stateful stack does)
    await setRecovery(false);
    // Act
    const report = await restoreDrill({ suffix: 'drill-off' });
    // Assess
    expect(report.tables).toEqual([]);
    expect(report.problems).toEqual([
      ...tableNames().map((name) => `${name}: point-in-time recovery is not enabled`),
      'nothing was restored: the drill restores all four tables or none',
    ]);
    expect((await allTables()).filter((n) => n.includes('drill-off'))).toEqual([]);
  });

  it('restores every table into a new one, verifies every audit chain there, and deletes the copies', async () => {
    // Prepare: recovery on again
    await setRecovery(true);
    // Act
    const report = await restoreDrill({ suffix: 'drill-ok' });
    // Assess
    expect(report.problems).toEqual([]);
    expect(Number.isNaN(Date.parse(report.at))).toBe(false);
    expect(report.tables.map((t) => [t.table, t.restored])).toEqual(
      TABLES.map((t, i) => [t.id, `${tableNames()[i]}-drill-ok`]),
    );
    for (const t of report.tables) {
      expect(t.sourceItems, t.table).toBeGreaterThan(0);
      expect(t.restoredItems, t.table).toBe(t.sourceItems);
    }
    const own = report.chains.find((c) => c.logId === tenant.tenantId);
    expect(own).toMatchObject({ ok: true, pending: 0 });
    expect(own!.checked).toBeGreaterThan(5);
    expect(report.chains.every((c) => c.ok)).toBe(true);
    expect((await allTables()).filter((n) => n.includes('drill-ok'))).toEqual([]);
  });

  it('finds a chain broken in the backup, names the log and the sequence, and can keep the copies for a look', async () => {
    // Prepare: the event at the tenant's third chain position edited in place (what a restore from a
    // tampered backup would hold)
    const db = runtime().dynamo;
    const third = (await itemsOf(db, tenant.tenantId, 'CHAIN#')).find((r) => r.seq === 3)!;
    const event = (await itemsOf(db, tenant.tenantId, 'EVENT#')).find((e) => e.id === third.eventId)!;
    await overwrite(db, { ...event, details: { ...event.details, role: 'owner' } });
    // Act
    const report = await restoreDrill({ suffix: 'drill-kept', keep: true });
    // Assess
    const own = report.chains.find((c) => c.logId === tenant.tenantId);
    expect(own).toMatchObject({ ok: false, firstBrokenSequence: 3 });
    expect(report.problems).toEqual([
      expect.stringMatching(new RegExp(`^audit log ${tenant.tenantId}: broken at sequence 3 `)),
    ]);
    expect((await allTables()).filter((n) => n.includes('drill-kept'))).toHaveLength(TABLES.length);
  });
});
