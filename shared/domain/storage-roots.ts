/**
 * Storage roots: `s3://bucket/prefix` locations that a tenant registers. Pure: parsing, normalisation and
 * the containment rules the registry and the session policy generator both rely on.
 *
 * A prefix is a sequence of `/`-separated segments. Containment respects the `/` boundary, so
 * `s3://b/data2` is not inside `s3://b/data`. The character set is deliberately narrower than S3 keys allow:
 * a prefix ends up in IAM policy ARNs and `StringLike` conditions, where `*`, `?` and `${…}` are wildcards
 * or variables and would silently widen a grant.
 */

import { formatStorageRoot, type StorageRoot } from './storage-root-format.js';

// The key layout (item-layout.ts, loaded by every function) formats roots without the parsing rules here.
export { formatStorageRoot, type StorageRoot };

/** Most path segments a root may have (each one is a uniqueness item in the registration transaction). */
export const MAX_ROOT_DEPTH = 24;
/** Longest accepted prefix; the session policy repeats it and must stay under STS's 2,048 characters. */
export const MAX_PREFIX_LENGTH = 256;

/** Why a string is not a storage root; `message` is safe to show to the caller. */
export class StorageRootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageRootError';
  }
}

// S3 general purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
// Letters, digits and S3's "safe" punctuation without `*`, plus `=`, `+`, `@` and `,` for partitioned layouts.
const SEGMENT_PATTERN = /^[A-Za-z0-9._\-!'()=+@,]+$/;

/** Checks a bucket name against S3's naming rules; returns a message naming the broken rule, or undefined. */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'A bucket name has 3 to 63 characters';
  if (!BUCKET_PATTERN.test(bucket))
    return 'A bucket name uses lower-case letters, digits, dots and hyphens, and starts and ends with a letter or digit';
  if (bucket.includes('..')) return 'A bucket name has no two adjacent dots';
  if (bucket.includes('.-') || bucket.includes('-.')) return 'A bucket name has no dot next to a hyphen';
  if (IPV4_LIKE.test(bucket)) return 'A bucket name is not an IP address';
  if (RESERVED_BUCKET_PREFIXES.some((p) => bucket.startsWith(p)))
    return 'The bucket name uses a reserved prefix';
  if (RESERVED_BUCKET_SUFFIXES.some((s) => bucket.endsWith(s)))
    return 'The bucket name uses a reserved suffix';
  return undefined;
}

/**
 * Normalises a prefix: one trailing `/` is dropped; everything ambiguous is refused rather than rewritten,
 * because `a//b` and `a/./b` are distinct S3 keys and silently rewriting them would scope credentials to a
 * different place than the caller named.
 */
export function normalisePrefix(raw: string): string {
  if (raw.startsWith('/')) throw new StorageRootError('The prefix may not start with "/"');
  const prefix = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (prefix === '') return '';
  if (prefix.length > MAX_PREFIX_LENGTH)
    throw new StorageRootError(`The prefix is longer than ${MAX_PREFIX_LENGTH} characters`);
  const segments = prefix.split('/');
  if (segments.length > MAX_ROOT_DEPTH)
    throw new StorageRootError(`The prefix has more than ${MAX_ROOT_DEPTH} segments`);
  for (const segment of segments) {
    if (segment === '')
      throw new StorageRootError('The prefix may not contain "//" or end with more than one "/"');
    if (segment === '.' || segment === '..')
      throw new StorageRootError('The prefix may not contain "." or ".." segments');
    if (!SEGMENT_PATTERN.test(segment))
      throw new StorageRootError(
        "The prefix may contain only letters, digits, '/' and . _ - ! ' ( ) = + @ , (no *, ?, $ or spaces)",
      );
  }
  return prefix;
}

/** Parses and normalises `s3://bucket[/prefix]`; throws StorageRootError naming the broken rule. */
export function parseStorageRoot(uri: string): StorageRoot {
  if (typeof uri !== 'string' || !uri.startsWith('s3://'))
    throw new StorageRootError('A storage root looks like s3://bucket/prefix');
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const problem = bucketNameProblem(bucket);
  if (problem) throw new StorageRootError(problem);
  const prefix = slash === -1 ? '' : normalisePrefix(rest.slice(slash + 1));
  return { bucket, prefix };
}

/** Whether `inner` is `outer` or lies inside it; `data2` is not inside `data` (the `/` is the boundary). */
export function rootContains(outer: StorageRoot, inner: StorageRoot): boolean {
  if (outer.bucket !== inner.bucket) return false;
  if (outer.prefix === '') return true;
  return inner.prefix === outer.prefix || inner.prefix.startsWith(`${outer.prefix}/`);
}

/** Whether two roots share any object key: one contains the other. */
export function rootsOverlap(a: StorageRoot, b: StorageRoot): boolean {
  return rootContains(a, b) || rootContains(b, a);
}

/** The proper ancestors of a root, shortest first: `data/x/y` → `''`, `data`, `data/x`. */
export function ancestorPrefixes(root: StorageRoot): string[] {
  if (root.prefix === '') return [];
  const segments = root.prefix.split('/');
  const ancestors = [''];
  for (let i = 1; i < segments.length; i++) ancestors.push(segments.slice(0, i).join('/'));
  return ancestors;
}

/** The registered root with the longest prefix that contains `path`, or undefined when none does. */
export function narrowestContainingRoot<R extends StorageRoot>(
  path: StorageRoot,
  roots: readonly R[],
): R | undefined {
  let best: R | undefined;
  for (const root of roots) {
    if (!rootContains(root, path)) continue;
    if (!best || root.prefix.length > best.prefix.length) best = root;
  }
  return best;
}

/** The managed root of a location in the platform bucket: `tenants/<tenantId>/<locationId>`. */
export function managedRoot(bucket: string, tenantId: string, locationId: string): StorageRoot {
  return { bucket, prefix: `tenants/${tenantId}/${locationId}` };
}
