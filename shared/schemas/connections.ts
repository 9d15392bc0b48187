import { X509Certificate } from 'node:crypto';
import { PASSWORD_MASK, TLS_MODES } from '../domain/connection-fields.js';
import { QueryRules } from '../domain/query-rules.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { ConnectionId, defineTenantListRoute, TenantId, TenantParams, UserId } from './common.js';

// Postgres names are at most 63 bytes (NAMEDATALEN − 1); control characters never belong in them.
const PgName = z.onFirstUse(() =>
  z.string().check(
    z.minLength(1),
    z.maxLength(63),
    z.refine((s) => Buffer.byteLength(s, 'utf8') <= 63, 'Must be at most 63 bytes'),
    z.refine((s) => !/\p{Cc}/u.test(s), 'Must not contain control characters'),
  ),
);

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/** One or more PEM certificates (a CA bundle), each parsed: nothing else is accepted. */
export const CaCertificate = z.onFirstUse(() =>
  z.string().check(
    z.maxLength(60_000),
    z.superRefine((pem, ctx) => {
      const blocks = pem.match(PEM_BLOCK) ?? [];
      const rest = pem.replace(PEM_BLOCK, '').trim();
      if (blocks.length === 0 || rest !== '' || blocks.length > 100) {
        ctx.addIssue({ code: 'custom', message: 'Must be one or more PEM certificates and nothing else' });
        return;
      }
      for (const block of blocks) {
        try {
          new X509Certificate(block);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'Contains a certificate that does not parse' });
          return;
        }
      }
    }),
  ),
);

const Password = z.onFirstUse(() =>
  z.string().check(
    z.minLength(1),
    z.maxLength(1024),
    z.refine((s) => !s.includes('\u0000'), 'Must not contain NUL'),
  ),
);

const Fields = z.onFirstUse(() => ({
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)),
  /** Host name or IP address; checked against the deployment's network policy on every write. */
  host: z.string().check(z.trim(), z.minLength(1), z.maxLength(253)),
  port: z.number().check(z.int(), z.minimum(1), z.maximum(65_535)),
  database: PgName(),
  user: PgName(),
  /** Schema whose tables are queryable (`public` when unset). */
  schema: PgName(),
  tlsMode: z.enum(TLS_MODES),
  caCertificate: CaCertificate(),
  password: Password(),
  rules: QueryRules(),
}));

export const CreateConnectionBody = z.onFirstUse(() =>
  z.strictObject({
    name: Fields().name,
    host: Fields().host,
    port: z._default(Fields().port, 5432),
    database: Fields().database,
    user: Fields().user,
    schema: z.optional(Fields().schema),
    tlsMode: z._default(Fields().tlsMode, 'require'),
    caCertificate: z.optional(Fields().caCertificate),
    password: Fields().password,
    rules: z.optional(Fields().rules),
  }),
);
export type CreateConnectionBody = z.OutputOf<typeof CreateConnectionBody>;

/** Any subset; `null` clears an optional field. A new password replaces the stored one (never read back). */
export const UpdateConnectionBody = z.onFirstUse(() =>
  z
    .strictObject({
      name: z.optional(Fields().name),
      host: z.optional(Fields().host),
      port: z.optional(Fields().port),
      database: z.optional(Fields().database),
      user: z.optional(Fields().user),
      schema: z.optional(z.nullable(Fields().schema)),
      tlsMode: z.optional(Fields().tlsMode),
      caCertificate: z.optional(z.nullable(Fields().caCertificate)),
      password: z.optional(Fields().password),
      rules: z.optional(z.nullable(Fields().rules)),
    })
    .check(
      // Only when the fields themselves are valid: otherwise a bad field would also read as "no field".
      z.refine((body) => Object.keys(body).length > 0, {
        message: 'Give at least one field to change',
        when: (payload) => payload.issues.length === 0,
      }),
    ),
);
export type UpdateConnectionBody = z.OutputOf<typeof UpdateConnectionBody>;

export const Connection = z.onFirstUse(() =>
  z
    .object({
      connectionId: ConnectionId(),
      name: z.string(),
      host: z.string(),
      port: z.number(),
      database: z.string(),
      user: z.string(),
      schema: z.nullable(z.string()),
      tlsMode: z.enum(TLS_MODES),
      caCertificate: z.nullable(z.string()),
      /** Always the mask: the password is write-only. */
      password: z.literal(PASSWORD_MASK),
      passwordUpdatedAt: z.string(),
      rules: z.nullable(QueryRules()),
      createdAt: z.string(),
      createdBy: UserId(),
      updatedAt: z.string(),
      updatedBy: UserId(),
    })
    .check(z.meta({ id: 'Connection' })),
);

export const RevealedPassword = z.onFirstUse(() =>
  z
    .object({ connectionId: ConnectionId(), password: z.string() })
    .check(z.meta({ id: 'RevealedConnectionPassword' })),
);

const ConnectionParams = z.onFirstUse(() =>
  z.strictObject({ tenantId: TenantId(), connectionId: ConnectionId() }),
);
export const listConnections = defineTenantListRoute({
  id: 'listConnections',
  path: '/v1/tenants/{tenantId}/connections',
  area: 'connections',
  summary: 'List data-source connections (passwords masked)',
  tags: ['connections'],
  permission: 'connections:read',
  description: 'A page of connections',
  item: Connection,
});

export const createConnection = defineRoute({
  id: 'createConnection',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/connections',
  area: 'connections',
  summary: 'Register a Postgres connection; the password is stored only encrypted under the tenant key',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:manage' },
  get params() {
    return TenantParams();
  },
  get body() {
    return CreateConnectionBody();
  },
  response: {
    status: 201,
    description: 'The connection, password masked',
    get schema() {
      return Connection();
    },
  },
});

export const getConnection = defineRoute({
  id: 'getConnection',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}',
  area: 'connections',
  summary: 'Read a connection (password masked)',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:read' },
  get params() {
    return ConnectionParams();
  },
  response: {
    status: 200,
    description: 'The connection, password masked',
    get schema() {
      return Connection();
    },
  },
});

export const updateConnection = defineRoute({
  id: 'updateConnection',
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}',
  area: 'connections',
  summary:
    'Change a connection or its query rules; moving it (host, port, TLS) needs the password again in the same request',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:manage' },
  get params() {
    return ConnectionParams();
  },
  get body() {
    return UpdateConnectionBody();
  },
  response: {
    status: 200,
    description: 'The connection, password masked',
    get schema() {
      return Connection();
    },
  },
});

export const deleteConnection = defineRoute({
  id: 'deleteConnection',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}',
  area: 'connections',
  summary: 'Delete a connection and its encrypted password',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:manage' },
  get params() {
    return ConnectionParams();
  },
  response: { status: 204, description: 'Deleted' },
});

export const revealConnectionPassword = defineRoute({
  id: 'revealConnectionPassword',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/connections/{connectionId}/reveal',
  area: 'connections',
  summary: 'Owners only, signed in (not with an API key): the decrypted password; audited',
  tags: ['connections'],
  auth: { kind: 'tenant', permission: 'connections:reveal', sessionOnly: true },
  get params() {
    return ConnectionParams();
  },
  response: {
    status: 200,
    description: 'The password',
    get schema() {
      return RevealedPassword();
    },
  },
});

export const connectionsRoutes = [
  listConnections,
  createConnection,
  getConnection,
  updateConnection,
  deleteConnection,
  revealConnectionPassword,
];
