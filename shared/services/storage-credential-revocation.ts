import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { ForbiddenError } from '../errors.js';
import type { StorageServiceDeps } from './storage-deps.js';

/** Revoking a user's storage credentials in a tenant. */
export class StorageCredentialRevocation {
  readonly #d: StorageServiceDeps;

  constructor(deps: StorageServiceDeps) {
    this.#d = deps;
  }

  /**
   * Revokes a user's storage credentials in this tenant (current or former member: a removed member is
   * exactly who needs it), as far as each kind of location allows, and says per kind what happened. 404
   * naming `body.userId` when the user holds no credential of this tenant that could still be valid (the
   * route's per-user and per-tenant rate limits are spent either way). Owners' and admins' credentials only
   * by an owner, as with their membership.
   */
  async revoke(caller: TenantCaller, userId: string) {
    const { scope } = caller.access;
    const targetRole = (await this.#d.members.getMember(scope, userId))?.role;
    if (
      targetRole &&
      (targetRole === 'admin' || targetRole === 'owner') &&
      !caller.access.permissions.has('members:manage-admins-owners') &&
      userId !== caller.principal.userId
    ) {
      throw new ForbiddenError(
        "Revoking an admin's or owner's credentials needs the members:manage-admins-owners permission.",
      );
    }
    const result = await this.#d.access.revokeUser(scope, userId, { refuse: true });
    this.#d.vendor.drop(scope.tenantId, { userId });
    await this.#d.audit.record(scope, {
      action: 'storage-credentials.revoked',
      actor: auditActorOf(caller),
      resource: { type: 'user', id: userId },
      details: { userId, revokedBefore: result.revokedBefore, credentials: result.credentials },
    });
    return { ...result, revokedBefore: result.revokedBefore! };
  }
}
