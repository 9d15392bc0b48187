/**
 * A typed client for the Strongroom HTTP API over `fetch` (Node ≥ 18, browsers). No server code is imported
 * at all: the wire types are written out in ./types.ts (a test proves they equal the route schemas), the wire
 * format is plain JSON, and the package has no run-time dependencies.
 */
import type {
  InstanceView,
  LoginResult,
  Me,
  Page,
  RevocationOutcome,
  StorageAccess,
  StorageCredentials,
  StorageLocation,
  StorageValidation,
} from './types.js';

export type {
  InstanceView,
  LoginResult,
  Me,
  Page,
  RevocationOutcome,
  StorageAccess,
  StorageCredentials,
  StorageLocation,
  StorageValidation,
  UserView,
} from './types.js';

/** An RFC 9457 problem from the API, with its status; `detail` never holds a secret. */
export class StrongroomApiError extends Error {
  readonly status: number;
  readonly type: string;
  /** The problem's short name, e.g. `mfa-required` for `https://strongroom.dev/problems/mfa-required`. */
  readonly code: string;
  readonly errors: { path: string; message: string }[];
  readonly retryAfterSeconds: number | undefined;
  /** The request's id (the `X-Request-Id` the API answered with): quote it when reporting a problem. */
  readonly requestId: string | undefined;

  constructor(
    status: number,
    problem: Record<string, unknown>,
    retryAfter: string | null,
    requestId?: string | null,
  ) {
    const detail = typeof problem.detail === 'string' ? problem.detail : undefined;
    const title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'StrongroomApiError';
    this.status = status;
    this.type = typeof problem.type === 'string' ? problem.type : 'about:blank';
    this.code = this.type.slice(this.type.lastIndexOf('/') + 1);
    this.errors = Array.isArray(problem.errors)
      ? (problem.errors as { path: string; message: string }[])
      : [];
    const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
    this.retryAfterSeconds = Number.isFinite(seconds) ? seconds : undefined;
    const id = requestId ?? problem.requestId;
    this.requestId = typeof id === 'string' && id !== '' ? id : undefined;
  }
}

/** Iceberg's S3SignRequest: the request as the client is about to send it (`body` only for DeleteObjects). */
export interface RemoteSignRequest {
  region: string;
  uri: string;
  method: string;
  headers: Record<string, string[]>;
  body?: string;
}

export interface StrongroomClientOptions {
  /** Base URL, e.g. `https://api.example.com` or `http://127.0.0.1:3000`. */
  endpoint: string;
  /** A session token or an API key (both are bearer credentials). */
  token?: string;
  fetch?: typeof fetch;
  userAgent?: string;
}

const seg = (value: string) => encodeURIComponent(value);

/** The Strongroom API: auth, tenants (read), instances, storage locations and storage credentials. */
export class StrongroomClient {
  readonly #endpoint: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(options: StrongroomClientOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      // Bearer tokens and S3 secrets travel here: plain HTTP only to this machine.
      throw new Error('The Strongroom endpoint must use https (http is allowed only for localhost).');
    }
    this.#endpoint = url.toString().replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent ?? 'strongroom-sdk/0.1';
  }

  /** Signs in with e-mail and password (and a TOTP code when MFA is on). */
  login(input: {
    email: string;
    password: string;
    mfaCode?: string;
    recoveryCode?: string;
  }): Promise<LoginResult> {
    return this.#request('POST', '/v1/auth/login', input, false);
  }

  /** Revokes this session (a session token; an API key is refused). */
  async logout(): Promise<void> {
    await this.#request('POST', '/v1/auth/logout');
  }

  me(): Promise<Me> {
    return this.#request('GET', '/v1/me');
  }

  listInstances(
    tenantId: string,
    page: { cursor?: string; limit?: number } = {},
  ): Promise<Page<InstanceView>> {
    return this.#request('GET', `/v1/tenants/${seg(tenantId)}/instances${query(page)}`);
  }

  createInstance(
    tenantId: string,
    input: { name: string; defaultStorageRoot: string },
  ): Promise<InstanceView> {
    return this.#request('POST', `/v1/tenants/${seg(tenantId)}/instances`, input);
  }

  listStorageLocations(
    tenantId: string,
    page: { cursor?: string; limit?: number } = {},
  ): Promise<Page<StorageLocation>> {
    return this.#request('GET', `/v1/tenants/${seg(tenantId)}/storage-locations${query(page)}`);
  }

  /** `{managed: true}` or `{root: 's3://bucket/prefix', roleArn, region?}`; external ones return the ExternalId. */
  registerStorageLocation(
    tenantId: string,
    input:
      | { managed: true }
      | {
          root: string;
          roleArn: string;
          region?: string;
          /** The bucket's SSE-KMS key; vended sessions may have S3 use it (`sse` in each vend says so). */
          kmsKeyArn?: string;
          /** Older keys existing objects are encrypted under (decrypt only; at most 4). */
          previousKmsKeyArns?: string[];
        },
  ): Promise<StorageLocation> {
    return this.#request('POST', `/v1/tenants/${seg(tenantId)}/storage-locations`, input);
  }

  /** The tenant's ExternalId: require it (`sts:ExternalId`) in your role's trust policy before registering. */
  getStorageExternalId(tenantId: string): Promise<{ externalId: string }> {
    return this.#request('GET', `/v1/tenants/${seg(tenantId)}/storage-locations/external-id`);
  }

  /** Removes a location; `credentials` says what became of the credentials vended for it. */
  deleteStorageLocation(
    tenantId: string,
    locationId: string,
  ): Promise<{
    locationId: string;
    kind: 'managed' | 'external';
    revokedBefore: string;
    credentials: RevocationOutcome[];
  }> {
    return this.#request('DELETE', `/v1/tenants/${seg(tenantId)}/storage-locations/${seg(locationId)}`);
  }

  /**
   * The location's scope self-test: read and write inside the prefix work, writes outside it and in a sibling
   * prefix are refused, the KMS key works. Against the local emulator the refusals and the key are `not-judged`.
   */
  validateStorageLocation(tenantId: string, locationId: string): Promise<StorageValidation> {
    return this.#request(
      'POST',
      `/v1/tenants/${seg(tenantId)}/storage-locations/${seg(locationId)}/validate`,
    );
  }

  /** Short-lived S3 credentials for a location id or an `s3://` path inside a registered location. */
  vendStorageCredentials(
    tenantId: string,
    input: { location: string; access: StorageAccess; durationSeconds?: number },
  ): Promise<StorageCredentials> {
    return this.#request('POST', `/v1/tenants/${seg(tenantId)}/storage-credentials`, input);
  }

  /**
   * Remote signing (Iceberg's S3 signer contract): Strongroom checks one S3 request against the location and
   * answers the headers to send it with, signed with credentials that never leave the server.
   */
  signStorageRequest(
    tenantId: string,
    locationId: string,
    input: RemoteSignRequest,
  ): Promise<{ uri: string; headers: Record<string, string[]> }> {
    return this.#request(
      'POST',
      `/v1/tenants/${seg(tenantId)}/storage-locations/${seg(locationId)}/sign`,
      input,
    );
  }

  /**
   * Stops a user's storage credentials in the tenant as far as each kind of location allows; `credentials`
   * says per kind what happened (external-location credentials cannot be revoked: they expire by `expireBy`).
   */
  revokeStorageCredentials(
    tenantId: string,
    userId: string,
  ): Promise<{ userId: string; revokedBefore: string; credentials: RevocationOutcome[] }> {
    return this.#request('POST', `/v1/tenants/${seg(tenantId)}/storage-credentials/revocations`, { userId });
  }

  async #request<T>(method: string, path: string, body?: unknown, authenticated = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    if (authenticated) {
      if (!this.#token)
        throw new Error('No Strongroom token: sign in first (strongroom login) or pass a token.');
      headers.authorization = `Bearer ${this.#token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(`${this.#endpoint}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'error',
    });
    const text = await response.text();
    if (!response.ok) {
      let problem: Record<string, unknown> = {};
      try {
        problem = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // Not a problem document (a proxy error page): report the status alone.
      }
      throw new StrongroomApiError(
        response.status,
        problem,
        response.headers.get('retry-after'),
        response.headers.get('x-request-id'),
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

function query(page: { cursor?: string; limit?: number }): string {
  const params = new URLSearchParams();
  if (page.cursor) params.set('cursor', page.cursor);
  if (page.limit) params.set('limit', String(page.limit));
  const text = params.toString();
  return text ? `?${text}` : '';
}
