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
import { reportLines, tenantKeyPolicies } from '../../tools/tenant-key-policies.js';
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
