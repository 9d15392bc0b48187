import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/** How much one request may delete before it hands the rest to the next (Lambda's and API Gateway's time limits). */
export interface PurgeBudget {
  /** Versions listed and deleted per batch: S3's DeleteObjects takes at most 1,000. */
  batchSize?: number;
  /** Batches per call at most. */
  maxBatches?: number;
  /** Milliseconds after which no new batch starts. */
  timeBudgetMs?: number;
}

export interface PurgeOptions extends PurgeBudget {
  /** Called after each batch S3 deleted, with its count (a deletion's progress is recorded batch by batch). */
  onBatch?: (deleted: number) => Promise<void>;
}

/**
 * What one purge call did: versions, delete markers and incomplete multipart uploads removed (one count, as
 * the deletion's `objectsDeleted`), and whether nothing is left under the prefix now.
 */
export interface PurgeProgress {
  deleted: number;
  done: boolean;
}

/** Uploads aborted at once: AbortMultipartUpload takes one upload, so a batch is sent this many at a time. */
const ABORTS_IN_FLIGHT = 10;

/** 1,000 per batch (S3's limit), at most 10 batches or 8 seconds per call: well inside the function's 15 s. */
export const DEFAULT_PURGE_BUDGET: Required<PurgeBudget> = {
  batchSize: 1000,
  maxBatches: 10,
  timeBudgetMs: 8000,
};

const TENANT_PREFIX = /^tenants\/t_[0-9a-hjkmnp-tv-z]{26}\/(l_[0-9a-hjkmnp-tv-z]{26}\/)?$/;

/** An S3 DeleteObjects answer that named keys it could not delete. */
export class PurgeIncompleteError extends Error {
  constructor(prefix: string, failed: number, first: string | undefined) {
    super(`S3 could not delete ${failed} versions under ${prefix} (first: ${first ?? 'unknown'})`);
    this.name = 'PurgeIncompleteError';
  }
}

/**
 * The objects of managed storage locations in the platform bucket. `purge` removes every incomplete multipart
 * upload (its parts are stored, and billed, though no GetObject reaches them) and then every version and
 * delete marker under a tenant's prefix (`tenants/<tenantId>/`) or a location's
 * (`tenants/<tenantId>/<locationId>/`), in batches (ListMultipartUploads + AbortMultipartUpload, then
 * ListObjectVersions + DeleteObjects), within one budget. It keeps no cursor: what it removed is gone, so the
 * next call lists what is left and continues (a call cut short by a fault or the budget loses nothing). Any
 * other prefix is refused: this never deletes outside a tenant's managed storage, and never in a customer's
 * bucket (external locations' objects are the customer's).
 */
export class ManagedObjects {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #now: () => number;

  constructor(deps: { s3: S3Client; bucket: string; now?: () => number }) {
    this.#s3 = deps.s3;
    this.#bucket = deps.bucket;
    this.#now = deps.now ?? Date.now;
  }

  /** Aborts uploads and deletes versions under `prefix` until none is left or the budget is spent. */
  async purge(prefix: string, options: PurgeOptions = {}): Promise<PurgeProgress> {
    if (!TENANT_PREFIX.test(prefix))
      throw new TypeError(`purge takes a tenant's or a location's managed prefix, not ${prefix}`);
    const { batchSize, maxBatches, timeBudgetMs } = { ...DEFAULT_PURGE_BUDGET, ...options };
    const started = this.#now();
    let deleted = 0;
    // Uploads first: their parts would otherwise outlive the objects (sessions are already denied, so no
    // upload can be completed or started meanwhile).
    let uploadsLeft = true;
    for (let batch = 0; batch < maxBatches && this.#now() - started < timeBudgetMs; batch++) {
      if (uploadsLeft) {
        const aborted = await this.#abortUploads(prefix, batchSize);
        if (aborted.count > 0) {
          deleted += aborted.count;
          await options.onBatch?.(aborted.count);
        }
        uploadsLeft = aborted.more;
        // A batch of uploads is a batch; an empty listing is not, so the versions' first batch follows it.
        if (aborted.count > 0) continue;
      }
      const listed = await this.#s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.#bucket,
          Prefix: prefix,
          MaxKeys: Math.min(batchSize, 1000),
        }),
      );
      const objects = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]
        .filter((v) => v.Key?.startsWith(prefix))
        .map((v) => ({ Key: v.Key!, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }))
        .slice(0, 1000);
      if (objects.length === 0) return { deleted, done: true };
      const result = await this.#s3.send(
        new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: objects, Quiet: true } }),
      );
      const errors = result.Errors ?? [];
      deleted += objects.length - errors.length;
      if (errors.length > 0) throw new PurgeIncompleteError(prefix, errors.length, errors[0]?.Code);
      await options.onBatch?.(objects.length);
      // That was the last page; one more listing would only confirm it.
      if (!listed.IsTruncated) return { deleted, done: true };
    }
    return { deleted, done: false };
  }

  /**
   * One page of the incomplete multipart uploads under `prefix`, aborted. An upload that is already gone
   * (completed or aborted meanwhile: NoSuchUpload) counts as done and is not counted. `more`: another page.
   */
  async #abortUploads(prefix: string, batchSize: number): Promise<{ count: number; more: boolean }> {
    const listed = await this.#s3.send(
      new ListMultipartUploadsCommand({
        Bucket: this.#bucket,
        Prefix: prefix,
        MaxUploads: Math.min(batchSize, 1000),
      }),
    );
    const uploads = (listed.Uploads ?? []).filter((u) => u.Key?.startsWith(prefix) && u.UploadId);
    let count = 0;
    for (let i = 0; i < uploads.length; i += ABORTS_IN_FLIGHT) {
      const aborted = await Promise.all(
        uploads.slice(i, i + ABORTS_IN_FLIGHT).map(async (u) => {
          try {
            await this.#s3.send(
              new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: u.Key!, UploadId: u.UploadId! }),
            );
            return 1;
          } catch (error) {
            if (error instanceof Error && error.name === 'NoSuchUpload') return 0;
            throw error;
          }
        }),
      );
      count += aborted.reduce((a: number, b: number) => a + b, 0);
    }
    return { count, more: uploads.length > 0 && listed.IsTruncated === true };
  }
}
