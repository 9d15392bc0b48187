import type { StrongroomClient } from './client.js';

/**
 * Remote signing for the AWS SDK v3 S3 client: a plugin that replaces the client's own SigV4 step with a call
 * to Strongroom's `…/storage-locations/{id}/sign`, so the client holds no AWS credentials at all. Strongroom
 * checks each request against the location (bucket, prefix, operation, the caller's access) and signs it
 * with short-lived credentials that stay on the server; a removed member's next request is refused.
 *
 * The types below are written out structurally (the package depends on no AWS SDK module); they match the
 * SDK's `Pluggable`, `MiddlewareStack` and `HttpRequest`.
 */

/** The parts of the SDK's `HttpRequest` the plugin reads and writes. */
interface SignableHttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | (string | null)[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The SDK's finalize-step handler, typed loosely so that the SDK's own `MiddlewareStack` satisfies ours. */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's handler types, which this package does not import
type FinalizeHandler = (args: any) => Promise<any>;

/** The SDK's `MiddlewareStack`, as far as the plugin uses it. */
export interface SigningMiddlewareStack {
  remove(toRemove: string): boolean;
  addRelativeTo(
    middleware: (next: FinalizeHandler) => FinalizeHandler,
    options: { relation: 'before' | 'after'; toMiddleware: string; name?: string; override?: boolean },
  ): void;
}

/** The SDK's `Pluggable`: `s3.middlewareStack.use(strongroomSigning(…))`. */
export interface StrongroomSigningPlugin {
  applyToStack(stack: SigningMiddlewareStack): void;
}

export interface StrongroomSigningOptions {
  /** A client with a session token or an API key (storage:read-credentials; writes need storage:write-credentials). */
  client: Pick<StrongroomClient, 'signStorageRequest'>;
  tenantId: string;
  /** The storage location's id (`l_…`); every request must stay inside it. */
  locationId: string;
  /** The region the location's store signs for (the location's `region`). */
  region: string;
}

/** The access key id of `remoteSigningCredentials`: not an AWS key, never sent to a store. */
export const REMOTE_SIGNING_ACCESS_KEY_ID = 'STRONGROOM-REMOTE-SIGNING';

/**
 * Placeholder credentials for an S3Client that signs through Strongroom (`credentials:
 * remoteSigningCredentials`): the SDK resolves an identity before signing, but with the plugin installed it
 * never signs with it. Not a secret, reaches nothing; a fresh object each time (the SDK annotates it).
 */
export const remoteSigningCredentials = async () => ({
  accessKeyId: REMOTE_SIGNING_ACCESS_KEY_ID,
  secretAccessKey: 'not-used: requests are signed by Strongroom',
});

/** The headers the remote signature replaces (case-insensitively). */
const SIGNATURE_HEADERS = ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

/** The query string exactly as the SDK's HTTP handlers build it (RFC 3986 escaping, sorted names). */
function queryString(query: SignableHttpRequest['query']): string {
  const escapeUri = (value: string) =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const parts: string[] = [];
  for (const name of Object.keys(query ?? {}).sort()) {
    const value = query![name];
    if (Array.isArray(value)) for (const v of value) parts.push(`${escapeUri(name)}=${escapeUri(v ?? '')}`);
    else
      parts.push(
        value === null || value === undefined ? escapeUri(name) : `${escapeUri(name)}=${escapeUri(value)}`,
      );
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return undefined;
}

/**
 * The plugin: install it on an S3Client created with `credentials: remoteSigningCredentials` (and the location's region,
 * endpoint and path style). Each attempt (retries included) is signed afresh.
 */
export function strongroomSigning(options: StrongroomSigningOptions): StrongroomSigningPlugin {
  const middleware =
    (next: FinalizeHandler): FinalizeHandler =>
    async (args) => {
      const request = args.request as SignableHttpRequest;
      const port = request.port ? `:${request.port}` : '';
      const uri = `${request.protocol}//${request.hostname}${port}${request.path}${queryString(request.query)}`;
      // The payload hash the SDK chose goes along (a streamed body is sent aws-chunked with a trailing
      // checksum: STREAMING-UNSIGNED-PAYLOAD-TRAILER), so the signature stands for the body as sent.
      const headers: Record<string, string[]> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (!SIGNATURE_HEADERS.includes(name.toLowerCase()) || name.toLowerCase() === 'x-amz-content-sha256')
          headers[name] = [value];
      // Only DeleteObjects carries a body Strongroom must read (its keys); every other body stays here.
      const isDeleteObjects = request.method === 'POST' && request.query && 'delete' in request.query;
      const body = isDeleteObjects ? bodyText(request.body) : undefined;
      if (isDeleteObjects && body === undefined)
        throw new Error('DeleteObjects needs a string or byte body to be signed remotely.');
      const signed = await options.client.signStorageRequest(options.tenantId, options.locationId, {
        region: options.region,
        uri,
        method: request.method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const kept = Object.fromEntries(
        Object.entries(request.headers).filter(([name]) => !SIGNATURE_HEADERS.includes(name.toLowerCase())),
      );
      for (const [name, values] of Object.entries(signed.headers)) {
        for (const existing of Object.keys(kept))
          if (existing.toLowerCase() === name.toLowerCase()) delete kept[existing];
        kept[name] = values.join(',');
      }
      request.headers = kept;
      return next(args);
    };
  return {
    applyToStack(stack) {
      // The SDK's own SigV4 step goes: with placeholder credentials it would only produce a useless signature.
      stack.remove('httpSigningMiddleware');
      stack.addRelativeTo(middleware, {
        relation: 'after',
        toMiddleware: 'retryMiddleware',
        name: 'strongroomSigningMiddleware',
        override: true,
      });
    },
  };
}
