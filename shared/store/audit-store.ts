import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { FunctionRuntime } from '../aws/runtime.js';
import type { ChainMacVerifier } from '../crypto/chain-mac.js';
import { PLATFORM_RETENTION_DAYS, retentionDaysFor } from '../domain/audit-append.js';
import type { StoredEventItem } from '../domain/audit-chain.js';
import { type AuditEventInput, PLATFORM_LOG_ID } from '../domain/audit-events.js';
import type { Plan } from '../domain/plans.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { type AuditAppends, auditAppendsOf } from './audit-appends.js';
import { buildEventItem } from './audit-event-item.js';
import type { AuditLogReader } from './audit-log-reader.js';
import type { AuditRecorder, TransactItem } from './audit-recorder.js';
import type { TenantDataClients } from './tenant-data-client.js';

/** Per-write options: the tenant's plan sets the event's TTL (the scope's plan when not given). */
export interface AuditWriteOptions {
  plan?: Plan;
}

export interface AuditStoreProps {
  /** The audit (events) table. */
  tableName: string;
  /** The audit chain table (read only here: only the sequencer and the daily job write it). */
  chainTableName: string;
  /** Scoped clients: tenant events are written and read with credentials limited to the tenant's partition. */
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  /** Function-role client, only for the platform log (which belongs to no tenant). */
  platformClient: DynamoDBDocumentClient;
  /** Checks head and checkpoint MACs when verifying (kms:VerifyMac); readers without it cannot verify. */
  mac?: ChainMacVerifier;
  /** Told of every append (before it commits), for an in-process sequencer; none in Lambda's own use. */
  appends?: AuditAppends;
  now?: () => number;
}

/**
 * The audit store: appends events (conditional Put only, never an update or delete) and reads, exports
 * and verifies a tenant's log through the tenant's scoped credentials.
 */
export class AuditStore implements AuditRecorder {
  readonly #props: AuditStoreProps;
  readonly #now: () => number;

  constructor(props: AuditStoreProps) {
    this.#props = props;
    this.#now = props.now ?? Date.now;
  }

  #tenantItem(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): StoredEventItem {
    // The scope carries the plan its minter read; unknown plans keep events the longest.
    const plan = options?.plan ?? scope.plan;
    return buildEventItem(scope.tenantId, event, retentionDaysFor(plan), this.#now());
  }

  #put(item: StoredEventItem) {
    return {
      TableName: this.#props.tableName,
      Item: item,
      // Append-only: an event id is written once and never overwritten.
      ConditionExpression: 'attribute_not_exists(pk)',
    };
  }

  /** A conditional Put of the event, to include in the audited change's TransactWriteItems. */
  auditPut(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): TransactItem {
    const item = this.#tenantItem(scope, event, options);
    this.#props.appends?.notify(scope.tenantId);
    return { Put: this.#put(item) };
  }

  /** Appends a tenant event on its own, with the tenant's scoped credentials; returns its id. */
  async record(scope: TenantScope, event: AuditEventInput, options?: AuditWriteOptions): Promise<void> {
    await this.recordWithId(scope, event, options);
  }

  /** Like `record`, returning the new event's id. */
  async recordWithId(
    scope: TenantScope,
    event: AuditEventInput,
    options?: AuditWriteOptions,
  ): Promise<string> {
    const item = this.#tenantItem(scope, event, options);
    const db = await this.#props.tenantClients.forScope(scope);
    this.#props.appends?.notify(scope.tenantId);
    await db.send(new PutCommand(this.#put(item)));
    return item.id;
  }

  /** Appends an event to the platform log. */
  async recordPlatform(event: AuditEventInput): Promise<void> {
    const item = buildEventItem(PLATFORM_LOG_ID, event, PLATFORM_RETENTION_DAYS, this.#now());
    this.#props.appends?.notify(PLATFORM_LOG_ID);
    await this.#props.platformClient.send(new PutCommand(this.#put(item)));
  }

  /** A conditional Put into the platform log for a platform-side transaction. */
  platformPut(event: AuditEventInput): TransactItem {
    const item = buildEventItem(PLATFORM_LOG_ID, event, PLATFORM_RETENTION_DAYS, this.#now());
    this.#props.appends?.notify(PLATFORM_LOG_ID);
    return { Put: this.#put(item) };
  }

  /**
   * A reader of the tenant's log with the tenant's scoped credentials. The reader and chain verification are
   * loaded here, not at init: the functions that only append events (all but audit) read the log for tenant
   * exports alone; the audit function loads them at init through shared/services/audit.ts.
   */
  async readerFor(scope: TenantScope): Promise<AuditLogReader> {
    const [db, { AuditLogReader }] = await Promise.all([
      this.#props.tenantClients.forScope(scope),
      import('./audit-log-reader.js'),
    ]);
    return new AuditLogReader({
      client: db,
      tableName: this.#props.tableName,
      chainTableName: this.#props.chainTableName,
      logId: scope.tenantId,
      mac: this.#props.mac,
      now: this.#now,
    });
  }
}

/**
 * The recorder every area uses, built from the function's runtime (call it at module scope in a handler).
 * Takes the function's one TenantDataClients so all of a function's tenant credentials share one cache, and
 * announces appends on the runtime's notifications.
 */
export function auditRecorderFor(
  runtime: FunctionRuntime,
  deps: {
    tenantClients: Pick<TenantDataClients, 'forScope'>;
    platformClient?: DynamoDBDocumentClient;
    /** Only where chains are verified (the audit function): its role may call kms:VerifyMac. */
    mac?: ChainMacVerifier;
  },
): AuditStore {
  return new AuditStore({
    tableName: runtime.require('auditTable'),
    chainTableName: runtime.require('auditChainTable'),
    tenantClients: deps.tenantClients,
    platformClient: deps.platformClient ?? runtime.dynamo,
    mac: deps.mac,
    appends: auditAppendsOf(runtime),
  });
}
