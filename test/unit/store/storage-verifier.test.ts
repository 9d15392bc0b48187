import { ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sessionPolicyFor } from '../../../shared/domain/storage-policy.js';
import type { HttpProblemError } from '../../../shared/errors.js';
import { ExternalRootUnverifiedError, ExternalRootVerifier } from '../../../shared/store/storage-verifier.js';

const T = 't_01jx0000000000000000000001';
const U = 'u_01jx0000000000000000000001';
const ROLE = 'arn:aws:iam::210987654321:role/strongroom-access';
const sts = mockClient(STSClient);
const s3 = mockClient(S3Client);
const check = {
  tenantId: T,
  userId: U,
  root: { bucket: 'customer-lake', prefix: 'data' },
  roleArn: ROLE,
  externalId: 'strongroom-abc',
  region: 'eu-west-1',
};
const verify = () => new ExternalRootVerifier(new STSClient({ region: 'eu-west-1' })).verify(check);

beforeEach(() => {
  sts.reset();
  s3.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date() },
  });
  s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
});

describe('ExternalRootVerifier', () => {
  it('assumes the role as a vend would and lists the root in a bucket owned by the role account', async () => {
    // Act
    await verify();

    // Assess: the vend's session policy and tags, and a listing pinned to the role's account
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: ROLE,
      ExternalId: 'strongroom-abc',
      SourceIdentity: U,
      Policy: JSON.stringify(sessionPolicyFor({ bucket: 'customer-lake', prefix: 'data', access: 'read' })),
      Tags: [
        { Key: 'TenantId', Value: T },
        { Key: 'UserId', Value: U },
        { Key: 'Access', Value: 'read' },
      ],
    });
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: 'customer-lake',
      Prefix: 'data/',
      MaxKeys: 1,
      ExpectedBucketOwner: '210987654321',
    });
  });

  it('a role that does not trust us (or not with this ExternalId) is 424, and S3 is never called', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );

    // Act
    const error = await verify().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ExternalRootUnverifiedError);
    expect((error as HttpProblemError).status).toBe(424);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 0);
  });

  it.each([
    ['AccessDenied (bucket owned by another account, or no permission)', 'AccessDenied', 403],
    ['NoSuchBucket', 'NoSuchBucket', 404],
  ])('%s is 424', async (_label, name, httpStatusCode) => {
    // Prepare
    s3.on(ListObjectsV2Command).rejects(
      new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode } }),
    );

    // Act
    const error = await verify().catch((e: unknown) => e);

    // Assess: the root is the field named
    expect((error as HttpProblemError).status).toBe(424);
    expect((error as HttpProblemError).errors).toEqual([
      { path: 'body.root', message: 'Could not be verified with the given role' },
    ]);
  });

  it('an STS outage is 503 with Retry-After, not a verdict on the root', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
      }),
    );

    // Act
    const error = await verify().catch((e: unknown) => e);

    // Assess
    expect((error as HttpProblemError).status).toBe(503);
    expect((error as HttpProblemError).headers['Retry-After']).toBeDefined();
  });
});
