import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { HostPolicy } from '../domain/connection-host.js';
import { guardedLookup, type HostResolver, outboundUrlProblem } from './outbound-http.js';

/*
 * S3-compatible stores (MinIO, Ceph RGW, Cloudflare R2…): an external location may name the store's own
 * endpoint, and its STS endpoint. Both are addresses a tenant chose, so they follow the outbound rules of
 * outbound-http.ts (https only, public host and addresses, http to loopback only where private networks are
 * allowed, link-local and metadata never), plus one more: an endpoint is an origin, nothing else (no user
 * name, path, query or fragment), so it is stored in its normalised form (`URL.origin`: `2852039166` and
 * `0xa9.0xfe.0xa9.0xfe` become 169.254.169.254 before they are judged).
 */

/** The normalised origin of a store endpoint, or why it cannot be one. */
export async function checkStoreEndpoint(
  text: string,
  policy: HostPolicy,
  resolve?: HostResolver,
): Promise<{ origin: string } | { problem: string }> {
  // The URL parser drops tabs and newlines anywhere and spaces at the ends: refuse them rather than guess.
  if ([...text].some((c) => c.trim() === '' || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    return { problem: 'Must not contain spaces or control characters' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'Not an absolute URL' };
  }
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(text))
    return { problem: 'Must not carry a user name or password' };
  if (text.includes('?') || text.includes('#'))
    return { problem: 'Must be an origin only: no query or fragment' };
  if (url.pathname !== '/')
    return { problem: 'Must be an origin only: no path (the bucket is not part of it)' };
  const problem = await outboundUrlProblem(url, policy, resolve);
  if (problem) return { problem: `Refused: ${problem}` };
  return { origin: url.origin };
}

/**
 * What an AWS SDK client needs to talk to a store: its endpoint, the key pair (or a session of it), and a
 * request handler whose agents check, at every connection, that the store's name still resolves only to
 * addresses the policy allows (DNS rebinding). Few retries and bounded timeouts: a store that hangs must
 * not hold a request for long.
 */
export function storeClientConfig(
  endpoint: string,
  region: string,
  credentials: AwsCredentialIdentity,
  policy: HostPolicy,
) {
  const lookup = guardedLookup(policy) as never;
  return {
    endpoint,
    region,
    credentials,
    maxAttempts: 2,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, lookup }),
      httpsAgent: new HttpsAgent({ keepAlive: true, lookup }),
      connectionTimeout: 5_000,
      requestTimeout: 15_000,
    },
  };
}
