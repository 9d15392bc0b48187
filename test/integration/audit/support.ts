import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import { chainMacFor } from '../../../shared/crypto/chain-mac.js';
import type { AuditEventInput } from '../../../shared/domain/audit-events.js';
import { newId } from '../../../shared/domain/ids.js';
import { mintTenantScope, type TenantScope } from '../../../shared/domain/tenant-scope.js';
import { auditAppendsOf } from '../../../shared/store/audit-appends.js';
import { AuditSequencer, type AuditSequencerProps } from '../../../shared/store/audit-sequencer.js';
import { AuditStore } from '../../../shared/store/audit-store.js';
import { tenantDataClientsFor } from '../../../shared/store/tenant-data-client.js';

/** A fresh tenant scope (tests stand in for the auth layer). */
export function newScope(): TenantScope {
  return mintTenantScope({ tenantId: newId('t'), userId: newId('u') });
}

/** The audit store as the audit function builds it (with the MAC verifier), from the provisioned environment. */
export function provisionedAuditStore(now?: () => number): AuditStore {
  return new AuditStore({
    tableName: process.env.AUDIT_TABLE!,
    chainTableName: process.env.AUDIT_CHAIN_TABLE!,
    tenantClients: tenantDataClientsFor(functionRuntime()),
    platformClient: functionRuntime().dynamo,
    mac: chainMacFor(functionRuntime()),
    appends: auditAppendsOf(functionRuntime()),
    now,
  });
}

/** A sequencer on the provisioned tables and the emulator's audit MAC key. */
export function provisionedSequencer(
  options: Partial<Omit<AuditSequencerProps, 'tableName' | 'chainTableName'>> = {},
): AuditSequencer {
  return new AuditSequencer({
    client: functionRuntime().dynamo,
    tableName: process.env.AUDIT_TABLE!,
    chainTableName: process.env.AUDIT_CHAIN_TABLE!,
    mac: chainMacFor(functionRuntime()),
    ...options,
  });
}

/** Events live in the audit table, everything else (chain, markers, head, checkpoints) in the chain table. */
export function tableOf(sk: string): string {
  return sk.startsWith('EVENT#') ? process.env.AUDIT_TABLE! : process.env.AUDIT_CHAIN_TABLE!;
}

export function sampleEvent(n: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    action: 'member.added',
    actor: { userId: 'u_01jabcdefghjkmnpqrstvwxyz0', ip: '192.0.2.1', userAgent: 'vitest' },
    resource: { type: 'member', id: `u_${n}` },
    details: { n, after: { role: 'viewer' } },
    ...overrides,
  };
}

/** Every item of a log whose sort key starts with `prefix`, ascending (raw, platform credentials). */
export async function itemsOf(
  db: DynamoDBDocumentClient,
  logId: string,
  prefix: string,
): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: tableOf(prefix),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': logId, ':p': prefix },
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Overwrites an item directly in its table, as someone with table access tampering with it would. */
export async function overwrite(db: DynamoDBDocumentClient, item: Record<string, unknown>): Promise<void> {
  await db.send(new PutCommand({ TableName: tableOf(String(item.sk)), Item: item }));
}

/** Deletes an item directly in its table. */
export async function remove(db: DynamoDBDocumentClient, pk: string, sk: string): Promise<void> {
  await db.send(new DeleteCommand({ TableName: tableOf(sk), Key: { pk, sk } }));
}

/** Asserts the log holds exactly `count` chain records 1..count and markers, each event chained once. */
export async function expectChainOf(db: DynamoDBDocumentClient, logId: string, count: number) {
  const chain = await itemsOf(db, logId, 'CHAIN#');
  const marks = await itemsOf(db, logId, 'MARK#');
  const events = await itemsOf(db, logId, 'EVENT#');
  expect(chain.map((r) => r.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  expect(marks).toHaveLength(count);
  expect(new Set(chain.map((r) => r.eventId)).size).toBe(count);
  expect(new Set(chain.map((r) => r.eventId))).toEqual(new Set(events.map((e) => e.id)));
  return { chain, marks, events };
}
