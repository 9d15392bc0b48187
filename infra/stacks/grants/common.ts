import { Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IDENTITY_PK_PREFIXES, rateWindowPk } from '../../../shared/domain/item-layout.js';
import { serviceHost } from '../../../shared/domain/partitions.js';
import { networkFailureBudget, totpFailureBudgets } from '../../../shared/domain/sign-in-limits.js';
import type { Area } from '../../../shared/http/route.js';
import { ROUTES } from '../../../shared/schemas/routes.js';
import { TABLES, type TableDef } from '../../../shared/store/tables.js';
import { dnsSuffixOf } from '../../constructs/dns-suffix.js';
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
      conditions: {
        StringEquals: {
          'kms:ViaService': serviceHost('dynamodb', Stack.of(fn).region, dnsSuffixOf(fn)),
        },
      },
    }),
  );
}

/**
 * Partitions of the identity table, as `dynamodb:LeadingKeys` patterns: one per prefix of the item layout
 * (shared/domain/item-layout.ts `IDENTITY_PK_PREFIXES`), so a new kind of identity item has its pattern here
 * the moment it has a prefix. IAM can tell the items apart only by these prefixes, so every write grant on
 * the identity table names the kinds of items it may touch; the simulator tests
 * (test/infra/function-write-grants.test.ts) drive the real store code and judge the requests it sends
 * against these statements, so a changed layout fails there, not in production.
 */
export const IDENTITY_PARTITIONS = Object.fromEntries(
  Object.entries(IDENTITY_PK_PREFIXES).map(([kind, prefix]) => [kind, `${prefix}*`]),
) as { readonly [K in keyof typeof IDENTITY_PK_PREFIXES]: `${(typeof IDENTITY_PK_PREFIXES)[K]}*` };

/** The partitions of one named rate limit's windows, whatever they count by. */
export const rateWindowPartitions = (name: string) => rateWindowPk(name, '*');

/** Tenant-data partitions are tenant ids (shared/domain/ids.ts): never a platform item. */
export const TENANT_PARTITIONS = 't_*';

/**
 * Conditions confining a write to items whose partition key matches `partitions` and to the top-level
 * attributes `attributes` (key attributes included: IAM counts them in `dynamodb:Attributes`).
 * `ForAllValues` is vacuously true for a request that carries no leading keys, hence the `Null` guard.
 * No `dynamodb:ReturnValues` condition: every function may read these tables' items anyway (the
 * authorizer's lookups), and the rate windows read the item back on a failed condition
 * (ReturnValuesOnConditionCheckFailure), which a ReturnValues condition must not be allowed to break.
 */
export function confinedWrite(
  partitions: readonly string[],
  attributes?: readonly string[],
): Record<string, Record<string, unknown>> {
  const named = attributes ? ['pk', 'sk', ...attributes] : undefined;
  const wildcard = named?.some((a) => a.includes('*')) ?? false;
  return {
    'ForAllValues:StringLike': {
      'dynamodb:LeadingKeys': [...partitions],
      ...(named && wildcard ? { 'dynamodb:Attributes': named } : {}),
    },
    ...(named && !wildcard ? { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': named } } : {}),
    Null: { 'dynamodb:LeadingKeys': 'false' },
  };
}

/** Item writes on one table for a function role, confined by `conditions` (see `confinedWrite`). */
export function grantConfinedWrites(
  fn: StrongroomFunction,
  resources: AreaResources,
  tableId: TableDef['id'],
  sid: string,
  actions: readonly string[],
  conditions: Record<string, Record<string, unknown>>,
): void {
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid,
      actions: [...actions],
      resources: [resources.tables[tableId].tableArn],
      conditions,
    }),
  );
  grantTableEncryption(fn, resources);
}

/**
 * What the bearer authorizer (shared/http/auth.ts, shared/store/auth-lookups.ts) needs on every request of
 * every API function: reads of sessions, users, API keys, memberships and tenants (the one cross-tenant
 * read path: it decides which tenant a request may reach and mints the TenantScope), and exactly two
 * writes, each confined by IAM to one attribute: a session's `lastSeenAt` (the throttled touch) and an API
 * key's `lastUsedAt`. Nothing here can create a session, change a user, a member or a tenant, or touch a
 * rate window: those writes are granted only to the functions whose routes make them.
 */
export function grantAuthorization(fn: StrongroomFunction, resources: AreaResources): void {
  grantTableItems(fn, resources, 'identity', 'AuthorizerIdentityLookups', [...ITEM_READ_ACTIONS], {
    indexes: true,
  });
  grantTableItems(fn, resources, 'tenantData', 'AuthorizerTenantLookups', [...ITEM_READ_ACTIONS], {
    indexes: true,
  });
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'SessionLastSeen',
    ['dynamodb:UpdateItem'],
    confinedWrite([IDENTITY_PARTITIONS.session], ['lastSeenAt']),
  );
  grantConfinedWrites(
    fn,
    resources,
    'tenantData',
    'ApiKeyLastUsed',
    ['dynamodb:UpdateItem'],
    confinedWrite([TENANT_PARTITIONS], ['lastUsedAt']),
  );
}

/**
 * Rate windows of the named limits only (a slot is a conditional `ADD count` that sets `ttl` once; giving
 * it back subtracts): a function cannot change another area's limits, nor the sign-in failure budgets
 * unless it names them. Reads come with the authorizer's identity lookups.
 */
export function grantRateWindows(
  fn: StrongroomFunction,
  resources: AreaResources,
  names: readonly string[],
): void {
  const unique = [...new Set(names)].sort();
  if (unique.length === 0) return;
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'RateWindows',
    ['dynamodb:UpdateItem'],
    confinedWrite(unique.map(rateWindowPartitions), ['count', 'ttl']),
  );
}

/**
 * The failure budgets' windows (shared/domain/sign-in-limits.ts; shared/services/failure-budgets.ts adds
 * the "under attack" signal): per account and network for passwords and codes, per account for TOTP codes.
 */
export const FRESH_MFA_BUDGET_NAMES: readonly string[] = [
  networkFailureBudget('account', '192.0.2.1', false).name,
  ...totpFailureBudgets('account').map((budget) => budget.name),
];
/** Sign-in also counts wrong passwords per account (the "under attack" signal). */
export const SIGN_IN_BUDGET_NAMES: readonly string[] = [...FRESH_MFA_BUDGET_NAMES, 'password-failures'];

/** The names of the rate limits an area's routes declare (shared/schemas), for `grantRateWindows`. */
export function routeRateLimitNames(area: Area): string[] {
  return ROUTES.filter((route) => route.area === area).flatMap((route) =>
    (route.rateLimits ?? []).map((limit) => limit.name),
  );
}

/**
 * The global storage-root registry nodes (identity table, `STORAGE-NODE#…`), updated in the transactions
 * that register and release external roots: owner, location, the descendant-tenant set and the per-tenant
 * counters `n_<tenantId>`.
 */
export function grantStorageRegistry(fn: StrongroomFunction, resources: AreaResources): void {
  grantConfinedWrites(
    fn,
    resources,
    'identity',
    'StorageRootRegistry',
    ['dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
    confinedWrite([IDENTITY_PARTITIONS.storageNode], ['owner', 'locationId', 'descTenants', 'n_t_*']),
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

/** Sending mail through SES: only from the stage's identity and its one sender address. */
export function grantSendMail(fn: StrongroomFunction, resources: AreaResources): void {
  resources.mail.grantSend(fn.role);
}

/**
 * Deleting managed-location objects (location and tenant deletion, shared/store/managed-objects.ts): list the
 * versions under a tenant prefix of the managed bucket, and delete objects and their versions there. Nothing
 * outside `tenants/` of that one bucket, no read, no write: customers' buckets are never touched.
 */
export function grantManagedObjectPurge(fn: StrongroomFunction, resources: AreaResources): void {
  const bucket = resources.storageBucket;
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManagedObjectPurgeList',
      actions: ['s3:ListBucketVersions'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': 'tenants/t_*/*' } },
    }),
  );
  // Incomplete multipart uploads go too. Listing them has no `s3:prefix` condition key in IAM, so it is the
  // managed bucket's whole list of in-progress uploads (key names only); the purge asks with the caller's
  // prefix and aborts only under it, and the abort itself is confined to `tenants/t_*`.
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManagedObjectPurgeUploads',
      actions: ['s3:ListBucketMultipartUploads'],
      resources: [bucket.bucketArn],
    }),
  );
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManagedObjectPurge',
      actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects('tenants/t_*')],
    }),
  );
  const bucketStack = Stack.of(bucket);
  const bucketImport = Stack.of(fn).resolve(bucketStack.exportValue(bucket.bucketArn)) as {
    'Fn::ImportValue': string;
  };
  Validations.of(fn.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${bucketImport['Fn::ImportValue']}/tenants/t_*]`,
    reason:
      'Managed-location objects are deleted per tenant or location at run time; the code builds the prefix from the caller’s TenantScope (shared/store/managed-objects.ts refuses any other prefix).',
  });
}
