/** The closed list of audited actions. */
export const AUDIT_ACTIONS = [
  'auth.sign-in.succeeded',
  'auth.sign-in.failed',
  'auth.mfa.enrolled',
  'auth.mfa.removed',
  'auth.session.revoked',
  'auth.password.changed',
  'auth.action.refused',
  'auth.email.verification-sent',
  'auth.email.verified',
  'auth.password-reset.requested',
  'auth.password-reset.completed',
  'auth.passkey.registered',
  'auth.passkey.renamed',
  'auth.passkey.removed',
  'auth.passkey.refused',
  'auth.step-up.verified',
  'auth.step-up.used',
  'auth.step-up.refused',
  'auth.sso.link-requested',
  'auth.sso.linked',
  'auth.sso.unlinked',
  'tenant.created',
  'tenant.updated',
  'tenant.plan-changed',
  'tenant.sso.configured',
  'tenant.sso.removed',
  'tenant.deletion-started',
  'tenant.deleted',
  'member.added',
  'member.role-changed',
  'member.removed',
  'member.invited',
  'invitation.accepted',
  'invitation.declined',
  'invitation.revoked',
  'api-key.created',
  'api-key.revoked',
  'storage-location.registered',
  'storage-location.removed',
  'storage-location.objects-deleted',
  'storage-location.validated',
  'storage-location.updated',
  'instance.created',
  'storage-credentials.vended',
  'storage-credentials.withheld',
  'storage-credentials.revoked',
  'storage-requests.signed',
  'storage-requests.refused',
  'connection.created',
  'connection.updated',
  'connection.deleted',
  'connection.revealed',
  'connection.queried',
  'connection.tested',
  'tenant-records.written',
  'audit.exported',
  'tenant.exported',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Audit log of security events that belong to no tenant (sign-in, MFA, password, sessions). */
export const PLATFORM_LOG_ID = 'platform';

export interface AuditActor {
  userId?: string;
  apiKeyId?: string;
  ip: string;
  userAgent: string;
}

/** What a caller records; the audit store adds id, time, log id and retention. Never put a secret here. */
export interface AuditEventInput {
  action: AuditAction;
  actor: AuditActor;
  resource: { type: string; id: string };
  /** Before/after and other non-secret details. */
  details?: Record<string, unknown>;
}

/** An event as the API (and the CSV export) shows it. */
export interface AuditEventView {
  id: string;
  time: string;
  action: string;
  actor: AuditActor;
  resource: { type: string; id: string };
  details?: Record<string, unknown>;
  /** Position in the hash chain; null while the event is pending. */
  sequence: number | null;
}
