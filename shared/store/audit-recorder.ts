import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { AuditEventInput } from '../domain/audit-events.js';
import type { Plan } from '../domain/plans.js';
import type { TenantScope } from '../domain/tenant-scope.js';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The one audit function every area calls (implemented by shared/store/audit-store.ts). Where the audited
 * action is a DynamoDB write, put `auditPut(...)` in the same transaction so neither exists without the other.
 */
export interface AuditRecorder {
  /** A conditional Put of the event, to include in the audited change's TransactWriteItems. */
  auditPut(scope: TenantScope, event: AuditEventInput, options?: { plan?: Plan }): TransactItem;
  /** Appends a tenant event on its own (for actions that are not DynamoDB writes, e.g. a credential vend). */
  record(scope: TenantScope, event: AuditEventInput): Promise<void>;
  /** Appends an event to the platform log (sign-in, MFA, password, sessions: no tenant). */
  recordPlatform(event: AuditEventInput): Promise<void>;
  /** A conditional Put into the platform log for a platform-side transaction. */
  platformPut(event: AuditEventInput): TransactItem;
}
