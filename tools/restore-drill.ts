import {
  DeleteTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  RestoreTableToPointInTimeCommand,
} from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type FunctionRuntime, functionRuntime } from '../shared/aws/runtime.js';
import { chainMacFor } from '../shared/crypto/chain-mac.js';
import { AuditSequencer } from '../shared/store/audit-sequencer.js';
import { TABLES, type TableDef } from '../shared/store/tables.js';

/**
 * The restore drill (docs/restore-drill.md): restores every Strongroom table to one point in time into new
 * tables with DynamoDB point-in-time recovery, verifies every audit chain in the restored copy (read only:
 * nothing is sequenced or checkpointed there), compares each restored table's item count with its source,
 * reports what it compared, and deletes the copies unless asked to keep them.
 *
 *   npx tsx tools/restore-drill.ts [--at 2026-12-01T12:00:00Z] [--keep]
 *
 * with the functions' environment (IDENTITY_TABLE, TENANT_DATA_TABLE, AUDIT_TABLE, AUDIT_CHAIN_TABLE,
 * AUDIT_MAC_KEY_ARN, AWS_REGION) and credentials that may restore, scan, delete the copies and verify MACs.
 * Without `--at` it restores the earliest of the four tables' latest restorable times. Exits 1 when anything
 * does not hold (a copy it could not delete included).
 */
export interface DrillOptions {
  runtime?: FunctionRuntime;
  /** The point in time; the latest restorable one when absent. */
  at?: Date;
  /** Keep the restored tables (for a closer look); they are deleted by default. */
  keep?: boolean;
  /** Suffix of the restored tables' names; a timestamp by default. */
  suffix?: string;
  /** How long to wait for the copies to become active; 6 hours by default. */
  maxWaitSeconds?: number;
}

export interface DrillTable {
  table: TableDef['id'];
  source: string;
  restored: string;
  sourceItems: number;
  restoredItems: number;
}

export interface DrillChain {
  logId: string;
  ok: boolean;
  checked: number;
  headSeq: number;
  /** Events in the copy not yet chained (written just before the point in time, or never sequenced). */
  pending: number;
  firstBrokenSequence?: number;
  reason?: string;
}

export interface DrillReport {
  at: string;
  tables: DrillTable[];
  chains: DrillChain[];
  /** Everything that did not hold, in words; empty when the drill passed. */
  problems: string[];
}

export async function restoreDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const runtime = options.runtime ?? functionRuntime();
  const db = runtime.dynamo;
  const suffix = options.suffix ?? `drill-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;
  const problems: string[] = [];
  const tables: DrillTable[] = [];
  const chains: DrillChain[] = [];
  const restoredName = new Map<TableDef['id'], string>();
  let at: Date | undefined = options.at;
  try {
    const sources: { table: TableDef; source: string; latest?: Date }[] = [];
    for (const table of TABLES) {
      const source = runtime.require(envNameOf(table));
      const backups = await db.send(new DescribeContinuousBackupsCommand({ TableName: source }));
      const pitr = backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
      if (pitr?.PointInTimeRecoveryStatus !== 'ENABLED')
        problems.push(`${source}: point-in-time recovery is not enabled`);
      else sources.push({ table, source, latest: pitr.LatestRestorableDateTime });
    }
    if (problems.length > 0) {
      problems.push('nothing was restored: the drill restores all four tables or none');
      return { at: at?.toISOString() ?? 'none', tables, chains, problems };
    }
    // One point in time for all four tables (the audit events and their chain must agree): the given one,
    // or the earliest of the tables' latest restorable times. Every restore starts before any is waited for.
    const latest = sources.map((s) => s.latest?.getTime()).filter((t): t is number => t !== undefined);
    at ??= latest.length === sources.length ? new Date(Math.min(...latest)) : undefined;
    await Promise.all(
      sources.map(async ({ table, source }) => {
        const restored = `${source}-${suffix}`;
        await db.send(
          new RestoreTableToPointInTimeCommand({
            SourceTableName: source,
            TargetTableName: restored,
            ...(at ? { RestoreDateTime: at } : { UseLatestRestorableTime: true }),
          }),
        );
        restoredName.set(table.id, restored);
      }),
    );
    const deadline = Date.now() + (options.maxWaitSeconds ?? 6 * 3600) * 1000;
    for (const { table, source } of sources) {
      const restored = restoredName.get(table.id)!;
      await waitUntilActive(runtime, restored, deadline);
      const [sourceItems, restoredItems] = [
        await countItems(runtime, source),
        await countItems(runtime, restored),
      ];
      tables.push({ table: table.id, source, restored, sourceItems, restoredItems });
      // A copy from the past may hold fewer items than today's table, never an empty table for a full one.
      if (restoredItems === 0 && sourceItems > 0) problems.push(`${restored}: restored empty`);
    }
    const sequencer = new AuditSequencer({
      client: db,
      tableName: restoredName.get('audit')!,
      chainTableName: restoredName.get('auditChain')!,
      mac: chainMacFor(runtime),
    });
    for (const logId of await sequencer.listLogs()) {
      const report = await sequencer.reader(logId).verify({ pendingWindowMs: sequencer.graceMs });
      chains.push({
        logId,
        ok: report.ok,
        checked: report.checked,
        headSeq: report.head.seq,
        pending: report.pending,
        ...(report.firstBrokenSequence !== undefined
          ? { firstBrokenSequence: report.firstBrokenSequence, reason: report.reason }
          : {}),
      });
      if (!report.ok)
        problems.push(
          `audit log ${logId}: broken at sequence ${report.firstBrokenSequence} (${report.reason})`,
        );
      else if (!report.complete) problems.push(`audit log ${logId}: the walk did not reach the head`);
    }
    return { at: at?.toISOString() ?? 'latest restorable time', tables, chains, problems };
  } finally {
    if (!options.keep)
      for (const name of restoredName.values())
        await db
          .send(new DeleteTableCommand({ TableName: name }))
          .catch((error: Error) =>
            problems.push(
              `${name}: not deleted (${error.name}); delete it by hand, it holds production data`,
            ),
          );
  }
}

function envNameOf(table: TableDef): 'identityTable' | 'tenantDataTable' | 'auditTable' | 'auditChainTable' {
  return `${table.id}Table` as const;
}

async function waitUntilActive(runtime: FunctionRuntime, name: string, deadline: number): Promise<void> {
  for (;;) {
    const { Table } = await runtime.dynamo.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`${name} did not become active in time`);
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
}

async function countItems(runtime: FunctionRuntime, name: string): Promise<number> {
  let count = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await runtime.dynamo.send(
      new ScanCommand({ TableName: name, Select: 'COUNT', ExclusiveStartKey }),
    );
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return count;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const atIndex = args.indexOf('--at');
  const at = atIndex >= 0 ? new Date(args[atIndex + 1] ?? '') : undefined;
  if (at && Number.isNaN(at.getTime())) throw new Error(`--at takes an ISO time, not ${args[atIndex + 1]}`);
  const report = await restoreDrill({
    at,
    keep: args.includes('--keep'),
  });
  console.log(`restore drill, to ${report.at}`);
  for (const t of report.tables)
    console.log(
      `  ${t.table}: ${t.source} (${t.sourceItems} items now) -> ${t.restored} (${t.restoredItems} items)`,
    );
  const broken = report.chains.filter((c) => !c.ok);
  console.log(
    `  audit chains: ${report.chains.length} verified, ${report.chains.reduce((n, c) => n + c.checked, 0)} records checked, ${broken.length} broken, ${report.chains.reduce((n, c) => n + c.pending, 0)} events not chained`,
  );
  for (const problem of report.problems) console.log(`  PROBLEM: ${problem}`);
  process.exitCode = report.problems.length ? 1 : 0;
}
