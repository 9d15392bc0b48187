import { createHash } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { VendedCredentials } from '../domain/storage-sessions.js';
import type { CheckedSignRequest } from '../domain/storage-signing.js';

/**
 * Signs a checked S3 request with SigV4 exactly as the AWS SDK v3's S3 client does (the same signer and
 * hash, the path signed as sent, not escaped again) and returns the headers the client must send, in
 * Iceberg's shape (`name → [value]`); `host` is left to the client, which derives it from the URI.
 */
export async function signS3Request(
  request: CheckedSignRequest,
  // No session token: an S3-compatible store's own key pair (signing-only locations).
  credentials: Pick<VendedCredentials, 'accessKeyId' | 'secretAccessKey'> &
    Partial<Pick<VendedCredentials, 'sessionToken'>>,
  region: string,
  signingDate: Date = new Date(),
): Promise<Record<string, string[]>> {
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const payloadHash =
    typeof request.payloadHash === 'string'
      ? request.payloadHash
      : createHash('sha256').update(request.payloadHash.sha256Of, 'utf8').digest('hex');
  const host = request.port ? `${request.hostname}:${request.port}` : request.hostname;
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: request.protocol,
      hostname: request.hostname,
      ...(request.port ? { port: request.port } : {}),
      path: request.path,
      query: request.query,
      headers: { ...request.headers, host, 'x-amz-content-sha256': payloadHash },
    },
    { signingDate },
  );
  const headers: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers))
    if (name.toLowerCase() !== 'host') headers[name] = [value];
  return headers;
}
