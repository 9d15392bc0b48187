import { createHash, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';

// Node's own module object, not an ES import: importing node:net as an ES module reads every export, and two
// of them (BlockList, SocketAddress) load their implementations at every cold start of every API function.
const { isIP } = process.getBuiltinModule('node:net');

/**
 * The header CloudFront adds to every request it sends to the API: the secret the distribution and the
 * functions share (a generated Secrets Manager value, resolved by CloudFormation into both). Only a request
 * carrying it came through our distribution; CloudFront overwrites a viewer's header of the same name.
 */
export const ORIGIN_VERIFY_HEADER = 'x-strongroom-origin-verify';

/** CloudFront's viewer address, `ip:port` (IPv6 with or without brackets around the address). */
export const VIEWER_ADDRESS_HEADER = 'cloudfront-viewer-address';

/**
 * The IP address of a `CloudFront-Viewer-Address` value, or undefined when it is not exactly an IP address
 * and a port. CloudFront sends `198.51.100.10:46532` and, for IPv6, `2001:db8::1:46532` (the port is after
 * the last colon); `[2001:db8::1]:46532` is accepted too. IPv6 is lower-cased; an IPv4-mapped IPv6 address
 * counts as its IPv4 address, as the connection's address does in local mode.
 */
export function parseViewerAddress(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let host: string;
  let port: string;
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2]!;
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (isIP(host) === 0) return undefined;
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  // Zone ids (fe80::1%eth0) are not addresses a viewer on the internet has.
  if (host.includes('%')) return undefined;
  const lower = host.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  return lower;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Whether a presented origin secret is the configured one, in time independent of where they differ. */
export function originSecretMatches(presented: string | undefined, configured: string | undefined): boolean {
  if (!configured || presented === undefined) return false;
  // Hashing first makes both sides the same length, so the comparison says nothing about the length either.
  return timingSafeEqual(digest(presented), digest(configured));
}

/**
 * Every value of a header, under any capitalisation. API Gateway puts every value in `multiValueHeaders`
 * and the last one again in `headers`, so the multi-value map is read where it has the header.
 */
function headerValues(event: APIGatewayProxyEvent, lower: string): string[] {
  const multi = Object.entries(event.multiValueHeaders ?? {}).filter(([key]) => key.toLowerCase() === lower);
  if (multi.length > 0) return multi.flatMap(([, list]) => list ?? []);
  return Object.entries(event.headers ?? {})
    .filter(([key, value]) => key.toLowerCase() === lower && value !== undefined)
    .map(([, value]) => value as string);
}

export type ClientIpSource = 'connection' | 'viewer-address';

export interface ClientIp {
  ip: string;
  source: ClientIpSource;
  /** Set when the request came through the distribution but its viewer address was unusable. */
  problem?: 'viewer-address-missing' | 'viewer-address-malformed';
}

/**
 * The caller's address. API Gateway's `sourceIp` is the connection's peer: the caller itself, unless the
 * request came through our CloudFront distribution, whose edge is the peer. A request proves it came through
 * the distribution only by carrying the origin secret (and only when one is configured: local mode has none,
 * so there the header is never trusted); then CloudFront's `CloudFront-Viewer-Address` names the caller.
 * Without the secret, a client's own `CloudFront-Viewer-Address` is ignored, so nobody picks their own
 * address. With the secret but no well-formed viewer address (a distribution misconfigured, never the
 * client's doing) the connection's address is used and `problem` says why, for a warning.
 */
export function resolveClientIp(event: APIGatewayProxyEvent, originSecret: string | undefined): ClientIp {
  const connection = event.requestContext?.identity?.sourceIp || 'unknown';
  if (!originSecret) return { ip: connection, source: 'connection' };
  const presented = headerValues(event, ORIGIN_VERIFY_HEADER);
  // CloudFront sends exactly one; anything else did not come from it.
  if (presented.length !== 1 || !originSecretMatches(presented[0], originSecret))
    return { ip: connection, source: 'connection' };
  const viewer = headerValues(event, VIEWER_ADDRESS_HEADER);
  if (viewer.length === 0) return { ip: connection, source: 'connection', problem: 'viewer-address-missing' };
  const ip = viewer.length === 1 ? parseViewerAddress(viewer[0]) : undefined;
  if (!ip) return { ip: connection, source: 'connection', problem: 'viewer-address-malformed' };
  return { ip, source: 'viewer-address' };
}

/** Removes the origin secret from the event's headers, so nothing after this can log or echo it. */
export function stripOriginSecret(event: APIGatewayProxyEvent): void {
  for (const key of Object.keys(event.headers ?? {}))
    if (key.toLowerCase() === ORIGIN_VERIFY_HEADER) delete event.headers[key];
  for (const key of Object.keys(event.multiValueHeaders ?? {}))
    if (key.toLowerCase() === ORIGIN_VERIFY_HEADER) delete event.multiValueHeaders[key];
}

const resolved = new WeakMap<APIGatewayProxyEvent, string>();

/**
 * Resolves the caller's address once per request and strips the origin secret; returns what was resolved.
 * The API's first middleware calls it with the function's configured secret (its runtime's
 * ORIGIN_VERIFY_SECRET: set in AWS, absent in local mode), so every later reader (rate limits, sessions,
 * audit) sees the same address and no logger sees the secret.
 */
export function establishClientIp(event: APIGatewayProxyEvent, originSecret: string | undefined): ClientIp {
  const result = resolveClientIp(event, originSecret);
  stripOriginSecret(event);
  resolved.set(event, result.ip);
  return result;
}

/** The caller's address as `establishClientIp` resolved it; the connection's address if it never ran. */
export function clientIpOf(event: APIGatewayProxyEvent): string {
  return resolved.get(event) ?? (event.requestContext?.identity?.sourceIp || 'unknown');
}
