import { OutboundRefusedError, outboundUrlShapeProblem } from '../connectors/outbound-http.js';
import type { KeyOwner, RecordBinding } from '../crypto/envelope.js';
import type { AuditEventInput } from '../domain/audit-events.js';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import type { HostPolicy } from '../domain/connection-host.js';
import { providerKeyOf } from '../domain/oidc.js';
import { ConflictError, HttpProblemError, NotFoundError, ValidationError } from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import {
  OIDC_CLIENT_SECRET_PURPOSE,
  OIDC_CLIENT_SECRET_RECORD_ID,
  type TenantSsoRecord,
  type TenantSsoStore,
} from '../store/tenant-sso-store.js';
import type { TenantRecord } from '../store/tenant-store.js';

/** What an owner sends to configure the tenant's own IdP (as the route validated it). */
export interface TenantSsoInput {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  allowedDomains: string[];
  enforced: boolean;
}

export interface TenantSsoDeps {
  store: Pick<TenantSsoStore, 'get' | 'put' | 'delete'>;
  audit: AuditRecorder;
  /** Encrypts under the tenant's key (the EnvelopeCipher; the tenant item names the key). */
  encrypt: (owner: KeyOwner, binding: RecordBinding, plaintext: string) => Promise<string>;
  /** Requests to the issuer (guardedFetch: https only, no private addresses outside local mode). */
  fetch: typeof fetch;
  hostPolicy: HostPolicy;
  now?: () => number;
}

/** The binding of a tenant IdP's client secret ciphertext (what the auth function decrypts with). */
export const OIDC_CLIENT_SECRET_BINDING: RecordBinding = {
  purpose: OIDC_CLIENT_SECRET_PURPOSE,
  recordId: OIDC_CLIENT_SECRET_RECORD_ID,
};

/** How long the issuer's discovery document may take. */
const DISCOVERY_TIMEOUT_MS = 10_000;
/** The largest discovery document read. */
const DISCOVERY_MAX_BYTES = 256 * 1024;
const UNREACHABLE_RETRY_SECONDS = 5;

/** The API view: never the secret or its ciphertext. */
export function publicTenantSso(record: TenantSsoRecord) {
  return {
    issuer: record.issuer,
    clientId: record.clientId,
    clientSecretSet: true as const,
    allowedDomains: record.allowedDomains,
    enforced: record.enforced,
    updatedAt: record.updatedAt,
    updatedBy: record.updatedBy,
  };
}

const issuerInvalid = (message: string) =>
  new ValidationError([{ path: 'body.issuer', message }], `The issuer cannot be used: ${message}.`);

/**
 * A tenant's own OpenID provider: its owners configure, read (never the secret) and remove it. The issuer is
 * checked by discovery before anything is stored; the client secret is encrypted under the tenant's key
 * (`{tenantId, purpose: 'oidc-client-secret', recordId: 'sso'}`). Enforcement ("members must sign in
 * through it") can be turned on only from a session signed in through this very provider, so an owner
 * cannot lock everyone, themself included, out with a provider nobody has used.
 */
export class TenantSsoService {
  readonly #now: () => number;

  constructor(private readonly deps: TenantSsoDeps) {
    this.#now = deps.now ?? Date.now;
  }

  async get(caller: TenantCaller) {
    const record = await this.deps.store.get(caller.access.scope);
    if (!record) throw new NotFoundError('No identity provider is configured for this tenant.');
    return publicTenantSso(record);
  }

  async put(caller: TenantCaller, tenant: TenantRecord, input: TenantSsoInput) {
    const { scope } = caller.access;
    const existing = await this.deps.store.get(scope);
    const retargeted = !existing || existing.issuer !== input.issuer || existing.clientId !== input.clientId;
    if (retargeted && input.clientSecret === undefined) {
      // The stored secret goes only to the provider it was given for.
      throw new ValidationError([
        {
          path: 'body.clientSecret',
          message: existing ? 'Required when issuer or clientId changes' : 'Required',
        },
      ]);
    }
    if (input.enforced) this.#guardLockOut(caller, retargeted);
    await this.#checkIssuer(input.issuer);
    const clientSecretCiphertext =
      input.clientSecret !== undefined
        ? await this.deps.encrypt(
            { tenantId: scope.tenantId, keyArn: tenant.keyArn },
            OIDC_CLIENT_SECRET_BINDING,
            input.clientSecret,
          )
        : existing!.clientSecretCiphertext;
    const record: TenantSsoRecord = {
      issuer: input.issuer,
      clientId: input.clientId,
      clientSecretCiphertext,
      allowedDomains: [...new Set(input.allowedDomains)].sort(),
      enforced: input.enforced,
      updatedAt: new Date(this.#now()).toISOString(),
      updatedBy: caller.principal.userId,
      version: (existing?.version ?? 0) + 1,
    };
    await this.deps.store.put(
      scope,
      record,
      existing?.version,
      this.#auditPut(caller, 'tenant.sso.configured', {
        before: existing ? auditable(existing) : null,
        after: auditable(record),
        clientSecretChanged: input.clientSecret !== undefined,
      }),
    );
    return publicTenantSso(record);
  }

  async delete(caller: TenantCaller) {
    const { scope } = caller.access;
    const existing = await this.deps.store.get(scope);
    if (!existing) throw new NotFoundError('No identity provider is configured for this tenant.');
    const removed = await this.deps.store.delete(
      scope,
      existing.version,
      this.#auditPut(caller, 'tenant.sso.removed', { before: auditable(existing) }),
    );
    if (!removed)
      throw new ConflictError('The identity provider was changed meanwhile; read it and try again.');
  }

  /**
   * 409 unless the caller's session signed in through this tenant's provider as it stands (a changed issuer
   * or client has not been shown to work yet).
   */
  #guardLockOut(caller: TenantCaller, retargeted: boolean) {
    const own = providerKeyOf({ kind: 'tenant', tenantId: caller.access.scope.tenantId });
    if (caller.principal.kind === 'session' && caller.principal.ssoProvider === own && !retargeted) return;
    throw new ConflictError(
      retargeted
        ? 'Enforcement needs a provider someone has signed in through: save it with enforced: false, sign in through it, then turn enforcement on.'
        : 'Turn enforcement on from a session signed in through this identity provider, so that you keep a way in.',
      'sso-lockout-guard',
    );
  }

  /**
   * The issuer's discovery document must be there and name exactly this issuer, with endpoints the flow can
   * use. 503 naming body.issuer when it cannot be reached; 400 naming it when it answers something else.
   */
  async #checkIssuer(issuer: string) {
    const url = new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    let response: Response;
    try {
      response = await this.deps.fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
      });
    } catch (error) {
      if (error instanceof OutboundRefusedError) throw issuerInvalid(error.reason);
      logger.warn('tenant issuer unreachable', { issuer, message: (error as Error)?.message });
      throw new HttpProblemError(503, 'oidc-issuer-unreachable', 'Service Unavailable', {
        detail: 'The issuer’s discovery document could not be fetched; nothing was changed. Try again.',
        errors: [{ path: 'body.issuer', message: 'Unreachable' }],
        headers: { 'Retry-After': String(UNREACHABLE_RETRY_SECONDS) },
      });
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new HttpProblemError(503, 'oidc-issuer-unreachable', 'Service Unavailable', {
        detail: `The issuer answered ${response.status}; nothing was changed. Try again.`,
        errors: [{ path: 'body.issuer', message: `Discovery answered ${response.status}` }],
        headers: { 'Retry-After': String(UNREACHABLE_RETRY_SECONDS) },
      });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw issuerInvalid(`its discovery document answered ${response.status}`);
    }
    const text = await readLimited(response, DISCOVERY_MAX_BYTES);
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(text ?? '') as Record<string, unknown>;
    } catch {
      throw issuerInvalid('its discovery document is not JSON (or is over 256 KiB)');
    }
    if (typeof document !== 'object' || document === null || document.issuer !== issuer)
      throw issuerInvalid('its discovery document names another issuer');
    for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      const value = document[field];
      let endpoint: URL;
      try {
        endpoint = new URL(String(value));
      } catch {
        throw issuerInvalid(`its discovery document has no ${field}`);
      }
      const problem = outboundUrlShapeProblem(endpoint, this.deps.hostPolicy);
      if (typeof value !== 'string' || problem)
        throw issuerInvalid(`its ${field} ${problem ?? 'is not a URL'}`);
    }
  }

  #auditPut(caller: TenantCaller, action: AuditEventInput['action'], details: Record<string, unknown>) {
    return this.deps.audit.auditPut(caller.access.scope, {
      action,
      actor: auditActorOf(caller),
      resource: { type: 'tenant', id: caller.access.scope.tenantId },
      details,
    });
  }
}

/** What audit events keep of a provider: never the secret's ciphertext. */
function auditable(record: TenantSsoRecord) {
  return {
    issuer: record.issuer,
    clientId: record.clientId,
    allowedDomains: record.allowedDomains,
    enforced: record.enforced,
  };
}

/** The body as text, or undefined when it is larger than `max` bytes. */
async function readLimited(response: Response, max: number): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
