import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { storeClientConfig } from '../connectors/s3-compatible.js';
import type { HostPolicy } from '../domain/connection-host.js';
import { newVendId } from '../domain/ids.js';
import { packedSessionPolicy, sessionPolicyFor } from '../domain/storage-policy.js';
import { formatStorageRoot, type StorageRoot } from '../domain/storage-roots.js';
import { roleSessionName } from '../domain/storage-sessions.js';
import { isTransientAwsError, ServiceUnavailableError } from '../errors.js';
import { logger } from '../observability.js';
import { ExternalRootUnverifiedError } from './storage-verifier.js';
import type { StoreKeyPair } from './store-key-pairs.js';

/** What registering (or re-keying) a location at an S3-compatible store is checked with. */
export interface StoreCheck {
  tenantId: string;
  userId: string;
  root: StorageRoot;
  region: string;
  /** The store's S3 endpoint (a checked origin). */
  endpoint: string;
  pathStyle: boolean;
  keyPair: StoreKeyPair;
  /** The store's STS endpoint, when it has one: AssumeRole must work there with the key pair. */
  stsEndpoint?: string;
  /** The store's role for AssumeRole (MinIO ignores it; Ceph requires it). */
  roleArn?: string;
}

/** Errors that mean the store answered and refused the key pair or the bucket (not an outage). */
const REFUSALS =
  /AccessDenied|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|InvalidClientTokenId|NoSuchBucket|AllAccessDisabled|InvalidBucketName/;

/**
 * The registration probes of an S3-compatible store: with the given key pair, list the root at the store's
 * endpoint (the bucket exists and the key may list the prefix), and with an STS endpoint, AssumeRole there
 * with the read session policy (the store's STS accepts the key and the policy). What they cannot show: that
 * the store enforces the session policy (only the store's own tests can; the scope self-test reports it).
 */
export class StoreVerifier {
  constructor(private readonly policy: HostPolicy) {}

  async verify(check: StoreCheck): Promise<void> {
    const { root } = check;
    const s3 = new S3Client({
      ...storeClientConfig(check.endpoint, check.region, check.keyPair, this.policy),
      forcePathStyle: check.pathStyle,
    });
    try {
      await s3.send(
        new ListObjectsV2Command({
          Bucket: root.bucket,
          ...(root.prefix ? { Prefix: `${root.prefix}/` } : {}),
          MaxKeys: 1,
        }),
      );
    } catch (error) {
      throw failure(
        error,
        `The key pair cannot list ${formatStorageRoot(root)} at ${check.endpoint}: the bucket must exist there and the key must be allowed to list the prefix.`,
        { path: 'body.accessKeyId', message: 'Could not list the root with this key pair' },
        { path: 'body.endpoint', message: 'The store could not be reached' },
      );
    } finally {
      s3.destroy();
    }
    if (!check.stsEndpoint) return;
    const sts = new STSClient(storeClientConfig(check.stsEndpoint, check.region, check.keyPair, this.policy));
    try {
      const { Credentials } = await sts.send(
        new AssumeRoleCommand({
          ...(check.roleArn ? { RoleArn: check.roleArn } : {}),
          RoleSessionName: roleSessionName(check.tenantId, { kind: 'user', id: check.userId }, newVendId()),
          DurationSeconds: 900,
          Policy: packedSessionPolicy(sessionPolicyFor({ ...root, access: 'read', partition: 'aws' })),
        } as ConstructorParameters<typeof AssumeRoleCommand>[0]),
      );
      if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey || !Credentials.SessionToken)
        throw new ExternalRootUnverifiedError(
          `The store's STS at ${check.stsEndpoint} answered without credentials.`,
          undefined,
          { path: 'body.stsEndpoint', message: 'AssumeRole answered without credentials' },
        );
    } catch (error) {
      if (error instanceof ExternalRootUnverifiedError) throw error;
      throw failure(
        error,
        `AssumeRole at ${check.stsEndpoint} failed with this key pair${check.roleArn ? ` and ${check.roleArn}` : ''}.`,
        { path: 'body.stsEndpoint', message: 'AssumeRole was refused with this key pair' },
        { path: 'body.stsEndpoint', message: 'The store could not be reached' },
      );
    } finally {
      sts.destroy();
    }
  }
}

function failure(
  error: unknown,
  detail: string,
  refused: { path: string; message: string },
  unreachable: { path: string; message: string },
): Error {
  const name = error instanceof Error ? error.name : 'unknown';
  const code = (error as { code?: string }).code;
  logger.warn('S3-compatible store check failed', { errorName: name, code });
  if (
    REFUSALS.test(name) ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403
  )
    return new ExternalRootUnverifiedError(
      detail,
      error,
      name === 'NoSuchBucket' ? { path: 'body.root', message: 'No such bucket at the store' } : refused,
    );
  const answered = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (answered !== undefined && isTransientAwsError(error))
    return new ServiceUnavailableError(
      5,
      'The store is unavailable; nothing was registered. Try again.',
      error,
    );
  // No answer at all: refused by the address rules at connect time, or nothing listening there.
  return new ExternalRootUnverifiedError(`${detail} (${code ?? name})`, error, unreachable);
}
