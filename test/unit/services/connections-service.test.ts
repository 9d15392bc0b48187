import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DecryptCommand,
  DisabledException,
  GenerateDataKeyCommand,
  KMS,
  KMSClient,
  KMSInvalidStateException,
} from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EnvelopeCipher, TenantCrypto, TenantKeyUnavailableError } from '../../../shared/crypto/envelope.js';
import type { AuditEventInput } from '../../../shared/domain/audit-events.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { ConflictError, ServiceUnavailableError, ValidationError } from '../../../shared/errors.js';
import { CreateConnectionBody, type UpdateConnectionBody } from '../../../shared/schemas/connections.js';
import { ConnectionsService } from '../../../shared/services/connections.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import { ConnectionsStore } from '../../../shared/store/connections-store.js';
import { kmsThrottling } from '../../support/aws-faults.js';

const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';
const KEY = 'arn:aws:kms:eu-central-1:111122223333:key/00000001-12ab-34cd-56ef-1234567890ab';
const scope = mintTenantScope({ tenantId: TENANT, userId: 'u_01jabcdefghjkmnpqrstvwxyz0' });
const caller = {
  access: { scope, permissions: permissionsOf('owner'), roleCeiling: 'owner' as const },
  principal: { kind: 'session' as const, userId: scope.userId, credentialId: 's_1', mfaEnabled: false },
  ip: '203.0.113.9',
  userAgent: 'test',
};

const kmsMock = mockClient(KMSClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const docClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-central-1' }));

/** An audit recorder that keeps what it is given (the seam's contract, no AWS). */
class RecordingAudit implements AuditRecorder {
  readonly recorded: AuditEventInput[] = [];
  fail = false;
  auditPut(_scope: unknown, event: AuditEventInput) {
    return { Put: { TableName: 'audit', Item: { pk: TENANT, sk: `EVENT#${event.action}`, event } } };
  }
  async record(_scope: unknown, event: AuditEventInput) {
    if (this.fail) throw Object.assign(new Error('audit down'), { name: 'ServiceUnavailableException' });
    this.recorded.push(event);
  }
  async recordPlatform() {}
  platformPut() {
    return {};
  }
}

/** The tenant's crypto: a real envelope cipher over the mocked KMS, with the tenant's one key. */
const tenantCrypto = () =>
  new TenantCrypto({
    cipher: new EnvelopeCipher({ kms: new KMS({ region: 'eu-central-1' }) }),
    keys: { keyArnFor: async () => KEY },
  });

/** The stored connection's password `pw`, encrypted as the service stores it. */
const storedPasswordCiphertext = () =>
  tenantCrypto().encrypt(
    scope,
    { purpose: 'connection-password', recordId: 'c_01jabcdefghjkmnpqrstvwxyz0' },
    'pw',
  );

function service(allowPrivateNetworks = false) {
  const crypto = tenantCrypto();
  const hostPolicy = { allowPrivateNetworks };
  const audit = new RecordingAudit();
  const store = new ConnectionsStore({
    clients: { forScope: async () => docClient },
    tableName: 'tenant-data',
    crypto,
    hostPolicy,
  });
  return { svc: new ConnectionsService({ store, audit, hostPolicy }), audit, store };
}

const body = (overrides: Record<string, unknown> = {}) =>
  CreateConnectionBody().parse({
    name: 'Warehouse',
    host: 'db.example.com',
    database: 'app',
    user: 'reader',
    password: 'p4ssw0rd-that-is-secret',
    ...overrides,
  });

beforeEach(() => {
  kmsMock.reset();
  dynamoMock.reset();
  const plaintext = new Uint8Array(randomBytes(32));
  kmsMock.on(GenerateDataKeyCommand).callsFake((input) => ({
    KeyId: input.KeyId,
    Plaintext: Uint8Array.from(plaintext),
    CiphertextBlob: new Uint8Array(64).fill(7),
  }));
  kmsMock
    .on(DecryptCommand)
    .callsFake((input) => ({ KeyId: input.KeyId, Plaintext: Uint8Array.from(plaintext) }));
  dynamoMock.on(TransactWriteCommand).resolves({});
});

describe('ConnectionsService.create', () => {
  it('writes the item with ciphertext only, and its audit event, in one transaction', async () => {
    // Prepare
    const { svc } = service();

    // Act
    const created = await svc.create(caller, body());

    // Assess: the password masked, and one transaction of the item (ciphertext only) and its event
    expect(created.password).toBe('********');
    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = dynamoMock.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2);
    const put = items[0]!.Put!;
    expect(put.Item).toMatchObject({
      pk: TENANT,
      sk: `CONNECTION#${created.connectionId}`,
      type: 'connection',
    });
    expect(JSON.stringify(items)).not.toContain('p4ssw0rd');
    expect(typeof put.Item!.passwordCiphertext).toBe('string');
    expect(items[1]!.Put!.Item!.event).toMatchObject({ action: 'connection.created' });
  });

  it('a KMS throttle is a 503 with Retry-After and nothing is written', async () => {
    // Prepare: KMS throttles
    kmsMock.on(GenerateDataKeyCommand).rejects(kmsThrottling());
    const { svc } = service();

    // Act
    const error = await svc.create(caller, body()).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).headers['Retry-After']).toBeDefined();
    expect(dynamoMock).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('a disabled tenant key is a 409 tenant-key-unavailable and nothing is written', async () => {
    // Prepare: the tenant key is disabled
    kmsMock.on(GenerateDataKeyCommand).rejects(new DisabledException({ message: 'disabled', $metadata: {} }));
    const { svc } = service();

    // Act / Assess
    await expect(svc.create(caller, body())).rejects.toBeInstanceOf(TenantKeyUnavailableError);

    // Assess: nothing written
    expect(dynamoMock).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it.each([
    ['loopback', { host: '127.0.0.1' }, 'body.host'],
    ['metadata', { host: '169.254.169.254' }, 'body.host'],
    ['plaintext to a public host', { tlsMode: 'disable' }, 'body.tlsMode'],
    ['a host name meaning this machine', { host: 'localhost' }, 'body.host'],
  ])('refuses %s before any KMS call or write', async (_name, overrides, path) => {
    // Prepare
    const { svc } = service();

    // Act
    const error = await svc.create(caller, body(overrides)).catch((e: unknown) => e);

    // Assess: the field named, no KMS call, nothing written
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors!.map((e) => e.path)).toContain(path);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(dynamoMock).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('refuses a CA certificate without verify-full (it would verify nothing)', async () => {
    // Prepare
    const { svc } = service();

    // Act
    const error = await svc
      .create(caller, { ...body(), caCertificate: 'a parsed PEM' })
      .catch((e: unknown) => e);

    // Assess
    expect((error as ValidationError).errors).toEqual([
      { path: 'body.caCertificate', message: expect.any(String) },
    ]);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  it('allows plaintext only to a private host in a deployment that allows private networks', async () => {
    // Act / Assess: a private host may go in plaintext; a public one still may not
    await expect(
      service(true).svc.create(caller, body({ host: '10.0.0.5', tlsMode: 'disable' })),
    ).resolves.toMatchObject({ tlsMode: 'disable' });
    await expect(service(true).svc.create(caller, body({ tlsMode: 'disable' }))).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('ConnectionsService.update and reveal', () => {
  const stored = (overrides: Record<string, unknown> = {}) => ({
    pk: TENANT,
    sk: 'CONNECTION#c_01jabcdefghjkmnpqrstvwxyz0',
    type: 'connection',
    connectionId: 'c_01jabcdefghjkmnpqrstvwxyz0',
    name: 'Warehouse',
    host: 'db.example.com',
    port: 5432,
    database: 'app',
    user: 'reader',
    tlsMode: 'require',
    passwordUpdatedAt: '2026-01-01T00:00:00.000Z',
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: caller.principal.userId,
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: caller.principal.userId,
    version: 3,
    ...overrides,
  });

  it.each([
    ['host', { host: 'evil.example.com' }],
    ['port', { port: 6543 }],
    ['tlsMode', { tlsMode: 'verify-full' }],
  ])(
    'moving the connection (%s) without the password is refused before anything is written',
    async (_f, patch) => {
      // Prepare
      dynamoMock.on(GetCommand).resolves({ Item: stored() });
      const { svc } = service();

      // Act
      const error = await svc
        .update(caller, 'c_01jabcdefghjkmnpqrstvwxyz0', patch as UpdateConnectionBody)
        .catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).errors).toEqual([
        { path: 'body.password', message: expect.any(String) },
      ]);
      expect(dynamoMock).not.toHaveReceivedCommand(TransactWriteCommand);
    },
  );

  it('updates conditionally on the version read, and reports a concurrent change as 409', async () => {
    // Prepare: the item at version 3
    dynamoMock.on(GetCommand).resolves({ Item: stored() });
    const { svc } = service();

    // Act
    await svc.update(caller, 'c_01jabcdefghjkmnpqrstvwxyz0', { name: 'Renamed' });

    // Assess: conditioned on version 3, and the password untouched
    const update = dynamoMock.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Update!;
    expect(update.ConditionExpression).toBe('attribute_exists(pk) AND #version = :expected');
    expect(update.ExpressionAttributeValues![':expected']).toBe(3);
    expect(update.UpdateExpression).not.toContain('passwordCiphertext');
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  it('a key pending deletion makes reveal a 409 and records no reveal', async () => {
    // Prepare: a stored password, and a key pending deletion
    kmsMock
      .on(DecryptCommand)
      .rejects(new KMSInvalidStateException({ message: 'pending deletion', $metadata: {} }));
    const { svc, audit } = service();
    const ciphertext = await storedPasswordCiphertext();
    dynamoMock.on(GetCommand).resolves({ Item: stored({ passwordCiphertext: ciphertext }) });

    // Act / Assess
    await expect(svc.reveal(caller, 'c_01jabcdefghjkmnpqrstvwxyz0')).rejects.toMatchObject({
      status: 409,
      type: 'tenant-key-unavailable',
    });

    // Assess: no reveal recorded
    expect(audit.recorded).toEqual([]);
  });

  it('refuses a reveal to a caller whose effective permissions lack connections:reveal, reading nothing', async () => {
    // Prepare: an owner's key without connections:reveal
    const { svc, audit } = service();
    const ownerKeyWithoutReveal = {
      ...caller,
      access: {
        ...caller.access,
        permissions: new Set([...permissionsOf('owner')].filter((p) => p !== 'connections:reveal')),
      },
    };

    // Act / Assess
    await expect(svc.reveal(ownerKeyWithoutReveal, 'c_01jabcdefghjkmnpqrstvwxyz0')).rejects.toMatchObject({
      status: 403,
    });

    // Assess: nothing read, nothing decrypted, nothing recorded
    expect(dynamoMock).toHaveReceivedCommandTimes(GetCommand, 0);
    expect(kmsMock.calls()).toHaveLength(0);
    expect(audit.recorded).toEqual([]);
  });

  it('does not return the password when the reveal cannot be audited', async () => {
    // Prepare: a stored password, and an audit that fails
    const ciphertext = await storedPasswordCiphertext();
    dynamoMock.on(GetCommand).resolves({ Item: stored({ passwordCiphertext: ciphertext }) });
    const { svc, audit } = service();
    audit.fail = true;

    // Act
    const result = await svc.reveal(caller, 'c_01jabcdefghjkmnpqrstvwxyz0').catch((e: unknown) => e);

    // Assess: an error without the password
    expect(result).toBeInstanceOf(Error);
    expect(JSON.stringify(result)).not.toContain('"pw"');

    // Act / Assess: once the audit works again, the reveal answers and is recorded
    audit.fail = false;
    await expect(svc.reveal(caller, 'c_01jabcdefghjkmnpqrstvwxyz0')).resolves.toEqual({
      connectionId: 'c_01jabcdefghjkmnpqrstvwxyz0',
      password: 'pw',
    });
    expect(audit.recorded.map((e) => e.action)).toEqual(['connection.revealed']);
  });

  it('stops handing stored private-network connections to the query layer when the deployment forbids them', async () => {
    // Prepare: a stored connection to a private host
    const ciphertext = await storedPasswordCiphertext();
    dynamoMock
      .on(GetCommand)
      .resolves({ Item: stored({ host: '127.0.0.1', passwordCiphertext: ciphertext }) });

    // Act / Assess: refused where private networks are forbidden, handed over where they are allowed
    await expect(
      service(false).store.loadConnectionWithPassword(scope, 'c_01jabcdefghjkmnpqrstvwxyz0'),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      service(true).store.loadConnectionWithPassword(scope, 'c_01jabcdefghjkmnpqrstvwxyz0'),
    ).resolves.toMatchObject({ host: '127.0.0.1', password: 'pw', tlsMode: 'require' });
  });
});
