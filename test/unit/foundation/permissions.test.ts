import { describe, expect, it } from 'vitest';
import {
  PERMISSIONS,
  ROLES,
  canGrantRole,
  effectivePermissions,
  lowestRoleFor,
  permissionsOf,
  roleHas,
} from '../../../shared/domain/permissions.js';

describe('permission table', () => {
  it('is a ladder: each role holds everything below it', () => {
    for (let i = 1; i < ROLES.length; i++) {
      for (const p of permissionsOf(ROLES[i - 1]!)) expect(permissionsOf(ROLES[i]!).has(p)).toBe(true);
    }
  });

  it('matches DESIGN.md §2 at each rung', () => {
    expect(lowestRoleFor('audit:read')).toBe('reviewer');
    expect(lowestRoleFor('storage:write-credentials')).toBe('editor');
    expect(lowestRoleFor('members:manage')).toBe('admin');
    expect(lowestRoleFor('connections:reveal')).toBe('owner');
    expect(permissionsOf('owner').size).toBe(PERMISSIONS.length);
    expect(roleHas('viewer', 'query:read')).toBe(true);
    expect(roleHas('viewer', 'audit:read')).toBe(false);
  });

  it("intersects an API key's scopes with its creator's current role", () => {
    expect([...effectivePermissions('viewer', ['tenant:read', 'members:manage'])]).toEqual(['tenant:read']);
    expect(effectivePermissions('admin', []).size).toBe(0);
  });

  it('lets nobody grant above their own role, and only owners grant admin or owner', () => {
    expect(canGrantRole('owner', 'owner')).toBe(true);
    expect(canGrantRole('owner', 'admin')).toBe(true);
    expect(canGrantRole('admin', 'admin')).toBe(false);
    expect(canGrantRole('admin', 'editor')).toBe(true);
    expect(canGrantRole('editor', 'viewer')).toBe(false);
    expect(canGrantRole('viewer', 'viewer')).toBe(false);
  });
});
