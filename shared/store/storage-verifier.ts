import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, type Credentials, type STSClient } from '@aws-sdk/client-sts';
import { clientConfig, functionRuntime } from '../aws/runtime.js';
import { newVendId } from '../domain/ids.js';
import { packedSessionPolicy, sessionPolicyFor } from '../domain/storage-policy.js';
import { formatStorageRoot, type StorageRoot } from '../domain/storage-roots.js';
import { roleSessionName } from '../domain/storage-sessions.js';
import { HttpProblemError, isTransientAwsError, ServiceUnavailableError } from '../errors.js';
import { logger } from '../observability.js';

/** The customer's role or bucket refused the registration check: not retryable, nothing registered. */
export class ExternalRootUnverifiedError extends HttpProblemError {
  constructor(detail: string, cause: unknown) {
    super(424, 'external-root-unverified', 'Failed Dependency', {
      detail,
      errors: [{ path: 'body.root', message: 'Could not be verified with the given role' }],
      cause,
    });
    this.name = 'ExternalRootUnverifiedError';
  }
}

export interface ExternalRootCheck {
  tenantId: string;
  userId: string;
  root: StorageRoot;
  roleArn: string;
  externalId: string;
  region: string;
}

/** The account id of a role ARN (`arn:aws:iam::<account>:role/…`). */
export function accountOfRoleArn(roleArn: string): string {
  const account = roleArn.split(':')[4];
  if (!account || !/^\d{12}$/.test(account)) throw new TypeError('not a role ARN');
  return account;
}

/**
 * Proves, before an external root is registered, that the tenant really controls it: the customer's role
 * must admit us with the tenant's ExternalId (and the session tags and source identity every vend will
 * send), and with the vend's own read session policy it must be able to list the root in a bucket owned by
 * the role's account (`ExpectedBucketOwner`). A tenant can therefore not claim — and so block — a root in
 * someone else's bucket, and a misconfigured trust policy fails now rather than at the first vend.
 */
export class ExternalRootVerifier {
  constructor(private readonly sts: STSClient) {}

  async verify(check: ExternalRootCheck): Promise<void> {
    const { root, roleArn } = check;
    let credentials: Credentials | undefined;
    try {
      ({ Credentials: credentials } = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          ExternalId: check.externalId,
          RoleSessionName: roleSessionName(check.tenantId, { kind: 'user', id: check.userId }, newVendId()),
          DurationSeconds: 900,
          Policy: packedSessionPolicy(sessionPolicyFor({ ...root, access: 'read' })),
          Tags: [
            { Key: 'TenantId', Value: check.tenantId },
            { Key: 'UserId', Value: check.userId },
            { Key: 'Access', Value: 'read' },
          ],
          SourceIdentity: check.userId,
        }),
      ));
    } catch (error) {
      throw this.#failure(
        error,
        `${roleArn} could not be assumed: its trust policy must admit the Strongroom vending role with this tenant's ExternalId (GET …/storage-locations/external-id), sts:TagSession and sts:SetSourceIdentity.`,
      );
    }
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken)
      throw new ServiceUnavailableError(5, 'STS returned incomplete credentials; nothing was registered.');
    const s3 = new S3Client({
      ...clientConfig({
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: credentials.SecretAccessKey,
        sessionToken: credentials.SessionToken,
      }),
      region: check.region,
      forcePathStyle: functionRuntime().optional('endpoint') !== undefined,
    });
    try {
      await s3.send(
        new ListObjectsV2Command({
          Bucket: root.bucket,
          ...(root.prefix ? { Prefix: `${root.prefix}/` } : {}),
          MaxKeys: 1,
          ExpectedBucketOwner: accountOfRoleArn(roleArn),
        }),
      );
    } catch (error) {
      throw this.#failure(
        error,
        `${roleArn} cannot list ${formatStorageRoot(root)}, or the bucket is not owned by the role's account.`,
      );
    } finally {
      s3.destroy();
    }
  }

  #failure(error: unknown, detail: string): Error {
    logger.warn('external root verification failed', {
      errorName: error instanceof Error ? error.name : 'unknown',
    });
    if (isTransientAwsError(error) && !isAccessDenied(error))
      return new ServiceUnavailableError(
        5,
        'A dependency is unavailable; nothing was registered. Try again.',
        error,
      );
    return new ExternalRootUnverifiedError(detail, error);
  }
}

function isAccessDenied(error: unknown): boolean {
  return error instanceof Error && /AccessDenied|Forbidden/.test(error.name);
}
