import { KMSServiceException } from '@aws-sdk/client-kms';

/** KMS throttling, as the SDK raises it after its retries: a transient fault (503 with Retry-After). */
export function kmsThrottling(): KMSServiceException {
  return new KMSServiceException({
    name: 'ThrottlingException',
    message: 'Rate exceeded',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}
