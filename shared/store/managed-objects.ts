import { DeleteObjectsCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';

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

/** What one purge call did: versions (and delete markers) removed, and whether the prefix is empty now. */
export interface PurgeProgress {
  deleted: number;
  done: boolean;
}

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
 * The objects of managed storage locations in the platform bucket. `purge` removes every version and delete
 * marker under a tenant's prefix (`tenants/<tenantId>/`) or a location's (`tenants/<tenantId>/<locationId>/`),
 * in batches of ListObjectVersions + DeleteObjects, within a budget. It keeps no cursor: what it deleted is
 * gone, so the next call lists what is left and continues (a call cut short by a fault or the budget loses
 * nothing). Any other prefix is refused: this never deletes outside a tenant's managed storage, and never in a
 * customer's bucket (external locations' objects are the customer's).
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

  /** Deletes versions under `prefix` until none is left or the budget is spent. */
  async purge(prefix: string, options: PurgeOptions = {}): Promise<PurgeProgress> {
    if (!TENANT_PREFIX.test(prefix))
      throw new TypeError(`purge takes a tenant's or a location's managed prefix, not ${prefix}`);
    const { batchSize, maxBatches, timeBudgetMs } = { ...DEFAULT_PURGE_BUDGET, ...options };
    const started = this.#now();
    let deleted = 0;
    for (let batch = 0; batch < maxBatches && this.#now() - started < timeBudgetMs; batch++) {
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
}
