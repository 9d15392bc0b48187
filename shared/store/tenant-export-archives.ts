import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { tenantExportPrefix } from '../domain/key-policy.js';

export interface TenantExportArchivesProps {
  s3: S3Client;
  /** The export bucket (EXPORT_BUCKET). */
  bucket: string;
  /** Signs download URLs (the S3 presigner; replaceable in tests). */
  presign?: typeof getSignedUrl;
}

/** What S3 knows of a stored archive. */
export interface StoredArchive {
  createdAt: string;
  sizeBytes: number;
}

/**
 * Tenant export archives in the export bucket, one object per export under
 * `tenants/<tenantId>/exports/<exportId>.json`, SSE-KMS under the tenant's own key.
 */
export class TenantExportArchives {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #presign: typeof getSignedUrl;

  constructor(props: TenantExportArchivesProps) {
    this.#s3 = props.s3;
    this.#bucket = props.bucket;
    this.#presign = props.presign ?? getSignedUrl;
  }

  /** Stores an archive encrypted under the tenant's key. */
  async put(tenantId: string, exportId: string, body: string, tenantKeyArn: string): Promise<void> {
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: objectKey(tenantId, exportId),
        Body: body,
        ContentType: 'application/json',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: tenantKeyArn,
        // Off, so S3's encryption context is this object's ARN: the key policy admits exactly this tenant's
        // export prefix (with a bucket key the context would be the bucket's ARN).
        BucketKeyEnabled: false,
        Metadata: { 'tenant-id': tenantId, 'export-id': exportId },
      }),
    );
  }

  /**
   * Removes an archive (an export whose audit event could not be written). On a versioned bucket this leaves
   * a delete marker: the archive is no longer served (HEAD and GET answer 404) and its now noncurrent
   * version expires with the bucket's lifecycle (1 day); deleting the version itself would need
   * s3:DeleteObjectVersion, which the role does not hold.
   */
  async delete(tenantId: string, exportId: string): Promise<void> {
    await this.#s3.send(
      new DeleteObjectCommand({ Bucket: this.#bucket, Key: objectKey(tenantId, exportId) }),
    );
  }

  /** The stored archive's time and size; undefined when there is no such object. */
  async head(tenantId: string, exportId: string): Promise<StoredArchive | undefined> {
    try {
      const head = await this.#s3.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: objectKey(tenantId, exportId) }),
      );
      return {
        createdAt: (head.LastModified ?? new Date(0)).toISOString(),
        sizeBytes: head.ContentLength ?? 0,
      };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error instanceof Error && error.name === 'NotFound')) return undefined;
      throw error;
    }
  }

  /** A presigned GET of the archive, as an attachment named after tenant and export, valid `expiresIn` s. */
  async downloadUrl(tenantId: string, exportId: string, expiresIn: number): Promise<string> {
    return this.#presign(
      this.#s3,
      new GetObjectCommand({
        Bucket: this.#bucket,
        Key: objectKey(tenantId, exportId),
        ResponseContentDisposition: `attachment; filename="${tenantId}-${exportId}.json"`,
      }),
      { expiresIn },
    );
  }
}

function objectKey(tenantId: string, exportId: string): string {
  return `${tenantExportPrefix(tenantId)}${exportId}.json`;
}
