import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { type FunctionRuntime, functionRuntime } from '../shared/aws/runtime.js';
import { type KmsTenantKeys, tenantKeysFor } from '../shared/crypto/tenant-keys.js';
import type { KeyPolicyDocument, KeyPolicyStatement } from '../shared/domain/key-policy.js';

/**
 * Brings the key policies of a stage's existing tenant keys to the policy new keys get (docs/tenant-key-policies.md).
 * A tenant key's policy is written once, when tenant creation (or CDK) makes the key; when `tenantKeyPolicy`
 * gains or changes a statement, older keys keep the old one until an operator runs this:
 *
 *   npx tsx tools/tenant-key-policies.ts [--apply]      (npm run tenant-key-policies -- [--apply])
 *
 * with the tenants function's environment (STAGE, PLATFORM_KEY_ARN, TENANT_KEY_USER_ROLE_ARNS, optional
 * TENANT_KEY_ADMIN_ROLE_ARN, EXPORT_BUCKET, TENANT_EXPORT_ROLE_ARNS, STORAGE_BUCKET; AWS_REGION) and credentials
 * that may list aliases and tags, describe keys and get (and with `--apply`, put) their policies. It finds the
 * stage's tenant keys by alias (`alias/strongroom/<stage>/tenant/<tenantId>`) and keeps only those whose tags
 * say the same tenant and stage, computes `tenantKeyPolicy` for each as tenant creation would now, and prints
 * what differs, statement by statement (Sid). Without `--apply` it changes nothing and exits 1 when a key
 * differs; with it, it calls PutKeyPolicy for each differing key and exits 1 if any put failed. Keys pending
 * deletion (deleted tenants: their data is being shredded) are reported and left alone.
 */
export interface KeyPolicyChange {
  sid: string;
  change: 'added' | 'removed' | 'changed';
  before?: KeyPolicyStatement;
  after?: KeyPolicyStatement;
}

export interface TenantKeyPolicyResult {
  tenantId: string;
  keyId: string;
  status: 'current' | 'differs' | 'applied' | 'failed' | 'skipped';
  changes: KeyPolicyChange[];
  /** Why a key was skipped or a put failed. */
  reason?: string;
}

export interface TenantKeyPoliciesOptions {
  runtime?: FunctionRuntime;
  /** Put the computed policy on each key that differs (a dry run otherwise). */
  apply?: boolean;
}

/** The statements of `after` that `before` lacks, has differently, or has in excess, by Sid. */
export function keyPolicyChanges(before: KeyPolicyDocument, after: KeyPolicyDocument): KeyPolicyChange[] {
  const bySid = (doc: KeyPolicyDocument) =>
    new Map((doc.Statement ?? []).map((statement, i) => [statement.Sid || `#${i}`, statement]));
  const old = bySid(before);
  const wanted = bySid(after);
  const changes: KeyPolicyChange[] = [];
  for (const [sid, statement] of wanted) {
    const existing = old.get(sid);
    if (!existing) changes.push({ sid, change: 'added', after: statement });
    else if (canonical(existing) !== canonical(statement))
      changes.push({ sid, change: 'changed', before: existing, after: statement });
  }
  for (const [sid, statement] of old)
    if (!wanted.has(sid)) changes.push({ sid, change: 'removed', before: statement });
  if (
    changes.length === 0 &&
    canonical({ ...before, Statement: [] }) !== canonical({ ...after, Statement: [] })
  )
    changes.push({ sid: '(document)', change: 'changed' });
  return changes;
}

/** JSON with object keys sorted: KMS keeps a policy as it was put, but another tool may have reordered it. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** The stage's tenant keys: alias, tenant id and key id, from ListAliases, confirmed by the keys' tags. */
async function stageTenantKeys(
  kms: KMSClient,
  stage: string,
): Promise<{ tenantId: string; keyId: string; reason?: string }[]> {
  const prefix = `alias/strongroom/${stage}/tenant/`;
  const found: { tenantId: string; keyId: string; reason?: string }[] = [];
  let Marker: string | undefined;
  do {
    const page = await kms.send(new ListAliasesCommand({ Marker, Limit: 100 }));
    for (const alias of page.Aliases ?? []) {
      if (!alias.AliasName?.startsWith(prefix) || !alias.TargetKeyId) continue;
      const tenantId = alias.AliasName.slice(prefix.length);
      const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: alias.TargetKeyId }));
      const tags = new Map((Tags ?? []).map((t) => [t.TagKey, t.TagValue]));
      // An alias alone could point anywhere; the key's own tags must say it is this stage's key of this tenant.
      const mismatch =
        tags.get('tenantId') !== tenantId || tags.get('strongroom:stage') !== stage
          ? `its tags do not name tenant ${tenantId} of stage ${stage}`
          : undefined;
      found.push({ tenantId, keyId: alias.TargetKeyId, ...(mismatch ? { reason: mismatch } : {}) });
    }
    Marker = page.Truncated ? page.NextMarker : undefined;
  } while (Marker);
  return found.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

/** Compares (and with `apply`, updates) every tenant key policy of the runtime's stage. */
export async function tenantKeyPolicies(
  options: TenantKeyPoliciesOptions = {},
): Promise<TenantKeyPolicyResult[]> {
  const runtime = options.runtime ?? functionRuntime();
  const keys: KmsTenantKeys = tenantKeysFor(runtime);
  const kms = runtime.client(KMSClient);
  const results: TenantKeyPolicyResult[] = [];
  for (const { tenantId, keyId, reason } of await stageTenantKeys(kms, keys.stage)) {
    if (reason) {
      results.push({ tenantId, keyId, status: 'skipped', changes: [], reason });
      continue;
    }
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    if (KeyMetadata?.KeyState === 'PendingDeletion') {
      results.push({ tenantId, keyId, status: 'skipped', changes: [], reason: 'pending deletion' });
      continue;
    }
    const wanted = keys.policyFor(tenantId);
    const { Policy } = await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    const changes = keyPolicyChanges(JSON.parse(Policy ?? '{}') as KeyPolicyDocument, wanted);
    if (changes.length === 0) {
      results.push({ tenantId, keyId, status: 'current', changes });
      continue;
    }
    if (!options.apply) {
      results.push({ tenantId, keyId, status: 'differs', changes });
      continue;
    }
    try {
      await kms.send(
        new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(wanted) }),
      );
      results.push({ tenantId, keyId, status: 'applied', changes });
    } catch (error) {
      const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      results.push({ tenantId, keyId, status: 'failed', changes, reason: name });
    }
  }
  return results;
}

/** The report's lines: one per key, then a `-`/`+` line per statement that differs. */
export function reportLines(results: readonly TenantKeyPolicyResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.tenantId} ${r.keyId}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
    for (const c of r.changes) {
      lines.push(`  ${c.change} ${c.sid}`);
      if (c.before) lines.push(`  - ${JSON.stringify(c.before)}`);
      if (c.after) lines.push(`  + ${JSON.stringify(c.after)}`);
    }
  }
  const count = (status: TenantKeyPolicyResult['status']) =>
    results.filter((r) => r.status === status).length;
  lines.push(
    `${results.length} tenant keys: ${count('current')} current, ${count('differs')} differ, ${count('applied')} updated, ${count('failed')} failed, ${count('skipped')} skipped`,
  );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--apply');
  if (unknown.length > 0) throw new Error(`unknown arguments: ${unknown.join(' ')} (only --apply)`);
  const results = await tenantKeyPolicies({ apply: args.includes('--apply') });
  for (const line of reportLines(results)) console.log(line);
  process.exitCode = results.some((r) => r.status === 'differs' || r.status === 'failed') ? 1 : 0;
}
