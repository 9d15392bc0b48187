import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { checkConnectionHost, type HostPolicy, isAddressAllowed } from '../domain/connection-host.js';

/*
 * Requests the platform makes to addresses a tenant chose (a tenant's own OpenID provider, an S3-compatible
 * store): a tenant must not reach the platform's own network through them (SSRF). HTTPS only; plain HTTP only
 * to a loopback host where private networks are allowed (local mode and tests); port 443 or an unprivileged
 * one (LOWEST_OTHER_PORT). The host name and every address it resolves to
 * must be public (with ALLOW_PRIVATE_NETWORKS, private ranges and loopback too); link-local (the metadata
 * service), multicast and reserved ranges never. A name resolved here could resolve elsewhere at connect
 * time (rebinding): HTTPS leaves such a connection nothing to talk to, since the certificate must still
 * match the name.
 */

/** Thrown when a URL may not be requested under the deployment's policy; `reason` says why. */
export class OutboundRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Refused to request ${url}: ${reason}`);
    this.name = 'OutboundRefusedError';
  }
}

const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The lowest port a tenant-chosen URL may name besides HTTPS's own 443 (or the scheme's default, which
 * `URL` leaves out). Ports below it are the well-known services of a host (SSH 22, SMTP 25, DNS 53, LDAP
 * 389, SMB 445…): refusing them keeps the platform from being pointed at them to tell open from closed by
 * the answer's kind or timing. Stores and providers that do not sit on 443 use unprivileged ports (MinIO
 * 9000, Ceph RGW 7480/8443, Garage 3900, SeaweedFS 8333, Keycloak 8443), which stay open.
 */
export const LOWEST_OTHER_PORT = 1024;

/** Why `url`'s port may not be requested (see LOWEST_OTHER_PORT), or undefined. */
export function outboundPortProblem(url: URL): string | undefined {
  if (url.port === '' || url.port === '443' || Number(url.port) >= LOWEST_OTHER_PORT) return undefined;
  return `must use port 443 or a port from ${LOWEST_OTHER_PORT} to 65535 (not ${url.port})`;
}

/** Why `url` may not be requested, from its shape alone (no DNS), or undefined. */
export function outboundUrlShapeProblem(url: URL, policy: HostPolicy): string | undefined {
  if (url.username || url.password) return 'must not carry a user name or password';
  const port = outboundPortProblem(url);
  if (port) return port;
  if (url.protocol === 'http:') {
    if (!(policy.allowPrivateNetworks && LOOPBACK_NAMES.has(url.hostname)))
      return 'must be an https URL (plain http only to a loopback host in local mode)';
  } else if (url.protocol !== 'https:') return 'must be an https URL';
  const host = checkConnectionHost(url.hostname, policy);
  if (!host.allowed) return `its host ${host.reason}`;
  return undefined;
}

/** Resolves a host name to every address it has (`dns.lookup` with `all`; a seam for tests). */
export type HostResolver = (host: string) => Promise<{ address: string }[]>;

const resolveAll: HostResolver = (host) => lookup(host, { all: true, verbatim: true });

/** Why `url` may not be requested (its shape, then every address its host resolves to), or undefined. */
export async function outboundUrlProblem(
  url: URL,
  policy: HostPolicy,
  resolve: HostResolver = resolveAll,
): Promise<string | undefined> {
  const shape = outboundUrlShapeProblem(url, policy);
  if (shape) return shape;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: { address: string }[];
  try {
    addresses = await resolve(host);
  } catch {
    return undefined; // Not resolvable: the request fails as unreachable.
  }
  const refused = addresses.find(({ address }) => !isAddressAllowed(address, policy));
  return refused ? `its host resolves to a private or reserved address (${refused.address})` : undefined;
}

/**
 * `fetch`, refusing any URL `outboundUrlProblem` refuses (OutboundRefusedError) and never following a
 * redirect by itself (a redirect could lead anywhere).
 */
export function guardedFetch(policy: HostPolicy): typeof fetch {
  return async (input, init) => {
    const href = input instanceof Request ? input.url : String(input);
    const problem = await outboundUrlProblem(new URL(href), policy);
    if (problem) throw new OutboundRefusedError(href, problem);
    return fetch(input, { ...init, redirect: 'manual' });
  };
}

/**
 * A `lookup` for `http.Agent` / `https.Agent` that fails a connection when any address the name resolves to is
 * not allowed under `policy`: checked at connect time, so a name that resolved to a public address when it was
 * registered cannot be rebound to the metadata service or a private one later. (Literal IPs never reach a
 * lookup; `outboundUrlShapeProblem` judges them.)
 */
export function guardedLookup(policy: HostPolicy) {
  return (
    hostname: string,
    options: { all?: boolean } & Record<string, unknown>,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find(({ address }) => !isAddressAllowed(address, policy));
      if (refused || addresses.length === 0) {
        const failure: NodeJS.ErrnoException = new Error(
          `Refused to connect to ${hostname}: it resolves to a private or reserved address${refused ? ` (${refused.address})` : ''}`,
        );
        failure.code = 'EADDRNOTALLOWED';
        return callback(failure, []);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      return callback(null, first!.address, first!.family);
    });
  };
}
