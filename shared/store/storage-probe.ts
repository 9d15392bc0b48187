import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import { clientConfig } from '../aws/runtime.js';
import { storeClientConfig } from '../connectors/s3-compatible.js';
import type { HostPolicy } from '../domain/connection-host.js';
import { logger } from '../observability.js';

/**
 * What one S3 request made with vended credentials came to: `allowed`, `denied` by IAM or a bucket or key
 * policy (403), or `failed` for any other reason (the bucket is missing, S3 is unreachable…).
 */
export type ProbeOutcome<T = undefined> =
  | { outcome: 'allowed'; value: T }
  | { outcome: 'denied'; error: string }
  | { outcome: 'failed'; error: string };

/** How a stored object is encrypted, as S3 reports it. */
export interface ObjectEncryption {
  serverSideEncryption?: string;
  kmsKeyId?: string;
}

const DENIED: readonly string[] = ['AccessDenied', 'Forbidden', 'AllAccessDisabled', 'InvalidAccessKeyId'];

async function probe<T>(request: () => Promise<T>): Promise<ProbeOutcome<T>> {
  try {
    return { outcome: 'allowed', value: await request() };
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown';
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (DENIED.includes(name) || status === 403) return { outcome: 'denied', error: name };
    logger.warn('storage probe failed', { errorName: name });
    return { outcome: 'failed', error: name };
  }
}

/**
 * S3 requests made with a vended session, for the scope self-test (StorageSelfTest.validateLocation): each
 * answers what S3 did rather than throwing, so a refusal the test expects reads the same as a success.
 */
export class StorageProbeSession {
  readonly #s3: S3Client;

  constructor(credentials: AwsCredentialIdentity, where: ProbeTarget) {
    this.#s3 = new S3Client({
      ...(where.store
        ? storeClientConfig(where.store.endpoint, where.region, credentials, where.store.hostPolicy)
        : clientConfig(credentials)),
      region: where.region,
      forcePathStyle: where.pathStyle,
    });
  }

  list(bucket: string, prefix: string): Promise<ProbeOutcome> {
    return probe(async () => {
      await this.#s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
      return undefined;
    });
  }

  put(
    bucket: string,
    key: string,
    body: string,
    sse?: { type: 'aws:kms'; keyArn: string; bucketKeyEnabled?: boolean },
  ): Promise<ProbeOutcome> {
    return probe(async () => {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ...(sse ? { ServerSideEncryption: sse.type, SSEKMSKeyId: sse.keyArn } : {}),
          ...(sse?.bucketKeyEnabled === false ? { BucketKeyEnabled: false } : {}),
        }),
      );
      return undefined;
    });
  }

  get(bucket: string, key: string): Promise<ProbeOutcome<{ body: string } & ObjectEncryption>> {
    return probe(async () => {
      const got = await this.#s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return {
        body: (await got.Body?.transformToString()) ?? '',
        ...(got.ServerSideEncryption ? { serverSideEncryption: got.ServerSideEncryption } : {}),
        ...(got.SSEKMSKeyId ? { kmsKeyId: got.SSEKMSKeyId } : {}),
      };
    });
  }

  delete(bucket: string, key: string): Promise<ProbeOutcome> {
    return probe(async () => {
      await this.#s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return undefined;
    });
  }

  close(): void {
    this.#s3.destroy();
  }
}

/** Where probes go: AWS S3 (the runtime's endpoint), or an S3-compatible store through guarded connections. */
export interface ProbeTarget {
  region: string;
  pathStyle: boolean;
  store?: { endpoint: string; hostPolicy: HostPolicy };
}

/** Opens probe sessions (a seam, so the service imports no AWS client). */
export type StorageProbes = (
  credentials: AwsCredentialIdentity,
  where: ProbeTarget,
) => Pick<StorageProbeSession, 'list' | 'put' | 'get' | 'delete' | 'close'>;

export const storageProbes: StorageProbes = (credentials, where) =>
  new StorageProbeSession(credentials, where);
