import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../shared/aws/config.js';
import { TENANT_KEY_USE_ACTIONS } from '../../shared/domain/key-policy.js';
import type { Area } from '../../shared/http/route.js';
import type { Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

let synth: Synthesised;
let template: Template;
/** Each deployed area's IAM statements, from the synthesised template. */
const statementsOf = new Map<Area, Statement[]>();
const roleRefOf = new Map<Area, unknown>();

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  for (const [area, fn] of Object.entries(stack.functions) as [
    Area,
    NonNullable<(typeof stack.functions)[Area]>,
  ][]) {
    const ref = stack.resolve(fn.role.roleName);
    roleRefOf.set(area, ref);
    statementsOf.set(
      area,
      policies
        .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify(ref)))
        .flatMap((p) => p.Properties.PolicyDocument.Statement),
    );
  }
});
afterAll(() => synth?.cleanup());

const actions = (s: Statement) => [s.Action].flat();
const areasWith = (predicate: (s: Statement) => boolean) =>
  [...statementsOf]
    .filter(([, statements]) => statements.some(predicate))
    .map(([area]) => area)
    .sort();
const isTenantKeyResource = (s: Statement) => JSON.stringify(s.Resource).includes(':key/*');
/** Tenant-key use only through S3, for export archives (each key policy narrows it to the tenant's prefix). */
const isExportViaS3 = (s: Statement) =>
  s.Sid === 'ExportArchivesWithTenantKeys' &&
  JSON.stringify(s.Condition?.StringEquals?.['kms:ViaService'] ?? '').includes('s3.');

/** A tenant IdP's client secret only (encrypt: tenants, decrypt: auth; tenant-oidc-secret-grants.test.ts). */
const isOidcSecret = (s: Statement) =>
  (['EncryptTenantOidcSecrets', 'DecryptTenantOidcSecrets'].includes(s.Sid ?? '') &&
    s.Condition?.StringEquals?.['kms:EncryptionContext:purpose'] === 'oidc-client-secret') ||
  // S3-compatible stores' key pairs (the storage function): tenant-keys test/infra/tenant-oidc-secret-grants.test.ts
  (s.Sid === 'TenantStoreKeyPairs' &&
    s.Condition?.StringEquals?.['kms:EncryptionContext:purpose'] === 'storage-store-key');

describe('crypto permissions live only on the functions that need them', () => {
  it('lets only the connection-password readers and writers use tenant keys, tag-scoped to this stage', () => {
    // Act
    const users = areasWith(
      (s) =>
        isTenantKeyResource(s) &&
        !isExportViaS3(s) &&
        !isOidcSecret(s) &&
        actions(s).some((a) => TENANT_KEY_USE_ACTIONS.includes(a as never)),
    );

    // Assess: connections and query, one statement each, conditioned on this stage's tag
    expect(users).toEqual(['connections', 'query'].filter((a) => statementsOf.has(a as Area)));
    for (const area of users) {
      const use = statementsOf.get(area)!.filter((s) => s.Sid === 'UseTenantKeys');
      expect(use).toHaveLength(1);
      expect(actions(use[0]!).sort()).toEqual([...TENANT_KEY_USE_ACTIONS].sort());
      expect(use[0]!.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/strongroom:stage': TEST_STAGE } });
    }
  });

  it('lets only the tenants function have S3 use tenant keys, for export archives only', () => {
    // Act / Assess
    expect(areasWith(isExportViaS3)).toEqual(['tenants']);

    // Act
    const statement = statementsOf.get('tenants')!.find(isExportViaS3)!;

    // Assess: two actions, through S3, on this stage's keys
    expect(actions(statement).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(statement.Condition).toEqual({
      StringEquals: {
        'aws:ResourceTag/strongroom:stage': TEST_STAGE,
        'kms:ViaService': expect.stringMatching(/^s3\.[a-z0-9-]+\.amazonaws\.com$/),
      },
    });
  });

  it('lets only tenant creation create and retire tenant keys, and never use them directly', () => {
    // Prepare
    const lifecycle = ['kms:CreateKey', 'kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:CreateAlias'];

    // Act / Assess
    expect(areasWith((s) => actions(s).some((a) => lifecycle.includes(a)))).toEqual(['tenants']);

    // Act / Assess: and it has no direct use of them
    const tenants = statementsOf.get('tenants')!;
    expect(
      tenants.filter(
        (s) =>
          isTenantKeyResource(s) &&
          !isExportViaS3(s) &&
          !isOidcSecret(s) &&
          actions(s).some((a) => TENANT_KEY_USE_ACTIONS.includes(a as never)),
      ),
    ).toEqual([]);
  });

  it('grants no function kms:*, key-policy changes, grants or re-encryption', () => {
    // Prepare
    const forbidden = /^kms:(\*|PutKeyPolicy|CreateGrant|ReEncrypt.*|DisableKeyRotation|CancelKeyDeletion)$/;

    // Act / Assess
    for (const [area, statements] of statementsOf)
      expect(
        statements.flatMap(actions).filter((a) => forbidden.test(a)),
        area,
      ).toEqual([]);
  });

  it('names exactly the tenant-key users in the tenants function’s TENANT_KEY_USER_ROLE_ARNS', () => {
    // Act
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Role: unknown; Environment: { Variables: Record<string, unknown> } };
    }[];
    const tenantsFn = functions.find(
      (f) => f.Properties.Environment.Variables[ENV_VARS.tenantKeyUserRoleArns],
    );

    // Assess: the roles of connections and query are named, and no other function's
    expect(tenantsFn).toBeDefined();
    const value = JSON.stringify(tenantsFn!.Properties.Environment.Variables[ENV_VARS.tenantKeyUserRoleArns]);
    for (const area of ['connections', 'query'] as Area[]) {
      if (!statementsOf.has(area)) continue;
      const logicalId = (roleRefOf.get(area) as { Ref: string }).Ref;
      expect(value, area).toContain(logicalId);
    }
    for (const area of ['tenants', 'auth', 'storage', 'public', 'audit'] as Area[]) {
      const ref = roleRefOf.get(area) as { Ref: string } | undefined;
      if (ref) expect(value, area).not.toContain(`"${ref.Ref}"`);
    }
  });
});
