import {
  DeleteObjectCommand,
  type GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { isTransientAwsError } from '../../../shared/errors.js';
import {
  EXPORT_URL_SECONDS,
  TenantExportService,
  tenantArchive,
} from '../../../shared/services/tenant-export.js';
import type { AuditRecorder } from '../../../shared/store/audit-recorder.js';
import { PASSWORD_MASK } from '../../../shared/store/connections-store.js';
import { TenantExportArchives } from '../../../shared/store/tenant-export-archives.js';
import type { TenantStore } from '../../../shared/store/tenant-store.js';
import { tenantCallerAs } from '../../support/tenant-callers.js';

const s3 = mockClient(S3Client);
const T = 't_01jx0000000000000000000001';
const U = 'u_01jx0000000000000000000001';
const KEY_ARN = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const NOW = Date.parse('2026-11-22T12:00:00Z');

/** A storage location as the export holds it: its item without the keys and the internal counters. */
const EXPORTED_LOCATION = {
  locationId: 'l_1',
  kind: 'external',
  root: 's3://lake/raw',
  bucket: 'lake',
  prefix: 'raw',
  region: 'eu-central-1',
  roleArn: 'arn:aws:iam::210987654321:role/lake',
  createdAt: '2026-01-01T00:00:00Z',
  createdBy: U,
};

/** Raw items as the tenant partition holds them, secrets included. */
const ITEMS = [
  {
    pk: T,
    sk: 'TENANT',
    tenantId: T,
    name: 'Acme',
    plan: 'team',
    keyArn: KEY_ARN,
    createdAt: '2026-01-01T00:00:00Z',
    createdBy: U,
    ownerCount: 1,
    settings: { requireMfa: true },
  },
  {
    pk: T,
    sk: `MEMBER#${U}`,
    tenantId: T,
    userId: U,
    role: 'owner',
    email: 'o@example.test',
    name: 'O',
    addedAt: '2026-01-01T00:00:00Z',
    addedBy: U,
    gsi1pk: `USER#${U}`,
  },
  {
    pk: T,
    sk: 'APIKEY#k_1',
    keyId: 'k_1',
    tenantId: T,
    name: 'ci',
    scopes: ['tenant:read'],
    createdBy: U,
    createdAt: '2026-01-01T00:00:00Z',
    expiresAt: NOW + 86_400_000,
    secretHash: 'HASH-OF-THE-KEY',
  },
  {
    pk: T,
    sk: 'CONNECTION#c_1',
    connectionId: 'c_1',
    name: 'W',
    host: 'db',
    port: 5432,
    database: 'app',
    user: 'r',
    tlsMode: 'require',
    passwordCiphertext: 'CIPHERTEXT-OF-THE-PASSWORD',
    passwordUpdatedAt: '2026-01-01T00:00:00Z',
    createdAt: '2026-01-01T00:00:00Z',
    createdBy: U,
    updatedAt: '2026-01-01T00:00:00Z',
    updatedBy: U,
    version: 1,
  },
  { pk: T, sk: 'LOCATION#l_1', ...EXPORTED_LOCATION, instanceCount: 1, futureSecret: 'LOCATION-SECRET' },
  {
    pk: T,
    sk: 'STORAGE-EXTERNAL-ID',
    externalId: 'strongroom-EXTERNAL-ID',
    createdAt: '2026-01-01T00:00:00Z',
  },
  { pk: T, sk: 'INSTANCE-NAME#lab', instanceId: 'i_1' },
  { pk: T, sk: 'SOMETHING-NEW#1', token: 'UNKNOWN-KIND-SECRET' },
];

const caller = (role: 'owner' | 'admin' = 'owner') =>
  tenantCallerAs({ tenantId: T, userId: U, role, mfaEnabled: true });

function fixture() {
  const calls: string[] = [];
  const tenants = {
    getTenant: vi.fn(async () => ITEMS[0] as never),
    allItems: vi.fn(async () => ITEMS),
  } as unknown as TenantStore;
  const audit = {
    record: vi.fn(async () => {
      calls.push('audit');
    }),
  } as unknown as AuditRecorder & { record: ReturnType<typeof vi.fn> };
  const presign = vi.fn(async () => {
    calls.push('presign');
    return 'https://exports.example/signed';
  });
  const pages = [
    { items: [{ id: 'e_1', action: 'tenant.created' }], nextSk: 'EVENT#e_1' },
    { items: [{ id: 'e_2', action: 'member.added' }], nextSk: undefined },
  ];
  const reader = {
    page: vi.fn(async (_filter: unknown, options: { afterSk?: string }) => pages[options.afterSk ? 1 : 0]),
  };
  const service = new TenantExportService({
    tenants,
    audit,
    auditLog: { readerFor: vi.fn(async () => reader) } as never,
    archives: new TenantExportArchives({
      s3: new S3Client({ region: 'eu-central-1' }),
      bucket: 'exports',
      presign: presign as never,
    }),
    now: () => NOW,
  });
  return { service, audit, presign, calls, reader };
}

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
});

describe('tenant archive', () => {
  it('keeps public views only: no hash, ciphertext, ExternalId, key ARN, unknown kinds or unnamed fields', () => {
    // Act
    const archive = tenantArchive({ exportId: 'x_1', createdAt: 'now', createdBy: U }, ITEMS);
    const text = JSON.stringify(archive);

    // Assess
    for (const secret of [
      'HASH-OF-THE-KEY',
      'CIPHERTEXT-OF-THE-PASSWORD',
      'strongroom-EXTERNAL-ID',
      'LOCATION-SECRET',
      'UNKNOWN-KIND-SECRET',
      KEY_ARN,
      'gsi1pk',
    ])
      expect(text).not.toContain(secret);
    expect(archive.connections[0]!.password).toBe(PASSWORD_MASK);
    expect(archive.members.map((m) => m.userId)).toEqual([U]);
    expect(archive.apiKeys.map((k) => k.keyId)).toEqual(['k_1']);
    expect(archive.storageLocations).toEqual([EXPORTED_LOCATION]);
    expect(archive.tenant).toEqual({
      tenantId: T,
      name: 'Acme',
      plan: 'team',
      createdAt: '2026-01-01T00:00:00Z',
      settings: { requireMfa: true },
    });
  });
});

describe('TenantExportService', () => {
  it('signs 15 minutes, writes SSE-KMS with the tenant key (no bucket key) under the tenant prefix, then audits', async () => {
    // Prepare
    const { service, audit, presign, calls } = fixture();

    // Act
    const result = await service.createExport(caller());

    // Assess
    expect(result.exportId).toMatch(/^x_[0-9a-z]{26}$/);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'exports',
      Key: `tenants/${T}/exports/${result.exportId}.json`,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KEY_ARN,
      BucketKeyEnabled: false,
      ContentType: 'application/json',
    });
    // Signed before the upload, so after it only the audit event can fail; the URL is answered after it.
    expect(calls).toEqual(['presign', 'audit']);
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: T }),
      expect.objectContaining({
        action: 'tenant.exported',
        resource: { type: 'export', id: result.exportId },
        details: expect.objectContaining({ created: true }),
      }),
    );
    const [, command, options] = presign.mock.calls[0] as unknown as [
      unknown,
      GetObjectCommand,
      { expiresIn: number },
    ];
    expect(command.input.Key).toBe(`tenants/${T}/exports/${result.exportId}.json`);
    expect(options.expiresIn).toBe(EXPORT_URL_SECONDS);
    expect(EXPORT_URL_SECONDS).toBeLessThanOrEqual(900);
    expect(result.urlExpiresAt).toBe(new Date(NOW + 900_000).toISOString());
  });

  it('puts the retained audit events in the archive, oldest first, through every page', async () => {
    // Prepare
    const { service, reader } = fixture();

    // Act
    await service.createExport(caller());

    // Assess
    const body = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Body));
    expect(body.auditEvents.map((e: { id: string }) => e.id)).toEqual(['e_1', 'e_2']);
    expect(body.auditEventsComplete).toBe(true);
    expect(reader.page).toHaveBeenLastCalledWith(
      {},
      expect.objectContaining({ afterSk: 'EVENT#e_1', descending: false }),
    );
  });

  it('hands out no URL when the audit event cannot be written', async () => {
    // Prepare
    const { service, audit, presign } = fixture();
    audit.record.mockRejectedValueOnce(
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
    );

    // Act / Assess: the URL signed before the upload is never answered, and the archive is deleted again
    await expect(service.createExport(caller())).rejects.toThrow('throttled');
    expect(presign).toHaveBeenCalledTimes(1);
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'exports', Key: put.Key },
    ]);
  });

  it('still fails with the audit error when the archive cannot be deleted either', async () => {
    // Prepare: the audit event and the deletion both fail
    const { service, audit } = fixture();
    audit.record.mockRejectedValueOnce(
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
    );
    s3.on(DeleteObjectCommand).rejects(Object.assign(new Error('Slow Down'), { name: 'SlowDown' }));

    // Act
    const error = await service.createExport(caller()).catch((e: unknown) => e);

    // Assess: the audit event's error (transient: 503), after one attempt at the deletion
    expect(error).toMatchObject({ name: 'ThrottlingException', message: 'throttled' });
    expect(isTransientAwsError(error)).toBe(true);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(1);
  });

  it('surfaces S3 throttling as a transient AWS error (503) and audits nothing', async () => {
    // Prepare
    const { service, audit } = fixture();
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('Slow Down'), { name: 'SlowDown', $fault: 'server' }),
    );

    // Act
    const error = await service.createExport(caller()).catch((e: unknown) => e);

    // Assess: nothing to delete either
    expect(isTransientAwsError(error)).toBe(true);
    expect(audit.record).not.toHaveBeenCalled();
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it('refuses a caller without tenant:export before reading anything', async () => {
    // Prepare
    const { service } = fixture();

    // Act / Assess: an admin starts and reads an export
    await expect(service.createExport(caller('admin'))).rejects.toMatchObject({ status: 403 });
    await expect(service.getExport(caller('admin'), 'x_1')).rejects.toMatchObject({ status: 403 });

    // Assess: nothing read from S3
    expect(s3.calls()).toHaveLength(0);
  });

  it('answers 404 for an archive that is not under the tenant’s prefix', async () => {
    // Prepare
    const { service, audit } = fixture();
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }),
    );

    // Act / Assess
    await expect(service.getExport(caller(), 'x_01jx0000000000000000000000')).rejects.toMatchObject({
      status: 404,
    });
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, {
      Key: `tenants/${T}/exports/x_01jx0000000000000000000000.json`,
    });
    expect(audit.record).not.toHaveBeenCalled();
  });
});
