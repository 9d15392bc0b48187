import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../shared/aws/runtime.js';
import { type StorageCredentials, uploadEncryption } from '../../shared/sdk/index.js';
import { failingCall, installAwsCallTap } from '../support/aws-call-tap.js';
import {
  addMember,
  createTenant,
  enableMfa,
  signUp,
  type TestUser,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { type TestApi, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

/**
 * Deleting a managed location or a tenant deletes its objects in the platform bucket, every version and delete
 * marker (shared/store/managed-objects.ts), against the emulator. The bucket is versioned here, as deployed
 * (local mode's is not, so that probes and fuzzing leave no versions behind). What IAM allows the functions is
 * proved in test/infra (managed-object-purge grants); what the tenant key allows S3, in
 * test/unit/crypto/managed-objects-key-policy.test.ts.
 */
const api = useTestApi();
let s3: S3Client;
const bucket = () => process.env.STORAGE_BUCKET!;

beforeAll(async () => {
  installAwsCallTap();
  s3 = new S3Client({ ...clientConfig(), forcePathStyle: true });
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket(), VersioningConfiguration: { Status: 'Enabled' } }),
  );
});
afterAll(() => s3.destroy());

async function managedLocation(owner: TestUser, tenantId: string) {
  const res = await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
    token: owner.token,
    body: { managed: true },
  });
  expect(res.status).toBe(201);
  return { locationId: res.body.locationId as string, prefix: res.body.prefix as string };
}

/** Three objects, one written twice and one deleted (a delete marker): 5 versions and markers in all. */
async function fill(prefix: string): Promise<number> {
  for (const key of ['a.csv', 'b/c.parquet', 'd.json'])
    await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: `${prefix}/${key}`, Body: 'one' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: `${prefix}/a.csv`, Body: 'two' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: `${prefix}/d.json` }));
  return 5;
}

/** Many objects, concurrently (more than one DeleteObjects batch of 1,000). */
async function fillMany(prefix: string, count: number): Promise<void> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}/many/${String(i).padStart(5, '0')}`);
  for (let i = 0; i < keys.length; i += 50)
    await Promise.all(
      keys.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket(), Key, Body: 'x' }))),
    );
}

/** Every version and delete marker under a prefix. */
async function versions(prefix: string): Promise<number> {
  let count = 0;
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket(), Prefix: prefix, KeyMarker, VersionIdMarker }),
    );
    count += (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0);
    KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (KeyMarker);
  return count;
}

const deleteLocation = (token: string, tenantId: string, locationId: string) =>
  api.request('DELETE', `/v1/tenants/${tenantId}/storage-locations/${locationId}`, { token });

async function auditActions(tenantId: string): Promise<Record<string, unknown>[]> {
  return (await partitionItems(process.env.AUDIT_TABLE!, tenantId)) as Record<string, unknown>[];
}

describe('deleting a managed location', () => {
  it('deletes every version and delete marker under its prefix, and nothing of its siblings or other tenants', async () => {
    // Prepare: two locations of one tenant and one of another, each with versions and a delete marker
    const { tenantId, users } = await tenantWithEveryRole(api, 'Purge');
    const doomed = await managedLocation(users.admin, tenantId);
    const sibling = await managedLocation(users.admin, tenantId);
    const stranger = await signUp(api, 'stranger');
    const otherTenant = await createTenant(api, stranger, 'Other');
    const other = await managedLocation(stranger, otherTenant);
    const written = await fill(doomed.prefix);
    await fill(sibling.prefix);
    await fill(other.prefix);
    // A key that only shares the location id's characters as a prefix is not under the location's prefix.
    await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: `${doomed.prefix}x/kept`, Body: 'k' }));

    // Act
    const res = await deleteLocation(users.admin.token, tenantId, doomed.locationId);

    // Assess: all of its versions gone, the count answered and audited; everything else stays
    expect(res.status).toBe(200);
    expect(res.body.objectsDeleted).toBe(written);
    expect(await versions(`${doomed.prefix}/`)).toBe(0);
    expect(await versions(`${doomed.prefix}x/`)).toBe(1);
    expect(await versions(`${sibling.prefix}/`)).toBe(5);
    expect(await versions(`${other.prefix}/`)).toBe(5);
    const removed = (await auditActions(tenantId)).find(
      (e) =>
        e.action === 'storage-location.removed' && (e.resource as { id: string }).id === doomed.locationId,
    );
    expect((removed?.details as { objectsDeleted?: number } | undefined)?.objectsDeleted).toBe(written);
  });

  it('aborts the incomplete multipart uploads under its prefix (review F8), and no sibling location’s', async () => {
    // Prepare: an editor starts a multipart upload in each of two locations with vended credentials and the
    // vend's encryption, uploads a part, and never completes it; the doomed location also has versions
    const { tenantId, users } = await tenantWithEveryRole(api, 'Uploads');
    const doomed = await managedLocation(users.admin, tenantId);
    const sibling = await managedLocation(users.admin, tenantId);
    const written = await fill(doomed.prefix);
    const startUpload = async (location: { locationId: string; prefix: string }) => {
      const vend = await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
        token: users.editor.token,
        body: { location: location.locationId, access: 'write' },
      });
      expect(vend.status, vend.text).toBe(200);
      const creds = vend.body as StorageCredentials;
      const session = new S3Client({
        ...clientConfig(),
        forcePathStyle: true,
        credentials: {
          accessKeyId: creds.accessKeyId,
          secretAccessKey: creds.secretAccessKey,
          sessionToken: creds.sessionToken,
        },
      });
      const Key = `${location.prefix}/big.parquet`;
      const { UploadId } = await session.send(
        new CreateMultipartUploadCommand({ Bucket: bucket(), Key, ...uploadEncryption(creds) }),
      );
      await session.send(
        new UploadPartCommand({ Bucket: bucket(), Key, UploadId, PartNumber: 1, Body: 'x'.repeat(1024) }),
      );
      session.destroy();
    };
    await startUpload(doomed);
    await startUpload(sibling);
    const uploads = async (prefix: string) =>
      (
        (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket(), Prefix: prefix }))).Uploads ?? []
      ).filter((u) => u.Key?.startsWith(prefix)).length;
    expect(await uploads(`${doomed.prefix}/`)).toBe(1);

    // Act
    const res = await deleteLocation(users.admin.token, tenantId, doomed.locationId);

    // Assess: its upload aborted and counted with its versions; the sibling's upload and objects untouched
    expect(res.status, res.text).toBe(200);
    expect(res.body.objectsDeleted).toBe(written + 1);
    expect(await uploads(`${doomed.prefix}/`)).toBe(0);
    expect(await versions(`${doomed.prefix}/`)).toBe(0);
    expect(await uploads(`${sibling.prefix}/`)).toBe(1);
  });

  it('refuses a lower role (403) and another tenant’s admin (404), deleting nothing', async () => {
    // Prepare
    const { tenantId, users } = await tenantWithEveryRole(api, 'Refuse');
    const location = await managedLocation(users.admin, tenantId);
    await fill(location.prefix);
    const stranger = await signUp(api, 'stranger2');
    const otherTenant = await createTenant(api, stranger, 'Other2');

    // Act / Assess: an editor, and another tenant's owner naming the location under either tenant
    expect((await deleteLocation(users.editor.token, tenantId, location.locationId)).status).toBe(403);
    expect((await deleteLocation(stranger.token, tenantId, location.locationId)).status).toBe(404);
    expect((await deleteLocation(stranger.token, otherTenant, location.locationId)).status).toBe(404);
    expect(await versions(`${location.prefix}/`)).toBe(5);
    const list = await api.request('GET', `/v1/tenants/${tenantId}/storage-locations`, {
      token: users.admin.token,
    });
    expect(list.body.items.map((l: { locationId: string }) => l.locationId)).toContain(location.locationId);
  });

  it('after an S3 fault half-way answers 503, keeps the location, and the retry deletes the rest', async () => {
    // Prepare: more than one batch of 1,000
    const owner = await signUp(api, 'batches');
    const tenantId = await createTenant(api, owner, 'Batches');
    const location = await managedLocation(owner, tenantId);
    await fillMany(location.prefix, 1100);

    // Act: the second DeleteObjects fails
    const run = await failingCall(
      { signature: 'S3Client DeleteObjectsCommand', occurrence: 2 },
      'server-error',
      () => deleteLocation(owner.token, tenantId, location.locationId),
    );

    // Assess: a retryable answer, the first batch gone, the location still registered
    expect(run.injected).toBeDefined();
    expect(run.result.status).toBe(503);
    expect(run.result.headers.get('retry-after')).toBeTruthy();
    expect(await versions(`${location.prefix}/`)).toBe(100);
    const listed = await api.request('GET', `/v1/tenants/${tenantId}/storage-locations`, {
      token: owner.token,
    });
    expect(listed.body.items.map((l: { locationId: string }) => l.locationId)).toContain(location.locationId);

    // Act: the same request again
    const retry = await deleteLocation(owner.token, tenantId, location.locationId);

    // Assess
    expect(retry.status).toBe(200);
    expect(retry.body.objectsDeleted).toBe(100);
    expect(await versions(`${location.prefix}/`)).toBe(0);
  }, 120_000);
});

async function ownerWithMfa(api: TestApi, label: string) {
  const owner = await signUp(api, label);
  const mfa = await enableMfa(api, owner);
  const tenantId = await createTenant(api, owner, label);
  let next = 0;
  const del = () =>
    api.request('DELETE', `/v1/tenants/${tenantId}`, {
      token: owner.token,
      body: { recoveryCode: mfa.recoveryCodes[next++] },
    });
  return { owner, tenantId, del };
}

describe('deleting a tenant', () => {
  it('deletes every object version under tenants/<tenantId>/, after a fault half-way too, with the progress in GET …/deletion', async () => {
    // Prepare: two managed locations, one with more than a batch; another tenant's objects
    const { owner, tenantId, del } = await ownerWithMfa(api, 'Shred');
    const admin = await signUp(api, 'shred-admin');
    await addMember(api, owner, tenantId, admin, 'admin');
    const first = await managedLocation(owner, tenantId);
    const second = await managedLocation(owner, tenantId);
    await fill(first.prefix);
    await fillMany(second.prefix, 1100);
    const stranger = await signUp(api, 'shred-stranger');
    const otherTenant = await createTenant(api, stranger, 'Kept');
    const other = await managedLocation(stranger, otherTenant);
    await fill(other.prefix);
    const status = (token: string, id = tenantId) =>
      api.request('GET', `/v1/tenants/${id}/deletion`, { token });

    // Act / Assess: before the deletion, the owner sees it not begun; the admin may not read it
    expect((await status(owner.token)).body).toEqual({ status: 'active', objectsDeleted: 0 });
    expect((await status(admin.token)).status).toBe(403);
    expect((await status(stranger.token)).status).toBe(404);

    // Act: the deletion, its second DeleteObjects failing
    const run = await failingCall(
      { signature: 'S3Client DeleteObjectsCommand', occurrence: 2 },
      'timeout',
      del,
    );

    // Assess: retryable; the tenant is closing with the first batch counted; the rest still there
    expect(run.injected).toBeDefined();
    expect(run.result.status).toBe(503);
    const closing = await status(owner.token);
    expect(closing.status).toBe(200);
    expect(closing.body).toMatchObject({ status: 'deleting', startedBy: owner.userId, objectsDeleted: 1000 });
    expect(await versions(`tenants/${tenantId}/`)).toBe(1105 - 1000);
    expect((await status(admin.token)).status).toBe(404);

    // Act: the owner's retry
    const retry = await del();

    // Assess: gone, every version of both locations; the other tenant's objects untouched; status 404 now
    expect(retry.status).toBe(204);
    expect(await versions(`tenants/${tenantId}/`)).toBe(0);
    expect(await versions(`${other.prefix}/`)).toBe(5);
    expect((await status(owner.token)).status).toBe(404);
    expect((await status(stranger.token, otherTenant)).body).toEqual({
      status: 'active',
      objectsDeleted: 0,
    });
  }, 180_000);
});
