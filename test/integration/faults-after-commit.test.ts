import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { clientConfig } from '../../shared/aws/runtime.js';
import { invitationSk, memberSk, userKey } from '../../shared/domain/item-layout.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import {
  type AwsCall,
  countingCalls,
  type FaultKind,
  failingCall,
  installAwsCallTap,
  signatureOf,
  untappedClient,
} from '../support/aws-call-tap.js';
import { userWithPasskey } from '../support/fault-scenarios.js';
import {
  addMember,
  createTenant,
  enableMfa,
  invite,
  signUp,
  type TestUser,
} from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { problemType, type TestResponse, useTestApi } from '../support/local-api.js';
import { partitionItems, platformEventsBy } from '../support/table-reads.js';
import { provisionedAuditStore, provisionedSequencer } from './audit/support.js';

/**
 * The partial writes the fault harness (fault-injection.test.ts) found, each pinned at its step: the AWS call
 * that fails, the exact answer, and the exact state after it (DESIGN §1.4: a change is made whole or not at
 * all, and an answer never says it failed when it was made).
 */
const api = useTestApi();

beforeAll(() => installAwsCallTap());

type Table = 'IDENTITY_TABLE' | 'TENANT_DATA_TABLE' | 'AUDIT_TABLE';

/**
 * `act` with the `occurrence`-th DynamoDB `command` on `tables` (the env vars naming them, in order) failing with
 * `kind`; `injected` is shown the call that failed.
 */
async function withDynamoFault(
  command: string,
  tables: Table | Table[],
  act: () => Promise<TestResponse>,
  kind: FaultKind = 'server-error',
  occurrence = 1,
  injected?: (call: AwsCall) => void,
): Promise<TestResponse> {
  const names = [tables].flat().map((t) => process.env[t]);
  const run = await failingCall(
    { signature: ['DynamoDBClient', command, ...names].join(' '), occurrence },
    kind,
    act,
  );
  expect(run.injected, `${command} was called`).toBeDefined();
  injected?.(run.injected!);
  return run.result;
}

const sessionIdOf = (token: string) => token.split('.')[1]!;

async function sessionItem(token: string) {
  return (await partitionItems(process.env.IDENTITY_TABLE!, `SESSION#${sessionIdOf(token)}`))[0];
}

async function profile(user: TestUser) {
  return (await partitionItems(process.env.IDENTITY_TABLE!, userKey(user.userId).pk)).find(
    (i) => i.sk === userKey(user.userId).sk,
  )!;
}

/** A user signed in twice: `token` (the caller) and `other`. */
async function userWithTwoSessions(label: string): Promise<TestUser & { other: string }> {
  const user = await signUp(api, label);
  const login = await api.request('POST', '/v1/auth/login', {
    body: { email: user.email, password: user.password },
  });
  expect(login.status, login.text).toBe(200);
  return { ...user, other: login.body.token };
}

describe('ending the other sessions: the epoch move and its audit event are one write, the clean-up is not', () => {
  it('DELETE /v1/me/sessions whose session clean-up fails: 200, audited, and the surviving item is refused', async () => {
    // Prepare: two sessions of one account
    const user = await userWithTwoSessions('revoke-cleanup');

    // Act: the batch delete of the other session's item fails after the epoch moved
    const res = await withDynamoFault('BatchWriteItemCommand', 'IDENTITY_TABLE', () =>
      api.request('DELETE', '/v1/me/sessions', { token: user.token }),
    );

    // Assess: the change took effect and says so; its event is there; the item left behind works nowhere
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ revoked: 1 });
    expect(await sessionItem(user.other)).toMatchObject({ credentialEpoch: 0 });
    expect((await profile(user)).credentialEpoch).toBe(1);
    const events = await platformEventsBy('auth.session.revoked', user.userId);
    expect(events.map((e) => e.details)).toEqual([{ allOthers: true, count: 1 }]);
    const stale = await api.request('GET', '/v1/me', { token: user.other });
    expect(stale.status).toBe(401);
    expect(problemType(stale)).toBe('session-revoked');
    const list = await api.request('GET', '/v1/me/sessions', { token: user.token });
    expect(list.body.items.map((s: { sessionId: string }) => s.sessionId)).toEqual([sessionIdOf(user.token)]);

    // Act: the next "sign out everywhere else" deletes the leftover item, and does not count it again
    const again = await api.request('DELETE', '/v1/me/sessions', { token: user.token });

    // Assess
    expect(again.body).toEqual({ revoked: 0 });
    expect(await sessionItem(user.other)).toBeUndefined();
  });

  it.each([
    ['listing the other sessions', 'QueryCommand', ['IDENTITY_TABLE']],
    ['the epoch move with its event', 'TransactWriteItemsCommand', ['IDENTITY_TABLE', 'AUDIT_TABLE']],
  ] as const)('DELETE /v1/me/sessions failing at %s: 503 and nothing changed', async (_, command, tables) => {
    // Prepare
    const user = await userWithTwoSessions('revoke-before');

    // Act
    const res = await withDynamoFault(command, [...tables], () =>
      api.request('DELETE', '/v1/me/sessions', { token: user.token }),
    );

    // Assess: 503 to retry; the other session still works, the epoch did not move, nothing audited
    expect(res.status, res.text).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await profile(user)).credentialEpoch).toBeUndefined();
    expect((await api.request('GET', '/v1/me', { token: user.other })).status).toBe(200);
    expect(await platformEventsBy('auth.session.revoked', user.userId)).toEqual([]);
  });

  it('POST /v1/me/password whose session clean-up fails: 200 and the old session is refused', async () => {
    // Prepare
    const user = await userWithTwoSessions('password-cleanup');

    // Act
    const res = await withDynamoFault('BatchWriteItemCommand', 'IDENTITY_TABLE', () =>
      api.request('POST', '/v1/me/password', {
        token: user.token,
        body: { currentPassword: user.password, newPassword: 'a-new-password-long-enough' },
      }),
    );

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ revokedSessions: 1 });
    expect(await sessionItem(user.other)).toBeDefined();
    const stale = await api.request('GET', '/v1/me/sessions', { token: user.other });
    expect(stale.status).toBe(401);
    expect(problemType(stale)).toBe('session-revoked');
    expect(await platformEventsBy('auth.password.changed', user.userId)).toHaveLength(1);
  });
});

/** `act`'s AWS calls, as `Client Command tables`. */
async function callsOf(act: () => Promise<TestResponse>): Promise<{ res: TestResponse; calls: string[] }> {
  let res: TestResponse | undefined;
  const calls = await countingCalls(async () => {
    res = await act();
  });
  return { res: res!, calls: calls.map(signatureOf) };
}

describe('an update is answered from what it wrote: no read follows its commit', () => {
  it('PATCH /v1/me/passkeys/{passkeyId}: the transaction is the last call; the answer is the renamed passkey', async () => {
    // Prepare: an account with a passkey
    const { user, passkeyId } = await userWithPasskey(api);

    // Act
    const { res, calls } = await callsOf(() =>
      api.request('PATCH', `/v1/me/passkeys/${passkeyId}`, { token: user.token, body: { name: 'Renamed' } }),
    );

    // Assess: nothing after the commit could fail it; the answer is the stored passkey
    expect(res.status, res.text).toBe(200);
    expect(calls.at(-1)).toMatch(/^DynamoDBClient TransactWriteItemsCommand /);
    const list = await api.request('GET', '/v1/me/passkeys', { token: user.token });
    expect(list.body.items).toEqual([res.body]);
    expect(res.body.name).toBe('Renamed');
  });

  it('PATCH /v1/tenants/{tenantId}: the transaction is the last call; the answer is the stored tenant', async () => {
    // Prepare
    const owner = await signUp(api, 'tenant-patch');
    const tenantId = await createTenant(api, owner);

    // Act
    const { res, calls } = await callsOf(() =>
      api.request('PATCH', `/v1/tenants/${tenantId}`, {
        token: owner.token,
        body: { name: 'Renamed', settings: { sessionIdleSeconds: 86_400 } },
      }),
    );

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(calls.at(-1)).toMatch(/^DynamoDBClient TransactWriteItemsCommand /);
    const stored = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });
    expect(res.body).toEqual(stored.body);
    expect(res.body).toMatchObject({ name: 'Renamed', settings: { sessionIdleSeconds: 86_400 } });
  });

  it('PATCH /v1/tenants/{tenantId} failing at its transaction: 503 and the tenant as it was', async () => {
    // Prepare
    const owner = await signUp(api, 'tenant-patch-fault');
    const tenantId = await createTenant(api, owner);
    const before = await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token });

    // Act
    const res = await withDynamoFault('TransactWriteItemsCommand', ['TENANT_DATA_TABLE', 'AUDIT_TABLE'], () =>
      api.request('PATCH', `/v1/tenants/${tenantId}`, { token: owner.token, body: { name: 'Renamed' } }),
    );

    // Assess
    expect(res.status, res.text).toBe(503);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token })).body).toEqual(
      before.body,
    );
  });
});

describe('a membership change: nothing after its commit can fail it, and what is left is refused at use', () => {
  it('POST /v1/me/invitations/{id}/accept: the transaction is the last call; the answer names the tenant', async () => {
    // Prepare: an invitation to a verified account
    const owner = await signUp(api, 'accept-owner');
    const tenantId = await createTenant(api, owner, 'Accepting Co');
    const invitee = await signUp(api, 'accept-invitee');
    const invitationId = await invite(api, owner, tenantId, invitee.email, 'editor');

    // Act
    const { res, calls } = await callsOf(() =>
      api.request('POST', `/v1/me/invitations/${invitationId}/accept`, { token: invitee.token }),
    );

    // Assess
    expect(res.status, res.text).toBe(201);
    expect(calls.at(-1)).toMatch(/^DynamoDBClient TransactWriteItemsCommand /);
    expect(res.body).toMatchObject({
      tenant: { tenantId, name: 'Accepting Co' },
      member: { userId: invitee.userId, role: 'editor' },
    });
  });

  it('DELETE …/members/{userId} whose withdrawal of their invitations fails: 204, and the invitation is refused', async () => {
    // Prepare: an admin who invited someone, and the owner who removes the admin
    const owner = await signUp(api, 'remove-owner');
    const tenantId = await createTenant(api, owner);
    const admin = await signUp(api, 'remove-admin');
    await addMember(api, owner, tenantId, admin, 'admin');
    const invitee = await signUp(api, 'remove-invitee');
    const invitationId = await invite(api, admin, tenantId, invitee.email, 'editor');
    const withdrawal = (call: { input: Record<string, any> }) =>
      JSON.stringify(call.input.TransactItems ?? []).includes(invitationSk(invitationId));

    // Act: the removal commits; the transaction withdrawing the admin's invitation fails
    let injected: boolean | undefined;
    const res = await withDynamoFault(
      'TransactWriteItemsCommand',
      ['TENANT_DATA_TABLE', 'AUDIT_TABLE'],
      () => api.request('DELETE', `/v1/tenants/${tenantId}/members/${admin.userId}`, { token: owner.token }),
      'server-error',
      2,
      (call) => {
        injected = withdrawal(call);
      },
    );

    // Assess: removed (and audited); the invitation is still stored, but its sender can no longer grant it
    expect(injected).toBe(true);
    expect(res.status, res.text).toBe(204);
    const items = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
    expect(items.some((i) => i.sk === memberSk(admin.userId))).toBe(false);
    expect(items.some((i) => i.sk === invitationSk(invitationId))).toBe(true);
    const events = await partitionItems(process.env.AUDIT_TABLE!, tenantId);
    expect(events.filter((e) => e.action === 'member.removed').map((e) => e.resource.id)).toEqual([
      admin.userId,
    ]);
    expect(events.filter((e) => e.action === 'invitation.revoked')).toEqual([]);
    const accept = await api.request('POST', `/v1/me/invitations/${invitationId}/accept`, {
      token: invitee.token,
    });
    expect(accept.status, accept.text).toBe(404);
    const after = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
    expect(after.some((i) => i.sk === memberSk(invitee.userId))).toBe(false);
  });
});

describe('a tenant export: nothing but its audit event follows the upload', () => {
  it('POST /v1/tenants/{t}/exports signs its download URL before the upload', async () => {
    // Prepare
    const owner = await signUp(api, 'export-owner');
    const tenantId = await createTenant(api, owner);

    // Act
    const { res, calls } = await callsOf(() =>
      api.request('POST', `/v1/tenants/${tenantId}/exports`, { token: owner.token }),
    );

    // Assess: the signing (the presigner runs GetObject's middleware) comes before the upload; after the
    // upload only the audit event is written
    expect(res.status, res.text).toBe(201);
    const upload = calls.findIndex((c) => c.startsWith('S3Client PutObjectCommand'));
    expect(calls.findIndex((c) => c.startsWith('S3Client GetObjectCommand'))).toBeLessThan(upload);
    expect(calls.slice(upload + 1)).toEqual([`DynamoDBClient PutItemCommand ${process.env.AUDIT_TABLE}`]);
  });
});

/** Every object version and delete marker under a tenant's export prefix (the harness's own client). */
async function exportObjects(tenantId: string): Promise<string[]> {
  const s3 = untappedClient(
    new S3Client({
      endpoint: inject('awsEndpoint'),
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  );
  try {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: process.env.EXPORT_BUCKET!,
        Prefix: `tenants/${tenantId}/exports/`,
      }),
    );
    return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => v.Key!);
  } finally {
    s3.destroy();
  }
}

describe('a tenant export whose audit event fails: the archive is withdrawn', () => {
  it.each(['throttling', 'server-error', 'timeout'] as const)(
    'POST /v1/tenants/{t}/exports with its audit event failing (%s): 503, no archive, no event, 404 for its id',
    async (kind) => {
      // Prepare: an owner's tenant with one export made before
      const owner = await signUp(api, `export-withdrawn-${kind}`);
      const tenantId = await createTenant(api, owner);
      const first = await api.request('POST', `/v1/tenants/${tenantId}/exports`, { token: owner.token });
      expect(first.status, first.text).toBe(201);
      const before = await exportObjects(tenantId);
      const eventsBefore = await partitionItems(process.env.AUDIT_TABLE!, tenantId);

      // Act: the second export's `tenant.exported` event fails after its upload
      let exportId: string | undefined;
      const res = await withDynamoFault(
        'PutItemCommand',
        'AUDIT_TABLE',
        () => api.request('POST', `/v1/tenants/${tenantId}/exports`, { token: owner.token }),
        kind,
        1,
        (call) => {
          exportId = /x_[0-9a-z]{26}/.exec(JSON.stringify(call.input))?.[0];
        },
      );

      // Assess: a transient failure; the bucket and the audit log as before; the new id is unknown
      expect(res.status, res.text).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(exportId).toBeDefined();
      expect(exportId).not.toBe(first.body.exportId);
      expect(await exportObjects(tenantId)).toEqual(before);
      expect(before).toEqual([`tenants/${tenantId}/exports/${first.body.exportId}.json`]);
      expect(await partitionItems(process.env.AUDIT_TABLE!, tenantId)).toEqual(eventsBefore);
      const gone = await api.request('GET', `/v1/tenants/${tenantId}/exports/${exportId}`, {
        token: owner.token,
      });
      expect(gone.status, gone.text).toBe(404);
      expect(problemType(gone)).toBe('not-found');
      const kept = await api.request('GET', `/v1/tenants/${tenantId}/exports/${first.body.exportId}`, {
        token: owner.token,
      });
      expect(kept.status, kept.text).toBe(200);

      // Act: the retry
      const retry = await api.request('POST', `/v1/tenants/${tenantId}/exports`, { token: owner.token });

      // Assess: a new archive, audited
      expect(retry.status, retry.text).toBe(201);
      expect((await exportObjects(tenantId)).sort()).toEqual(
        [first.body.exportId, retry.body.exportId]
          .map((id) => `tenants/${tenantId}/exports/${id}.json`)
          .sort(),
      );
    },
  );
});

describe('a tenant deletion that meets a fault: nothing changed, or closed and finished by the retry', () => {
  /** The tenant's key state in KMS (the harness's own client). */
  async function keyState(keyArn: string): Promise<string | undefined> {
    const kms = untappedClient(new KMSClient(clientConfig()));
    try {
      return (await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.KeyState;
    } finally {
      kms.destroy();
    }
  }

  it.each([
    ['ListResourceTagsCommand', 'throttling', false],
    ['DescribeKeyCommand', 'server-error', false],
    ['DisableKeyCommand', 'throttling', true],
    ['ScheduleKeyDeletionCommand', 'timeout', true],
  ] as const)('DELETE /v1/tenants/{t} with KMS %s failing (%s)', async (command, kind, closes) => {
    // Prepare: an owner with MFA, an admin, an API key of the owner's
    const owner = await signUp(api, `delete-kms-${command}`);
    const mfa = await enableMfa(api, owner);
    const token = owner.token;
    const tenantId = await createTenant(api, owner);
    const admin = await signUp(api, `delete-kms-admin-${command}`);
    await addMember(api, { token }, tenantId, admin, 'admin');
    const key = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token,
      body: { name: 'ci', scopes: ['tenant:read'] },
    });
    expect(key.status, key.text).toBe(201);
    const before = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
    const keyArn = before.find((i) => i.sk === 'TENANT')!.keyArn as string;
    const eventsBefore = await partitionItems(process.env.AUDIT_TABLE!, tenantId);

    // Act: the deletion with its KMS step failing
    const run = await failingCall({ signature: `KMSClient ${command}`, occurrence: 1 }, kind, () =>
      api.request('DELETE', `/v1/tenants/${tenantId}`, {
        token,
        body: { recoveryCode: mfa.recoveryCodes[0] },
      }),
    );

    // Assess: 503 with Retry-After; the tenant either as it was, or closed to everyone
    expect(run.injected, `${command} was called`).toBeDefined();
    expect(run.result.status, run.result.text).toBe(503);
    expect(run.result.headers.get('retry-after')).toMatch(/^\d+$/);
    const after = await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId);
    const events = await partitionItems(process.env.AUDIT_TABLE!, tenantId);
    const reads = {
      owner: await api.request('GET', `/v1/tenants/${tenantId}`, { token }),
      ownerWrite: await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
        token,
        body: { name: 'late', scopes: ['tenant:read'] },
      }),
      admin: await api.request('GET', `/v1/tenants/${tenantId}`, { token: admin.token }),
      apiKey: await api.request('GET', `/v1/tenants/${tenantId}`, { token: key.body.key }),
    };
    if (!closes) {
      // A check before the first write: nothing changed, the tenant works, the key is untouched
      expect(after).toEqual(before);
      expect(events).toEqual(eventsBefore);
      expect(await keyState(keyArn)).toBe('Enabled');
      expect([reads.owner.status, reads.admin.status, reads.apiKey.status]).toEqual([200, 200, 200]);
      expect(reads.ownerWrite.status, reads.ownerWrite.text).toBe(201);
    } else {
      // Closed: marked, every other access gone, nothing reaches it; the tenant key not yet pending deletion
      const tenant = after.find((i) => i.sk === 'TENANT')!;
      expect(tenant.closingBy).toBe(owner.userId);
      expect(after.map((i) => i.sk).sort()).toEqual(['TENANT', memberSk(owner.userId)].sort());
      expect(events.filter((e) => e.action === 'tenant.deletion-started')).toHaveLength(1);
      expect(await keyState(keyArn)).toBe(command === 'DisableKeyCommand' ? 'Enabled' : 'Disabled');
      expect([reads.owner.status, reads.ownerWrite.status, reads.admin.status]).toEqual([404, 404, 404]);
      expect(reads.apiKey.status).toBe(401);
      expect(problemType(reads.owner)).toBe('not-found');
    }

    // Act: the owner retries with a new code
    const { res: retry, calls } = await callsOf(() =>
      api.request('DELETE', `/v1/tenants/${tenantId}`, {
        token,
        body: { recoveryCode: mfa.recoveryCodes[1] },
      }),
    );

    // Assess: gone; the key pending deletion (not disabled twice); one start and one end in a chain that verifies
    expect(retry.status, retry.text).toBe(204);
    expect(await partitionItems(process.env.TENANT_DATA_TABLE!, tenantId)).toEqual([]);
    expect(await keyState(keyArn)).toBe('PendingDeletion');
    expect(calls.filter((c) => c === 'KMSClient DisableKeyCommand')).toHaveLength(
      command === 'ScheduleKeyDeletionCommand' ? 0 : 1,
    );
    const log = await partitionItems(process.env.AUDIT_TABLE!, tenantId);
    const actions = log.map((e) => e.action).filter(Boolean);
    expect(actions.filter((a) => a === 'tenant.deletion-started')).toHaveLength(1);
    expect(actions.filter((a) => a === 'tenant.deleted')).toHaveLength(1);
    expect(actions.filter((a) => a === 'api-key.revoked')).toHaveLength(closes ? 1 : 2);
    await provisionedSequencer().sequence(tenantId);
    const scope = mintTenantScope({ tenantId, userId: owner.userId });
    expect(
      await (await provisionedAuditStore().readerFor(scope)).verify({ pendingWindowMs: 60_000 }),
    ).toMatchObject({
      ok: true,
      complete: true,
      checked: actions.length,
    });
  });
});
