import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpResponse } from '@smithy/core/protocols';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkSignRequest } from '../../../shared/domain/storage-signing.js';
import { signS3Request } from '../../../shared/store/storage-request-signer.js';

/**
 * The remote signature must be the one the AWS SDK's S3 client would have made itself with the same
 * credentials: the same request through the SDK and through checkSignRequest + signS3Request gives the
 * same Authorization header. (The emulator checks no signature, so this is where its correctness is shown.)
 */
const CREDENTIALS = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLE',
};
const NOW = new Date('2026-12-01T12:34:56Z');
const TARGET = { bucket: 'lake', prefix: 'tenants/t1/l1', region: 'eu-west-1', pathStyle: false };

/** What the SDK sends for `command`, signed by itself, captured before it would leave the process. */
async function sentBySdk(send: (s3: S3Client) => Promise<unknown>) {
  let captured:
    | {
        method: string;
        protocol: string;
        hostname: string;
        path: string;
        query: Record<string, string>;
        headers: Record<string, string>;
        body: unknown;
      }
    | undefined;
  const s3 = new S3Client({
    region: 'eu-west-1',
    credentials: CREDENTIALS,
    requestHandler: {
      handle: async (request: typeof captured) => {
        captured = request;
        return { response: new HttpResponse({ statusCode: 200, headers: {}, body: Readable.from([]) }) };
      },
    },
  });
  await send(s3).catch(() => undefined);
  if (!captured) throw new Error('nothing sent');
  return captured;
}

/** The same request as an Iceberg-style sign request, signed by Strongroom's path. */
async function signedRemotely(sent: NonNullable<Awaited<ReturnType<typeof sentBySdk>>>) {
  const query = Object.entries(sent.query ?? {})
    .map(([k, v]) =>
      v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
    )
    .join('&');
  const headers = Object.fromEntries(
    Object.entries(sent.headers)
      .filter(
        ([name]) => !['authorization', 'x-amz-date', 'x-amz-security-token'].includes(name.toLowerCase()),
      )
      .map(([name, value]) => [name, [value]]),
  );
  const checked = checkSignRequest(TARGET, {
    region: 'eu-west-1',
    uri: `${sent.protocol}//${sent.hostname}${sent.path}${query ? `?${query}` : ''}`,
    method: sent.method,
    headers,
    ...(typeof sent.body === 'string' && sent.method === 'POST' ? { body: sent.body } : {}),
  });
  return signS3Request(checked, CREDENTIALS, 'eu-west-1', NOW);
}

describe('signS3Request', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    [
      'GetObject',
      (s3: S3Client) =>
        s3.send(new GetObjectCommand({ Bucket: 'lake', Key: 'tenants/t1/l1/data/a b+c.parquet' })),
    ],
    [
      'PutObject',
      (s3: S3Client) =>
        s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tenants/t1/l1/data/x.txt', Body: 'hello' })),
    ],
    [
      'DeleteObjects',
      (s3: S3Client) =>
        s3.send(
          new DeleteObjectsCommand({
            Bucket: 'lake',
            Delete: { Objects: [{ Key: 'tenants/t1/l1/a' }, { Key: 'tenants/t1/l1/b&c' }], Quiet: true },
          }),
        ),
    ],
  ])('signs %s exactly as the AWS SDK would', async (_operation, command) => {
    // Prepare: what the SDK itself sends
    const sent = await sentBySdk(command);

    // Act
    const headers = await signedRemotely(sent);

    // Assess: the same signature, date and token
    expect(headers.authorization).toEqual([sent.headers.authorization]);
    expect(headers['x-amz-date']).toEqual([sent.headers['x-amz-date']]);
    expect(headers['x-amz-security-token']).toEqual([CREDENTIALS.sessionToken]);
    expect(headers.authorization![0]).toContain(
      `Credential=${CREDENTIALS.accessKeyId}/20261201/eu-west-1/s3/aws4_request`,
    );
  });
});
