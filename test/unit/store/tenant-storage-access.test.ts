import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  EntityAlreadyExistsException,
  GetRoleCommand,
  IAMClient,
  IAMServiceException,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import {
  REVOCATION_POLICY_NAME,
  TENANT_STORAGE_GRANT_VERSION,
  TENANT_STORAGE_POLICY_NAME,
  tenantStorageLayout,
  tenantStorageRolePolicy,
  tenantStorageTrustPolicy,
} from '../../../shared/domain/tenant-storage-role.js';
import type { HttpProblemError } from '../../../shared/errors.js';
import { TenantStorageAccess } from '../../../shared/store/tenant-storage-access.js';
import { TenantStorageRoles } from '../../../shared/store/tenant-storage-roles.js';
import { ACCOUNT, T1 as T, U1 as U, U2 } from '../../support/fixed-ids.js';

const BUCKET_ARN = 'arn:aws:s3:::strongroom-prod-storage';
const STORAGE_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000001`;
const LAYOUT = tenantStorageLayout({
  stage: 'prod',
  region: 'eu-west-1',
  boundaryArn: `arn:aws:iam::${ACCOUNT}:policy/strongroom-prod-eu-west-1-tenant-storage-boundary`,
});
const ROLE_NAME = `storage-${T}`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/strongroom/prod/eu-west-1/tenant-storage/${ROLE_NAME}`;
const T0 = Date.parse('2026-11-22T12:00:00.250Z');
const scope = mintTenantScope({ tenantId: T, userId: U });

const ddb = mockClient(DynamoDBDocumentClient);
const iam = mockClient(IAMClient);

/** The tenant partition as the mocked table holds it: sk → item. */
let items: Map<string, Record<string, any>>;
let clock = T0;

/** A table that applies UpdateItem the way these writes use it (SET, if_not_exists, the conditions). */
function fakeTable() {
  ddb.on(GetCommand).callsFake((input) => {
    const item = items.get(input.Key.sk);
    return { Item: item ? structuredClone(item) : undefined };
  });
  ddb.on(UpdateCommand).callsFake((input) => {
    const sk = input.Key.sk as string;
    const current = items.get(sk);
    const values = input.ExpressionAttributeValues ?? {};
    const names = input.ExpressionAttributeNames ?? {};
    const condition = input.ConditionExpression as string | undefined;
    const fail = () => {
      throw new ConditionalCheckFailedException({ message: 'condition', $metadata: {} });
    };
    if (condition === 'attribute_not_exists(version) OR version = :version') {
      if (current?.version !== undefined && current.version !== values[':version']) fail();
    } else if (condition === 'version = :written') {
      if (current?.version !== values[':written']) fail();
    } else if (condition === 'attribute_not_exists(closedAt)') {
      if (current?.closedAt) fail();
    } else if (
      condition ===
      'attribute_exists(#role) AND attribute_not_exists(closedAt) AND (attribute_not_exists(#role.grantVersion) OR #role.grantVersion < :version)'
    ) {
      const had = current?.role?.grantVersion;
      if (!current?.role || current.closedAt || (had !== undefined && had >= values[':version'])) fail();
    } else if (condition === '#role.grantVersion = :theirs') {
      if (current?.role?.grantVersion !== values[':theirs']) fail();
    } else if (condition === 'attribute_not_exists(#until) OR #until < :until') {
      const v = current?.[names['#until']!];
      if (v !== undefined && v >= values[':until']) fail();
    } else if (condition) throw new Error(`unexpected condition ${condition}`);
    const next = { ...(current ?? { pk: T, sk }) };
    for (const part of (input.UpdateExpression as string).replace(/^SET /, '').split(/, (?![^(]*\))/)) {
      const [left, right] = part.split(' = ');
      if (left === '#role.grantVersion') {
        next.role = { ...next.role, grantVersion: values[right!] };
        continue;
      }
      const key = names[left!] ?? left!;
      const ifNotExists = /^if_not_exists\((\S+), (\S+)\)$/.exec(right!);
      if (ifNotExists) next[key] ??= values[ifNotExists[2]!];
      else next[key] = values[right!];
    }
    items.set(sk, next);
    return { Attributes: structuredClone(next) };
  });
}

function access() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return new TenantStorageAccess({
    tenantClients: { forScope: async () => client },
    tenantDataTable: 'tenant-data',
    roles: new TenantStorageRoles({
      iam: new IAMClient({ region: 'eu-west-1' }),
      layout: LAYOUT,
      grant: { bucketArn: BUCKET_ARN, storageKeyArn: STORAGE_KEY },
    }),
    now: () => clock,
    sleep: async () => {},
  });
}

const holding = (userId: string, until: { managedUntil?: number; externalUntil?: number }) =>
  items.set(`STORAGE-HOLDER#${userId}`, {
    pk: T,
    sk: `STORAGE-HOLDER#${userId}`,
    ...until,
    ttl: T0 / 1000 + 9000,
  });
const state = () => items.get('STORAGE-ACCESS');
const throttled = () =>
  new IAMServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } });

beforeEach(() => {
  ddb.reset();
  iam.reset();
  items = new Map();
  clock = T0;
  fakeTable();
  iam.on(PutRolePolicyCommand).resolves({});
  iam.on(DeleteRolePolicyCommand).resolves({});
});

describe('TenantStorageAccess.revokeUser', () => {
  it('managed credentials: the entry in the tenant’s list, the deny on the tenant’s own role', async () => {
    // Prepare
    holding(U, { managedUntil: T0 + 600_000 });
    // Act
    const result = await access().revokeUser(scope, U, { refuse: true });
    // Assess
    expect(result.revokedBefore).toBe('2026-11-22T12:00:01Z');
    expect(result.credentials.map((c) => [c.kind, c.effect])).toEqual([
      ['managed', 'denied'],
      ['external', 'none-live'],
    ]);
    expect(state()).toMatchObject({
      version: 1,
      entries: [{ users: [U], notBefore: '2026-11-22T12:00:01Z' }],
    });
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, {
      RoleName: ROLE_NAME,
      PolicyName: REVOCATION_POLICY_NAME,
    });
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(policy.Statement).toEqual([
      {
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:PrincipalTag/UserId': U },
          DateLessThan: { 'aws:TokenIssueTime': '2026-11-22T12:00:01Z' },
        },
      },
    ]);
  });

  it('external credentials only: no IAM write, and the answer says when they expire', async () => {
    // Prepare: a user holding external credentials only
    holding(U, { externalUntil: T0 + 700_000 });

    // Act
    const result = await access().revokeUser(scope, U, { refuse: true });

    // Assess: no IAM write, the entry recorded, and when the external credentials expire
    expect(iam.calls()).toHaveLength(0);
    // The entry is still written: every warm function stops serving that user's cached credentials.
    expect(state()?.entries).toEqual([{ users: [U], notBefore: '2026-11-22T12:00:01Z' }]);
    expect(result.credentials).toEqual([
      expect.objectContaining({ kind: 'managed', effect: 'none-live' }),
      expect.objectContaining({
        kind: 'external',
        effect: 'not-revocable',
        expireBy: '2026-11-22T12:11:41Z',
      }),
    ]);
  });

  it('a user who never held (or no longer can hold) credentials: 404 for the route, nothing for membership changes', async () => {
    // Prepare: U never held credentials; U2's expired
    holding(U2, { managedUntil: T0 - 120_000 });

    // Act / Assess: for each, the route's refusal and a membership change's silence
    for (const userId of [U, U2]) {
      const refused = await access()
        .revokeUser(scope, userId, { refuse: true })
        .catch((e: unknown) => e);
      expect((refused as HttpProblemError).status).toBe(404);
      expect((refused as HttpProblemError).errors?.[0]?.path).toBe('body.userId');
      const quiet = await access().revokeUser(scope, userId, { refuse: false });
      expect(quiet.revokedBefore).toBeUndefined();
    }

    // Assess: nothing written
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
    expect(iam.calls()).toHaveLength(0);
  });

  it('an IAM failure half-way puts the list back as it was: nothing changed, 503', async () => {
    // Prepare: an earlier revocation is on record
    holding(U, { managedUntil: T0 + 600_000 });
    items.set('STORAGE-ACCESS', {
      pk: T,
      sk: 'STORAGE-ACCESS',
      version: 4,
      entries: [{ users: [U2], notBefore: '2026-11-22T11:59:00Z' }],
    });
    iam.on(PutRolePolicyCommand).rejects(throttled());
    // Act
    const failure = await access()
      .revokeUser(scope, U, { refuse: true })
      .catch((e: unknown) => e);
    // Assess
    expect((failure as HttpProblemError).status).toBe(503);
    expect(state()?.entries).toEqual([{ users: [U2], notBefore: '2026-11-22T11:59:00Z' }]);
    expect(state()?.version).toBe(6);
  });

  it('a concurrent revocation in between is retried, and the last IAM write carries both entries', async () => {
    // Prepare: another revocation lands between our read and our IAM write
    holding(U, { managedUntil: T0 + 600_000 });
    let first = true;
    iam.on(PutRolePolicyCommand).callsFake(() => {
      if (first) {
        first = false;
        // Another revocation (of U2) lands after our write.
        const current = state()!;
        items.set('STORAGE-ACCESS', {
          ...current,
          version: current.version + 1,
          entries: [...current.entries, { users: [U2], notBefore: '2026-11-22T12:00:01Z' }],
        });
      }
      return {};
    });

    // Act
    await access().revokeUser(scope, U, { refuse: true });

    // Assess
    const last = iam.commandCalls(PutRolePolicyCommand).at(-1)!.args[0].input.PolicyDocument!;
    expect(last).toContain(U);
    expect(last).toContain(U2);
  });
});

/** The tenant's storage role as IAM answers its creation at T0. */
const createdRole = () => ({
  RoleName: ROLE_NAME,
  Path: LAYOUT.rolePath,
  Arn: ROLE_ARN,
  RoleId: 'AROA',
  CreateDate: new Date(T0),
});

describe('TenantStorageAccess.ensureRole: a role made under an older grant', () => {
  const GRANT = JSON.stringify(
    tenantStorageRolePolicy({ tenantId: T, bucketArn: BUCKET_ARN, storageKeyArn: STORAGE_KEY }),
  );
  const recorded = (role: Record<string, unknown>) =>
    items.set('STORAGE-ACCESS', { pk: T, sk: 'STORAGE-ACCESS', version: 0, entries: [], role });
  const OLD_ROLE = { arn: ROLE_ARN, createdAt: T0 - 86_400_000 };

  it('rewrites the inline grant with this deployment’s document, then records its version; once', async () => {
    // Prepare: a role recorded before grants had versions
    recorded(OLD_ROLE);
    const tenantAccess = access();

    // Act
    const role = await tenantAccess.ensureRole(scope);
    const again = await tenantAccess.ensureRole(scope);

    // Assess: one PutRolePolicy of the current grant, the version on the record, nothing more the second time
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, {
      RoleName: ROLE_NAME,
      PolicyName: TENANT_STORAGE_POLICY_NAME,
      PolicyDocument: GRANT,
    });
    expect(role).toEqual({ ...OLD_ROLE, grantVersion: TENANT_STORAGE_GRANT_VERSION });
    expect(state()?.role).toEqual(role);
    expect(again).toEqual(role);
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand);
  });

  it('a failed rewrite issues nothing (503, not cached) and leaves the record as it was; the next call rewrites', async () => {
    // Prepare: IAM throttles the first PutRolePolicy
    recorded(OLD_ROLE);
    iam.on(PutRolePolicyCommand).rejectsOnce(throttled()).resolves({});
    const tenantAccess = access();

    // Act
    const failure = await tenantAccess.ensureRole(scope).catch((e: unknown) => e);

    // Assess: a clean 503, the record still old
    expect((failure as HttpProblemError).status).toBe(503);
    expect((failure as HttpProblemError).name).toBe('TenantStorageGrantUnavailableError');
    expect(state()?.role).toEqual(OLD_ROLE);

    // Act: the next vend
    const role = await tenantAccess.ensureRole(scope);

    // Assess: tried again and recorded
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 2);
    expect(role.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
    expect(state()?.role?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
  });

  it('concurrent calls in one function share one rewrite', async () => {
    // Prepare
    recorded(OLD_ROLE);
    const tenantAccess = access();

    // Act
    const roles = await Promise.all(Array.from({ length: 5 }, () => tenantAccess.ensureRole(scope)));

    // Assess
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(new Set(roles.map((r) => r.grantVersion))).toEqual(new Set([TENANT_STORAGE_GRANT_VERSION]));
  });

  it('a role recorded with this or a newer deployment’s grant is used as it is', async () => {
    // Act / Assess
    for (const grantVersion of [TENANT_STORAGE_GRANT_VERSION, TENANT_STORAGE_GRANT_VERSION + 1]) {
      recorded({ ...OLD_ROLE, grantVersion });
      expect(await access().ensureRole(scope)).toEqual({ ...OLD_ROLE, grantVersion });
    }
    expect(iam).not.toHaveReceivedCommand(PutRolePolicyCommand);
  });

  it('a newer deployment recording its grant while this one rewrote: the record is set back to this version, so the newer one rewrites again', async () => {
    // Prepare: while this function's PutRolePolicy is in flight, a newer deployment records version +1
    recorded(OLD_ROLE);
    iam.on(PutRolePolicyCommand).callsFake(() => {
      recorded({ ...OLD_ROLE, grantVersion: TENANT_STORAGE_GRANT_VERSION + 1 });
      return {};
    });

    // Act
    const role = await access().ensureRole(scope);

    // Assess: the record says what IAM may now hold (this grant), which the newer deployment sees as older
    expect(role.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
    expect(state()?.role?.grantVersion).toBe(TENANT_STORAGE_GRANT_VERSION);
  });

  it('a tenant closed during the rewrite: 404, the version not recorded, and the role denied everything (review12 F3)', async () => {
    // Prepare: the deletion closes the tenant (and may have removed the deny) while the grant is written
    recorded(OLD_ROLE);
    iam.on(PutRolePolicyCommand, { PolicyName: TENANT_STORAGE_POLICY_NAME }).callsFake(() => {
      items.set('STORAGE-ACCESS', { ...state(), closedAt: '2026-11-22T12:00:00Z' });
      return {};
    });

    // Act
    const failure = await access()
      .ensureRole(scope)
      .catch((e: unknown) => e);

    // Assess: the grant this write may have put back is outweighed by a tenant-wide deny, written after it
    expect((failure as HttpProblemError).status).toBe(404);
    expect(state()?.role).toEqual(OLD_ROLE);
    const puts = iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.PolicyName)).toEqual([TENANT_STORAGE_POLICY_NAME, REVOCATION_POLICY_NAME]);
    expect(JSON.parse(puts[1]!.PolicyDocument!).Statement[0].Effect).toBe('Deny');
  });
});

describe('TenantStorageAccess.ensureRole', () => {
  it('creates the role on the tenant path with the boundary, the trust policy and the grant, then records it', async () => {
    // Prepare
    iam.on(CreateRoleCommand).resolves({ Role: createdRole() });
    // Act
    const role = await access().ensureRole(scope);
    // Assess
    expect(role).toEqual({ arn: ROLE_ARN, createdAt: T0, grantVersion: TENANT_STORAGE_GRANT_VERSION });
    expect(iam).toHaveReceivedCommandWith(CreateRoleCommand, {
      RoleName: ROLE_NAME,
      Path: '/strongroom/prod/eu-west-1/tenant-storage/',
      PermissionsBoundary: LAYOUT.boundaryArn,
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: JSON.stringify(tenantStorageTrustPolicy({ layout: LAYOUT, tenantId: T })),
    });
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, {
      RoleName: ROLE_NAME,
      PolicyName: TENANT_STORAGE_POLICY_NAME,
      PolicyDocument: JSON.stringify(
        tenantStorageRolePolicy({ tenantId: T, bucketArn: BUCKET_ARN, storageKeyArn: STORAGE_KEY }),
      ),
    });
    expect(state()?.role).toEqual(role);
    // Known from now on: no second creation.
    expect(await access().ensureRole(scope)).toEqual(role);
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
  });

  it('an existing role is used only if path, boundary and trust are exactly this deployment’s', async () => {
    // Prepare: the role exists already, as this deployment makes it
    iam.on(CreateRoleCommand).rejects(new EntityAlreadyExistsException({ message: 'exists', $metadata: {} }));
    const good = {
      ...createdRole(),
      CreateDate: new Date(T0 - 5000),
      PermissionsBoundary: { PermissionsBoundaryArn: LAYOUT.boundaryArn },
      AssumeRolePolicyDocument: encodeURIComponent(
        JSON.stringify(tenantStorageTrustPolicy({ layout: LAYOUT, tenantId: T })),
      ),
    };
    iam.on(GetRoleCommand).resolves({ Role: good });

    // Act / Assess
    expect(await access().ensureRole(scope)).toEqual({
      arn: ROLE_ARN,
      createdAt: T0 - 5000,
      grantVersion: TENANT_STORAGE_GRANT_VERSION,
    });

    // Act / Assess: a role that differs in its trust, boundary or path is refused, and nothing is recorded
    const wider = tenantStorageTrustPolicy({ layout: LAYOUT, tenantId: T });
    wider.Statement[0]!.Principal = { AWS: 'arn:aws:iam::210987654321:root' };
    for (const role of [
      { ...good, AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(wider)) },
      { ...good, PermissionsBoundary: undefined },
      { ...good, Path: '/' },
    ]) {
      items.delete('STORAGE-ACCESS');
      iam.resetHistory();
      iam.on(GetRoleCommand).resolves({ Role: role });
      const failure = await access()
        .ensureRole(scope)
        .catch((e: unknown) => e);
      expect((failure as HttpProblemError).status).toBe(500);
      expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 0);
      expect(state()).toBeUndefined();
    }
  });

  it('a tenant closed while its role was made gets no role recorded and the role is denied everything', async () => {
    // Prepare: a new role, and the deletion closing the tenant between the read and the record
    iam.on(CreateRoleCommand).resolves({ Role: createdRole() });
    const a = access();
    // The deletion closes the tenant between the read and the record.
    iam.on(PutRolePolicyCommand, { PolicyName: TENANT_STORAGE_POLICY_NAME }).callsFake(() => {
      items.set('STORAGE-ACCESS', { pk: T, sk: 'STORAGE-ACCESS', version: 1, entries: [], closedAt: 'x' });
      return {};
    });

    // Act
    const failure = await a.ensureRole(scope).catch((e: unknown) => e);

    // Assess: 404, no role recorded, and the role denied everything
    expect((failure as HttpProblemError).status).toBe(404);
    expect(state()?.role).toBeUndefined();
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { PolicyName: REVOCATION_POLICY_NAME });
  });
});

describe('TenantStorageAccess.closeTenant (tenant deletion)', () => {
  it('denies every session first, then removes the grant, every other inline policy and the role', async () => {
    // Prepare: a role with the grant, the revocation policy and a stray policy
    iam
      .on(ListRolePoliciesCommand)
      .resolves({ PolicyNames: [TENANT_STORAGE_POLICY_NAME, REVOCATION_POLICY_NAME, 'stray'] });
    iam.on(DeleteRoleCommand).resolves({});

    // Act
    const result = await access().closeTenant(scope);

    // Assess: the deny first, then each policy and the role removed; the tenant's record closed
    expect(result).toEqual({ revokedBefore: '2026-11-22T12:00:01Z', role: 'removed' });
    const calls = iam.calls().map((c) => {
      const input = c.args[0].input as { PolicyName?: string; PolicyDocument?: string };
      return `${c.args[0].constructor.name}${input.PolicyName ? `:${input.PolicyName}` : ''}`;
    });
    expect(calls).toEqual([
      `PutRolePolicyCommand:${REVOCATION_POLICY_NAME}`,
      'ListRolePoliciesCommand',
      `DeleteRolePolicyCommand:${TENANT_STORAGE_POLICY_NAME}`,
      'DeleteRolePolicyCommand:stray',
      `DeleteRolePolicyCommand:${REVOCATION_POLICY_NAME}`,
      'DeleteRoleCommand',
    ]);
    const deny = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(deny.Statement).toEqual([
      {
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-11-22T12:00:01Z' } },
      },
    ]);
    expect(state()?.closedAt).toBeDefined();
  });

  it('a tenant without a role is closed with no IAM change beyond the attempt', async () => {
    // Prepare: no role
    iam.on(PutRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'no role', $metadata: {} }));

    // Act / Assess
    expect((await access().closeTenant(scope)).role).toBe('absent');
    expect(iam).toHaveReceivedCommandTimes(DeleteRoleCommand, 0);
  });

  it('an IAM failure part-way fails the deletion step (503 upstream) and a retry finishes the job', async () => {
    // Prepare: IAM throttles the role's deletion once
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [TENANT_STORAGE_POLICY_NAME] });
    iam.on(DeleteRoleCommand).rejectsOnce(throttled()).resolves({});

    // Act / Assess
    await expect(access().closeTenant(scope)).rejects.toThrow();
    // The deny stayed on: the role's sessions are refused while it waits for the retry.
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { PolicyName: REVOCATION_POLICY_NAME });

    // Act / Assess: a retry finishes the job
    expect((await access().closeTenant(scope)).role).toBe('removed');
  });
});
