import { type StorageAccess, type StorageCredentials, StrongroomClient } from './client.js';

export interface FromStrongroomOptions {
  /** Strongroom API base URL. */
  endpoint: string;
  /** A session token… */
  token?: string;
  /** …or an API key (either is sent as the bearer credential). */
  apiKey?: string;
  tenantId: string;
  /** A storage location id, or an `s3://` path inside a registered location. */
  location: string;
  access: StorageAccess;
  /** 900–3600; the API's default (900) when absent. */
  durationSeconds?: number;
  /** Credentials are renewed this long before they expire (default and minimum: 5 minutes). */
  refreshMarginMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * What the provider returns: the AWS SDK v3's `AwsCredentialIdentity` with its expiry (written out so the
 * package depends on no AWS SDK module; it is structurally the same type).
 */
export interface StrongroomCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Where a vend says the store is: the region to sign for, the endpoint when not AWS's default, path style. */
export type StorageEndpointHints = Pick<StorageCredentials, 'region' | 'endpoint' | 'pathStyle'>;

/** `fromStrongroom`'s provider: call it for credentials; `lastVend()` tells where they reach. */
export type StrongroomCredentialProvider = (() => Promise<StrongroomCredentialIdentity>) & {
  /** The location details of the last vend (bucket, prefix, region, endpoint hints), once one has happened. */
  lastVend(): Omit<StorageCredentials, 'secretAccessKey' | 'sessionToken'> | undefined;
};

const MIN_MARGIN_MS = 5 * 60_000;

/**
 * An AWS SDK v3 credential provider backed by Strongroom's vending API:
 * `new S3Client({ region, credentials: fromStrongroom({ endpoint, token, tenantId, location, access }) })`.
 * Memoised: one vend serves every call until `refreshMarginMs` before expiry, concurrent calls share one
 * request, and the returned `expiration` lets the SDK refresh on its own, so a long multipart upload never
 * signs a request with expired credentials. A failed refresh throws; nothing falls back to other credentials.
 */
export function fromStrongroom(options: FromStrongroomOptions): StrongroomCredentialProvider {
  const token = options.token ?? options.apiKey;
  if (!token) throw new Error('fromStrongroom needs a token or an apiKey');
  if (options.token && options.apiKey) throw new Error('fromStrongroom takes a token or an apiKey, not both');
  const client = new StrongroomClient({ endpoint: options.endpoint, token, fetch: options.fetch });
  const margin = Math.max(MIN_MARGIN_MS, options.refreshMarginMs ?? MIN_MARGIN_MS);
  const now = options.now ?? Date.now;
  let current: { identity: StrongroomCredentialIdentity; vend: StorageCredentials } | undefined;
  let pending: Promise<StrongroomCredentialIdentity> | undefined;

  const refresh = async (): Promise<StrongroomCredentialIdentity> => {
    const vend = await client.vendStorageCredentials(options.tenantId, {
      location: options.location,
      access: options.access,
      ...(options.durationSeconds ? { durationSeconds: options.durationSeconds } : {}),
    });
    const identity: StrongroomCredentialIdentity = {
      accessKeyId: vend.accessKeyId,
      secretAccessKey: vend.secretAccessKey,
      sessionToken: vend.sessionToken,
      expiration: new Date(vend.expiration),
    };
    current = { identity, vend };
    return identity;
  };

  const provider = async (): Promise<StrongroomCredentialIdentity> => {
    if (current && current.identity.expiration.getTime() - margin > now()) return current.identity;
    pending ??= refresh().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  return Object.assign(provider, {
    lastVend: () => {
      if (!current) return undefined;
      const { secretAccessKey: _s, sessionToken: _t, ...rest } = current.vend;
      return rest;
    },
  });
}

/**
 * Everything an AWS SDK v3 `S3Client` needs for a location, from one vend: its region, the endpoint when the
 * store is not AWS's default (always in local mode), path-style addressing when the store needs it, and the
 * renewing credential provider. `new S3Client(await s3ClientConfig({ endpoint, token, tenantId, location,
 * access }))`. The first vend happens here, so a refusal (403, 404) surfaces at once.
 */
export async function s3ClientConfig(options: FromStrongroomOptions): Promise<{
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials: StrongroomCredentialProvider;
}> {
  const credentials = fromStrongroom(options);
  await credentials();
  const vend = credentials.lastVend()!;
  return {
    region: vend.region,
    ...(vend.endpoint ? { endpoint: vend.endpoint } : {}),
    forcePathStyle: vend.pathStyle,
    credentials,
  };
}

/** The encryption parameters of a PutObject, CreateMultipartUpload or CopyObject (AWS SDK v3 names). */
export interface UploadEncryption {
  ServerSideEncryption?: 'aws:kms';
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
}

/**
 * What every upload with a vend's credentials must carry, from its `sse` hint (a vend, or the provider's
 * `lastVend()`): `new PutObjectCommand({ Bucket, Key, Body, ...uploadEncryption(vend) })`. Managed locations
 * refuse any write without it (the tenant's own key, Bucket Keys off); nothing for a location without a key.
 */
export function uploadEncryption(vend: Pick<StorageCredentials, 'sse'> | undefined): UploadEncryption {
  const sse = vend?.sse;
  if (!sse) return {};
  return {
    ServerSideEncryption: sse.type,
    SSEKMSKeyId: sse.keyArn,
    ...(sse.bucketKeyEnabled === false ? { BucketKeyEnabled: false } : {}),
  };
}
