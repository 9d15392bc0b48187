import { auditActorOf, type Principal, ssoTenantOf, type TenantCaller } from '../domain/caller.js';
import { normaliseEmail } from '../domain/credentials.js';
import { newId, ulid } from '../domain/ids.js';
import { canGrantRole, granterOfRole, ROLES, type Role } from '../domain/permissions.js';
import { mintTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import { ConflictError, EmailUnverifiedError, NotFoundError } from '../errors.js';
import { deliver } from '../mail/deliver.js';
import type { Mailer } from '../mail/mailer.js';
import { invitationMail, type MailLinks } from '../mail/templates.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { AuthLookups } from '../store/auth-lookups.js';
import type { IdentityRecords, UserRecord } from '../store/identity-records.js';
import type { RateLimiter } from '../store/rate-limiter.js';
import {
  type InvitationRecord,
  type MemberRecord,
  publicInvitation,
  type TenantStore,
} from '../store/tenant-store.js';
import { assertCanGrant, publicMember } from './tenancy.js';

/** How long an invitation can be accepted. */
export const INVITATION_LIFETIME_MS = 7 * 86_400_000;
/** Invitations one tenant may send, and one inviter may send (across tenants), per window. */
export const INVITATION_LIMITS = {
  perTenant: { name: 'invitations-tenant', limit: 50, windowSeconds: 86_400 },
  perInviter: { name: 'invitations-inviter', limit: 20, windowSeconds: 3600 },
} as const;

export interface InvitationDeps {
  tenants: TenantStore;
  identity: Pick<IdentityRecords, 'getUser'>;
  /** The cross-tenant reads an invitee needs (the e-mail index, tenant names). */
  lookups: Pick<AuthLookups, 'invitationsTo' | 'invitationTo' | 'tenantNames'>;
  audit: AuditRecorder;
  rateLimiter: RateLimiter;
  /** Invitations are mailed to the invitee (sent before the invitation is written). */
  mail: { mailer: Mailer; links: MailLinks };
  now?: () => number;
}

/** An invitee acting on invitations addressed to them: their session, and where the request came from. */
export interface Invitee {
  principal: Principal;
  ip: string;
  userAgent: string;
}

/**
 * The roles whose holders may grant `role`: an invitation is accepted only while its sender still holds
 * one of them in the tenant (an invitation from a since-removed or demoted admin does not work).
 */
function rolesThatGrant(role: Role): Role[] {
  return ROLES.filter((r) => canGrantRole(granterOfRole(r), role));
}

/**
 * Adding a member is an invitation that the invitee accepts (DESIGN.md §3). Sending one answers the same,
 * with the same reads, whether or not the address has an account or already is a member: nothing about the
 * address is looked up until its owner, signed in, lists or accepts.
 */
export class InvitationService {
  readonly #d: InvitationDeps;
  readonly #now: () => number;

  constructor(deps: InvitationDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Invites an address with a role (the caller must be able to grant it); replaces an earlier invitation. */
  async invite(caller: TenantCaller, input: { email: string; role: Role }) {
    const { scope } = caller.access;
    assertCanGrant(caller.access, input.role);
    const { perTenant, perInviter } = INVITATION_LIMITS;
    await this.#d.rateLimiter.consume(
      perTenant.name,
      scope.tenantId,
      perTenant.limit,
      perTenant.windowSeconds,
    );
    await this.#d.rateLimiter.consume(
      perInviter.name,
      caller.principal.userId,
      perInviter.limit,
      perInviter.windowSeconds,
    );
    // The sender as the invitee will see them (their name and address in this tenant), to judge the invitation by.
    const inviter = await this.#d.tenants.getMember(scope, caller.principal.userId);
    if (!inviter) throw new NotFoundError('No such tenant.');
    const email = normaliseEmail(input.email);
    const now = this.#now();
    // An earlier pending invitation of the same address is replaced, if the caller could manage its role.
    const replaces = (await this.#d.tenants.pendingInvitationsTo(scope, email, now))
      .filter((earlier) => canGrantRole(caller.access, earlier.role))
      .map((earlier) => earlier.invitationId);
    const invitation: InvitationRecord = {
      invitationId: newId('n', now),
      tenantId: scope.tenantId,
      email,
      role: input.role,
      invitedBy: {
        userId: inviter.userId,
        email: inviter.email,
        name: inviter.name,
        ...(caller.principal.kind === 'api-key' ? { apiKeyId: caller.principal.credentialId } : {}),
      },
      createdAt: new Date(now).toISOString(),
      expiresAt: now + INVITATION_LIFETIME_MS,
    };
    // The mail first: if it cannot be sent, no invitation exists that its invitee was never told of.
    const tenant = await this.#d.tenants.getTenant(scope);
    await deliver(
      this.#d.mail.mailer,
      invitationMail(this.#d.mail.links, email, {
        tenantName: tenant.name,
        role: input.role,
        inviterName: inviter.name,
        inviterEmail: inviter.email,
        expiresAt: new Date(invitation.expiresAt),
      }),
      'body.email',
    );
    await this.#d.tenants.createInvitation(
      scope,
      invitation,
      replaces,
      this.#d.audit.auditPut(scope, {
        action: 'member.invited',
        actor: auditActorOf(caller),
        resource: { type: 'invitation', id: invitation.invitationId },
        details: {
          email,
          role: input.role,
          expiresAt: new Date(invitation.expiresAt).toISOString(),
          replaces,
        },
      }),
    );
    return publicInvitation(invitation);
  }

  /** The tenant's pending (unexpired) invitations. */
  async listForTenant(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    const result = await this.#d.tenants.listInvitations(caller.access.scope, page, this.#now());
    return { items: result.items.map(publicInvitation), nextCursor: result.nextCursor };
  }

  /** Withdraws an invitation; one for admin or owner needs members:manage-admins-owners, as granting it would. */
  async revoke(caller: TenantCaller, invitationId: string): Promise<void> {
    const { scope } = caller.access;
    const invitation = await this.#d.tenants.getInvitation(scope, invitationId);
    if (!invitation) throw new NotFoundError('No such invitation.');
    assertCanGrant(caller.access, invitation.role);
    const deleted = await this.#d.tenants.deleteInvitation(
      scope,
      invitationId,
      this.#d.audit.auditPut(scope, {
        action: 'invitation.revoked',
        actor: auditActorOf(caller),
        resource: { type: 'invitation', id: invitationId },
        details: { email: invitation.email, role: invitation.role },
      }),
    );
    if (!deleted) throw new NotFoundError('No such invitation.');
  }

  /**
   * The caller's pending invitations: tenant, role, who sent it, when it expires. 403 `email-unverified`
   * until the caller has proved their address: until then, anyone could have registered it.
   */
  async listMine(invitee: Invitee) {
    const user = await this.#d.identity.getUser(invitee.principal.userId);
    if (!user) return { items: [] };
    const { email, onlyTenant } = this.#addressOf(user, invitee, 'see invitations');
    const invitations = (await this.#d.lookups.invitationsTo(email, this.#now())).filter(
      (i) => onlyTenant === undefined || i.tenantId === onlyTenant,
    );
    const names = await this.#d.lookups.tenantNames(invitations.map((i) => i.tenantId));
    return {
      items: invitations
        .filter((i) => names.has(i.tenantId))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
        .map((i) => ({
          invitationId: i.invitationId,
          tenant: { tenantId: i.tenantId, name: names.get(i.tenantId)! },
          role: i.role,
          invitedBy: { name: i.invitedBy.name, email: i.invitedBy.email },
          createdAt: i.createdAt,
          expiresAt: new Date(i.expiresAt).toISOString(),
        })),
    };
  }

  /**
   * Accepts an invitation addressed to the caller's account: re-checked now (still there, unexpired, its
   * sender still able to grant the role) and turned into a membership in one transaction with its events.
   */
  async accept(invitee: Invitee, invitationId: string) {
    const { invitation, scope, user } = await this.#addressedTo(invitee, invitationId);
    const now = this.#now();
    const member: MemberRecord = {
      tenantId: invitation.tenantId,
      userId: user.userId,
      role: invitation.role,
      email: user.email,
      name: user.name,
      addedAt: new Date(now).toISOString(),
      addedBy: invitation.invitedBy.userId,
      keyGeneration: ulid(now),
    };
    const actor = auditActorOf(invitee);
    // Read before the commit, for the answer: nothing after it may fail a membership that was made.
    const names = await this.#d.lookups.tenantNames([invitation.tenantId]);
    const outcome = await this.#d.tenants.acceptInvitation(
      scope,
      { invitation, email: invitation.email, now, member, inviterRoles: rolesThatGrant(invitation.role) },
      [
        this.#d.audit.auditPut(scope, {
          action: 'invitation.accepted',
          actor,
          resource: { type: 'invitation', id: invitationId },
          details: { role: invitation.role, invitedBy: invitation.invitedBy.userId },
        }),
        this.#d.audit.auditPut(scope, {
          action: 'member.added',
          actor,
          resource: { type: 'member', id: user.userId },
          details: { after: { role: invitation.role }, invitationId, invitedBy: invitation.invitedBy.userId },
        }),
      ],
    );
    if (outcome === 'conflict') {
      if (await this.#d.tenants.getMember(scope, user.userId)) {
        // Spent either way: it would otherwise linger in both lists until it expires.
        await this.#d.tenants.deleteInvitation(
          scope,
          invitationId,
          this.#d.audit.auditPut(scope, {
            action: 'invitation.declined',
            actor,
            resource: { type: 'invitation', id: invitationId },
            details: {
              role: invitation.role,
              invitedBy: invitation.invitedBy.userId,
              reason: 'already-member',
            },
          }),
          invitation.email,
        );
        throw new ConflictError('You are already a member of this tenant.', 'already-member');
      }
      throw new NotFoundError(
        'No such invitation: it expired, was withdrawn, or its sender can no longer grant this role.',
      );
    }
    return {
      tenant: { tenantId: invitation.tenantId, name: names.get(invitation.tenantId) ?? '' },
      member: publicMember(member),
    };
  }

  /** Declines (deletes) an invitation addressed to the caller's account. */
  async decline(invitee: Invitee, invitationId: string): Promise<void> {
    const { invitation, scope } = await this.#addressedTo(invitee, invitationId);
    const deleted = await this.#d.tenants.deleteInvitation(
      scope,
      invitationId,
      this.#d.audit.auditPut(scope, {
        action: 'invitation.declined',
        actor: auditActorOf(invitee),
        resource: { type: 'invitation', id: invitationId },
        details: { role: invitation.role, invitedBy: invitation.invitedBy.userId },
      }),
      invitation.email,
    );
    if (!deleted) throw new NotFoundError('No such invitation.');
  }

  /**
   * The invitation, if it is addressed to the caller's account, with the TenantScope to act on it. This is
   * the one point, besides the authorizer and tenant creation, that acts for a tenant before a membership
   * exists: the scope is minted only after the invitation was read back (strongly consistent) and found
   * addressed to this account and unexpired, and every write under it re-checks that as its condition.
   */
  async #addressedTo(
    invitee: Invitee,
    invitationId: string,
  ): Promise<{ invitation: InvitationRecord; scope: TenantScope; user: UserRecord }> {
    const user = await this.#d.identity.getUser(invitee.principal.userId);
    const address = user && this.#addressOf(user, invitee, 'act on invitations');
    const invitation = address
      ? await this.#d.lookups.invitationTo(address.email, invitationId, this.#now())
      : undefined;
    if (
      !user ||
      !invitation ||
      (address?.onlyTenant !== undefined && invitation.tenantId !== address.onlyTenant)
    )
      throw new NotFoundError('No such invitation.');
    const scope = mintTenantScope({ tenantId: invitation.tenantId, userId: user.userId });
    return { invitation, scope, user };
  }

  /**
   * The address an account's invitations are matched by: the normalised e-mail it registered with, once
   * its owner has verified it. An unverified account gets 403 `email-unverified` (anyone can register an
   * address they do not own; they must not see or take the invitations sent to it), except in a session
   * through a tenant's own identity provider that asserted the address: that tenant vouches for it, so its
   * own invitations (`onlyTenant`) are matched, and no other tenant's. Such a session sees and takes only
   * its tenant's invitations whether or not the account is verified: it acts in that tenant only.
   */
  #addressOf(user: UserRecord, invitee: Invitee, action: string): { email: string; onlyTenant?: string } {
    const email = normaliseEmail(user.email);
    const onlyTenant = ssoTenantOf(invitee.principal);
    if (onlyTenant !== undefined) return { email, onlyTenant };
    if (user.emailVerifiedAt !== undefined) return { email };
    throw new EmailUnverifiedError(action);
  }
}
