import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../support/iam-simulator.js';
import { areaIdentityPolicies, BUCKET_ARNS, functionPrincipal, type Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

let synth: Synthesised;
let statements: Statement[];
let refs: { tenantData: string; platformKey: string };
let identityPolicies: ReturnType<typeof areaIdentityPolicies>;

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  const template = Template.fromStack(stack);
  const role = JSON.stringify(stack.resolve(stack.functions.tenants!.role.roleName));
  statements = (
    Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
    }[]
  )
    .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
  const auth = statements.find((s) => s.Sid === 'AuthorizerTenantLookups')!;
  const keyUse = statements.find((s) => s.Sid === 'TableEncryptionViaDynamoDB')!;
  identityPolicies = areaIdentityPolicies(stack, 'tenants');
  refs = {
    tenantData: JSON.stringify([auth.Resource].flat()[0]),
    platformKey: JSON.stringify(keyUse.Resource),
  };
});
afterAll(() => synth?.cleanup());

const actions = (s: Statement) => [s.Action].flat();

describe('the tenants function’s IAM for tenant deletion', () => {
  it('deletes tenant-data items with its own role only for storage-root release, and never puts them', () => {
    // Act
    const onTenantData = statements.filter((s) =>
      JSON.stringify([s.Resource].flat()).includes(refs.tenantData),
    );
    const writes = onTenantData.flatMap(actions).filter((a) => /Put|Delete|BatchWrite/.test(a));

    // Assess: DeleteItem only, in the StorageRootRelease statement
    expect(writes).toEqual(['dynamodb:DeleteItem']);
    expect(statements.find((s) => s.Sid === 'StorageRootRelease')).toMatchObject({
      Action: 'dynamodb:DeleteItem',
    });
  });

  it('may decrypt only TOTP secrets under the platform key, and encrypts nothing with it itself', () => {
    // Act
    const direct = statements.filter(
      (s) => JSON.stringify(s.Resource) === refs.platformKey && s.Sid !== 'TableEncryptionViaDynamoDB',
    );

    // Assess
    expect(direct).toEqual([
      {
        Sid: 'VerifyTotpSecrets',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: expect.anything(),
        Condition: {
          StringEquals: {
            'kms:EncryptionContext:tenantId': 'platform',
            'kms:EncryptionContext:purpose': 'totp-secret',
          },
        },
      },
    ]);
  });

  it('may revoke on and remove tenant storage roles (never create or assume one) and retire tenant keys', () => {
    // Act
    const storage = statements.filter((s) => actions(s).some((a) => a.startsWith('iam:')));

    // Assess: revoke, remove and read tenant storage roles within the boundary; assume none; retire keys
    expect(storage.map((s) => [s.Sid, actions(s).sort()])).toEqual([
      ['TenantStorageRevocations', ['iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:PutRolePolicy']],
      ['ReadTenantStorageRoles', ['iam:GetRole', 'iam:ListRolePolicies']],
    ]);
    expect(JSON.stringify(storage)).toContain('tenant-storage/*');
    const assumes = statements.filter((s) => actions(s).some((a) => a.startsWith('sts:')));
    expect(JSON.stringify(assumes)).not.toContain('tenant-storage');
    expect(storage[0]!.Condition).toEqual({
      StringEquals: { 'iam:PermissionsBoundary': expect.anything() },
    });
    const manage = statements.find((s) => s.Sid === 'ManageTenantKeys')!;
    expect(actions(manage)).toEqual(expect.arrayContaining(['kms:DisableKey', 'kms:ScheduleKeyDeletion']));
  });

  it('reads and writes export archives only under tenants/*/exports/ of the export bucket', () => {
    // Act
    const statement = statements.find((s) => s.Sid === 'TenantExportArchives')!;

    // Assess: three object actions on the exports prefix, and no other S3 statement
    expect(actions(statement).sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    expect(JSON.stringify(statement.Resource)).toContain('/tenants/*/exports/*');
    // The other S3 statements are tenant deletion's purge of managed objects (managed-object-purge-grants.test.ts).
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    expect(s3.map((s) => s.Sid).sort()).toEqual([
      'ManagedObjectPurge',
      'ManagedObjectPurgeList',
      'ManagedObjectPurgeUploads',
      'TenantExportArchives',
    ]);
  });

  it('may delete an export archive (an unaudited one is withdrawn) and no other object', async () => {
    // Prepare: the tenants function's role as synthesised, its export bucket made concrete
    const T = 't_01jx0000000000000000000001';
    const other = 't_01jx0000000000000000000002';
    const decide = (action: string, key: string, bucket: string = BUCKET_ARNS.exports) =>
      simulate({
        principal: functionPrincipal('tenants'),
        action,
        resource: `${bucket}/${key}`,
        resourceAccount: '123456789012',
        identityPolicies,
      });

    // Act / Assess: an archive under any tenant's exports prefix (the code builds the key from the caller's
    // scope) may be deleted, as written and read
    for (const key of [`tenants/${T}/exports/x_1.json`, `tenants/${other}/exports/x_2.json`])
      for (const action of ['s3:DeleteObject', 's3:PutObject', 's3:GetObject'])
        expect(await decide(action, key), `${action} ${key}`).toBe('Allowed');
    // Nothing else under the tenant prefix, nor the tenant prefix itself, nor in another bucket
    for (const key of [
      `tenants/${T}/x_1.json`,
      `tenants/${T}/exports`,
      `tenants/${T}/l_1/data.csv`,
      `tenants/${T}/exportsx/x_1.json`,
      `exports/${T}/x_1.json`,
      'x_1.json',
    ])
      expect(await decide('s3:DeleteObject', key), key).toBe('ImplicitlyDenied');
    // (The managed storage bucket's tenant prefixes are tenant deletion's to empty: managed-object-purge-grants.test.ts.)
    for (const bucket of ['arn:aws:s3:::strongroom-access-logs', 'arn:aws:s3:::lake'])
      expect(await decide('s3:DeleteObject', `tenants/${T}/exports/x_1.json`, bucket), bucket).toBe(
        'ImplicitlyDenied',
      );
    // Nor a version (a withdrawn archive's stays until the lifecycle expires it), nor the bucket's settings
    expect(await decide('s3:DeleteObjectVersion', `tenants/${T}/exports/x_1.json`)).toBe('ImplicitlyDenied');
    for (const action of ['s3:PutLifecycleConfiguration', 's3:DeleteBucket'])
      expect(
        await simulate({
          principal: functionPrincipal('tenants'),
          action,
          resource: BUCKET_ARNS.exports,
          resourceAccount: '123456789012',
          identityPolicies,
        }),
        action,
      ).toBe('ImplicitlyDenied');
  });
});
