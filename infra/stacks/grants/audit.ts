import { Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  AUDIT_MAC_SEAL_ACTIONS,
  AUDIT_MAC_VERIFY_ACTIONS,
  AUDIT_SEALER_TAG,
} from '../../../shared/domain/audit-mac-key.js';
import type { AreaGrants } from './area-resources.js';
import { grantAuthorization, grantTableItems } from './common.js';

/**
 * Audit API (functions/audit): list, export and verify read the tenant's events and chain, and the export
 * records its own event, all through tenant-scoped sessions (the tenant-data role: events PutItem with
 * `attribute_not_exists` in code, GetItem, Query, ConditionCheckItem; the chain table GetItem and Query
 * only). Verification checks head and checkpoint MACs: kms:VerifyMac on the audit MAC key, which cannot
 * make one. Nothing on the audit tables for the function role itself.
 */
export const auditGrants: AreaGrants = (fn, resources) => {
  grantAuthorization(fn, resources);
  resources.tenantData.grantAssume(fn.role);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VerifyAuditChainMacs',
      actions: [...AUDIT_MAC_VERIFY_ACTIONS],
      resources: [resources.auditMacKey.keyArn],
    }),
  );
};

/**
 * What the audit sequencer (functions/audit/sequencer.ts, triggered by the audit table's stream) and the
 * daily chain verification (functions/jobs/verify-chains.ts, which also runs a catch-up sweep and writes
 * checkpoints) need: they act for every log, so they use their function roles.
 * - Events: read only (GetItem, Query); the stream read permissions come with the event source mapping.
 * - The chain table: PutItem and ConditionCheckItem (the transaction's chain records, markers, head and
 *   registry entry, and the daily checkpoints, are conditional Puts), GetItem and Query; no UpdateItem,
 *   DeleteItem or BatchWriteItem.
 * - The audit MAC key: GenerateMac and VerifyMac. The key policy denies GenerateMac to every principal
 *   without the sealer tag, so the tag goes on exactly these two roles.
 * Metrics go out as EMF log lines (no CloudWatch permission).
 */
export const auditSequencerGrants: AreaGrants = (fn, resources) => {
  grantTableItems(fn, resources, 'audit', 'AuditEventsRead', ['dynamodb:GetItem', 'dynamodb:Query']);
  grantTableItems(fn, resources, 'auditChain', 'AuditChainAppend', [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:ConditionCheckItem',
  ]);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SealAuditChains',
      actions: [...AUDIT_MAC_SEAL_ACTIONS],
      resources: [resources.auditMacKey.keyArn],
    }),
  );
  Tags.of(fn.role).add(AUDIT_SEALER_TAG, resources.stage);
};

/** The daily verification needs exactly what the sequencer needs (it sweeps, verifies and checkpoints). */
export const verifyChainsGrants: AreaGrants = auditSequencerGrants;
