import type { TenantKeyProvisioner } from '../crypto/tenant-key-provisioner.js';
import { auditActorOf, type Principal, type TenantCaller } from '../domain/caller.js';
import { apiKeyString, hashSecret, newSecret } from '../domain/credentials.js';
import { newId, ulid } from '../domain/ids.js';
import {
  canGrantRole,
  type Granter,
  granterOfRole,
  type Permission,
  ROLES,
  type Role,
  roleAtLeast,
  roleHas,
} from '../domain/permissions.js';
import type { Plan } from '../domain/plans.js';
import { STORAGE_FENCE_MS } from '../domain/storage-revocation.js';
import { mintTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import {
  DeletionInProgressError,
  EmailUnverifiedError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder, TransactItem } from '../store/audit-recorder.js';
import type { AuthLookups } from '../store/auth-lookups.js';
import type { IdentityRecords } from '../store/identity-records.js';
import type { ManagedObjects } from '../store/managed-objects.js';
import type { TenantStorageAccess } from '../store/tenant-storage-access.js';
import {
  type ApiKeyRecord,
  type KeyRevocation,
  type MemberRecord,
  publicApiKey,
  type TenantRecord,
  type TenantSettings,
  type TenantStore,
} from '../store/tenant-store.js';
import type { SecondFactor, SecondFactorVerifier } from './second-factor.js';
import { releaseTenantStorage, type TenantStorageRelease } from './storage-locations.js';

export interface TenancyDeps {
  tenants: TenantStore;
  identity: Pick<IdentityRecords, 'getUser'>;
  keys: TenantKeyProvisioner;
  audit: AuditRecorder;
  /**
   * Where a removed or demoted member's vended storage credentials are revoked, so they stop working now,
   * not at their expiry (as far as each kind of location allows; nothing is written for a member who never
   * held any).
   */
  storageAccess?: Pick<TenantStorageAccess, 'revokeUser'>;
  /** The cross-tenant read of a user's tenants (the authorizer's lookups). */
  lookups: Pick<AuthLookups, 'tenantsOf'>;
  now?: () => number;
}

/** The public view of a tenant. */
export function publicTenant(tenant: TenantRecord) {
  return {
    tenantId: tenant.tenantId,
    name: tenant.name,
    plan: tenant.plan,
    createdAt: tenant.createdAt,
    settings: tenant.settings,
  };
}

/** The public view of a member. */
export function publicMember(member: MemberRecord) {
  return {
    userId: member.userId,
    email: member.email,
    name: member.name,
    role: member.role,
    addedAt: member.addedAt,
  };
}

/** Tenants, memberships and API keys. */
export class TenancyService {
  private readonly now: () => number;

  constructor(private readonly deps: TenancyDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Creates a tenant with its KMS key; the creator becomes its owner. The key is made first; if the
   * tenant cannot be written the key is retired, so there is no tenant without a key and no enabled orphan.
   */
  async createTenant(creator: { principal: Principal; ip: string; userAgent: string }, name: string) {
    const user = await this.deps.identity.getUser(creator.principal.userId);
    if (!user) throw new NotFoundError('No such user.');
    // Owning a tenant needs an address its owner proved: invitations, notices and recovery all go there.
    if (user.emailVerifiedAt === undefined) throw new EmailUnverifiedError('create a tenant');
    const tenantId = newId('t');
    const { keyArn } = await this.deps.keys.create(tenantId);
    // The creator's membership is being written in this very transaction: this is the one place, besides
    // the authorizer, that acts for a tenant before a membership exists.
    const scope = mintTenantScope({ tenantId, userId: user.userId, plan: 'free' });
    const createdAt = new Date(this.now()).toISOString();
    const tenant: TenantRecord = {
      tenantId,
      name,
      plan: 'free',
      keyArn,
      createdAt,
      createdBy: user.userId,
      ownerCount: 1,
      settings: { requireMfa: false },
    };
    const owner: MemberRecord = {
      tenantId,
      userId: user.userId,
      role: 'owner',
      email: user.email,
      name: user.name,
      addedAt: createdAt,
      addedBy: user.userId,
      keyGeneration: ulid(),
    };
    try {
      await this.deps.tenants.createTenant(
        scope,
        tenant,
        owner,
        this.deps.audit.auditPut(scope, {
          action: 'tenant.created',
          actor: auditActorOf(creator),
          resource: { type: 'tenant', id: tenantId },
          details: { after: { name, plan: 'free' } },
        }),
      );
    } catch (error) {
      await this.deps.keys.retire(keyArn).catch(() => {
        // The original error matters more; a key left behind is disabled-or-pending at worst and alarmed on.
      });
      throw error;
    }
    return publicTenant(tenant);
  }

  /**
   * The signed-in user's tenants with their role in each, by name; only `onlyTenant` for a session through
   * that tenant's own identity provider (it acts in that tenant only).
   */
  async listMyTenants(userId: string, onlyTenant?: string) {
    const mine = await this.deps.lookups.tenantsOf(userId);
    return mine
      .filter(({ tenant }) => onlyTenant === undefined || tenant.tenantId === onlyTenant)
      .map(({ tenant, member }) => ({ ...publicTenant(tenant), role: member.role, joinedAt: member.addedAt }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.tenantId.localeCompare(b.tenantId));
  }

  /** The tenant; `asAuthorised` is its item as this request's authorizer read it (then nothing is read again). */
  async getTenant(caller: TenantCaller, asAuthorised?: TenantRecord) {
    return publicTenant(
      asAuthorised?.tenantId === caller.access.scope.tenantId
        ? asAuthorised
        : await this.deps.tenants.getTenant(caller.access.scope),
    );
  }

  async updateTenant(
    caller: TenantCaller,
    changes: {
      name?: string;
      plan?: Plan;
      /** Absent keys keep their value; a session limit set to null is removed (the platform default). */
      settings?: { [K in keyof TenantSettings]?: TenantSettings[K] | null };
    },
  ) {
    const { scope } = caller.access;
    if (changes.plan !== undefined && !caller.access.permissions.has('tenant:plan')) {
      throw new ForbiddenError('Changing the plan needs the tenant:plan permission.');
    }
    const before = await this.deps.tenants.getTenant(scope);
    let settings: TenantSettings | undefined;
    if (changes.settings) {
      const merged: Record<string, unknown> = { ...before.settings, ...changes.settings };
      for (const [key, value] of Object.entries(merged)) if (value === null) delete merged[key];
      settings = merged as unknown as TenantSettings;
    }
    const audits = [];
    if (changes.name !== undefined || settings) {
      audits.push(
        this.deps.audit.auditPut(scope, {
          action: 'tenant.updated',
          actor: auditActorOf(caller),
          resource: { type: 'tenant', id: scope.tenantId },
          details: {
            before: { name: before.name, settings: before.settings },
            after: { name: changes.name ?? before.name, settings: settings ?? before.settings },
          },
        }),
      );
    }
    if (changes.plan !== undefined && changes.plan !== before.plan) {
      audits.push(
        this.deps.audit.auditPut(scope, {
          action: 'tenant.plan-changed',
          actor: auditActorOf(caller),
          resource: { type: 'tenant', id: scope.tenantId },
          details: { before: before.plan, after: changes.plan },
        }),
      );
    }
    await this.deps.tenants.updateTenant(scope, { name: changes.name, plan: changes.plan, settings }, audits);
    // The answer is the record as this write left it (a transaction returns no new image): no read follows
    // the commit, so a failure after it cannot answer an error for a change that was made.
    return publicTenant({
      ...before,
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.plan !== undefined ? { plan: changes.plan } : {}),
      ...(settings ? { settings } : {}),
    });
  }

  async listMembers(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    const result = await this.deps.tenants.listMembers(caller.access.scope, page);
    return { items: result.items.map(publicMember), nextCursor: result.nextCursor };
  }

  async changeRole(caller: TenantCaller, userId: string, role: Role) {
    const { scope } = caller.access;
    const member = await this.requireMember(caller, userId);
    // Managing someone needs the right to grant both their current and their new role.
    assertCanGrant(caller.access, member.role);
    assertCanGrant(caller.access, role);
    if (member.role === role) return publicMember(member);
    // A demotion that keeps api-keys:create keeps the keys (their effective permissions shrink with the
    // role); one below it ends them, in the same transaction as the role (a new key generation).
    const losesKeys = roleHas(member.role, 'api-keys:create') && !roleHas(role, 'api-keys:create');
    const revocations = losesKeys ? await this.keyRevocations(caller, userId, 'member-demoted') : [];
    const change = () =>
      this.deps.tenants.changeRole(
        scope,
        userId,
        { from: member.role, to: role, ...(losesKeys ? { newKeyGeneration: ulid() } : {}) },
        this.deps.audit.auditPut(scope, {
          action: 'member.role-changed',
          actor: auditActorOf(caller),
          resource: { type: 'member', id: userId },
          details: { before: { role: member.role }, after: { role } },
        }),
        revocations,
      );
    const reduced = !roleAtLeast(role, member.role);
    const withdrawals = reduced ? await this.staleInvitationsFrom(caller, userId, role) : [];
    const later = reduced ? await this.reducingStorageAccess(scope, userId, change) : await change();
    await this.cleanUpAfter(scope, 'role change', later, withdrawals);
    return publicMember({ ...member, role });
  }

  async removeMember(caller: TenantCaller, userId: string) {
    const { scope } = caller.access;
    const member = await this.requireMember(caller, userId);
    assertCanGrant(caller.access, member.role);
    const revocations = await this.keyRevocations(caller, userId, 'member-removed');
    const withdrawals = await this.staleInvitationsFrom(caller, userId);
    const later = await this.reducingStorageAccess(scope, userId, () =>
      this.deps.tenants.removeMember(
        scope,
        userId,
        member.role,
        this.deps.audit.auditPut(scope, {
          action: 'member.removed',
          actor: auditActorOf(caller),
          resource: { type: 'member', id: userId },
          details: { before: { role: member.role } },
        }),
        revocations,
      ),
    );
    await this.cleanUpAfter(scope, 'member removal', later, withdrawals);
  }

  /**
   * What a committed removal or demotion leaves to tidy, best-effort: the API keys that did not fit its
   * transaction (`later`) and the invitations the member sent that they can no longer grant. Neither is
   * usable any more, whatever happens here: a key acts only while its creator's membership and key
   * generation are the ones it was made under (http/auth.ts keyStillBacked), and accepting an invitation
   * re-checks, in its transaction, that the sender still holds a role that grants it. So a failure is
   * logged and the answer stays the success the change is; repeating the removal or demotion is not
   * possible, and not needed.
   */
  private async cleanUpAfter(
    scope: TenantScope,
    change: string,
    later: readonly KeyRevocation[],
    withdrawals: readonly { invitationId: string; audit: TransactItem }[],
  ): Promise<void> {
    try {
      await this.deps.tenants.revokeApiKeys(scope, later);
      await this.deps.tenants.withdrawInvitations(scope, withdrawals);
    } catch (error) {
      logger.warn(`clean-up after a ${change} not finished; what is left is refused at use`, {
        tenantId: scope.tenantId,
        keys: later.length,
        invitations: withdrawals.length,
        error,
      });
    }
  }

  /**
   * A removal or demotion, with the member's vended storage credentials stopped first: their vending is
   * fenced, what they hold is revoked (TenantStorageAccess.revokeUser), then `change` is made. Revoke first: if the change
   * then fails, the member merely vends again (the fence is lifted); the reverse order could leave them with
   * credentials of their old role and nothing to retry. The fence closes the race with a vend already past
   * its authorization (see STORAGE_FENCE_MS).
   */
  private async reducingStorageAccess<T>(
    scope: TenantScope,
    userId: string,
    change: () => Promise<T>,
  ): Promise<T> {
    const fence = this.now() + STORAGE_FENCE_MS;
    await this.deps.tenants.fenceMemberStorage(scope, userId, fence);
    try {
      await this.deps.storageAccess?.revokeUser(scope, userId, { refuse: false });
      return await change();
    } catch (error) {
      await this.deps.tenants.liftMemberStorageFence(scope, userId, fence).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The pending invitations `userId` sent that their new role (none, when removed) could no longer grant,
   * each with its withdrawal event: read before the change, withdrawn after it (cleanUpAfter). Acceptance
   * re-checks the sender's role anyway; withdrawing keeps both parties' lists honest.
   */
  private async staleInvitationsFrom(caller: TenantCaller, userId: string, role?: Role) {
    const { scope } = caller.access;
    const sent = await this.deps.tenants.pendingInvitationsFrom(scope, userId, this.now());
    const stale = sent.filter((i) => role === undefined || !canGrantRole(granterOfRole(role), i.role));
    return stale.map((invitation) => ({
      invitationId: invitation.invitationId,
      audit: this.deps.audit.auditPut(scope, {
        action: 'invitation.revoked',
        actor: auditActorOf(caller),
        resource: { type: 'invitation', id: invitation.invitationId },
        details: {
          email: invitation.email,
          role: invitation.role,
          reason: role === undefined ? 'inviter-removed' : 'inviter-demoted',
        },
      }),
    }));
  }

  /** Every key `userId` created in the caller's tenant, each with its `api-key.revoked` event. */
  private async keyRevocations(
    caller: TenantCaller,
    userId: string,
    reason: 'member-removed' | 'member-demoted',
  ): Promise<KeyRevocation[]> {
    const { scope } = caller.access;
    const keys = await this.deps.tenants.apiKeysCreatedBy(scope, userId);
    return keys.map((key) => ({
      keyId: key.keyId,
      audit: this.deps.audit.auditPut(scope, {
        action: 'api-key.revoked',
        actor: auditActorOf(caller),
        resource: { type: 'api-key', id: key.keyId },
        details: { name: key.name, createdBy: key.createdBy, reason },
      }),
    }));
  }

  async listApiKeys(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    const all = caller.access.permissions.has('api-keys:manage');
    const result = await this.deps.tenants.listApiKeys(
      caller.access.scope,
      page,
      all ? undefined : caller.principal.userId,
    );
    return { items: result.items.map(publicApiKey), nextCursor: result.nextCursor };
  }

  /**
   * Creates a key whose scopes are a subset of the creator's permissions; the key string is returned once.
   * The key records whether the session that minted it proved a second factor; in a tenant requiring MFA
   * only such sessions may mint keys, and only such keys are accepted.
   */
  async createApiKey(
    caller: TenantCaller,
    input: { name: string; scopes: Permission[]; expiresInDays: number },
  ) {
    const mfa = caller.principal.kind === 'session' && caller.principal.mfa === true;
    // Defence in depth: the authorizer already refuses non-MFA credentials in such a tenant.
    if (caller.access.requireMfa && !mfa && caller.access.mfaThroughSso !== true) {
      throw new ForbiddenError(
        'This tenant requires multi-factor authentication: create keys from a session signed in with your second factor.',
        'mfa-session-required',
      );
    }
    const scopes = [...new Set(input.scopes)];
    const beyond = scopes.filter((s) => !caller.access.permissions.has(s));
    if (beyond.length > 0) {
      throw new ValidationError(
        beyond.map((s) => ({ path: `body.scopes`, message: `You do not hold ${s}` })),
        'An API key cannot have permissions its creator lacks.',
      );
    }
    // The key carries its creator's key generation; the write checks the membership still has it.
    const creator = await this.requireMember(caller, caller.principal.userId);
    const now = this.now();
    const keyId = newId('k');
    const secret = newSecret();
    const record: ApiKeyRecord = {
      keyId,
      tenantId: caller.access.scope.tenantId,
      name: input.name,
      scopes,
      createdBy: caller.principal.userId,
      createdAt: new Date(now).toISOString(),
      expiresAt: now + input.expiresInDays * 86_400_000,
      secretHash: hashSecret(secret),
      ...(creator.keyGeneration !== undefined ? { memberGeneration: creator.keyGeneration } : {}),
      createdWithMfa: mfa,
      // A tenant that enforces its own IdP accepts only keys minted by sessions signed in through it.
      ...(caller.principal.kind === 'session' && caller.principal.ssoProvider
        ? { createdWithSso: caller.principal.ssoProvider }
        : {}),
    };
    await this.deps.tenants.createApiKey(
      caller.access.scope,
      record,
      ROLES.filter((r) => roleHas(r, 'api-keys:create')),
      this.deps.audit.auditPut(caller.access.scope, {
        action: 'api-key.created',
        actor: auditActorOf(caller),
        resource: { type: 'api-key', id: keyId },
        details: {
          name: input.name,
          scopes,
          expiresAt: new Date(record.expiresAt).toISOString(),
          createdWithMfa: mfa,
        },
      }),
    );
    return { ...publicApiKey(record), key: apiKeyString(record.tenantId, keyId, secret) };
  }

  async revokeApiKey(caller: TenantCaller, keyId: string) {
    const key = await this.deps.tenants.getApiKey(caller.access.scope, keyId);
    if (!key) throw new NotFoundError('No such API key.');
    if (key.createdBy !== caller.principal.userId && !caller.access.permissions.has('api-keys:manage')) {
      throw new ForbiddenError('Revoking another member’s key needs the api-keys:manage permission.');
    }
    const deleted = await this.deps.tenants.deleteApiKey(
      caller.access.scope,
      keyId,
      this.deps.audit.auditPut(caller.access.scope, {
        action: 'api-key.revoked',
        actor: auditActorOf(caller),
        resource: { type: 'api-key', id: keyId },
        details: { name: key.name, createdBy: key.createdBy, reason: 'revoked' },
      }),
    );
    if (!deleted) throw new NotFoundError('No such API key.');
  }

  private async requireMember(caller: TenantCaller, userId: string): Promise<MemberRecord> {
    const member = await this.deps.tenants.getMember(caller.access.scope, userId);
    if (!member) throw new NotFoundError('No such member.');
    return member;
  }
}

/** 403 unless the caller may grant (or manage someone holding) `role`: on effective permissions. */
export function assertCanGrant(granter: Granter, role: Role): void {
  if (!canGrantRole(granter, role)) {
    throw new ForbiddenError(
      roleAtLeast(role, 'admin')
        ? 'Granting or managing the admin and owner roles needs the members:manage-admins-owners permission.'
        : `Granting or managing the ${role} role needs the members:manage permission and a role at least as high.`,
      'role-not-grantable',
    );
  }
}

export interface TenantDeletionDeps {
  tenants: TenantStore;
  keys: TenantKeyProvisioner;
  audit: AuditRecorder;
  secondFactors: Pick<SecondFactorVerifier, 'confirm'>;
  /**
   * Step (a), with `storageAccess`: every storage credential vended for the tenant so far stops working (a
   * deny on the tenant's storage role, then the role removed), then its registered storage roots are
   * released (`releaseTenantStorage`). Idempotent.
   */
  storage: TenantStorageRelease['store'];
  storageAccess: TenantStorageRelease['access'];
  /**
   * Step (a2): the objects of the tenant's managed locations in the platform bucket, every version, deleted
   * (shared/store/managed-objects.ts). Customers' buckets (external locations) are never touched.
   */
  objects?: Pick<ManagedObjects, 'purge'>;
}

/**
 * Deletes a tenant (owner, fresh MFA; DESIGN.md §4 "Tenant lifecycle"). The deletion spans DynamoDB, IAM and
 * KMS, so it cannot be one write; it is made so that a fault either changes nothing or leaves a tenant that
 * nobody can use and that the owner's retry (with a new code) finishes:
 *  (0) every check that can fail runs before anything is removed: the tenant read, its KMS key confirmed as
 *      this stage's tenant key and its state read (ListResourceTags, DescribeKey), its API keys listed. A
 *      fault here: 503, nothing changed (but the spent code);
 *  (1) the tenant is marked closing (`closingAt`) with a `tenant.deletion-started` event, in one transaction:
 *      from here no route but this deletion reaches it, for any member or key (http/auth.ts tenantAccess);
 *  (b1) every API key revoked (each with its `api-key.revoked` event), then every other membership, any key
 *       created meanwhile and every pending invitation deleted;
 *  (a) storage: a deny of every session of the tenant's storage role, the role removed, every root released;
 *  (a2) every object version under `tenants/<tenantId>/` of the managed bucket deleted, within one request's
 *       budget; the count so far is kept on the TENANT item (`objectsDeleted`, shown by GET …/deletion); when
 *       more remain the answer is 409 `deletion-in-progress` and the owner's next request continues;
 *  (b2) the rest of the tenant's items (instances, locations, connections, ...), keeping only the tenant
 *       item and the caller's membership, so the owner can retry;
 *  (c) the tenant KMS key disabled (unless it is) and scheduled for deletion in 30 days (unless it is):
 *      crypto-shredding, connection passwords, export archives and anything in backups encrypted under it
 *      become unreadable once gone;
 *  (d) the tenant item and the owner's membership deleted with the `tenant.deleted` event, in one transaction.
 * Every step after (1) is idempotent, so a retry after a fault anywhere runs them all again and finishes.
 * Audit events are kept (append-only; they expire by their TTL).
 */
export class TenantDeletionService {
  constructor(private readonly deps: TenantDeletionDeps) {}

  async deleteTenant(caller: TenantCaller, factor: SecondFactor): Promise<void> {
    const { scope } = caller.access;
    // Defence in depth: the route demands tenant:delete of a session; this use case must not trust that.
    if (caller.principal.kind !== 'session' || !caller.access.permissions.has('tenant:delete')) {
      throw new ForbiddenError('Deleting a tenant needs its owner’s signed-in session.');
    }
    const verified = await this.deps.secondFactors.confirm(caller.principal, factor, {
      ip: caller.ip,
      userAgent: caller.userAgent,
      purpose: 'tenant.delete',
    });
    if (verified === 'mfa-not-enabled') {
      throw new ForbiddenError(
        'Deleting a tenant needs multi-factor authentication: enable TOTP or add a passkey, then send a current code or a step-up token.',
        'mfa-required-for-deletion',
      );
    }
    const tenant = await this.deps.tenants.getTenant(scope);
    const actor = auditActorOf(caller);
    // (0) What can fail without a change: a fault here leaves the tenant as it was.
    const key = await this.deps.keys.checkRetirable(tenant.keyArn);
    const keys = await this.deps.tenants.listAllApiKeys(scope);
    // (1) From here the tenant is closed to everything but this deletion, and a retry finishes it.
    if (!tenant.closingAt)
      await this.deps.tenants.markClosing(
        scope,
        { at: new Date().toISOString(), by: caller.principal.userId },
        this.deps.audit.auditPut(scope, {
          action: 'tenant.deletion-started',
          actor,
          resource: { type: 'tenant', id: scope.tenantId },
          details: { before: { name: tenant.name, plan: tenant.plan }, apiKeys: keys.length },
        }),
      );
    await this.deps.tenants.revokeApiKeys(
      scope,
      keys.map((key) => ({
        keyId: key.keyId,
        audit: this.deps.audit.auditPut(scope, {
          action: 'api-key.revoked',
          actor,
          resource: { type: 'api-key', id: key.keyId },
          details: { name: key.name, createdBy: key.createdBy, reason: 'tenant-deleted' },
        }),
      })),
    );
    await this.deps.tenants.deleteAccessItems(scope, [caller.principal.userId]);
    await releaseTenantStorage(
      { store: this.deps.storage, access: this.deps.storageAccess, audit: this.deps.audit },
      scope,
      actor,
    );
    await this.#purgeManagedObjects(scope, tenant.objectsDeleted ?? 0);
    await this.deps.tenants.deleteTenantItems(scope, [caller.principal.userId]);
    await this.deps.keys.retire(key);
    const deleted = await this.deps.tenants.deleteTenant(
      scope,
      caller.principal.userId,
      this.deps.audit.auditPut(
        scope,
        {
          action: 'tenant.deleted',
          actor,
          resource: { type: 'tenant', id: scope.tenantId },
          details: { before: { name: tenant.name, plan: tenant.plan } },
        },
        { plan: tenant.plan },
      ),
    );
    // Only a concurrent deletion (or demotion) of this very owner gets here; the tenant is gone or not theirs.
    if (!deleted) throw new NotFoundError('No such tenant.');
  }

  /** The deletion's status (the tenant record as the authorizer read it): begun or not, objects deleted so far. */
  async status(caller: TenantCaller, record?: TenantRecord) {
    if (!caller.access.permissions.has('tenant:delete'))
      throw new ForbiddenError('The deletion status is for the tenant’s owners.');
    const tenant = record ?? (await this.deps.tenants.getTenant(caller.access.scope));
    return {
      status: tenant.closingAt ? ('deleting' as const) : ('active' as const),
      ...(tenant.closingAt ? { startedAt: tenant.closingAt } : {}),
      ...(tenant.closingBy ? { startedBy: tenant.closingBy } : {}),
      objectsDeleted: tenant.objectsDeleted ?? 0,
    };
  }

  /**
   * Every object version under the tenant's managed prefix, after its storage is closed (no session can write
   * there any more) and while the TENANT item still holds the progress: as much as one request's budget allows.
   * When more remain, the deletion answers 409 `deletion-in-progress` with the count so far, the tenant stays
   * closing, and the owner's next request continues (what is deleted stays deleted; nothing is listed twice).
   */
  async #purgeManagedObjects(scope: TenantScope, before: number): Promise<void> {
    const { objects } = this.deps;
    if (!objects) return;
    let total = before;
    const { done } = await objects.purge(`tenants/${scope.tenantId}/`, {
      onBatch: async (deleted) => {
        total = await this.deps.tenants.addDeletedObjects(scope, deleted);
      },
    });
    if (!done) throw new DeletionInProgressError('tenant', total);
  }
}
