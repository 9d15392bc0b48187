import type { AuditEventInput } from '../domain/audit-events.js';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { checkConnectionHost, type HostPolicy } from '../domain/connection-host.js';
import { newId } from '../domain/ids.js';
import { type FieldError, ForbiddenError, ValidationError } from '../errors.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import {
  type ConnectionRecord,
  type ConnectionsStore,
  PASSWORD_MASK,
  type TlsMode,
} from '../store/connections-store.js';

/** What a client sets on a connection: the stored fields it chooses, and the password. */
type ConnectionSettings = Pick<
  ConnectionRecord,
  'name' | 'host' | 'port' | 'database' | 'user' | 'schema' | 'tlsMode' | 'caCertificate' | 'rules'
> & { password: string };

/** A new connection, as the create route validated it (defaults applied). */
export type CreateConnectionBody = ConnectionSettings;

/** Changes to a connection, as the update route validated them; `null` clears an optional field. */
export type UpdateConnectionBody = {
  [K in keyof ConnectionSettings]?: undefined extends ConnectionSettings[K]
    ? ConnectionSettings[K] | null
    : ConnectionSettings[K];
};

export interface ConnectionsServiceDeps {
  store: ConnectionsStore;
  audit: AuditRecorder;
  hostPolicy: HostPolicy;
  now?: () => number;
}

/** The API view of a connection: every field but the password, which is always the mask. */
export function publicConnection(record: ConnectionRecord) {
  return {
    connectionId: record.connectionId,
    name: record.name,
    host: record.host,
    port: record.port,
    database: record.database,
    user: record.user,
    schema: record.schema ?? null,
    tlsMode: record.tlsMode,
    caCertificate: record.caCertificate ?? null,
    password: PASSWORD_MASK,
    passwordUpdatedAt: record.passwordUpdatedAt,
    rules: record.rules ?? null,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    updatedAt: record.updatedAt,
    updatedBy: record.updatedBy,
  };
}

// Non-secret fields that may appear in audit details (never the password or its ciphertext).
const AUDITED_FIELDS = ['name', 'host', 'port', 'database', 'user', 'schema', 'tlsMode', 'rules'] as const;
// Changing where the password is sent, or how the server is verified, needs the password again: otherwise
// an admin (who may not read the password) could point the connection at a server of their own and have
// the query layer hand it over.
const RETARGETING_FIELDS = ['host', 'port', 'tlsMode', 'caCertificate'] as const;

function auditable(record: ConnectionRecord) {
  const out: Record<string, unknown> = {};
  for (const field of AUDITED_FIELDS) if (record[field] !== undefined) out[field] = record[field];
  if (record.caCertificate) out.caCertificate = 'set';
  return out;
}

/** Data-source connections: create, read (masked), update, delete, and the owner-only reveal. */
export class ConnectionsService {
  readonly #deps: ConnectionsServiceDeps;
  readonly #now: () => number;

  constructor(deps: ConnectionsServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async list(caller: TenantCaller, page: { cursor?: string; limit: number }) {
    const { items, nextCursor } = await this.#deps.store.list(caller.access.scope, page);
    return { items: items.map(publicConnection), nextCursor };
  }

  async get(caller: TenantCaller, connectionId: string) {
    return publicConnection(await this.#deps.store.get(caller.access.scope, connectionId));
  }

  async create(caller: TenantCaller, body: CreateConnectionBody) {
    const now = new Date(this.#now()).toISOString();
    const record: ConnectionRecord = {
      connectionId: newId('c'),
      name: body.name,
      host: body.host,
      port: body.port,
      database: body.database,
      user: body.user,
      ...(body.schema !== undefined ? { schema: body.schema } : {}),
      tlsMode: body.tlsMode,
      ...(body.caCertificate !== undefined ? { caCertificate: body.caCertificate } : {}),
      ...(body.rules !== undefined ? { rules: body.rules } : {}),
      passwordUpdatedAt: now,
      createdAt: now,
      createdBy: caller.principal.userId,
      updatedAt: now,
      updatedBy: caller.principal.userId,
      version: 1,
    };
    const checked = this.#validate(record);
    await this.#deps.store.create(caller.access.scope, checked, body.password, [
      this.#auditPut(caller, 'connection.created', checked, {
        after: { ...auditable(checked), passwordSet: true },
      }),
    ]);
    return publicConnection(checked);
  }

  async update(caller: TenantCaller, connectionId: string, body: UpdateConnectionBody) {
    const before = await this.#deps.store.get(caller.access.scope, connectionId);
    const now = new Date(this.#now()).toISOString();
    const after: ConnectionRecord = { ...before, updatedAt: now, updatedBy: caller.principal.userId };
    for (const field of ['name', 'host', 'port', 'database', 'user', 'tlsMode'] as const) {
      if (body[field] !== undefined) (after as unknown as Record<string, unknown>)[field] = body[field];
    }
    for (const field of ['schema', 'caCertificate', 'rules'] as const) {
      if (body[field] === null) delete after[field];
      else if (body[field] !== undefined) (after as unknown as Record<string, unknown>)[field] = body[field];
    }
    if (body.password !== undefined) after.passwordUpdatedAt = now;
    after.version = before.version + 1;

    const checked = this.#validate(after);
    const retargeted = RETARGETING_FIELDS.filter(
      (field) => JSON.stringify(before[field] ?? null) !== JSON.stringify(checked[field] ?? null),
    );
    if (retargeted.length > 0 && body.password === undefined)
      throw new ValidationError(
        [{ path: 'body.password', message: `Required when changing ${retargeted.join(', ')}` }],
        'Changing where or how the connection connects needs its password again, in the same request.',
      );

    const changed = [
      ...AUDITED_FIELDS.filter(
        (f) => JSON.stringify(before[f] ?? null) !== JSON.stringify(checked[f] ?? null),
      ),
      ...(retargeted.includes('caCertificate') ? ['caCertificate'] : []),
      ...(body.password !== undefined ? ['password'] : []),
    ];
    const pick = (record: ConnectionRecord) =>
      Object.fromEntries(
        changed
          .filter((f) => (AUDITED_FIELDS as readonly string[]).includes(f))
          .map((f) => [f, record[f as keyof ConnectionRecord] ?? null]),
      );
    await this.#deps.store.update(caller.access.scope, before, checked, body.password, [
      this.#auditPut(caller, 'connection.updated', checked, {
        changed,
        before: pick(before),
        after: pick(checked),
        ...(body.password !== undefined ? { password: 'replaced' } : {}),
      }),
    ]);
    return publicConnection(checked);
  }

  async delete(caller: TenantCaller, connectionId: string): Promise<void> {
    const record = await this.#deps.store.get(caller.access.scope, connectionId);
    await this.#deps.store.delete(caller.access.scope, record, [
      this.#auditPut(caller, 'connection.deleted', record, { before: auditable(record) }),
    ]);
  }

  /**
   * The decrypted password, for owners. Decrypt first (a failed decrypt reveals nothing and is not
   * recorded as a reveal), then append the audit event and wait for it: if the event cannot be written
   * the password is not returned, so there is never an unaudited reveal.
   */
  async reveal(caller: TenantCaller, connectionId: string) {
    // Defence in depth: the route demands it of a session; this use case must not trust that.
    if (!caller.access.permissions.has('connections:reveal'))
      throw new ForbiddenError('Revealing a password needs the connections:reveal permission.');
    const { record, password } = await this.#deps.store.getWithPassword(caller.access.scope, connectionId);
    await this.#deps.audit.record(
      caller.access.scope,
      this.#event(caller, 'connection.revealed', record, {}),
    );
    return { connectionId: record.connectionId, password };
  }

  /** Host, port and TLS rules that depend on the deployment; 400 naming the field. */
  #validate(record: ConnectionRecord): ConnectionRecord {
    const errors: FieldError[] = [];
    const host = checkConnectionHost(record.host, this.#deps.hostPolicy);
    if (!host.allowed) {
      errors.push({
        path: 'body.host',
        message:
          host.hostClass === 'private'
            ? `Host is ${host.reason}; this deployment does not allow private networks`
            : `Host is ${host.reason}, which is never allowed`,
      });
    }
    const tls: TlsMode = record.tlsMode;
    if (record.caCertificate && tls !== 'verify-full')
      errors.push({
        path: 'body.caCertificate',
        message:
          'A CA certificate is only used with tlsMode "verify-full"; it would give a false sense of safety',
      });
    // Plaintext only where the traffic cannot leave a private network, and only where the deployment allows those.
    if (tls === 'disable' && !(host.allowed && host.hostClass === 'private'))
      errors.push({
        path: 'body.tlsMode',
        message: 'tlsMode "disable" is allowed only for private-network hosts in deployments that allow them',
      });
    if (errors.length > 0) throw new ValidationError(errors);
    return { ...record, host: host.host };
  }

  #event(
    caller: TenantCaller,
    action: AuditEventInput['action'],
    record: ConnectionRecord,
    details: Record<string, unknown>,
  ): AuditEventInput {
    return {
      action,
      actor: auditActorOf(caller),
      resource: { type: 'connection', id: record.connectionId },
      details: { name: record.name, ...details },
    };
  }

  #auditPut(
    caller: TenantCaller,
    action: AuditEventInput['action'],
    record: ConnectionRecord,
    details: Record<string, unknown>,
  ) {
    return this.#deps.audit.auditPut(caller.access.scope, this.#event(caller, action, record, details));
  }
}
