import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';
import { tenantKeyLogicalIds } from '../../infra/stacks/tenant-keys-stack.js';
import {
  addStrongroomStacks,
  CONTEXT_KEYS,
  configFromContext,
  parsePreProvisionedTenants,
  type RegionStacks,
} from '../../infra/strongroom.js';
import { TENANT_KEY_USE_ACTIONS, tenantKeyPolicy } from '../../shared/domain/key-policy.js';
import { tenantStorageRolePath } from '../../shared/domain/tenant-storage-role.js';

const ACCOUNT = '111122223333';
const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';

let outdir: string;
let app: App;
let stacks: RegionStacks[];
let keysTemplate: Template;
let statelessTemplate: Template;

beforeAll(() => {
  // The real cdk.json context and feature flags with one pre-provisioned tenant, read the way infra/app.ts
  // reads it; cdk-nag registered as there. Bundling skipped (CDK's own switch) to keep the test fast.
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
  outdir = mkdtempSync(join(tmpdir(), 'tenant-keys-'));
  app = new App({
    outdir,
    context: {
      ...cdkJson.context,
      [CONTEXT_KEYS.stage]: 'test',
      [CONTEXT_KEYS.preProvisionedTenants]: [TENANT],
      'aws:cdk:bundling-stacks': [],
    },
  });
  stacks = addStrongroomStacks(app, configFromContext(app, ACCOUNT));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  keysTemplate = Template.fromStack(stacks[0]!.tenantKeys!);
  statelessTemplate = Template.fromStack(stacks[0]!.stateless);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The logical IDs of the stateless roles behind the stateless stack's exports that an import names. */
function exportedRoleIds(imports: unknown[]): string[] {
  const outputs = statelessTemplate.toJSON().Outputs as Record<
    string,
    { Value: any; Export: { Name: string } }
  >;
  const byExportName = new Map(
    Object.values(outputs)
      .filter((o) => o.Export)
      .map((o) => [o.Export.Name, o.Value]),
  );
  return imports.map((value: any) => {
    const exported = byExportName.get(value['Fn::ImportValue']);
    expect(exported, JSON.stringify(value)).toBeDefined();
    return exported['Fn::GetAtt'][0] as string;
  });
}

describe('pre-provisioned tenant keys (context strongroom:preProvisionedTenants)', () => {
  it('makes one key stack in the tenant’s region, after the stateless stack, with termination protection', () => {
    // Prepare
    const { stateless, tenantKeys } = stacks[0]!;

    // Assess
    expect(stacks).toHaveLength(1);
    expect(tenantKeys!.stackName).toBe(`strongroom-test-${stacks[0]!.region}-tenant-keys`);
    expect(tenantKeys!.terminationProtection).toBe(true);
    expect(tenantKeys!.dependencies).toContain(stateless);
    expect(stateless.dependencies).not.toContain(tenantKeys);
    expect([...tenantKeys!.keys.keys()]).toEqual([TENANT]);
  });

  it('gives the key exactly the policy of tenantKeyPolicy(), naming the stateless tenant-key users', () => {
    // Prepare
    const stack = stacks[0]!.tenantKeys!;
    const key = keysTemplate.findResources('AWS::KMS::Key')[tenantKeyLogicalIds(TENANT).key]!;
    const policy = stack.resolve(key.Properties.KeyPolicy);
    const principalArns = policy.Statement.find((s: any) => s.Sid === 'TenantScopedUse').Condition.ArnEquals[
      'aws:PrincipalArn'
    ] as unknown[];

    // Act: the same function, fed the ARNs the template carries.
    const expected = stack.resolve(
      tenantKeyPolicy({
        accountId: ACCOUNT,
        partition: 'aws',
        tenantId: TENANT,
        applicationRoleArns: ['arn:aws:iam::111122223333:role/a', 'arn:aws:iam::111122223333:role/b'],
        adminRoleArns: [],
        exportArchives: {
          bucketName: 'export-bucket',
          region: stack.region,
          roleArns: ['arn:aws:iam::111122223333:role/t'],
        },
        managedObjects: {
          bucketName: 'storage-bucket',
          region: stack.region,
          rolePath: tenantStorageRolePath('test', stack.region),
        },
        oidcClientSecret: {
          encryptRoleArns: ['arn:aws:iam::111122223333:role/t'],
          decryptRoleArns: ['arn:aws:iam::111122223333:role/a'],
        },
        storeKeyPairs: { roleArns: ['arn:aws:iam::111122223333:role/s'] },
      }),
    );
    expected.Statement[1].Condition.ArnEquals['aws:PrincipalArn'] = principalArns;
    expected.Statement[0].Principal.AWS = policy.Statement[0].Principal.AWS;
    expected.Statement[1].Principal.AWS = policy.Statement[1].Principal.AWS;
    // The export statement names the tenants function's role and the stateful stack's export bucket.
    const exportUse = policy.Statement[2];
    expected.Statement[2].Principal.AWS = exportUse.Principal.AWS;
    expected.Statement[2].Condition.ArnEquals['aws:PrincipalArn'] =
      exportUse.Condition.ArnEquals['aws:PrincipalArn'];
    expected.Statement[2].Condition.StringLike = exportUse.Condition.StringLike;
    const exporters = [exportUse.Condition.ArnEquals['aws:PrincipalArn']].flat();
    expect(exportedRoleIds(exporters)).toHaveLength(1);
    expect(exportedRoleIds(exporters)[0]).toMatch(/^TenantsFunction/);
    const objectArn = JSON.stringify(exportUse.Condition.StringLike['kms:EncryptionContext:aws:s3:arn']);
    expect(objectArn).toContain(`/tenants/${TENANT}/exports/*`);
    expect(objectArn).toContain('Fn::ImportValue');
    // The managed-objects statement names the tenant's storage role and the stateful stack's storage bucket.
    const managedUse = policy.Statement[3];
    expected.Statement[3].Principal.AWS = managedUse.Principal.AWS;
    expected.Statement[3].Condition.StringLike = managedUse.Condition.StringLike;
    expected.Statement[3].Condition.ArnEquals = managedUse.Condition.ArnEquals;
    const managedArn = JSON.stringify(managedUse.Condition.StringLike['kms:EncryptionContext:aws:s3:arn']);
    expect(managedArn).toContain(`/tenants/${TENANT}/*`);
    expect(managedArn).toContain('Fn::ImportValue');
    expect(JSON.stringify(managedUse.Condition.ArnEquals['aws:PrincipalArn'])).toContain(
      `:iam::${ACCOUNT}:role/strongroom/test/${stack.region}/tenant-storage/storage-${TENANT}`,
    );
    // The tenant IdP client-secret statements name the tenants (encrypt) and auth (decrypt) functions' roles.
    for (const [index, sid, fn] of [
      [4, 'OidcClientSecretEncrypt', /^TenantsFunction/],
      [5, 'OidcClientSecretDecrypt', /^AuthFunction/],
    ] as const) {
      const statement = policy.Statement[index];
      expect(statement.Sid).toBe(sid);
      expected.Statement[index].Principal.AWS = statement.Principal.AWS;
      expected.Statement[index].Condition.ArnEquals = statement.Condition.ArnEquals;
      // CDK writes a one-action list as a string.
      expect([statement.Action].flat()).toEqual(expected.Statement[index].Action);
      expected.Statement[index].Action = statement.Action;
      const roles = exportedRoleIds([statement.Condition.ArnEquals['aws:PrincipalArn']].flat());
      expect(roles).toHaveLength(1);
      expect(roles[0]).toMatch(fn);
    }

    // The store key-pair statement names the storage function's role.
    const storeUse = policy.Statement[6];
    expect(storeUse.Sid).toBe('StoreKeyPairUse');
    expected.Statement[6].Principal.AWS = storeUse.Principal.AWS;
    expected.Statement[6].Condition.ArnEquals = storeUse.Condition.ArnEquals;
    const storeRoles = exportedRoleIds([storeUse.Condition.ArnEquals['aws:PrincipalArn']].flat());
    expect(storeRoles).toHaveLength(1);
    expect(storeRoles[0]).toMatch(/^StorageFunction/);

    // Assess
    expect(policy).toEqual(expected);
    expect(JSON.stringify(policy.Statement[0].Principal.AWS)).toContain(`:iam::${ACCOUNT}:root`);
    expect(policy.Statement[1].Condition.StringEquals).toEqual({ 'kms:EncryptionContext:tenantId': TENANT });
    expect(policy.Statement[1].Action.sort()).toEqual([...TENANT_KEY_USE_ACTIONS].sort());
    // The roles are the stateless functions' that use tenant keys (connections, query), and only those.
    const users = stacks[0]!.stateless.tenantKeys.userRoles.map((role) =>
      stacks[0]!.stateless.getLogicalId(role.node.defaultChild as never),
    );
    expect(users.length).toBeGreaterThan(0);
    expect(exportedRoleIds(principalArns).sort()).toEqual([...users].sort());
    for (const id of exportedRoleIds(principalArns)) expect(id).toMatch(/^(Connections|Query)Function/);
  });

  it('rotates, retains, tags and aliases the key like tenant creation does, under pinned logical IDs', () => {
    // Prepare
    const ids = tenantKeyLogicalIds(TENANT);

    // Assess
    expect(ids).toEqual({
      key: 'TenantKey01JABCDEFGHJKMNPQRSTVWXYZ0',
      alias: 'TenantKeyAlias01JABCDEFGHJKMNPQRSTVWXYZ0',
    });
    expect(Object.keys(keysTemplate.findResources('AWS::KMS::Key'))).toEqual([ids.key]);
    expect(keysTemplate.findResources('AWS::KMS::Key')[ids.key]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        EnableKeyRotation: true,
        PendingWindowInDays: 30,
        Tags: [
          { Key: 'strongroom:stage', Value: 'test' },
          { Key: 'tenantId', Value: TENANT },
        ],
      },
    });
    expect(keysTemplate.findResources('AWS::KMS::Alias')[ids.alias]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        AliasName: `alias/strongroom/test/tenant/${TENANT}`,
        TargetKeyId: { 'Fn::GetAtt': [ids.key, 'Arn'] },
      },
    });
  });

  it('raises no cdk-nag finding in any stack', () => {
    // Act
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const findings = report.pluginReports
      .flatMap((p: any) => p.violations)
      .flatMap((v: any) => v.violatingConstructs.map((c: any) => `${v.ruleName} at ${c.constructPath}`));

    // Assess
    expect(findings).toEqual([]);
  });

  it('makes no key stack without pre-provisioned tenants (cdk.json’s default)', () => {
    // Prepare: cdk.json's default context
    const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
    expect(cdkJson.context[CONTEXT_KEYS.preProvisionedTenants]).toEqual([]);

    // Act
    const plain = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const built = addStrongroomStacks(plain, { stage: 'test', regions: ['eu-west-1'] });

    // Assess: the two stacks and no key stack
    expect(built[0]!.tenantKeys).toBeUndefined();
    expect(plain.node.children.map((c) => c.node.id)).toEqual([
      'strongroom-test-eu-west-1-stateful',
      'strongroom-test-eu-west-1-stateless',
    ]);
  });
});

describe('parsePreProvisionedTenants', () => {
  const one = ['eu-central-1'];
  const two = ['eu-central-1', 'eu-west-1'];

  it('reads JSON arrays, comma lists and home regions', () => {
    // Act / Assess
    expect(parsePreProvisionedTenants(undefined, one)).toEqual([]);
    expect(parsePreProvisionedTenants([], one)).toEqual([]);
    expect(parsePreProvisionedTenants([TENANT], one)).toEqual([{ tenantId: TENANT, region: 'eu-central-1' }]);
    expect(parsePreProvisionedTenants(`["${TENANT}"]`, one)).toEqual([
      { tenantId: TENANT, region: 'eu-central-1' },
    ]);
    expect(
      parsePreProvisionedTenants(`${TENANT}@eu-west-1, t_01jabcdefghjkmnpqrstvwxyz1@eu-central-1`, two),
    ).toEqual([
      { tenantId: TENANT, region: 'eu-west-1' },
      { tenantId: 't_01jabcdefghjkmnpqrstvwxyz1', region: 'eu-central-1' },
    ]);
    expect(parsePreProvisionedTenants([{ tenantId: TENANT, region: 'eu-west-1' }], two)).toEqual([
      { tenantId: TENANT, region: 'eu-west-1' },
    ]);
  });

  it.each([
    ['upper case', 'T_01JABCDEFGHJKMNPQRSTVWXYZ0'],
    ['another id kind', 'u_01jabcdefghjkmnpqrstvwxyz0'],
    ['25 characters', 't_01jabcdefghjkmnpqrstvwxyz'],
    ['27 characters', 't_01jabcdefghjkmnpqrstvwxyz00'],
    ['a letter Crockford excludes (i)', 't_01jabcdefghikmnpqrstvwxyz0'],
    ['a letter Crockford excludes (u)', 't_01jabcdefghjkmnpqrstuwxyz0'],
    ['a wildcard', 't_*'],
    ['a number', 42],
    ['an object without an id', { region: 'eu-central-1' }],
  ])('refuses %s', (_what, entry) => {
    // Act / Assess
    expect(() => parsePreProvisionedTenants([entry], one)).toThrow(/not a tenant id/);
  });

  it('refuses a tenant named twice, a missing home region with several regions, and an unconfigured region', () => {
    // Act / Assess
    expect(() => parsePreProvisionedTenants([TENANT, TENANT], one)).toThrow(/named twice/);
    expect(() => parsePreProvisionedTenants([`${TENANT}@eu-west-1`, `${TENANT}@eu-central-1`], two)).toThrow(
      /named twice/,
    );
    expect(() => parsePreProvisionedTenants([TENANT], two)).toThrow(/needs its home region/);
    expect(() => parsePreProvisionedTenants([`${TENANT}@us-east-1`], two)).toThrow(/not a configured region/);
  });

  it('refuses invalid tenants handed to addStrongroomStacks directly, before building anything', () => {
    // Prepare
    const bare = new App();

    // Act / Assess: a malformed tenant id, a tenant in an unconfigured region
    expect(() =>
      addStrongroomStacks(bare, {
        stage: 'test',
        regions: ['eu-west-1'],
        preProvisionedTenants: [{ tenantId: 't_x', region: 'eu-west-1' }],
      }),
    ).toThrow(/not a tenant id/);
    expect(() =>
      addStrongroomStacks(bare, {
        stage: 'test',
        regions: ['eu-west-1'],
        preProvisionedTenants: [{ tenantId: TENANT, region: 'eu-central-1' }],
      }),
    ).toThrow(/not a configured region/);

    // Assess: nothing built
    expect(bare.node.children).toHaveLength(0);
  });
});
