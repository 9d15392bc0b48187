import type { PolicyDocument, PolicyStatement } from './iam.js';
import { serviceHost } from './partitions.js';

/** Item-level actions the tenant-data role may use. Scan is absent on purpose: it has no leading key. */
export const TENANT_DATA_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/** Audit events are append-only: put (conditional, enforced in code) and read, nothing else. */
export const AUDIT_APPEND_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
] as const;

/**
 * The audit chain (records, markers, heads, checkpoints) is read only: the list shows sequence numbers and
 * verification walks the chain. Only the sequencer and the daily job write it, with their own roles.
 */
export const AUDIT_CHAIN_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;

export interface TenantDataTables {
  tenantDataTableArn: string;
  auditTableArn: string;
  auditChainTableArn: string;
  /** The KMS key the tables are encrypted with (the platform key). */
  tableKeyArn?: string;
  /** The tables' region, for `kms:ViaService`; defaults to the region in `tableKeyArn`. */
  region?: string;
  /** The partition's DNS suffix, for `kms:ViaService`; defaults to the region's (pass `Stack.urlSuffix` in CDK). */
  dnsSuffix?: string;
}

/** What DynamoDB asks of the table key on a caller's behalf. */
export const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey',
] as const;

/**
 * The table key, only as DynamoDB uses it to serve this caller: never directly (so a session can neither
 * decrypt platform secrets nor use the key for anything but the tables it may already reach).
 */
function tableKeyStatements(tables: TenantDataTables): PolicyStatement[] {
  if (!tables.tableKeyArn) return [];
  const region = tables.region ?? tables.tableKeyArn.split(':')[3];
  if (!region) throw new Error('the table key statement needs a region');
  return [
    {
      Sid: 'TableKeyViaDynamoDB',
      Effect: 'Allow',
      Action: [...TABLE_KEY_ACTIONS],
      Resource: tables.tableKeyArn,
      Condition: { StringEquals: { 'kms:ViaService': serviceHost('dynamodb', region, tables.dnsSuffix) } },
    },
  ];
}

/**
 * The tenant-data role's own policy: what any tenant session could ever do. The per-tenant session policy
 * below narrows it to one partition.
 */
export function tenantDataRolePolicy(tables: TenantDataTables): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TenantItems',
        Effect: 'Allow',
        Action: [...TENANT_DATA_ACTIONS],
        Resource: tables.tenantDataTableArn,
      },
      {
        Sid: 'AuditAppend',
        Effect: 'Allow',
        Action: [...AUDIT_APPEND_ACTIONS],
        Resource: tables.auditTableArn,
      },
      {
        Sid: 'AuditChainRead',
        Effect: 'Allow',
        Action: [...AUDIT_CHAIN_READ_ACTIONS],
        Resource: tables.auditChainTableArn,
      },
      ...tableKeyStatements(tables),
    ],
  };
}

/**
 * Session policy for one tenant's DynamoDB credentials: only items whose partition key is the tenant id.
 * `ForAllValues` is vacuously true for a request with no leading keys, so the `Null` condition is what
 * refuses requests (such as Scan) that carry none.
 */
export function tenantDataSessionPolicy(tenantId: string, tables: TenantDataTables): PolicyDocument {
  if (!/^t_[0-9a-z]{26}$/.test(tenantId)) throw new Error('tenantDataSessionPolicy needs a tenant id');
  const condition = {
    'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [tenantId] },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnTenantItems',
        Effect: 'Allow',
        Action: [...TENANT_DATA_ACTIONS],
        Resource: tables.tenantDataTableArn,
        Condition: condition,
      },
      {
        Sid: 'OwnTenantAudit',
        Effect: 'Allow',
        Action: [...AUDIT_APPEND_ACTIONS],
        Resource: tables.auditTableArn,
        Condition: condition,
      },
      {
        Sid: 'OwnTenantAuditChain',
        Effect: 'Allow',
        Action: [...AUDIT_CHAIN_READ_ACTIONS],
        Resource: tables.auditChainTableArn,
        Condition: condition,
      },
      ...tableKeyStatements(tables),
    ],
  };
}
