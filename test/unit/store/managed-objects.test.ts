import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManagedObjects, PurgeIncompleteError } from '../../../shared/store/managed-objects.js';

const s3Mock = mockClient(S3Client);
const T = 't_01jx0000000000000000000001';
const L = 'l_01jx0000000000000000000001';
const prefix = `tenants/${T}/${L}/`;

/** A bucket of `count` versions under the prefix that S3 lists `page` at a time and deletes as asked. */
function bucketOf(count: number) {
  let left = Array.from({ length: count }, (_, i) => ({ Key: `${prefix}k${i}`, VersionId: `v${i}` }));
  s3Mock.on(ListObjectVersionsCommand).callsFake((input: { MaxKeys: number }) => {
    const page = left.slice(0, input.MaxKeys);
    return {
      // Half versions, half delete markers: both go.
      Versions: page.filter((_, i) => i % 2 === 0),
      DeleteMarkers: page.filter((_, i) => i % 2 === 1),
      IsTruncated: left.length > input.MaxKeys,
    };
  });
  s3Mock.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { VersionId: string }[] } }) => {
    const gone = new Set(input.Delete.Objects.map((o) => o.VersionId));
    left = left.filter((v) => !gone.has(v.VersionId));
    return {};
  });
  return { left: () => left.length };
}

/** `count` incomplete multipart uploads under the prefix (and one of a sibling location S3 must not return). */
function uploadsOf(count: number, options: { gone?: string } = {}) {
  let left = Array.from({ length: count }, (_, i) => ({ Key: `${prefix}big${i}`, UploadId: `up${i}` }));
  s3Mock.on(ListMultipartUploadsCommand).callsFake((input: { MaxUploads: number; Prefix: string }) => ({
    Uploads: left.filter((u) => u.Key.startsWith(input.Prefix)).slice(0, input.MaxUploads),
    IsTruncated: left.length > input.MaxUploads,
  }));
  s3Mock.on(AbortMultipartUploadCommand).callsFake((input: { UploadId: string }) => {
    left = left.filter((u) => u.UploadId !== input.UploadId);
    if (input.UploadId === options.gone) {
      const error = new Error('The specified upload does not exist.');
      error.name = 'NoSuchUpload';
      throw error;
    }
    return {};
  });
  return { left: () => left.length };
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(ListMultipartUploadsCommand).resolves({});
});

describe('ManagedObjects.purge', () => {
  it('deletes every version and delete marker in batches and says when the prefix is empty', async () => {
    // Prepare
    const bucket = bucketOf(25);
    const batches: number[] = [];

    // Act
    const progress = await new ManagedObjects({ s3: new S3Client({}), bucket: 'b' }).purge(prefix, {
      batchSize: 10,
      onBatch: async (n) => {
        batches.push(n);
      },
    });

    // Assess: three batches by version id, quiet, and nothing left
    expect(progress).toEqual({ deleted: 25, done: true });
    expect(batches).toEqual([10, 10, 5]);
    expect(bucket.left()).toBe(0);
    const first = s3Mock.commandCalls(DeleteObjectsCommand)[0]!.args[0].input;
    expect(first.Bucket).toBe('b');
    expect(first.Delete?.Quiet).toBe(true);
    expect(first.Delete?.Objects?.[0]).toEqual({ Key: `${prefix}k0`, VersionId: 'v0' });
    expect(s3Mock.commandCalls(ListObjectVersionsCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'b',
      Prefix: prefix,
      MaxKeys: 10,
    });
  });

  it('stops at its batch budget or its time budget with done: false, and the next call continues', async () => {
    // Prepare
    const bucket = bucketOf(35);
    let clock = 0;
    const objects = new ManagedObjects({ s3: new S3Client({}), bucket: 'b', now: () => clock });

    // Act / Assess: two batches at most
    expect(await objects.purge(prefix, { batchSize: 10, maxBatches: 2 })).toEqual({
      deleted: 20,
      done: false,
    });
    expect(bucket.left()).toBe(15);

    // Act / Assess: the time budget spent after one batch
    s3Mock.on(DeleteObjectsCommand).callsFake(() => {
      clock += 9000;
      return {};
    });
    expect(await objects.purge(prefix, { batchSize: 10, timeBudgetMs: 8000 })).toEqual({
      deleted: 10,
      done: false,
    });
  });

  it('aborts every incomplete multipart upload under the prefix first, in batches, within the same budget and count', async () => {
    // Prepare: 12 uploads and 5 versions; batches of 5
    const uploads = uploadsOf(12, { gone: 'up3' });
    const bucket = bucketOf(5);
    const batches: number[] = [];
    const objects = new ManagedObjects({ s3: new S3Client({}), bucket: 'b' });
    const onBatch = async (n: number) => {
      batches.push(n);
    };

    // Act: two batches at most
    const first = await objects.purge(prefix, { batchSize: 5, maxBatches: 2, onBatch });

    // Assess: two batches of uploads (one already gone: not counted), versions untouched, not done
    expect(first).toEqual({ deleted: 9, done: false });
    expect(batches).toEqual([4, 5]);
    expect(uploads.left()).toBe(2);
    expect(bucket.left()).toBe(5);
    expect(s3Mock.commandCalls(ListMultipartUploadsCommand)[0]!.args[0].input).toEqual({
      Bucket: 'b',
      Prefix: prefix,
      MaxUploads: 5,
    });
    expect(s3Mock.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: 'b',
      Key: `${prefix}big0`,
      UploadId: 'up0',
    });

    // Act: the next call finishes the uploads, then the versions
    const second = await objects.purge(prefix, { batchSize: 5, onBatch });

    // Assess
    expect(second).toEqual({ deleted: 7, done: true });
    expect(batches).toEqual([4, 5, 2, 5]);
    expect(uploads.left()).toBe(0);
    expect(bucket.left()).toBe(0);
  });

  it('an abort that fails otherwise fails the purge (the next call lists the upload again)', async () => {
    // Prepare
    uploadsOf(2);
    bucketOf(1);
    s3Mock
      .on(AbortMultipartUploadCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'SlowDown' }));

    // Act / Assess: the error, and no version deleted
    await expect(new ManagedObjects({ s3: new S3Client({}), bucket: 'b' }).purge(prefix)).rejects.toThrow(
      'slow down',
    );
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('raises when S3 names versions it could not delete, after counting none of that batch', async () => {
    // Prepare
    bucketOf(3);
    s3Mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: `${prefix}k1`, Code: 'AccessDenied' }] });
    const batches: number[] = [];

    // Act / Assess
    await expect(
      new ManagedObjects({ s3: new S3Client({}), bucket: 'b' }).purge(prefix, {
        onBatch: async (n) => {
          batches.push(n);
        },
      }),
    ).rejects.toThrow(PurgeIncompleteError);
    expect(batches).toEqual([]);
  });

  it('refuses any prefix but a tenant’s or a location’s, before calling S3', async () => {
    // Prepare
    const objects = new ManagedObjects({ s3: new S3Client({}), bucket: 'b' });

    // Act / Assess
    for (const bad of [
      '',
      'tenants/',
      `tenants/${T}`,
      `tenants/${T}/${L}`,
      `tenants/${T}/exports/`,
      `exports/${T}/`,
      `tenants/${T}/${L}/sub/`,
      'tenants/t_*/',
    ])
      await expect(objects.purge(bad), bad).rejects.toThrow(TypeError);
    expect(s3Mock.calls()).toHaveLength(0);
  });
});
