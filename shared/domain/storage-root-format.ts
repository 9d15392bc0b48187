/** The form of a storage root (the rules for parsing one are shared/domain/storage-roots.ts). */

/** A normalised storage root. `prefix` is empty for a whole bucket; it never starts or ends with `/`. */
export interface StorageRoot {
  bucket: string;
  prefix: string;
}

/** The canonical `s3://` form of a root (no trailing slash). */
export function formatStorageRoot(root: StorageRoot): string {
  return root.prefix ? `s3://${root.bucket}/${root.prefix}` : `s3://${root.bucket}`;
}
