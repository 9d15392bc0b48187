import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TABLES, type TableDef } from '../../../shared/store/tables.js';
import type { StrongroomFunction } from '../../constructs/strongroom-function.js';
import type { AreaResources } from './area-resources.js';

/** Item reads. Scan is never granted: every access path is a key or an index query. */
export const ITEM_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;
/** Item writes, each also usable inside TransactWriteItems. */
export const ITEM_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
] as const;

const tableEncryptionGranted = new WeakSet<iam.IRole>();

/**
 * DynamoDB item actions on one table (and, with `indexes`, its indexes by name) for a function role, plus
 * what DynamoDB needs of the platform key to serve the caller (the tables are encrypted with it).
 */
export function grantTableItems(
  fn: StrongroomFunction,
  resources: AreaResources,
  tableId: TableDef['id'],
  sid: string,
  actions: readonly string[],
  options: { indexes?: boolean } = {},
): void {
  const table: dynamodb.ITable = resources.tables[tableId];
  const def = TABLES.find((t) => t.id === tableId)!;
  const arns = [table.tableArn];
  if (options.indexes) arns.push(...def.indexes.map((index) => `${table.tableArn}/index/${index.name}`));
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions: [...actions], resources: arns }));
  grantTableEncryption(fn, resources);
}

/** The platform key, only when DynamoDB calls KMS on the function's behalf. */
function grantTableEncryption(fn: StrongroomFunction, resources: AreaResources): void {
  if (tableEncryptionGranted.has(fn.role)) return;
  tableEncryptionGranted.add(fn.role);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TableEncryptionViaDynamoDB',
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
      resources: [resources.platformKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(fn).region}.amazonaws.com` } },
    }),
  );
}

/**
 * What the bearer authorizer and the per-IP rate limiter of shared/http/auth.ts need on every request:
 * sessions, users and rate counters in the identity table; API keys, memberships and tenants in the
 * tenant-data table. That one cross-tenant read path is the authorizer deciding which tenant a request
 * may reach (and minting the TenantScope); it writes only an API key's last-used time.
 */
export function grantAuthorization(fn: StrongroomFunction, resources: AreaResources): void {
  grantTableItems(fn, resources, 'identity', 'IdentityItems', [...ITEM_READ_ACTIONS, ...ITEM_WRITE_ACTIONS], {
    indexes: true,
  });
  grantTableItems(
    fn,
    resources,
    'tenantData',
    'AuthorizerTenantLookups',
    ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    { indexes: true },
  );
}

/** Platform audit events (no tenant), written with the function role: append only. */
export function grantPlatformAudit(fn: StrongroomFunction, resources: AreaResources): void {
  grantTableItems(fn, resources, 'audit', 'PlatformAuditAppend', [
    'dynamodb:PutItem',
    'dynamodb:ConditionCheckItem',
  ]);
}

/** Envelope encryption of platform secrets (e.g. TOTP secrets) under the platform key. */
export function grantPlatformSecrets(fn: StrongroomFunction, resources: AreaResources): void {
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PlatformSecrets',
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [resources.platformKey.keyArn],
    }),
  );
}
