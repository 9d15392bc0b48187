import { GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { STORAGE_ACCESS_SK } from '../../shared/domain/item-layout.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import {
  TENANT_STORAGE_GRANT_VERSION,
  TENANT_STORAGE_POLICY_NAME,
  tenantStorageRoleName,
  tenantStorageRolePolicy,
} from '../../shared/domain/tenant-storage-role.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { tenantStorageAccessFor } from '../../shared/store/tenant-storage-access.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';

// A deployment that changes the tenant storage roles' inline grant must reach the roles made before it (review11
// F7): the vend that finds a role recorded under an older grant rewrites the role's `storage` policy in IAM,
// then records the version. The emulator's IAM holds the policies, so the rewrite is read back from it.

const api = useTestApi();
// The environment is the test API's, set once it runs: read in beforeAll.
let runtime: ReturnType<typeof functionRuntime>;
let iam: IAMClient;
let acme: TenantWithRoles;
let locationId: string;

const current = () =>
  tenantStorageRolePolicy({
    tenantId: acme.tenantId,
    bucketArn: `arn:aws:s3:::${process.env.STORAGE_BUCKET}`,
    storageKeyArn: process.env.STORAGE_KEY_ARN!,
  });
const roleName = () => tenantStorageRoleName(acme.tenantId);
const key = () => ({ pk: acme.tenantId, sk: STORAGE_ACCESS_SK });

/** The grant as the role carries it in IAM. */
async function grantInIam(): Promise<unknown> {
  const { PolicyDocument } = await iam.send(
    new GetRolePolicyCommand({ RoleName: roleName(), PolicyName: TENANT_STORAGE_POLICY_NAME }),
  );
  return JSON.parse(decodeURIComponent(PolicyDocument!));
}

/** The role's record as the table holds it. */
async function record(): Promise<{ grantVersion?: number } | undefined> {
  const { Item } = await runtime.dynamo.send(
    new GetCommand({ TableName: runtime.require('tenantDataTable'), Key: key(), ConsistentRead: true }),
  );
  return Item?.role;
}

/** Puts the role back as a deployment before tenant keys left it: the old grant, a record without a version. */
async function asBeforeTenantKeys(): Promise<unknown> {
  const policy = current();
  const old = {
    ...policy,
    Statement: policy.Statement.filter((s) => !['TenantKeyRead', 'TenantKeyWrite'].includes(s.Sid ?? '')),
  };
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName(),
      PolicyName: TENANT_STORAGE_POLICY_NAME,
      PolicyDocument: JSON.stringify(old),
    }),
  );
  await runtime.dynamo.send(
    new UpdateCommand({
      TableName: runtime.require('tenantDataTable'),
      Key: key(),
      UpdateExpression: 'REMOVE #role.grantVersion',
      ExpressionAttributeNames: { '#role': 'role' },
    }),
  );
  return old;
}

const vend = (token: string) =>
  api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
    token,
    body: { location: locationId, access: 'write' },
  });

beforeAll(async () => {
  runtime = functionRuntime();
  iam = runtime.client(IAMClient);
  acme = await tenantWithEveryRole(api, 'Acme');
  const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(created.status, created.text).toBe(201);
  locationId = created.body.locationId;
});

describe('tenant storage roles made under an older grant', () => {
  it('a new role is recorded with this deployment’s grant version, and IAM holds that grant', async () => {
    // Act / Assess
    expect((await record())?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
    expect(await grantInIam()).toEqual(current());
  });

  it('the next vend rewrites the role’s inline grant in IAM and records the version', async () => {
    // Prepare: the role as an older deployment left it
    const old = await asBeforeTenantKeys();
    expect(await grantInIam()).toEqual(old);

    // Act
    const vended = await vend(acme.users.editor.token);

    // Assess: credentials, the current grant in IAM, the version on the record
    expect(vended.status, vended.text).toBe(200);
    expect(await grantInIam()).toEqual(current());
    expect((await record())?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
  });

  it('two vends at once through the API, and two functions (separate instances) at once: one consistent final state', async () => {
    // Prepare
    await asBeforeTenantKeys();

    // Act: two users vend at once
    const [a, b] = await Promise.all([vend(acme.users.editor.token), vend(acme.users.admin.token)]);

    // Assess
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await grantInIam()).toEqual(current());
    expect((await record())?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);

    // Prepare: again, for two warm functions of their own
    await asBeforeTenantKeys();
    const tenantClients = tenantDataClientsFor(runtime);
    const functions = [0, 1].map(() => tenantStorageAccessFor(runtime, { tenantClients, vending: true }));
    const scope = mintTenantScope({ tenantId: acme.tenantId, userId: acme.users.editor.userId });

    // Act
    const roles = await Promise.all(functions.map((f) => f.ensureRole(scope)));

    // Assess: both answer the role at the current version; IAM and the record agree
    expect(roles.map((r) => r.grantVersion)).toEqual([
      TENANT_STORAGE_GRANT_VERSION,
      TENANT_STORAGE_GRANT_VERSION,
    ]);
    expect(await grantInIam()).toEqual(current());
    expect((await record())?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
  });
});
