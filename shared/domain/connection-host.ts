/**
 * Which hosts a data-source connection may point at. The query layer connects from inside the platform,
 * so a connection to a loopback, link-local, metadata or private address would let a tenant reach the
 * platform's own network (SSRF). Literal IPs are classified exactly; host names are checked for the
 * spellings resolvers treat as IPs (`127.1`, `0x7f000001`, `2130706433`) and for names that only resolve
 * inside a network (`localhost`, `*.internal`, single labels). What a public name resolves to is decided
 * by DNS at connect time (rebinding): `isAddressAllowed` lets the connecting code check the resolved address.
 */

import { onFirstUse } from './on-first-use.js';

export interface HostPolicy {
  /** Deployment setting ALLOW_PRIVATE_NETWORKS: loopback, private ranges and local names are allowed. */
  allowPrivateNetworks: boolean;
}

/** How a host is classified. `blocked` is never allowed; `private` only with allowPrivateNetworks. */
export type HostClass = 'public' | 'private' | 'blocked';

export interface HostCheck {
  allowed: boolean;
  hostClass: HostClass;
  /** Why it is not allowed (for the 400 message), or what it is. */
  reason: string;
  /** The host in canonical form (lower case, IPv6 without brackets and compressed as given). */
  host: string;
}

interface Cidr {
  bits: bigint;
  prefix: number;
  width: 32 | 128;
  hostClass: Exclude<HostClass, 'public'>;
  reason: string;
}

const V4_RANGES: [string, number, Exclude<HostClass, 'public'>, string][] = [
  ['0.0.0.0', 8, 'blocked', 'an unspecified ("this network") address'],
  ['169.254.0.0', 16, 'blocked', 'a link-local address (cloud metadata lives here)'],
  ['224.0.0.0', 4, 'blocked', 'a multicast address'],
  ['240.0.0.0', 4, 'blocked', 'a reserved or broadcast address'],
  ['192.0.0.0', 24, 'blocked', 'an IETF protocol assignment (includes NAT64 discovery)'],
  ['127.0.0.0', 8, 'private', 'a loopback address'],
  ['10.0.0.0', 8, 'private', 'a private address'],
  ['172.16.0.0', 12, 'private', 'a private address'],
  ['192.168.0.0', 16, 'private', 'a private address'],
  ['100.64.0.0', 10, 'private', 'a shared (carrier-grade NAT) address'],
  ['198.18.0.0', 15, 'private', 'a benchmarking address'],
];

const V6_RANGES: [string, number, Exclude<HostClass, 'public'>, string][] = [
  ['::', 128, 'blocked', 'the unspecified address'],
  ['fd00:ec2::254', 128, 'blocked', 'the cloud metadata address'],
  ['fe80::', 10, 'blocked', 'a link-local address'],
  ['ff00::', 8, 'blocked', 'a multicast address'],
  ['100::', 64, 'blocked', 'a discard-only address'],
  ['2001::', 32, 'blocked', 'a Teredo tunnel address (it hides an IPv4 address)'],
  ['64:ff9b:1::', 48, 'blocked', 'a local-use NAT64 address (it hides an IPv4 address)'],
  ['::1', 128, 'private', 'a loopback address'],
  ['fc00::', 7, 'private', 'a unique local (private) address'],
  ['fec0::', 10, 'private', 'a site-local (private) address'],
];

/** Host names that mean "this machine" or only resolve inside a network, whatever DNS says. */
const LOCAL_NAMES: ReadonlySet<string> = new Set([
  'localhost',
  'localhost.localdomain',
  'ip6-localhost',
  'ip6-loopback',
  'broadcasthost',
]);
const LOCAL_SUFFIXES = [
  '.localhost',
  '.local',
  '.internal',
  '.localdomain',
  '.home.arpa',
  '.lan',
  '.intranet',
];

/**
 * The ranges above as integers, parsed by the first host check rather than at load: a function's cold start
 * (the connections function lists and reads connections without checking a host) need not run this.
 */
const cidrTable = onFirstUse((): Cidr[] => [
  ...V4_RANGES.map(([addr, prefix, hostClass, reason]) => ({
    bits: parseIPv4(addr)!,
    prefix,
    width: 32 as const,
    hostClass,
    reason,
  })),
  ...V6_RANGES.map(([addr, prefix, hostClass, reason]) => ({
    bits: parseIPv6(addr)!,
    prefix,
    width: 128 as const,
    hostClass,
    reason,
  })),
]);

/** Strict dotted-quad IPv4 (no leading zeros, no short or hex forms) as a 32-bit integer, or undefined. */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** IPv6 (with `::` and an optional trailing dotted IPv4; no zone id) as a 128-bit integer, or undefined. */
export function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.length > 45) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

function inCidr(value: bigint, width: 32 | 128, cidr: Cidr): boolean {
  if (cidr.width !== width) return false;
  const shift = BigInt(width - cidr.prefix);
  return value >> shift === cidr.bits >> shift;
}

function classifyV4(value: bigint): { hostClass: HostClass; reason: string } {
  for (const cidr of cidrTable()) if (inCidr(value, 32, cidr)) return cidr;
  return { hostClass: 'public', reason: 'a public IPv4 address' };
}

function classifyV6(value: bigint): { hostClass: HostClass; reason: string } {
  // Forms that carry an IPv4 address are judged by that address.
  const high96 = value >> 32n;
  const low32 = value & 0xffffffffn;
  if (high96 === 0xffffn) return classifyV4(low32); // ::ffff:a.b.c.d (IPv4-mapped)
  if (high96 === 0xffff0000n) return classifyV4(low32); // ::ffff:0:a.b.c.d (IPv4-translated, RFC 6145)
  if (high96 === 0x64ff9b0000000000000000n) return classifyV4(low32); // 64:ff9b::/96 (NAT64)
  if (value >> 112n === 0x2002n) return classifyV4((value >> 80n) & 0xffffffffn); // 2002::/16 (6to4)
  if (high96 === 0n && low32 > 1n)
    return { hostClass: 'blocked', reason: 'a deprecated IPv4-compatible address' };
  for (const cidr of cidrTable()) if (inCidr(value, 128, cidr)) return cidr;
  return { hostClass: 'public', reason: 'a public IPv6 address' };
}

/**
 * Classifies a resolved IP address (no brackets). Connecting code can call this on the address DNS
 * returned, closing the rebinding gap that checking the name alone leaves.
 */
export function classifyAddress(address: string): { hostClass: HostClass; reason: string } | undefined {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return classifyV4(v4);
  const v6 = parseIPv6(address);
  if (v6 !== undefined) return classifyV6(v6);
  return undefined;
}

/** Whether a resolved address may be connected to under `policy`. */
export function isAddressAllowed(address: string, policy: HostPolicy): boolean {
  const classified = classifyAddress(address);
  if (!classified) return false;
  return allowedFor(classified.hostClass, policy);
}

function allowedFor(hostClass: HostClass, policy: HostPolicy): boolean {
  return hostClass === 'public' || (hostClass === 'private' && policy.allowPrivateNetworks);
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Checks a connection's host (IP literal, bracketed IPv6 or DNS name) against the deployment's policy. */
export function checkConnectionHost(input: string, policy: HostPolicy): HostCheck {
  const raw = input.trim().toLowerCase();
  const result = (hostClass: HostClass, reason: string, host = raw): HostCheck => ({
    allowed: allowedFor(hostClass, policy),
    hostClass,
    reason,
    host,
  });
  if (raw.length === 0 || raw.length > 253) return result('blocked', 'must be 1–253 characters');

  const unbracketed = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (unbracketed.includes(':')) {
    const v6 = parseIPv6(unbracketed);
    if (v6 === undefined) return result('blocked', 'is not a valid IPv6 address (zone ids are not accepted)');
    const c = classifyV6(v6);
    return result(c.hostClass, c.reason, unbracketed);
  }
  const v4 = parseIPv4(raw);
  if (v4 !== undefined) {
    const c = classifyV4(v4);
    return result(c.hostClass, c.reason);
  }

  const name = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label)))
    return result('blocked', 'is neither an IP address nor a valid host name');
  // Resolvers read `127.1`, `2130706433`, `0x7f.1` and `017700000001` as IPv4 addresses: never a name.
  const last = labels[labels.length - 1]!;
  if (/^\d+$/.test(last) || labels.some((l) => /^0x[0-9a-f]*$/.test(l)))
    return result('blocked', 'looks like an IP address in a non-standard notation');
  if (LOCAL_NAMES.has(name) || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    return result('private', 'names a local or internal host');
  if (labels.length === 1)
    return result('private', 'is a single-label name, resolvable only inside a network');
  return result('public', 'a public host name', name);
}
