import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient, IAMServiceException, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { newId } from '../../shared/domain/ids.js';
import {
  REVOCATION_POLICY_NAME,
  TENANT_STORAGE_POLICY_NAME,
} from '../../shared/domain/tenant-storage-role.js';
import {
  REVOCATIONS_PER_TENANT_PER_HOUR,
  REVOCATIONS_PER_USER_PER_HOUR,
} from '../../shared/schemas/storage.js';
import {
  TENANT_CREATIONS_PER_USER_PER_DAY,
  TENANT_CREATIONS_PER_USER_PER_HOUR,
} from '../../shared/schemas/tenants.js';
import { ISSUE_LATENCY_MARGIN_MS } from '../../shared/store/storage-vendor.js';
import {
  addMember,
  signUp,
  type TenantWithRoles,
  type TestUser,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import {
  emulatorIam,
  managedSessionDecision,
  rolePolicies as rolePoliciesOf,
  tenantAuditEvents,
} from '../support/storage-sessions.js';

/**
 * Storage revocation per tenant, end to end against the emulator: the attack of one account creating many
 * tenants and revoking in each (it cannot reach another tenant's sessions), refusal of users who hold no
 * credentials, the per-user and per-tenant rate limits under concurrency, what the API and the audit log
 * say for each kind of location, and an IAM failure half-way changing nothing. The emulator enforces no
 * IAM, so what the deny material allows is judged by the IAM policy simulator on the policies the emulator
 * actually holds.
 */
const api = useTestApi();
let endpoint: string;
let iam: IAMClient;
const ddb = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: TEST_REGION }));

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  iam = emulatorIam(endpoint);
  await new S3Client({
    endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  }).send(new CreateBucketCommand({ Bucket: 'revocation-lake' }));
});
afterAll(async () => {
  vi.useRealTimers();
});

const post = (path: string, token: string, body: unknown = {}) => api.request('POST', path, { token, body });
const registerManaged = (tenantId: string, token: string) =>
  post(`/v1/tenants/${tenantId}/storage-locations`, token, { managed: true });
const vend = (tenantId: string, token: string, body: Record<string, unknown>) =>
  post(`/v1/tenants/${tenantId}/storage-credentials`, token, body);
const revoke = (tenantId: string, token: string, userId: string) =>
  post(`/v1/tenants/${tenantId}/storage-credentials/revocations`, token, { userId });

const rolePolicies = (tenantId: string) => rolePoliciesOf(iam, tenantId);
const sessionDecision = (input: Parameters<typeof managedSessionDecision>[1]) =>
  managedSessionDecision(iam, input);

const auditEvents = (tenantId: string, action: string) => tenantAuditEvents(endpoint, tenantId, action);

/** Moves the clock the rate limiter reads forward (the rest of the system keeps real time). */
function advanceHours(hours: number) {
  vi.setSystemTime(Date.now() + hours * 3600_000);
}

describe('one account, 135 tenants, a revocation in each', () => {
  let victim: TenantWithRoles;
  let victimLocation: string;

  beforeAll(async () => {
    // Tenant B: a member holds managed-location credentials.
    victim = await tenantWithEveryRole(api, 'Victim');
    const location = await registerManaged(victim.tenantId, victim.users.admin.token);
    expect(location.status, location.text).toBe(201);
    victimLocation = location.body.locationId;
    const held = await vend(victim.tenantId, victim.users.viewer.token, {
      location: victimLocation,
      access: 'read',
    });
    expect(held.status, held.text).toBe(200);
  });

  it('leaves tenant B’s deny material untouched and B’s session allowed', { timeout: 900_000 }, async () => {
    // Prepare
    const before = await rolePolicies(victim.tenantId);
    expect(Object.keys(before)).toEqual([TENANT_STORAGE_POLICY_NAME]);
    const attacker = await signUp(api, 'attacker');
    const own: { tenantId: string; cutoff: string }[] = [];
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      // Act: 135 tenants, each with a managed location, credentials, and revocations in it; an hour's worth of
      // tenants at a time, the clock moving a day in between (within the per-user limits)
      const attack = async (i: number) => {
        const tenant = await post('/v1/tenants', attacker.token, { name: `Sprawl ${i}` });
        expect(tenant.status, tenant.text).toBe(201);
        const tenantId = tenant.body.tenantId as string;
        const location = await registerManaged(tenantId, attacker.token);
        expect(location.status, location.text).toBe(201);
        // A made-up user is refused: they never held anything here.
        const madeUp = await revoke(tenantId, attacker.token, newId('u'));
        expect(madeUp.status, madeUp.text).toBe(404);
        // The attacker's own credentials are real, so revoking them goes through, on this tenant's role.
        const held = await vend(tenantId, attacker.token, {
          location: location.body.locationId,
          access: 'read',
        });
        expect(held.status, held.text).toBe(200);
        const revoked = await revoke(tenantId, attacker.token, attacker.userId);
        expect(revoked.status, revoked.text).toBe(200);
        own.push({ tenantId, cutoff: revoked.body.revokedBefore });
      };
      for (let first = 0; first < 135; first += TENANT_CREATIONS_PER_USER_PER_HOUR) {
        if (first > 0) advanceHours(25);
        const batch = Array.from(
          { length: Math.min(TENANT_CREATIONS_PER_USER_PER_HOUR, 135 - first) },
          (_, j) => first + j,
        );
        await Promise.all(batch.map(attack));
      }
      expect(own).toHaveLength(135);
    } finally {
      vi.useRealTimers();
    }

    // Assess: B's role holds exactly what it held, and the simulator still lets B's member read
    expect(await rolePolicies(victim.tenantId)).toEqual(before);
    expect(
      await sessionDecision({
        tenantId: victim.tenantId,
        userId: victim.users.viewer.userId,
        locationId: victimLocation,
        issued: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        action: 's3:GetObject',
      }),
    ).toBe('Allowed');
    // Every attacker tenant's deny names the attacker only, on that tenant's own role, and stops them there.
    for (const { tenantId, cutoff } of own) {
      const policies = await rolePolicies(tenantId);
      expect((policies[REVOCATION_POLICY_NAME] as { Statement: unknown[] }).Statement).toEqual([
        {
          Effect: 'Deny',
          Action: 's3:*',
          Resource: '*',
          Condition: {
            StringEquals: { 'aws:PrincipalTag/UserId': attacker.userId },
            DateLessThan: { 'aws:TokenIssueTime': cutoff },
          },
        },
      ]);
    }
    const first = own[0]!;
    const { Items: locations = [] } = await ddb().send(
      new QueryCommand({
        TableName: process.env.TENANT_DATA_TABLE,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :l)',
        ExpressionAttributeValues: { ':pk': first.tenantId, ':l': 'LOCATION#' },
      }),
    );
    expect(
      await sessionDecision({
        tenantId: first.tenantId,
        userId: attacker.userId,
        locationId: locations[0]!.locationId,
        issued: new Date(Date.parse(first.cutoff) - 2000).toISOString().replace(/\.\d+Z$/, 'Z'),
        action: 's3:GetObject',
      }),
    ).toBe('ExplicitlyDenied');
  });
});

describe('revocation is refused for users who hold no credentials of the tenant', () => {
  it('a made-up user, a member who never vended, and a user with credentials of another tenant: 404 naming body.userId, nothing written', async () => {
    // Prepare
    const acme = await tenantWithEveryRole(api, 'Acme');
    const globex = await tenantWithEveryRole(api, 'Globex');
    const location = await registerManaged(globex.tenantId, globex.users.admin.token);
    expect(
      (
        await vend(globex.tenantId, globex.users.editor.token, {
          location: location.body.locationId,
          access: 'read',
        })
      ).status,
    ).toBe(200);
    // Act
    const answers = [];
    for (const userId of [newId('u'), acme.users.editor.userId, globex.users.editor.userId])
      answers.push(await revoke(acme.tenantId, acme.users.admin.token, userId));
    // Assess
    for (const res of answers) {
      expect(res.status, res.text).toBe(404);
      expect(res.body.type).toBe('https://strongroom.dev/problems/no-storage-credentials');
      expect(res.body.errors).toEqual([
        { path: 'body.userId', message: 'No live storage credentials of this tenant' },
      ]);
    }
    const { Item } = await ddb().send(
      new GetCommand({
        TableName: process.env.TENANT_DATA_TABLE,
        Key: { pk: acme.tenantId, sk: 'STORAGE-ACCESS' },
      }),
    );
    expect(Item).toBeUndefined();
    expect(await auditEvents(acme.tenantId, 'storage-credentials.revoked')).toEqual([]);
    // Globex's member is untouched in Globex.
    expect(Object.keys(await rolePolicies(globex.tenantId))).toEqual([TENANT_STORAGE_POLICY_NAME]);
  });
});

describe('rate limits: exact under concurrency', () => {
  it(`tenant creation: ${TENANT_CREATIONS_PER_USER_PER_HOUR} per user per hour of 100 concurrent, then ${TENANT_CREATIONS_PER_USER_PER_DAY} per day; other users unaffected`, {
    timeout: 300_000,
  }, async () => {
    // Prepare
    const user = await signUp(api, 'creator');
    // The whole test in one UTC day (the limits are sliding windows over fixed hour and day buckets).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
      vi.setSystemTime(midnight + 60_000);

      // Act: 100 concurrent creations
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => post('/v1/tenants', user.token, { name: `Burst ${i}` })),
      );

      // Assess: the hour's number created, the rest refused with Retry-After
      const statuses = answers.map((a) => a.status);
      expect(answers.filter((a) => a.status !== 201 && a.status !== 429).map((a) => a.text)).toEqual([]);
      expect(statuses.filter((s) => s === 201)).toHaveLength(TENANT_CREATIONS_PER_USER_PER_HOUR);
      expect(statuses.filter((s) => s === 429)).toHaveLength(100 - TENANT_CREATIONS_PER_USER_PER_HOUR);
      const refused = answers.find((a) => a.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const me = await api.request('GET', '/v1/me', { token: user.token });
      expect(me.body.memberships).toHaveLength(TENANT_CREATIONS_PER_USER_PER_HOUR);

      // Act / Assess: another user is not affected.
      const other = await signUp(api, 'bystander');
      expect((await post('/v1/tenants', other.token, { name: 'Mine' })).status).toBe(201);

      // Act / Assess: the day's budget holds across hours: two hours on, the hour's window is fresh, the
      // day's is not.
      let created = TENANT_CREATIONS_PER_USER_PER_HOUR;
      while (created < TENANT_CREATIONS_PER_USER_PER_DAY) {
        advanceHours(2.01);
        for (
          let i = 0;
          i < TENANT_CREATIONS_PER_USER_PER_HOUR && created < TENANT_CREATIONS_PER_USER_PER_DAY;
          i++, created++
        )
          expect((await post('/v1/tenants', user.token, { name: `Day ${created}` })).status).toBe(201);
      }
      advanceHours(2.01);
      expect((await post('/v1/tenants', user.token, { name: 'One too many' })).status).toBe(429);
    } finally {
      vi.useRealTimers();
    }
  });

  it(`revocation: ${REVOCATIONS_PER_USER_PER_HOUR} per user of 100 concurrent, and ${REVOCATIONS_PER_TENANT_PER_HOUR} per tenant across its admins`, {
    timeout: 300_000,
  }, async () => {
    // Prepare: a second admin, so that two admins can spend the tenant's budget
    const t = await tenantWithEveryRole(api, 'Limits');
    const second: TestUser = await signUp(api, 'admin2');
    await addMember(api, t.users.owner, t.tenantId, second, 'admin');
    // All within one hour's bucket of the sliding windows.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 60_000);
    try {
      // Act: 100 at once from one admin (a made-up user: each allowed one is a 404, each refused one a 429)
      const burst = await Promise.all(
        Array.from({ length: 100 }, () => revoke(t.tenantId, t.users.admin.token, newId('u'))),
      );
      // Assess
      const statuses = burst.map((a) => a.status);
      expect(statuses.filter((s) => s === 404)).toHaveLength(REVOCATIONS_PER_USER_PER_HOUR);
      expect(statuses.filter((s) => s === 429)).toHaveLength(100 - REVOCATIONS_PER_USER_PER_HOUR);
      // The owner spends the rest of the tenant's hour; then even a fresh admin is refused.
      const owner = await Promise.all(
        Array.from({ length: REVOCATIONS_PER_USER_PER_HOUR }, () =>
          revoke(t.tenantId, t.users.owner.token, newId('u')),
        ),
      );
      expect(owner.every((a) => a.status === 404)).toBe(true);
      expect(REVOCATIONS_PER_USER_PER_HOUR * 2).toBe(REVOCATIONS_PER_TENANT_PER_HOUR);
      const over = await revoke(t.tenantId, second.token, newId('u'));
      expect(over.status).toBe(429);
      // Another tenant's budget is its own.
      const elsewhere = await tenantWithEveryRole(api, 'Elsewhere');
      expect((await revoke(elsewhere.tenantId, elsewhere.users.admin.token, newId('u'))).status).toBe(404);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('what revocation does, per kind of location, in the answer and the audit log', () => {
  let t: TenantWithRoles;
  let managedId: string;
  let externalId: string;

  beforeAll(async () => {
    t = await tenantWithEveryRole(api, 'Kinds');
    const managed = await registerManaged(t.tenantId, t.users.admin.token);
    expect(managed.status, managed.text).toBe(201);
    managedId = managed.body.locationId;
    const external = await post(`/v1/tenants/${t.tenantId}/storage-locations`, t.users.admin.token, {
      root: 's3://revocation-lake/data',
      roleArn: 'arn:aws:iam::210987654321:role/strongroom-access',
    });
    expect(external.status, external.text).toBe(201);
    externalId = external.body.locationId;
  });

  it('external credentials last at most 900 seconds (400 naming durationSeconds above that)', async () => {
    // Act / Assess: longer than 900 seconds
    for (const durationSeconds of [901, 3600]) {
      const res = await vend(t.tenantId, t.users.editor.token, {
        location: externalId,
        access: 'read',
        durationSeconds,
      });
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors).toEqual([
        { path: 'body.durationSeconds', message: 'At most 900 for an external location' },
      ]);
    }

    // Act / Assess: the default
    const ok = await vend(t.tenantId, t.users.editor.token, { location: externalId, access: 'read' });
    expect(ok.status).toBe(200);
    expect(Date.parse(ok.body.expiration) - Date.now()).toBeLessThanOrEqual(900_000);

    // Act / Assess: managed ones may still last an hour.
    expect(
      (
        await vend(t.tenantId, t.users.editor.token, {
          location: managedId,
          access: 'read',
          durationSeconds: 3600,
        })
      ).status,
    ).toBe(200);
  });

  it('revoking a user: managed denied now; external not revocable, expiring by their expiry; the audit says the same', async () => {
    // Prepare: the viewer holds both kinds
    await vend(t.tenantId, t.users.viewer.token, { location: managedId, access: 'read' });
    const external = await vend(t.tenantId, t.users.viewer.token, { location: externalId, access: 'read' });
    expect(external.status).toBe(200);
    // Act
    const res = await revoke(t.tenantId, t.users.admin.token, t.users.viewer.userId);
    // Assess
    expect(res.status, res.text).toBe(200);
    // "At the latest": never before the credential's own expiry, and at most the recording margin after it.
    const expireBy: string = res.body.credentials?.[1]?.expireBy;
    expect(Date.parse(expireBy)).toBeGreaterThanOrEqual(Date.parse(external.body.expiration));
    expect(Date.parse(expireBy)).toBeLessThanOrEqual(
      Date.parse(external.body.expiration) + ISSUE_LATENCY_MARGIN_MS + 1000,
    );
    expect(res.body).toEqual({
      userId: t.users.viewer.userId,
      revokedBefore: expect.any(String),
      credentials: [
        {
          kind: 'managed',
          effect: 'denied',
          issuedBefore: res.body.revokedBefore,
          detail: `Every managed-location credential vended to this user issued before ${res.body.revokedBefore} is refused by an explicit deny on this tenant's own storage role; AWS applies it within seconds.`,
        },
        {
          kind: 'external',
          effect: 'not-revocable',
          expireBy,
          detail: expect.stringContaining(
            `they keep working until they expire, by ${expireBy} at the latest`,
          ),
        },
      ],
    });
    expect(res.body.credentials[1].detail).toContain(
      'Remote signing, which will stop every request at once, is not available yet.',
    );
    const [event] = await auditEvents(t.tenantId, 'storage-credentials.revoked');
    expect(event).toMatchObject({
      actor: { userId: t.users.admin.userId },
      details: {
        userId: t.users.viewer.userId,
        revokedBefore: res.body.revokedBefore,
        credentials: res.body.credentials,
      },
    });
    // The cached external credential is not handed out again.
    const again = await vend(t.tenantId, t.users.viewer.token, { location: externalId, access: 'read' });
    expect(again.body.accessKeyId).not.toBe(external.body.accessKeyId);
  });

  it('deleting a location: a managed one’s sessions are denied by its LocationId; an external one’s expire within 900 s', async () => {
    const doomed = await registerManaged(t.tenantId, t.users.admin.token);
    const held = await vend(t.tenantId, t.users.editor.token, {
      location: doomed.body.locationId,
      access: 'write',
    });
    expect(held.status).toBe(200);
    // Act
    const managed = await api.request(
      'DELETE',
      `/v1/tenants/${t.tenantId}/storage-locations/${doomed.body.locationId}`,
      {
        token: t.users.admin.token,
      },
    );
    const external = await api.request(
      'DELETE',
      `/v1/tenants/${t.tenantId}/storage-locations/${externalId}`,
      {
        token: t.users.admin.token,
      },
    );
    // Assess
    expect(managed.status, managed.text).toBe(200);
    expect(managed.body).toMatchObject({
      locationId: doomed.body.locationId,
      kind: 'managed',
      credentials: [{ kind: 'managed', effect: 'denied', issuedBefore: managed.body.revokedBefore }],
    });
    const deny = (await rolePolicies(t.tenantId))[REVOCATION_POLICY_NAME] as { Statement: unknown[] };
    expect(deny.Statement).toContainEqual({
      Effect: 'Deny',
      Action: 's3:*',
      Resource: '*',
      Condition: {
        StringEquals: { 'aws:PrincipalTag/LocationId': doomed.body.locationId },
        DateLessThan: { 'aws:TokenIssueTime': managed.body.revokedBefore },
      },
    });
    expect(external.status, external.text).toBe(200);
    expect(external.body.credentials).toEqual([
      expect.objectContaining({ kind: 'external', effect: 'not-revocable', expireBy: expect.any(String) }),
    ]);
    expect(Date.parse(external.body.credentials[0].expireBy) - Date.parse(external.body.revokedBefore)).toBe(
      900_000,
    );
    const removed = await auditEvents(t.tenantId, 'storage-location.removed');
    expect(removed.map((e) => e.details.credentials)).toEqual(
      expect.arrayContaining([managed.body.credentials, external.body.credentials]),
    );
    // Gone: nothing is vended for either any more.
    for (const id of [doomed.body.locationId, externalId])
      expect((await vend(t.tenantId, t.users.editor.token, { location: id, access: 'read' })).status).toBe(
        404,
      );
  });
});

describe('an IAM failure half-way changes nothing', () => {
  it('a revocation whose deny cannot be written answers 503 and leaves the list, the role and the audit log as they were', async () => {
    // Prepare
    const t = await tenantWithEveryRole(api, 'Faulty');
    const location = await registerManaged(t.tenantId, t.users.admin.token);
    expect(
      (await vend(t.tenantId, t.users.editor.token, { location: location.body.locationId, access: 'read' }))
        .status,
    ).toBe(200);
    const stateBefore = await ddb().send(
      new GetCommand({
        TableName: process.env.TENANT_DATA_TABLE,
        Key: { pk: t.tenantId, sk: 'STORAGE-ACCESS' },
      }),
    );
    const policiesBefore = await rolePolicies(t.tenantId);
    const failing = mockClient(IAMClient);
    failing
      .on(PutRolePolicyCommand)
      .rejects(
        new IAMServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
      );
    // Act
    let res: Awaited<ReturnType<typeof revoke>>;
    let deletion: Awaited<ReturnType<typeof revoke>>;
    try {
      res = await revoke(t.tenantId, t.users.admin.token, t.users.editor.userId);
      deletion = await api.request(
        'DELETE',
        `/v1/tenants/${t.tenantId}/storage-locations/${location.body.locationId}`,
        {
          token: t.users.admin.token,
        },
      );
    } finally {
      failing.restore();
    }
    // Assess
    expect(res.status, res.text).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(deletion.status, deletion.text).toBe(503);
    const stateAfter = await ddb().send(
      new GetCommand({
        TableName: process.env.TENANT_DATA_TABLE,
        Key: { pk: t.tenantId, sk: 'STORAGE-ACCESS' },
      }),
    );
    expect(stateAfter.Item?.entries ?? []).toEqual(stateBefore.Item?.entries ?? []);
    expect(await rolePolicies(t.tenantId)).toEqual(policiesBefore);
    expect(await auditEvents(t.tenantId, 'storage-credentials.revoked')).toEqual([]);
    expect(await auditEvents(t.tenantId, 'storage-location.removed')).toEqual([]);
    const list = await api.request('GET', `/v1/tenants/${t.tenantId}/storage-locations`, {
      token: t.users.admin.token,
    });
    expect(list.body.items.map((l: { locationId: string }) => l.locationId)).toEqual([
      location.body.locationId,
    ]);
    // And once IAM is back, the same revocation goes through.
    expect((await revoke(t.tenantId, t.users.admin.token, t.users.editor.userId)).status).toBe(200);
  });
});
