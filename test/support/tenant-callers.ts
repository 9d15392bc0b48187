import type { TenantCaller } from '../../shared/domain/caller.js';
import { type Permission, permissionsOf, type Role } from '../../shared/domain/permissions.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';

/**
 * A caller as the authorizer hands it to a service: a session (`s_1` unless told) of `userId` in `tenantId`
 * with `role` and the role's permissions (or `permissions`), from 203.0.113.9.
 */
export function tenantCallerAs(caller: {
  tenantId: string;
  userId: string;
  role: Role;
  permissions?: ReadonlySet<Permission>;
  credentialId?: string;
  mfaEnabled?: boolean;
  ip?: string;
}): TenantCaller {
  return {
    access: {
      scope: mintTenantScope({ tenantId: caller.tenantId, userId: caller.userId }),
      roleCeiling: caller.role,
      permissions: caller.permissions ?? permissionsOf(caller.role),
    },
    principal: {
      kind: 'session',
      userId: caller.userId,
      credentialId: caller.credentialId ?? 's_1',
      mfaEnabled: caller.mfaEnabled ?? false,
    },
    ip: caller.ip ?? '203.0.113.9',
    userAgent: 'test',
  };
}
