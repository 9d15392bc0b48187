import type { AuditActor } from '../domain/audit-events.js';
import type { Principal } from '../domain/caller.js';
import type { Permission } from '../domain/permissions.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { RouteDef } from './route.js';

/** A 403 given to a verified member of the path's tenant, as the API layer reports it. */
export interface AccessRefusal {
  scope: TenantScope;
  principal: Principal;
  route: RouteDef;
  actor: AuditActor;
  /** `permission-missing`, or the problem type (`mfa-session-required`, `query-refused`, …). */
  reason: string;
  /** The ids in the path besides the tenant's (`connectionId`, `userId`, …): what was aimed at. */
  target: Record<string, string>;
}

/**
 * Reads whose refusal is a security signal: the audit trail, the tenant's exports, its own IdP and its deletion. Other refused reads
 * (a viewer's console asking for a page it cannot see) are routine and not written.
 */
const SENSITIVE_READS: ReadonlySet<Permission> = new Set([
  'audit:read',
  'audit:export',
  'tenant:export',
  // The tenant's sign-in configuration (its own IdP): owners only, so any other attempt is worth a trace.
  'tenant:sso',
  // The tenant's deletion status (GET …/deletion): owners only, like the deletion itself.
  'tenant:delete',
]);

/** Whether a refusal on this route is written to the tenant's audit log: every change, and sensitive reads. */
export function isAuditedRefusal(route: RouteDef): boolean {
  if (route.method !== 'GET') return true;
  return route.auth.kind === 'tenant' && SENSITIVE_READS.has(route.auth.permission);
}

/**
 * Writes a refusal to the tenant's audit log as `auth.action.refused`: who, with which credential, the
 * route, why, and the ids aimed at (never a body). The refusal stands whether or not this succeeds.
 */
export function auditRefusalsTo(
  audit: Pick<AuditRecorder, 'record'>,
): (refusal: AccessRefusal) => Promise<void> {
  return async ({ scope, principal, route, actor, reason, target }) => {
    await audit.record(scope, {
      action: 'auth.action.refused',
      actor,
      resource: { type: 'tenant', id: scope.tenantId },
      details: {
        route: route.id,
        reason,
        credential: principal.kind,
        ...(route.auth.kind === 'tenant' && reason === 'permission-missing'
          ? { permission: route.auth.permission }
          : {}),
        ...(Object.keys(target).length > 0 ? { target } : {}),
      },
    });
  };
}
