/** The role ladder, lowest first. Each role holds every permission of the roles below it. */
export const ROLES = ['viewer', 'reviewer', 'editor', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

/** Every permission of DESIGN.md §2, keyed by the lowest role that holds it. This table is the only source. */
const LOWEST_ROLE = {
  'tenant:read': 'viewer',
  'members:read': 'viewer',
  'connections:read': 'viewer',
  'instances:read': 'viewer',
  'storage:read-credentials': 'viewer',
  'query:read': 'viewer',
  'audit:read': 'reviewer',
  'storage:write-credentials': 'editor',
  'instances:write': 'editor',
  'query:write': 'editor',
  'api-keys:create': 'editor',
  'members:manage': 'admin',
  'storage-locations:manage': 'admin',
  'connections:manage': 'admin',
  'api-keys:manage': 'admin',
  'audit:export': 'admin',
  'tenant:settings': 'admin',
  'members:manage-admins-owners': 'owner',
  'connections:reveal': 'owner',
  'tenant:plan': 'owner',
  'tenant:export': 'owner',
  'tenant:delete': 'owner',
  'tenant:sso': 'owner',
} as const satisfies Record<string, Role>;

export type Permission = keyof typeof LOWEST_ROLE;
export const PERMISSIONS = Object.keys(LOWEST_ROLE) as Permission[];

/** Position of a role on the ladder (viewer = 0). */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** True when `role` is at least as high as `other`. */
export function roleAtLeast(role: Role, other: Role): boolean {
  return roleRank(role) >= roleRank(other);
}

/** The lowest role that holds a permission. */
export function lowestRoleFor(permission: Permission): Role {
  return LOWEST_ROLE[permission];
}

/** Every permission a role holds. */
export function permissionsOf(role: Role): ReadonlySet<Permission> {
  return ROLE_PERMISSIONS[role];
}

/** Whether a role holds a permission. */
export function roleHas(role: Role, permission: Permission): boolean {
  return roleAtLeast(role, LOWEST_ROLE[permission]);
}

/**
 * Effective permissions of a principal: a session has its role's permissions; an API key has its
 * scopes intersected with its creator's *current* role (DESIGN.md §2).
 */
export function effectivePermissions(role: Role, scopes?: readonly Permission[]): ReadonlySet<Permission> {
  const own = permissionsOf(role);
  if (scopes === undefined) return own;
  return new Set(scopes.filter((scope) => own.has(scope)));
}

/**
 * What a caller brings to a grant decision: their effective permissions (a session's role, or an API key's
 * scopes ∩ its creator's current role) and their current role, which is only a ceiling (nobody grants
 * above their own role) and never a source of permissions.
 */
export interface Granter {
  permissions: ReadonlySet<Permission>;
  roleCeiling: Role;
}

/**
 * Whether `granter` may give `target` to someone, or manage (change, remove, revoke) someone who holds it:
 * never above their own role; admin and owner need `members:manage-admins-owners`, the roles below
 * `members:manage`. Decided on effective permissions, so an owner's key without the first manages only
 * the lower roles.
 */
export function canGrantRole(granter: Granter, target: Role): boolean {
  if (!roleAtLeast(granter.roleCeiling, target)) return false;
  if (!granter.permissions.has('members:manage')) return false;
  return roleAtLeast(target, 'admin') ? granter.permissions.has('members:manage-admins-owners') : true;
}

/** A member of `role` acting with a session (their role's full permissions), for grant decisions. */
export function granterOfRole(role: Role): Granter {
  return { permissions: permissionsOf(role), roleCeiling: role };
}

const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = Object.fromEntries(
  ROLES.map((role) => [role, new Set(PERMISSIONS.filter((p) => roleAtLeast(role, LOWEST_ROLE[p])))]),
) as unknown as Record<Role, ReadonlySet<Permission>>;
