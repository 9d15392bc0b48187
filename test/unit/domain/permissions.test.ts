import { describe, expect, it } from 'vitest';
import {
  canGrantRole,
  effectivePermissions,
  granterOfRole,
  lowestRoleFor,
  PERMISSIONS,
  type Permission,
  permissionsOf,
  ROLES,
  roleHas,
} from '../../../shared/domain/permissions.js';

describe('permission table', () => {
  it('is a ladder: each role holds everything below it', () => {
    // Act / Assess: every permission of a rung is in the rung above
    for (let i = 1; i < ROLES.length; i++) {
      for (const p of permissionsOf(ROLES[i - 1]!)) expect(permissionsOf(ROLES[i]!).has(p)).toBe(true);
    }
  });

  it('matches DESIGN.md §2 at each rung', () => {
    // Act / Assess
    expect(lowestRoleFor('audit:read')).toBe('reviewer');
    expect(lowestRoleFor('storage:write-credentials')).toBe('editor');
    expect(lowestRoleFor('members:manage')).toBe('admin');
    expect(lowestRoleFor('connections:reveal')).toBe('owner');
    expect(permissionsOf('owner').size).toBe(PERMISSIONS.length);
    expect(roleHas('viewer', 'query:read')).toBe(true);
    expect(roleHas('viewer', 'audit:read')).toBe(false);
  });

  it("intersects an API key's scopes with its creator's current role", () => {
    // Act / Assess
    expect([...effectivePermissions('viewer', ['tenant:read', 'members:manage'])]).toEqual(['tenant:read']);
    expect(effectivePermissions('admin', []).size).toBe(0);
  });

  it('lets nobody grant above their own role, and only owners grant admin or owner', () => {
    // Prepare
    const session = granterOfRole;

    // Act / Assess
    expect(canGrantRole(session('owner'), 'owner')).toBe(true);
    expect(canGrantRole(session('owner'), 'admin')).toBe(true);
    expect(canGrantRole(session('admin'), 'admin')).toBe(false);
    expect(canGrantRole(session('admin'), 'editor')).toBe(true);
    expect(canGrantRole(session('editor'), 'viewer')).toBe(false);
    expect(canGrantRole(session('viewer'), 'viewer')).toBe(false);
  });

  it("decides on effective permissions, not the creator's role: an owner's key without the scope cannot", () => {
    // Prepare: an owner's key with the given scopes
    const ownerKey = (scopes: Permission[]) => ({
      permissions: effectivePermissions('owner', scopes),
      roleCeiling: 'owner' as const,
    });
    const manageOnly = ownerKey(['members:manage']);

    // Act / Assess: members:manage alone grants up to editor
    for (const role of ['owner', 'admin'] as const) expect(canGrantRole(manageOnly, role), role).toBe(false);
    for (const role of ['editor', 'reviewer', 'viewer'] as const)
      expect(canGrantRole(manageOnly, role), role).toBe(true);

    // Act / Assess: with members:manage-admins-owners too, owner as well
    const both = ownerKey(['members:manage', 'members:manage-admins-owners']);
    expect(canGrantRole(both, 'owner')).toBe(true);
    // Without members:manage nothing is grantable, whatever else the key holds.
    expect(canGrantRole(ownerKey(['members:manage-admins-owners']), 'viewer')).toBe(false);
    expect(canGrantRole(ownerKey(PERMISSIONS.filter((p) => p !== 'members:manage')), 'viewer')).toBe(false);
    // The role stays a ceiling: permissions beyond it (never produced by the table) grant nothing above it.
    expect(canGrantRole({ permissions: permissionsOf('owner'), roleCeiling: 'admin' }, 'owner')).toBe(false);
  });
});
