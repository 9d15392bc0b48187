import type { KeyMetadata } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, type Credentials, type STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { clientConfig, functionRuntime } from '../aws/runtime.js';
import { newVendId } from '../domain/ids.js';
import { packedSessionPolicy, sessionPolicyFor } from '../domain/storage-policy.js';
import { formatStorageRoot, type StorageRoot } from '../domain/storage-roots.js';
import { roleSessionName } from '../domain/storage-sessions.js';
import { HttpProblemError, isTransientAwsError, ServiceUnavailableError } from '../errors.js';
import { logger } from '../observability.js';

/** The customer's role, bucket or key refused the registration check: not retryable, nothing registered. */
export class ExternalRootUnverifiedError extends HttpProblemError {
  constructor(
    detail: string,
    cause: unknown,
    field: { path: string; message: string } = {
      path: 'body.root',
      message: 'Could not be verified with the given role',
    },
  ) {
    super(424, 'external-root-unverified', 'Failed Dependency', { detail, errors: [field], cause });
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
  /** The bucket's SSE-KMS key, and older keys still in use (registration checked their ARNs). */
  kmsKeyArn?: string;
  previousKmsKeyArns?: readonly string[];
}

/** The keys of a check, each with the request field that named it. */
function namedKeys(check: ExternalRootCheck): { path: string; arn: string }[] {
  return [
    ...(check.kmsKeyArn ? [{ path: 'body.kmsKeyArn', arn: check.kmsKeyArn }] : []),
    ...(check.previousKmsKeyArns ?? []).map((arn, i) => ({ path: `body.previousKmsKeyArns.${i}`, arn })),
  ];
}

/**
 * The verification session's policy: the read vend's own (so the check proves what a vend will get), plus
 * `kms:DescribeKey` on the registered keys, the one KMS call that tells whether the role may reach a key and
 * what the key is, without touching data.
 */
function verificationPolicy(check: ExternalRootCheck): string {
  const policy = sessionPolicyFor({
    ...check.root,
    access: 'read',
    ...(check.kmsKeyArn ? { kmsKeyArn: check.kmsKeyArn } : {}),
    ...(check.previousKmsKeyArns ? { previousKmsKeyArns: check.previousKmsKeyArns } : {}),
  });
  const keys = namedKeys(check).map((k) => k.arn);
  if (keys.length > 0)
    policy.Statement.push({
      Sid: 'Verify',
      Effect: 'Allow',
      Action: 'kms:DescribeKey',
      Resource: keys.length === 1 ? keys[0]! : keys,
    });
  return packedSessionPolicy(policy);
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
          Policy: verificationPolicy(check),
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
    const session = {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
    };
    const s3 = new S3Client({
      ...clientConfig(session),
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
    await this.#verifyKeys(check, session);
  }

  /**
   * Each registered key as the role sees it: reachable (the role's policy and the key policy allow it), a
   * symmetric encryption key (the only kind S3 uses), enabled. What a key refuses is named by its field.
   */
  async #verifyKeys(check: ExternalRootCheck, session: AwsCredentialIdentity): Promise<void> {
    const keys = namedKeys(check);
    if (keys.length === 0) return;
    // Only registrations of SSE-KMS locations need KMS: loaded then, not at every cold start.
    const { KMSClient, DescribeKeyCommand } = await import('@aws-sdk/client-kms');
    const kms = new KMSClient({ ...clientConfig(session), region: check.region });
    try {
      for (const { path, arn } of keys) {
        let metadata: KeyMetadata | undefined;
        try {
          ({ KeyMetadata: metadata } = await kms.send(new DescribeKeyCommand({ KeyId: arn })));
        } catch (error) {
          throw this.#failure(
            error,
            `${check.roleArn} cannot describe ${arn}: the key must exist, and both the role's policy and the key policy must allow it kms:DescribeKey, kms:Decrypt and (for writing) kms:GenerateDataKey.`,
            { path, message: 'Could not be reached with the given role' },
          );
        }
        const problem = keyProblem(metadata);
        if (problem)
          throw new ExternalRootUnverifiedError(`${arn} ${problem}.`, undefined, { path, message: problem });
      }
    } finally {
      kms.destroy();
    }
  }

  #failure(error: unknown, detail: string, field?: { path: string; message: string }): Error {
    logger.warn('external root verification failed', {
      errorName: error instanceof Error ? error.name : 'unknown',
    });
    if (isTransientAwsError(error) && !isAccessDenied(error))
      return new ServiceUnavailableError(
        5,
        'A dependency is unavailable; nothing was registered. Try again.',
        error,
      );
    return new ExternalRootUnverifiedError(detail, error, field);
  }
}

/** Why S3 could not use a key for a bucket's objects, if it could not. */
function keyProblem(metadata: KeyMetadata | undefined): string | undefined {
  if (!metadata) return 'was not described by KMS';
  // SYMMETRIC_DEFAULT is always an ENCRYPT_DECRYPT key (HMAC and asymmetric keys have other specs).
  const spec = metadata.KeySpec ?? metadata.CustomerMasterKeySpec;
  if (spec !== 'SYMMETRIC_DEFAULT' || (metadata.KeyUsage ?? 'ENCRYPT_DECRYPT') !== 'ENCRYPT_DECRYPT')
    return 'is not a symmetric encryption key, the only kind S3 encrypts with';
  if (metadata.KeyState !== 'Enabled')
    return `is ${metadata.KeyState ?? 'not enabled'}: S3 could not use it for this location's objects`;
  return undefined;
}

function isAccessDenied(error: unknown): boolean {
  return error instanceof Error && /AccessDenied|Forbidden/.test(error.name);
}
