import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, FunctionRuntime, functionRuntime } from '../../shared/aws/runtime.js';
import { tenantKeysFor } from '../../shared/crypto/tenant-keys.js';
import { newId } from '../../shared/domain/ids.js';
import { tenantKeyAlias, tenantKeyTags } from '../../shared/domain/key-policy.js';
import {
  keyPolicyChanges,
  reportLines,
  TenantKeyPoliciesEnvironmentError,
  tenantKeyPolicies,
} from '../../tools/tenant-key-policies.js';
import { TEST_STAGE } from '../support/integration-setup.js';

/**
 * The operator command that brings existing tenant keys to the current key policy (tools/tenant-key-policies.ts)
 * against the emulator: keys made before the managed-objects statement existed (a runtime without
 * STORAGE_BUCKET makes them, as tenant creation did before), a current key, a key pending deletion, a key whose
 * alias claims a tenant its tags do not, and another stage's key.
 */
let kms: KMSClient;
const tenants = { old1: newId('t'), old2: newId('t'), current: newId('t'), retired: newId('t') };
const keyArns: Record<string, string> = {};
const policyOf = async (keyId: string) =>
  JSON.parse(
    (await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy ?? '{}',
  );

/** The functions' environment without STORAGE_BUCKET: the tenant keys of the earlier policy. */
const oldRuntime = () => {
  const { STORAGE_BUCKET: _, ...env } = process.env;
  return new FunctionRuntime(env);
};

beforeAll(async () => {
  kms = new KMSClient(clientConfig());
  for (const name of ['old1', 'old2', 'retired'] as const)
    keyArns[name] = (await tenantKeysFor(oldRuntime()).create(tenants[name])).keyArn;
  keyArns.current = (await tenantKeysFor(functionRuntime()).create(tenants.current)).keyArn;
  await kms.send(
    // By key id: the emulator accepts only that here.
    new ScheduleKeyDeletionCommand({ KeyId: keyArns.retired!.split('/').pop(), PendingWindowInDays: 30 }),
  );
  // A key whose alias names a tenant of this stage but whose tags name another tenant.
  const impostor = await kms.send(
    new CreateKeyCommand({ Tags: tenantKeyTags(TEST_STAGE, newId('t')).map(tag) }),
  );
  keyArns.impostor = impostor.KeyMetadata!.Arn!;
  await kms.send(
    new CreateAliasCommand({
      AliasName: tenantKeyAlias(TEST_STAGE, newId('t')),
      TargetKeyId: impostor.KeyMetadata!.KeyId!,
    }),
  );
  // Another stage's tenant key with the old policy.
  const other = await kms.send(new CreateKeyCommand({ Tags: tenantKeyTags('other', newId('t')).map(tag) }));
  keyArns.otherStage = other.KeyMetadata!.Arn!;
  await kms.send(
    new CreateAliasCommand({
      AliasName: tenantKeyAlias('other', newId('t')),
      TargetKeyId: other.KeyMetadata!.KeyId!,
    }),
  );
});
afterAll(() => kms.destroy());

const tag = ({ key, value }: { key: string; value: string }) => ({ TagKey: key, TagValue: value });

describe('tools/tenant-key-policies.ts', () => {
  it('reports the added statement for older keys and changes nothing without --apply; the CLI exits 1', async () => {
    // Prepare
    const before = await policyOf(keyArns.old1!);

    // Act
    const results = await tenantKeyPolicies();

    // Assess: one result per key of this stage, by tenant id
    const byTenant = new Map(results.map((r) => [r.tenantId, r]));
    for (const name of ['old1', 'old2'] as const) {
      const result = byTenant.get(tenants[name])!;
      expect(result.status).toBe('differs');
      expect(result.changes.map((c) => [c.change, c.sid])).toEqual([['added', 'ManagedObjectsViaS3']]);
      expect(result.changes[0]!.after).toEqual(
        tenantKeysFor(functionRuntime())
          .policyFor(tenants[name])
          .Statement.find((s) => s.Sid === 'ManagedObjectsViaS3'),
      );
    }
    expect(byTenant.get(tenants.current)).toMatchObject({ status: 'current', changes: [] });
    expect(byTenant.get(tenants.retired)).toMatchObject({ status: 'skipped', reason: 'pending deletion' });
    const skipped = results.filter((r) => r.status === 'skipped' && r.reason !== 'pending deletion');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.reason).toMatch(/its tags do not name tenant/);
    expect(results.some((r) => keyArns.otherStage!.endsWith(r.keyId))).toBe(false);
    expect(await policyOf(keyArns.old1!)).toEqual(before);
    expect(reportLines(results).at(-1)).toBe(
      '5 tenant keys: 1 current, 2 differ, 0 updated, 0 failed, 2 skipped',
    );

    // Act: the command as an operator runs it
    const run = await promisify(execFile)('npx', ['tsx', 'tools/tenant-key-policies.ts'], {
      env: process.env,
    }).catch((error: { code: number; stdout: string }) => error);

    // Assess
    expect('code' in run ? run.code : 0).toBe(1);
    expect(run.stdout).toContain(`${tenants.old1} `);
    expect(run.stdout).toContain('  added ManagedObjectsViaS3');
    expect(run.stdout).toContain('2 differ');
  });

  it('puts the current policy on each differing key with --apply, and leaves the others alone', async () => {
    // Prepare
    const untouched = {
      retired: await policyOf(keyArns.retired!),
      impostor: await policyOf(keyArns.impostor!),
      otherStage: await policyOf(keyArns.otherStage!),
    };

    // Act
    const applied = await tenantKeyPolicies({ apply: true });

    // Assess
    expect(
      applied
        .filter((r) => r.status === 'applied')
        .map((r) => r.tenantId)
        .sort(),
    ).toEqual([tenants.old1, tenants.old2].sort());
    for (const name of ['old1', 'old2'] as const)
      expect(await policyOf(keyArns[name]!)).toEqual(
        tenantKeysFor(functionRuntime()).policyFor(tenants[name]),
      );
    expect(await policyOf(keyArns.retired!)).toEqual(untouched.retired);
    expect(await policyOf(keyArns.impostor!)).toEqual(untouched.impostor);
    expect(await policyOf(keyArns.otherStage!)).toEqual(untouched.otherStage);

    // Act: once more
    const again = await tenantKeyPolicies({ apply: true });

    // Assess: nothing left to do
    expect(again.filter((r) => r.status !== 'skipped').every((r) => r.status === 'current')).toBe(true);
    expect(reportLines(again).at(-1)).toBe(
      '5 tenant keys: 3 current, 0 differ, 0 updated, 0 failed, 2 skipped',
    );
  });
});

describe('tools/tenant-key-policies.ts: a safer --apply (review F2)', () => {
  /** The tenants function's environment with some variables changed or removed. */
  const runtimeWith = (changes: Record<string, string | undefined>) => {
    const env: Record<string, string | undefined> = { ...process.env, ...changes };
    for (const [k, v] of Object.entries(changes)) if (v === undefined) delete env[k];
    return new FunctionRuntime(env);
  };

  it('compares actions, resources and principals as sets: "x" equals ["x"], order means nothing', () => {
    // Prepare: the current policy, each list written the other way
    const wanted = tenantKeysFor(functionRuntime()).policyFor(tenants.current);
    const rewritten = {
      ...wanted,
      Statement: wanted.Statement.map((s) => {
        const list = (v: unknown) => (Array.isArray(v) ? (v.length === 1 ? v[0] : [...v].reverse()) : [v]);
        return {
          ...s,
          Action: list(s.Action),
          ...(s.Principal && typeof s.Principal === 'object'
            ? { Principal: { AWS: list((s.Principal as { AWS: unknown }).AWS) } }
            : {}),
        };
      }),
    };

    // Act / Assess: no change either way; a lost action or principal narrows, an added one does not
    expect(keyPolicyChanges(rewritten as never, wanted)).toEqual([]);
    const first = wanted.Statement[0]!;
    // The statement with only its first action (as a string)
    const one = (Array.isArray(first.Action) ? first.Action[0] : first.Action) as string;
    const fewer = { ...wanted, Statement: [{ ...first, Action: one }, ...wanted.Statement.slice(1)] };
    expect(keyPolicyChanges(wanted, fewer as never).map((c) => [c.sid, c.change, c.narrows])).toEqual([
      [first.Sid, 'changed', true],
    ]);
    expect(keyPolicyChanges(fewer as never, wanted).map((c) => [c.sid, c.change, c.narrows])).toEqual([
      [first.Sid, 'changed', false],
    ]);
  });

  it('refuses --apply when any key would lose a statement (an incomplete environment), puts nothing; --allow-removals puts it', async () => {
    // Prepare: the environment without the export archives' variables (ExportArchivesViaS3 would go)
    const incomplete = runtimeWith({ EXPORT_BUCKET: undefined, TENANT_EXPORT_ROLE_ARNS: undefined });
    const before = await policyOf(keyArns.current!);

    // Act
    const refused = await tenantKeyPolicies({ runtime: incomplete, apply: true });

    // Assess: every differing key refused, named as narrowing, nothing put
    const live = refused.filter((r) => r.status !== 'skipped');
    expect(live.length).toBeGreaterThan(0);
    for (const r of live) {
      expect(r.status).toBe('refused');
      expect(r.changes).toContainEqual(
        expect.objectContaining({ sid: 'ExportArchivesViaS3', change: 'removed', narrows: true }),
      );
    }
    expect(await policyOf(keyArns.current!)).toEqual(before);
    expect(reportLines(refused).at(-1)).toMatch(/, \d+ refused$/);

    // Act: the operator means it
    const applied = await tenantKeyPolicies({ runtime: incomplete, apply: true, allowRemovals: true });

    // Assess: put; and the full environment puts it back (an added statement needs no flag)
    expect(applied.find((r) => r.tenantId === tenants.current)?.status).toBe('applied');
    expect(JSON.stringify(await policyOf(keyArns.current!))).not.toContain('ExportArchivesViaS3');
    const restored = await tenantKeyPolicies({ apply: true });
    expect(restored.find((r) => r.tenantId === tenants.current)?.status).toBe('applied');
    expect(await policyOf(keyArns.current!)).toEqual(before);
  });

  it('refuses to run with AWS_REGION other than PLATFORM_KEY_ARN’s, or without a required variable', async () => {
    // Act / Assess
    await expect(tenantKeyPolicies({ runtime: runtimeWith({ AWS_REGION: 'eu-north-1' }) })).rejects.toThrow(
      TenantKeyPoliciesEnvironmentError,
    );
    await expect(
      tenantKeyPolicies({ runtime: runtimeWith({ TENANT_KEY_USER_ROLE_ARNS: undefined }) }),
    ).rejects.toThrow(/Missing TENANT_KEY_USER_ROLE_ARNS/);
  });

  it('skips (reports) a key whose policy CloudFormation manages', async () => {
    // Prepare: a tenant key of this stage as TenantKeysStack makes it (CloudFormation's stack tag)
    const tenantId = newId('t');
    const created = await kms.send(
      new CreateKeyCommand({
        Tags: [
          ...tenantKeyTags(TEST_STAGE, tenantId).map(tag),
          { TagKey: 'aws:cloudformation:stack-name', TagValue: 'strongroom-test-tenant-keys' },
        ],
      }),
    );
    await kms.send(
      new CreateAliasCommand({
        AliasName: tenantKeyAlias(TEST_STAGE, tenantId),
        TargetKeyId: created.KeyMetadata!.KeyId!,
      }),
    );
    const before = await policyOf(created.KeyMetadata!.Arn!);

    // Act
    const results = await tenantKeyPolicies({ apply: true });

    // Assess
    expect(results.find((r) => r.tenantId === tenantId)).toMatchObject({
      status: 'skipped',
      reason: expect.stringMatching(/managed by CloudFormation stack strongroom-test-tenant-keys/),
    });
    expect(await policyOf(created.KeyMetadata!.Arn!)).toEqual(before);
  });
});
