import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { ENV_VARS } from '../shared/aws/config.js';
import { type FunctionRuntime, functionRuntime } from '../shared/aws/runtime.js';
import { type KmsTenantKeys, parseKmsKeyArn, tenantKeysFor } from '../shared/crypto/tenant-keys.js';
import type { KeyPolicyDocument, KeyPolicyStatement } from '../shared/domain/key-policy.js';

/**
 * Brings the key policies of a stage's existing tenant keys to the policy new keys get (docs/tenant-key-policies.md).
 * A tenant key's policy is written once, when tenant creation (or CDK) makes the key; when `tenantKeyPolicy`
 * gains or changes a statement, older keys keep the old one until an operator runs this:
 *
 *   npx tsx tools/tenant-key-policies.ts [--apply [--allow-removals]]   (npm run tenant-key-policies -- …)
 *
 * with the tenants function's environment (STAGE, PLATFORM_KEY_ARN, TENANT_KEY_USER_ROLE_ARNS, optional
 * TENANT_KEY_ADMIN_ROLE_ARN, EXPORT_BUCKET, TENANT_EXPORT_ROLE_ARNS, STORAGE_BUCKET; AWS_REGION) and credentials
 * that may list aliases and tags, describe keys and get (and with `--apply`, put) their policies. It finds the
 * stage's tenant keys by alias (`alias/strongroom/<stage>/tenant/<tenantId>`) and keeps only those whose tags
 * say the same tenant and stage, computes `tenantKeyPolicy` for each as tenant creation would now, and prints
 * what differs, statement by statement (Sid). Without `--apply` it changes nothing and exits 1 when a key
 * differs; with it, it calls PutKeyPolicy for each differing key and exits 1 if any put failed, but puts
 * nothing at all when any key's change would remove or narrow a statement unless `--allow-removals` is given.
 * Keys pending deletion (deleted tenants: their data is being shredded) and keys CloudFormation manages are
 * reported and left alone; an incomplete environment or one whose AWS_REGION is not PLATFORM_KEY_ARN's is refused.
 */
export interface KeyPolicyChange {
  sid: string;
  change: 'added' | 'removed' | 'changed';
  before?: KeyPolicyStatement;
  after?: KeyPolicyStatement;
  /**
   * The change takes something away: a statement removed, or a statement that loses an action, principal or
   * resource, or whose effect or conditions change. `--apply` refuses such a run without `--allow-removals`.
   */
  narrows: boolean;
}

export interface TenantKeyPolicyResult {
  tenantId: string;
  keyId: string;
  status: 'current' | 'differs' | 'applied' | 'failed' | 'skipped' | 'refused';
  changes: KeyPolicyChange[];
  /** Why a key was skipped or a put failed. */
  reason?: string;
}

export interface TenantKeyPoliciesOptions {
  runtime?: FunctionRuntime;
  /** Put the computed policy on each key that differs (a dry run otherwise). */
  apply?: boolean;
  /** With `apply`: also put policies that remove or narrow a statement (refused otherwise, for every key). */
  allowRemovals?: boolean;
}

/** A run the operator's environment cannot be trusted for: nothing is read or changed. */
export class TenantKeyPoliciesEnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TenantKeyPoliciesEnvironmentError';
  }
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
    if (!existing) changes.push({ sid, change: 'added', after: statement, narrows: false });
    else if (canonical(normalised(existing)) !== canonical(normalised(statement)))
      changes.push({
        sid,
        change: 'changed',
        before: existing,
        after: statement,
        narrows: narrows(existing, statement),
      });
  }
  for (const [sid, statement] of old)
    if (!wanted.has(sid)) changes.push({ sid, change: 'removed', before: statement, narrows: true });
  if (
    changes.length === 0 &&
    canonical({ ...before, Statement: [] }) !== canonical({ ...after, Statement: [] })
  )
    changes.push({ sid: '(document)', change: 'changed', narrows: true });
  return changes;
}

/** The list-valued fields of a statement, where IAM reads `"x"` and `["x"]` alike and order means nothing. */
const LIST_FIELDS = ['Action', 'NotAction', 'Resource', 'NotResource'] as const;

const asSet = (value: unknown): string[] =>
  value === undefined ? [] : [...new Set((Array.isArray(value) ? value : [value]).map(String))].sort();

/** A statement with every list (actions, resources, principals, condition values) as a sorted set. */
function normalised(statement: KeyPolicyStatement): unknown {
  const s = statement as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { ...s };
  for (const field of LIST_FIELDS) if (field in s) out[field] = asSet(s[field]);
  for (const field of ['Principal', 'NotPrincipal'] as const) {
    const principal = s[field];
    if (principal && typeof principal === 'object')
      out[field] = Object.fromEntries(
        Object.entries(principal as Record<string, unknown>).map(([k, v]) => [k, asSet(v)]),
      );
  }
  if (s.Condition && typeof s.Condition === 'object')
    out.Condition = Object.fromEntries(
      Object.entries(s.Condition as Record<string, Record<string, unknown>>).map(([op, keys]) => [
        op,
        Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, asSet(v)])),
      ]),
    );
  return out;
}

/**
 * Whether replacing `before` by `after` can take anything away: an action, resource or principal it had and
 * loses, another effect, or any other difference (conditions, NotAction…), which is not judged and so counts.
 * Only a statement that keeps everything and adds actions, resources or principals does not narrow.
 */
function narrows(before: KeyPolicyStatement, after: KeyPolicyStatement): boolean {
  const b = normalised(before) as Record<string, unknown>;
  const a = normalised(after) as Record<string, unknown>;
  const lost = (x: unknown, y: unknown) => asSet(x).some((v) => !asSet(y).includes(v));
  if (b.Effect !== a.Effect) return true;
  for (const field of ['Action', 'Resource'] as const) if (lost(b[field], a[field])) return true;
  const bp = (b.Principal ?? {}) as Record<string, unknown>;
  const ap = (a.Principal ?? {}) as Record<string, unknown>;
  for (const kind of Object.keys(bp)) if (lost(bp[kind], ap[kind])) return true;
  const rest = (x: Record<string, unknown>) => {
    const { Action: _a, Resource: _r, Principal: _p, Sid: _s, ...others } = x;
    return canonical(others);
  };
  return rest(b) !== rest(a);
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
      const stack = tags.get('aws:cloudformation:stack-name');
      const mismatch =
        tags.get('tenantId') !== tenantId || tags.get('strongroom:stage') !== stage
          ? `its tags do not name tenant ${tenantId} of stage ${stage}`
          : stack !== undefined
            ? // CloudFormation owns this key's policy (TenantKeysStack): a put here would drift from the stack.
              `its policy is managed by CloudFormation stack ${stack}: deploy the stack instead`
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
  checkEnvironment(runtime);
  const keys: KmsTenantKeys = tenantKeysFor(runtime);
  const kms = runtime.client(KMSClient);
  const results: TenantKeyPolicyResult[] = [];
  const puts: { result: TenantKeyPolicyResult; policy: KeyPolicyDocument }[] = [];
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
    const result: TenantKeyPolicyResult = {
      tenantId,
      keyId,
      status: changes.length === 0 ? 'current' : 'differs',
      changes,
    };
    results.push(result);
    if (changes.length > 0) puts.push({ result, policy: wanted });
  }
  if (!options.apply) return results;
  // All or nothing: an environment that would strip statements from one key would from every key.
  const narrowing = puts.filter(({ result }) => result.changes.some((c) => c.narrows));
  if (narrowing.length > 0 && !options.allowRemovals) {
    for (const { result } of narrowing) {
      result.status = 'refused';
      result.reason =
        'removes or narrows a statement; nothing was put (rerun with --allow-removals if meant)';
    }
    return results;
  }
  for (const { result, policy } of puts) {
    try {
      await kms.send(
        new PutKeyPolicyCommand({
          KeyId: result.keyId,
          PolicyName: 'default',
          Policy: JSON.stringify(policy),
        }),
      );
      result.status = 'applied';
    } catch (error) {
      result.status = 'failed';
      result.reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }
  return results;
}

/**
 * The tenants function's environment must be complete and of one region: the KMS client uses AWS_REGION
 * while `kms:ViaService` and the storage role path come from PLATFORM_KEY_ARN's region.
 */
function checkEnvironment(runtime: FunctionRuntime): void {
  const missing = (['stage', 'platformKeyArn', 'tenantKeyUserRoleArns', 'region'] as const).filter(
    (name) => !runtime.optional(name),
  );
  if (missing.length > 0)
    throw new TenantKeyPoliciesEnvironmentError(
      `Missing ${missing.map((name) => ENV_VARS[name]).join(', ')}: export the tenants function's environment first.`,
    );
  const keyRegion = parseKmsKeyArn(runtime.require('platformKeyArn')).region;
  if (keyRegion !== runtime.require('region'))
    throw new TenantKeyPoliciesEnvironmentError(
      `AWS_REGION is ${runtime.require('region')} but PLATFORM_KEY_ARN is in ${keyRegion}: run with that deployment's region.`,
    );
}

/** The report's lines: one per key, then a `-`/`+` line per statement that differs. */
export function reportLines(results: readonly TenantKeyPolicyResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.tenantId} ${r.keyId}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
    for (const c of r.changes) {
      lines.push(`  ${c.change} ${c.sid}${c.narrows ? ' (narrows)' : ''}`);
      if (c.before) lines.push(`  - ${JSON.stringify(c.before)}`);
      if (c.after) lines.push(`  + ${JSON.stringify(c.after)}`);
    }
  }
  const count = (status: TenantKeyPolicyResult['status']) =>
    results.filter((r) => r.status === status).length;
  lines.push(
    `${results.length} tenant keys: ${count('current')} current, ${count('differs')} differ, ${count('applied')} updated, ${count('failed')} failed, ${count('skipped')} skipped${count('refused') > 0 ? `, ${count('refused')} refused` : ''}`,
  );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--apply' && a !== '--allow-removals');
  if (unknown.length > 0)
    throw new Error(`unknown arguments: ${unknown.join(' ')} (only --apply, --allow-removals)`);
  const results = await tenantKeyPolicies({
    apply: args.includes('--apply'),
    allowRemovals: args.includes('--allow-removals'),
  });
  for (const line of reportLines(results)) console.log(line);
  process.exitCode = results.some((r) => ['differs', 'failed', 'refused'].includes(r.status)) ? 1 : 0;
}
