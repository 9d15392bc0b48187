import { IAMClient, IAMServiceException, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { emulatorIam, managedSessionDecision, tenantAuditEvents } from '../support/storage-sessions.js';

/**
 * A vend already past its authorization when the caller's access is reduced: the member removed or demoted,
 * or the location deleted, while STS is issuing. The vend re-reads member and location after STS and
 * withholds what it got (409, audited by access key id); a vend that re-read before the change got its
 * credential before the revocation's cutoff, which the deny covers (IAM policy simulator). STS is held in
 * the test process (the local API runs the real handlers in it) until the change has been made.
 */
const api = useTestApi();
let endpoint: string;
let iam: IAMClient;

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  iam = emulatorIam(endpoint);
});

/**
 * Holds the storage function's AssumeRole calls for one user (the vend's; tenant-data sessions pass) until
 * `release()`; `reached` settles when one is being held.
 */
function holdVendingSts(userId: string) {
  const original = STSClient.prototype.send;
  let reachedResolve!: () => void;
  const reached = new Promise<void>((resolve) => {
    reachedResolve = resolve;
  });
  let releaseResolve!: () => void;
  const released = new Promise<void>((resolve) => {
    releaseResolve = resolve;
  });
  STSClient.prototype.send = async function (this: STSClient, command: any, ...rest: any[]) {
    if (command instanceof AssumeRoleCommand && command.input.SourceIdentity === userId) {
      reachedResolve();
      await released;
    }
    return (original as any).call(this, command, ...rest);
  } as typeof original;
  restoreSts = () => {
    STSClient.prototype.send = original;
  };
  return { reached, release: releaseResolve };
}
let restoreSts: (() => void) | undefined;
afterEach(() => {
  restoreSts?.();
  restoreSts = undefined;
});

const post = (path: string, token: string, body: unknown = {}) => api.request('POST', path, { token, body });
const vend = (t: TenantWithRoles, token: string, location: string, access: 'read' | 'write' = 'read') =>
  post(`/v1/tenants/${t.tenantId}/storage-credentials`, token, { location, access, durationSeconds: HOUR });
const HOUR = 3600;
const issuedAt = (expiration: string) => new Date(Date.parse(expiration) - HOUR * 1000).toISOString();
const auditEvents = (tenantId: string, action: string) => tenantAuditEvents(endpoint, tenantId, action);

async function tenantWithLocation(name: string) {
  const t = await tenantWithEveryRole(api, name);
  const location = await post(`/v1/tenants/${t.tenantId}/storage-locations`, t.users.admin.token, {
    managed: true,
  });
  expect(location.status, location.text).toBe(201);
  return { t, locationId: location.body.locationId as string };
}

/**
 * Starts a vend that STS holds, makes `change` while it is held, then lets STS answer after the revocation's
 * cutoff (whole seconds, rounded up) has passed: the credential is one its deny does not cover.
 */
async function vendDuring(
  t: TenantWithRoles,
  user: { token: string; userId: string },
  locationId: string,
  access: 'read' | 'write',
  change: () => Promise<{ status: number; text: string }>,
  expectedChangeStatus: number,
) {
  const sts = holdVendingSts(user.userId);
  const pending = vend(t, user.token, locationId, access);
  await sts.reached;
  const changed = await change();
  expect(changed.status, changed.text).toBe(expectedChangeStatus);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  sts.release();
  return pending;
}

function expectWithheld(res: { status: number; text: string; body: { type?: string } }) {
  expect(res.status, res.text).toBe(409);
  expect(res.body.type).toMatch(/storage-access-changed$/);
  expect(res.text).not.toMatch(/ASIA|secretAccessKey|sessionToken/);
}

describe('a vend under way when access is reduced', () => {
  it('a member removed while STS is issuing gets 409; the credential is withheld and audited, never as vended', async () => {
    // Prepare
    const { t, locationId } = await tenantWithLocation('Removal');
    const editor = t.users.editor;
    // Act
    const res = await vendDuring(
      t,
      editor,
      locationId,
      'write',
      () =>
        api.request('DELETE', `/v1/tenants/${t.tenantId}/members/${editor.userId}`, {
          token: t.users.owner.token,
        }),
      204,
    );
    // Assess
    expectWithheld(res);
    const withheld = await auditEvents(t.tenantId, 'storage-credentials.withheld');
    expect(withheld).toHaveLength(1);
    expect(withheld[0]!.details).toMatchObject({
      userId: editor.userId,
      locationId,
      reason: 'member-removed',
    });
    expect(withheld[0]!.details.accessKeyId).toMatch(/^[A-Z0-9]{16,}$/);
    expect(JSON.stringify(withheld)).not.toMatch(/secretAccessKey|sessionToken/);
    expect(await auditEvents(t.tenantId, 'storage-credentials.vended')).toEqual([]);
    // What was withheld is a credential the removal's deny does not cover: withholding it is what stops it.
    expect(
      await managedSessionDecision(iam, {
        tenantId: t.tenantId,
        userId: editor.userId,
        locationId,
        issued: issuedAt(withheld[0]!.details.expiration),
        action: 's3:GetObject',
      }),
    ).toBe('Allowed');
    // The removed member cannot try again.
    expect((await vend(t, editor.token, locationId)).status).toBe(404);
  });

  it('a member demoted below write while STS is issuing gets 409; a read vend afterwards works at once', async () => {
    // Prepare
    const { t, locationId } = await tenantWithLocation('Demotion');
    const editor = t.users.editor;
    // Act
    const res = await vendDuring(
      t,
      editor,
      locationId,
      'write',
      () =>
        api.request('PATCH', `/v1/tenants/${t.tenantId}/members/${editor.userId}`, {
          token: t.users.owner.token,
          body: { role: 'viewer' },
        }),
      200,
    );
    // Assess
    expectWithheld(res);
    const [event] = await auditEvents(t.tenantId, 'storage-credentials.withheld');
    expect(event!.details).toMatchObject({ reason: 'member-access-reduced' });
    // The fence went with the new role: what the viewer may have, they get now.
    const read = await vend(t, editor.token, locationId, 'read');
    expect(read.status, read.text).toBe(200);
    expect((await vend(t, editor.token, locationId, 'write')).status).toBe(403);
  });

  it('a location deleted while STS is issuing: 409, the location is gone, nothing was vended for it', async () => {
    // Prepare
    const { t, locationId } = await tenantWithLocation('Deletion');
    const editor = t.users.editor;
    // Act
    const res = await vendDuring(
      t,
      editor,
      locationId,
      'read',
      () =>
        api.request('DELETE', `/v1/tenants/${t.tenantId}/storage-locations/${locationId}`, {
          token: t.users.admin.token,
        }),
      200,
    );
    // Assess
    expectWithheld(res);
    const [event] = await auditEvents(t.tenantId, 'storage-credentials.withheld');
    expect(event!.details).toMatchObject({ reason: 'location-removed', locationId });
    expect(await auditEvents(t.tenantId, 'storage-credentials.vended')).toEqual([]);
    expect((await vend(t, editor.token, locationId)).status).toBe(404);
  });

  it('another member’s vend during a removal is not held up (the fence is the removed member’s alone)', async () => {
    // Prepare
    const { t, locationId } = await tenantWithLocation('Bystander');
    const editor = t.users.editor;
    // Act
    const res = await vendDuring(
      t,
      t.users.viewer,
      locationId,
      'read',
      () =>
        api.request('DELETE', `/v1/tenants/${t.tenantId}/members/${editor.userId}`, {
          token: t.users.owner.token,
        }),
      204,
    );
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(await auditEvents(t.tenantId, 'storage-credentials.withheld')).toEqual([]);
  });

  it('a vend finished before the removal began is covered by the removal’s deny (IAM policy simulator)', async () => {
    // Prepare
    const { t, locationId } = await tenantWithLocation('Before');
    const editor = t.users.editor;
    const vended = await vend(t, editor.token, locationId);
    expect(vended.status, vended.text).toBe(200);
    const issued = issuedAt(vended.body.expiration);
    // Act
    const removed = await api.request('DELETE', `/v1/tenants/${t.tenantId}/members/${editor.userId}`, {
      token: t.users.owner.token,
    });
    // Assess
    expect(removed.status, removed.text).toBe(204);
    expect(
      await managedSessionDecision(iam, {
        tenantId: t.tenantId,
        userId: editor.userId,
        locationId,
        issued,
        action: 's3:GetObject',
      }),
    ).toBe('ExplicitlyDenied');
  });

  it('a removal that fails on IAM (503) lifts its fence: the member still vends at once', async () => {
    // Prepare: the member holds managed credentials, so the removal must write the role's deny.
    const { t, locationId } = await tenantWithLocation('Faulty');
    const editor = t.users.editor;
    expect((await vend(t, editor.token, locationId)).status).toBe(200);
    const failing = mockClient(IAMClient);
    failing
      .on(PutRolePolicyCommand)
      .rejects(
        new IAMServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
      );
    // Act
    let removal: Awaited<ReturnType<typeof api.request>>;
    try {
      removal = await api.request('DELETE', `/v1/tenants/${t.tenantId}/members/${editor.userId}`, {
        token: t.users.owner.token,
      });
    } finally {
      failing.restore();
    }
    // Assess
    expect(removal.status, removal.text).toBe(503);
    const members = await api.request('GET', `/v1/tenants/${t.tenantId}/members?limit=100`, {
      token: t.users.owner.token,
    });
    expect(members.body.items.map((m: { userId: string }) => m.userId)).toContain(editor.userId);
    const again = await vend(t, editor.token, locationId, 'write');
    expect(again.status, again.text).toBe(200);
    expect(await auditEvents(t.tenantId, 'storage-credentials.withheld')).toEqual([]);
  });
});
