import type { AreaGrants } from './area-resources.js';
import { grantAuthorization, grantTableItems } from './common.js';

/**
 * Audit API (functions/audit): list, export and verify read the tenant's partition, and the export records
 * its own event, all through tenant-scoped sessions (the tenant-data role's audit statement: PutItem with
 * `attribute_not_exists` in code, GetItem, Query, ConditionCheckItem; never Update/Delete/BatchWrite).
 * Nothing on the audit table for the function role itself.
 */
export const auditGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  resources.tenantData.grantAssume(fn.role);
};

/**
 * What the audit sequencer (functions/audit/sequencer.ts, triggered by the audit table's stream) and the
 * daily chain verification (functions/jobs/verify-chains.ts, which also runs a catch-up sweep) need: they
 * act for every log, so they use the function role on the audit table. Append-only like everyone else:
 * PutItem and ConditionCheckItem (the transaction's chain records, markers, head and registry entry are
 * Puts and a ConditionCheck), GetItem and Query to read; no UpdateItem, DeleteItem or BatchWriteItem.
 * The stream read permissions come with the event source mapping (`table.grantStreamRead`), and the
 * metrics go out as EMF log lines (no CloudWatch permission).
 */
export const auditSequencerGrants: AreaGrants = (fn, resources) => {
  grantTableItems(fn, resources, 'audit', 'AuditChainAppend', [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:ConditionCheckItem',
  ]);
};

/** The daily verification needs exactly what the sequencer needs. */
export const verifyChainsGrants: AreaGrants = auditSequencerGrants;
