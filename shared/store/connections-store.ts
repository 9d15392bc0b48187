import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { TenantCrypto } from '../crypto/envelope.js';
import type { TlsMode } from '../domain/connection-fields.js';
import { checkConnectionHost, type HostPolicy } from '../domain/connection-host.js';
import { CONNECTION_SK_PREFIX, connectionSk } from '../domain/item-layout.js';
import type { QueryRules } from '../domain/query-rules.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { TransactItem } from './audit-recorder.js';
import { isConditionFailure } from './conditions.js';
import { queryPage } from './pagination.js';
import type { TenantDataClients } from './tenant-data-client.js';

/** Encryption-context purpose of connection passwords (with `tenantId` and `recordId` = connection id). */
export const CONNECTION_PASSWORD_PURPOSE = 'connection-password';

export { PASSWORD_MASK, TLS_MODES, type TlsMode } from '../domain/connection-fields.js';

/** A connection as stored, without its password (which only exists as ciphertext). */
export interface ConnectionRecord {
  connectionId: string;
  name: string;
  host: string;
  port: number;
  database: string;
  user: string;
  schema?: string;
  tlsMode: TlsMode;
  caCertificate?: string;
  rules?: QueryRules;
  passwordUpdatedAt: string;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
  /** Optimistic-concurrency counter: every update is conditional on it. */
  version: number;
}

/** A connection with its password decrypted, for the query layer (its `ConnectionSource` contract). */
export interface DecryptedConnection {
  connectionId: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** In memory only, for the request that connects. */
  password: string;
  tlsMode: TlsMode;
  caPem?: string;
  /** Schema whose tables are queryable; `public` when unset. */
  schema?: string;
  rules?: QueryRules;
}

const PUBLIC_ATTRIBUTES = [
  'connectionId',
  'name',
  'host',
  'port',
  'database',
  'user',
  'schema',
  'tlsMode',
  'caCertificate',
  'rules',
  'passwordUpdatedAt',
  'createdAt',
  'createdBy',
  'updatedAt',
  'updatedBy',
  'version',
] as const satisfies readonly (keyof ConnectionRecord)[];
const OPTIONAL_ATTRIBUTES = ['schema', 'caCertificate', 'rules'] as const;

// Masked reads never fetch the ciphertext at all. Several attribute names are DynamoDB reserved words.
const PUBLIC_PROJECTION = {
  ProjectionExpression: PUBLIC_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(PUBLIC_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
};

function toRecord(item: Record<string, unknown>): ConnectionRecord {
  const record: Record<string, unknown> = {};
  for (const name of PUBLIC_ATTRIBUTES) if (item[name] !== undefined) record[name] = item[name];
  return record as unknown as ConnectionRecord;
}

export interface ConnectionsStoreOptions {
  clients: Pick<TenantDataClients, 'forScope'>;
  tableName: string;
  /** Password encryption under the tenant's key (the connections function loads it on first use). */
  crypto: Pick<TenantCrypto, 'encrypt' | 'decrypt'>;
  /** Checked again whenever a password is handed to code that will connect. */
  hostPolicy: HostPolicy;
}

/**
 * Data-source connections in the tenant-data table (`{pk: tenantId, sk: CONNECTION#<id>}`), through the
 * tenant-scoped client. The password is stored only as Encryption SDK ciphertext (base64) bound to
 * `{tenantId, purpose: 'connection-password', recordId: connectionId}`; it is decrypted only for a reveal
 * or for the query layer, in memory.
 */
export class ConnectionsStore {
  readonly #options: ConnectionsStoreOptions;

  constructor(options: ConnectionsStoreOptions) {
    this.#options = options;
  }

  /** A page of the tenant's connections (no ciphertext read). */
  async list(
    scope: TenantScope,
    page: { cursor?: string; limit: number },
  ): Promise<{ items: ConnectionRecord[]; nextCursor: string | null }> {
    const db = await this.#options.clients.forScope(scope);
    const { items, nextCursor } = await queryPage(
      db,
      {
        tableName: this.#options.tableName,
        pk: scope.tenantId,
        skPrefix: CONNECTION_SK_PREFIX,
        projection: {
          expression: PUBLIC_PROJECTION.ProjectionExpression,
          names: PUBLIC_PROJECTION.ExpressionAttributeNames,
        },
      },
      page,
    );
    return { items: items.map(toRecord), nextCursor };
  }

  /** One connection (no ciphertext read); NotFoundError for an unknown id or another tenant's. */
  async get(scope: TenantScope, connectionId: string): Promise<ConnectionRecord> {
    const db = await this.#options.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#options.tableName,
        Key: tenantKey(scope, connectionSk(connectionId)),
        ...PUBLIC_PROJECTION,
        ConsistentRead: true,
      }),
    );
    if (!Item) throw new NotFoundError('No such connection.');
    return toRecord(Item);
  }

  /**
   * Encrypts the password, then writes the connection and `extra` (its audit event) in one transaction.
   * A KMS failure happens before any write, so nothing is half written.
   */
  async create(
    scope: TenantScope,
    record: ConnectionRecord,
    password: string,
    extra: TransactItem[],
  ): Promise<void> {
    const passwordCiphertext = await this.#encrypt(scope, record.connectionId, password);
    const db = await this.#options.clients.forScope(scope);
    await this.#transact(db, [
      {
        Put: {
          TableName: this.#options.tableName,
          Item: {
            ...tenantKey(scope, connectionSk(record.connectionId)),
            type: 'connection',
            ...record,
            passwordCiphertext,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...extra,
    ]);
  }

  /**
   * Writes `after` over `before` (only if nobody changed it meanwhile: `version` must still match) and,
   * when given, a newly encrypted password; with `extra` in the same transaction.
   */
  async update(
    scope: TenantScope,
    before: ConnectionRecord,
    after: ConnectionRecord,
    newPassword: string | undefined,
    extra: TransactItem[],
  ): Promise<void> {
    const passwordCiphertext =
      newPassword === undefined ? undefined : await this.#encrypt(scope, after.connectionId, newPassword);
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = { ':expected': before.version };
    const sets: string[] = [];
    const removes: string[] = [];
    PUBLIC_ATTRIBUTES.forEach((name, i) => {
      if (name === 'connectionId' || name === 'createdAt' || name === 'createdBy') return;
      const value = after[name];
      if (value === undefined) {
        if ((OPTIONAL_ATTRIBUTES as readonly string[]).includes(name)) {
          names[`#a${i}`] = name;
          removes.push(`#a${i}`);
        }
        return;
      }
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      sets.push(`#a${i} = :a${i}`);
    });
    if (passwordCiphertext !== undefined) {
      names['#ciphertext'] = 'passwordCiphertext';
      values[':ciphertext'] = passwordCiphertext;
      sets.push('#ciphertext = :ciphertext');
    }
    const db = await this.#options.clients.forScope(scope);
    await this.#transact(db, [
      {
        Update: {
          TableName: this.#options.tableName,
          Key: tenantKey(scope, connectionSk(after.connectionId)),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(pk) AND #version = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
      ...extra,
    ]);
  }

  /** Deletes the connection (and with it the only copy of its ciphertext) if unchanged since `record` was read. */
  async delete(scope: TenantScope, record: ConnectionRecord, extra: TransactItem[]): Promise<void> {
    const db = await this.#options.clients.forScope(scope);
    await this.#transact(db, [
      {
        Delete: {
          TableName: this.#options.tableName,
          Key: tenantKey(scope, connectionSk(record.connectionId)),
          ConditionExpression: 'attribute_exists(pk) AND #version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': record.version },
        },
      },
      ...extra,
    ]);
  }

  /** The connection and its decrypted password (in memory only); NotFoundError for another tenant's id. */
  async getWithPassword(
    scope: TenantScope,
    connectionId: string,
  ): Promise<{ record: ConnectionRecord; password: string }> {
    const db = await this.#options.clients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#options.tableName,
        Key: tenantKey(scope, connectionSk(connectionId)),
        ConsistentRead: true,
      }),
    );
    if (!Item) throw new NotFoundError('No such connection.');
    const plaintext = await this.#options.crypto.decrypt(
      scope,
      { purpose: CONNECTION_PASSWORD_PURPOSE, recordId: connectionId },
      String(Item.passwordCiphertext ?? ''),
    );
    const password = plaintext.toString('utf8');
    plaintext.fill(0);
    return { record: toRecord(Item), password };
  }

  /**
   * For the query layer: the connection with its password decrypted in memory. The host is checked again
   * against the current network policy, so tightening ALLOW_PRIVATE_NETWORKS also stops stored connections.
   */
  async loadConnectionWithPassword(scope: TenantScope, connectionId: string): Promise<DecryptedConnection> {
    const { record, password } = await this.getWithPassword(scope, connectionId);
    const host = checkConnectionHost(record.host, this.#options.hostPolicy);
    if (!host.allowed)
      throw new ConflictError(
        `This connection's host is ${host.reason}, which this deployment does not allow; change the host.`,
        'connection-host-not-allowed',
      );
    return {
      connectionId: record.connectionId,
      host: record.host,
      port: record.port,
      database: record.database,
      user: record.user,
      password,
      tlsMode: record.tlsMode,
      ...(record.caCertificate ? { caPem: record.caCertificate } : {}),
      ...(record.schema ? { schema: record.schema } : {}),
      ...(record.rules ? { rules: record.rules } : {}),
    };
  }

  #encrypt(scope: TenantScope, connectionId: string, password: string): Promise<string> {
    return this.#options.crypto.encrypt(
      scope,
      { purpose: CONNECTION_PASSWORD_PURPOSE, recordId: connectionId },
      password,
    );
  }

  async #transact(
    db: Awaited<ReturnType<TenantDataClients['forScope']>>,
    items: TransactItem[],
  ): Promise<void> {
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error, 0))
        throw new ConflictError(
          'The connection was changed or deleted by someone else meanwhile; read it again and retry.',
          'concurrent-modification',
        );
      throw error;
    }
  }
}
