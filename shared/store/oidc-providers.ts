import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FunctionRuntime } from '../aws/runtime.js';
import type { KeyOwner, RecordBinding } from '../crypto/envelope.js';
import {
  type OidcProviderRef,
  type OidcProviderSource,
  type PlatformOidcProvider,
  parsePlatformProviders,
  type ResolvedOidcProvider,
} from '../domain/oidc.js';
import {
  OIDC_CLIENT_SECRET_PURPOSE,
  OIDC_CLIENT_SECRET_RECORD_ID,
  readTenantSsoForSignIn,
} from './tenant-sso-store.js';

/** Where a tenant's own IdP comes from (the tenants store and its key); absent: no tenant IdPs. */
export type TenantOidcProviderLookup = (tenantId: string) => Promise<ResolvedOidcProvider | undefined>;

/**
 * The OpenID providers sign-in may use: the platform's (the operator's configuration; each client secret
 * read from AWS Secrets Manager when a flow needs it) and, through `tenantProviders`, tenants' own.
 */
export class ConfiguredOidcProviders implements OidcProviderSource {
  readonly #platform: readonly PlatformOidcProvider[];

  constructor(
    platformJson: string | undefined,
    /** Reads a secret's string by ARN or name (`secretsManagerReader`). */
    private readonly readSecret: (secretId: string) => Promise<string>,
    private readonly tenantProviders?: TenantOidcProviderLookup,
  ) {
    this.#platform = parsePlatformProviders(platformJson);
  }

  platformProviders(): readonly PlatformOidcProvider[] {
    return this.#platform;
  }

  async resolve(ref: OidcProviderRef): Promise<ResolvedOidcProvider | undefined> {
    if (ref.kind === 'tenant') return this.tenantProviders?.(ref.tenantId);
    const provider = this.#platform.find((p) => p.id === ref.id);
    if (!provider) return undefined;
    return {
      ref,
      name: provider.name,
      issuer: provider.issuer,
      clientId: provider.clientId,
      algorithm: provider.algorithm ?? 'RS256',
      clientSecret: () => this.readSecret(provider.clientSecretArn),
    };
  }
}

/**
 * Reads a Secrets Manager secret's string at run time (it is in no template and no environment variable).
 * The client is loaded at the first read: functions and requests that never run a flow do not pay for it.
 */
export function secretsManagerReader(runtime: FunctionRuntime): (secretId: string) => Promise<string> {
  return async (secretId) => {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const { SecretString } = await runtime
      .client(SecretsManagerClient)
      .send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!SecretString) throw new Error(`OIDC client secret ${secretId} has no string value`);
    return SecretString;
  };
}

/**
 * Tenants' own IdPs as sign-in resolves them: the tenant's provider record and tenant item read with the
 * auth function's platform credentials (no membership is known at sign-in), the client secret decrypted
 * under the tenant's key only when a flow needs it, and every request to the provider through `fetch`
 * (guardedFetch: no private addresses outside local mode). None for a tenant being deleted.
 */
export function tenantOidcProviders(options: {
  db: DynamoDBDocumentClient;
  table: string;
  decrypt: (owner: KeyOwner, binding: RecordBinding, ciphertext: string) => Promise<Buffer>;
  fetch: typeof fetch;
}): TenantOidcProviderLookup {
  return async (tenantId) => {
    const found = await readTenantSsoForSignIn(options.db, options.table, tenantId);
    if (!found) return undefined;
    const { tenant, sso } = found;
    return {
      ref: { kind: 'tenant', tenantId },
      name: tenant.name,
      issuer: sso.issuer,
      clientId: sso.clientId,
      algorithm: 'RS256',
      allowedDomains: sso.allowedDomains,
      fetch: options.fetch,
      clientSecret: async () => {
        const plaintext = await options.decrypt(
          { tenantId, keyArn: tenant.keyArn },
          { purpose: OIDC_CLIENT_SECRET_PURPOSE, recordId: OIDC_CLIENT_SECRET_RECORD_ID },
          sso.clientSecretCiphertext,
        );
        const text = plaintext.toString('utf8');
        plaintext.fill(0);
        return text;
      },
    };
  };
}
