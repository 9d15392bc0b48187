import { describe, expect, it, vi } from 'vitest';
import type { Permission, Role } from '../../../shared/domain/permissions.js';
import { TooManyRequestsError } from '../../../shared/errors.js';
import type { MailMessage } from '../../../shared/mail/mailer.js';
import {
  INVITATION_LIFETIME_MS,
  INVITATION_LIMITS,
  InvitationService,
} from '../../../shared/services/invitations.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import type { InvitationRecord, TenantStore } from '../../../shared/store/tenant-store.js';
import { tenantCallerAs } from '../../support/tenant-callers.js';

const T = 't_01jx0000000000000000000001';
const ADMIN = 'u_01jx0000000000000000000001';
const INVITEE = 'u_01jx0000000000000000000002';
const NOW = Date.parse('2026-11-22T12:00:00Z');

const caller = (role: Role = 'admin', permissions?: ReadonlySet<Permission>) =>
  tenantCallerAs({ tenantId: T, userId: ADMIN, role, permissions });

function fixture() {
  const tenants = {
    getMember: vi.fn(async (_scope, userId: string) =>
      userId === ADMIN
        ? {
            tenantId: T,
            userId,
            role: 'admin',
            email: 'ada@example.test',
            name: 'Ada',
            addedAt: '',
            addedBy: '',
          }
        : undefined,
    ),
    pendingInvitationsTo: vi.fn(async () => [] as InvitationRecord[]),
    createInvitation: vi.fn(async () => {}),
    getTenant: vi.fn(async () => ({ tenantId: T, name: 'Acme' })),
    acceptInvitation: vi.fn(async () => 'accepted' as const),
  };
  const identity = { getUser: vi.fn() };
  const lookups = { invitationsTo: vi.fn(), invitationTo: vi.fn(), tenantNames: vi.fn() };
  const audit = {
    auditPut: vi.fn((_scope, event) => ({ Put: { TableName: 'audit', Item: { action: event.action } } })),
  } as unknown as AuditRecorder;
  const rateLimiter = {
    consume: vi.fn(async (_name: string, _key: string, _limit: number, _window: number) => {}),
  };
  const mailer = { send: vi.fn(async (_message: MailMessage) => {}) };
  const service = new InvitationService({
    tenants: tenants as unknown as TenantStore,
    identity,
    lookups,
    audit,
    rateLimiter,
    mail: { mailer, links: { consoleUrl: 'https://console.example.test/console/' } },
    now: () => NOW,
  });
  return { service, tenants, identity, lookups, rateLimiter, mailer };
}

describe('sending an invitation', () => {
  it('makes the same calls whatever the address: nothing about its account or membership is read', async () => {
    const calls = [];
    for (const email of ['unknown@example.test', 'registered@example.test', 'ada@example.test']) {
      // Prepare
      const { service, tenants, identity, lookups, rateLimiter } = fixture();

      // Act
      const answer = await service.invite(caller(), { email, role: 'viewer' });

      // Assess
      expect(identity.getUser).not.toHaveBeenCalled();
      for (const lookup of Object.values(lookups)) expect(lookup).not.toHaveBeenCalled();
      expect(answer.expiresAt).toBe(new Date(NOW + INVITATION_LIFETIME_MS).toISOString());
      calls.push({
        member: tenants.getMember.mock.calls.map((c) => c[1]),
        pending: tenants.pendingInvitationsTo.mock.calls.length,
        writes: tenants.createInvitation.mock.calls.length,
        limits: rateLimiter.consume.mock.calls,
      });
    }
    expect(calls[1]).toEqual(calls[0]);
    expect(calls[2]).toEqual(calls[0]);
  });

  it('counts against the tenant and the inviter before anything is written, and stops at either limit', async () => {
    // Prepare
    const { service, tenants, rateLimiter } = fixture();
    rateLimiter.consume.mockImplementation(async (name: string) => {
      if (name === INVITATION_LIMITS.perTenant.name) throw new TooManyRequestsError(60);
    });

    // Act
    const result = service.invite(caller(), { email: 'x@example.test', role: 'viewer' });

    // Assess
    await expect(result).rejects.toMatchObject({ status: 429 });
    expect(rateLimiter.consume).toHaveBeenCalledWith(
      INVITATION_LIMITS.perTenant.name,
      T,
      INVITATION_LIMITS.perTenant.limit,
      INVITATION_LIMITS.perTenant.windowSeconds,
    );
    expect(tenants.createInvitation).not.toHaveBeenCalled();
  });

  it("refuses roles beyond the caller's effective permissions before counting or writing", async () => {
    // Prepare: an owner acting through a key without members:manage-admins-owners.
    const { service, tenants, rateLimiter } = fixture();
    const ownerKey = caller('owner', new Set<Permission>(['members:manage', 'members:read']));

    // Act / Assess
    for (const role of ['owner', 'admin'] as const) {
      await expect(service.invite(ownerKey, { email: 'x@example.test', role })).rejects.toMatchObject({
        status: 403,
        type: 'role-not-grantable',
      });
    }
    expect(rateLimiter.consume).not.toHaveBeenCalled();
    expect(tenants.createInvitation).not.toHaveBeenCalled();
  });

  it('replaces an earlier pending invitation of the address only when the caller could manage its role', async () => {
    // Prepare
    const { service, tenants } = fixture();
    const earlier = (invitationId: string, role: Role) =>
      ({ invitationId, role, email: 'x@example.test' }) as InvitationRecord;
    tenants.pendingInvitationsTo.mockResolvedValueOnce([
      earlier('n_viewer', 'viewer'),
      earlier('n_owner', 'owner'),
    ]);

    // Act
    await service.invite(caller(), { email: 'X@Example.test', role: 'editor' });

    // Assess
    expect(tenants.pendingInvitationsTo).toHaveBeenCalledWith(expect.anything(), 'x@example.test', NOW);
    const [, invitation, replaces] = tenants.createInvitation.mock.calls[0] as unknown as [
      unknown,
      InvitationRecord,
      string[],
    ];
    expect(replaces).toEqual(['n_viewer']);
    expect(invitation).toMatchObject({
      email: 'x@example.test',
      role: 'editor',
      invitedBy: { userId: ADMIN, email: 'ada@example.test', name: 'Ada' },
      expiresAt: NOW + INVITATION_LIFETIME_MS,
    });
  });
});

/** The invitee's verified account. */
const INVITEE_ACCOUNT = {
  userId: INVITEE,
  email: 'bo@example.test',
  name: 'Bo',
  emailVerifiedAt: '2026-01-01T00:00:00.000Z',
};

describe('accepting an invitation', () => {
  it('re-checks it in the transaction: unexpired now, addressed to the account, and an inviter who may still grant the role', async () => {
    // Prepare
    const { service, tenants, identity, lookups } = fixture();
    identity.getUser.mockResolvedValue(INVITEE_ACCOUNT);
    const invitation: InvitationRecord = {
      invitationId: 'n_1',
      tenantId: T,
      email: 'bo@example.test',
      role: 'editor',
      invitedBy: { userId: ADMIN, email: 'ada@example.test', name: 'Ada' },
      createdAt: '',
      expiresAt: NOW + 1000,
    };
    lookups.invitationTo.mockResolvedValue(invitation);
    lookups.tenantNames.mockResolvedValue(new Map([[T, 'Acme']]));

    // Act
    const result = await service.accept({ principal: caller().principal, ip: '1', userAgent: 'ua' }, 'n_1');

    // Assess
    expect(lookups.invitationTo).toHaveBeenCalledWith('bo@example.test', 'n_1', NOW);
    const [scope, input] = tenants.acceptInvitation.mock.calls[0] as unknown as [
      { tenantId: string; userId: string },
      { email: string; now: number; inviterRoles: Role[]; member: { role: Role; keyGeneration: string } },
    ];
    expect(scope).toMatchObject({ tenantId: T, userId: INVITEE });
    expect(input).toMatchObject({ email: 'bo@example.test', now: NOW, inviterRoles: ['admin', 'owner'] });
    expect(input.member.keyGeneration).toEqual(expect.any(String));
    expect(result).toMatchObject({ tenant: { tenantId: T, name: 'Acme' }, member: { role: 'editor' } });
  });

  it('answers 404 for an invitation not addressed to the account, without minting anything', async () => {
    // Prepare
    const { service, tenants, identity, lookups } = fixture();
    identity.getUser.mockResolvedValue(INVITEE_ACCOUNT);
    lookups.invitationTo.mockResolvedValue(undefined);

    // Act / Assess
    await expect(
      service.accept({ principal: caller().principal, ip: '1', userAgent: 'ua' }, 'n_1'),
    ).rejects.toMatchObject({ status: 404 });
    expect(tenants.acceptInvitation).not.toHaveBeenCalled();
  });
});
