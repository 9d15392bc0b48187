import { createHash, randomBytes } from 'node:crypto';
import { unsafeTextReason } from './text.js';

/*
 * OpenID Connect sign-in: the providers and what a flow carries. Pure: no network, no AWS. The relying
 * party itself (openid-client) lives in shared/services/oidc-sign-in.ts.
 */

/** ID token signature algorithms a provider may be pinned to (asymmetric only: no `none`, no HS*). */
export const OIDC_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

/** A provider id: lowercase letters, digits and dashes (it is part of URLs and keys). */
export const OIDC_PROVIDER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * A platform-wide provider as the operator configures it (CDK context `strongroom:oidcProviders`, local
 * mode's providers file). The client secret is never here: only where to read it at run time (an AWS
 * Secrets Manager secret's ARN or name), so it is in no template and no environment variable.
 */
export interface PlatformOidcProvider {
  id: string;
  /** What the "Sign in with …" button says. */
  name: string;
  /** The issuer identifier, exactly as the provider's discovery document and ID tokens state it. */
  issuer: string;
  clientId: string;
  /** ARN (or name) of the Secrets Manager secret holding the client secret (the whole secret string). */
  clientSecretArn: string;
  /** The one algorithm its ID tokens are accepted with. @default 'RS256' */
  algorithm?: OidcAlgorithm;
}

/** Which provider a flow runs against: a platform provider by id, or a tenant's own IdP. */
export type OidcProviderRef = { kind: 'platform'; id: string } | { kind: 'tenant'; tenantId: string };

/** A provider a flow can run against, resolved from its configuration. */
export interface ResolvedOidcProvider {
  ref: OidcProviderRef;
  name: string;
  issuer: string;
  clientId: string;
  algorithm: OidcAlgorithm;
  /** Read when a flow needs it (a secret store, or a tenant's encrypted record). */
  clientSecret(): Promise<string>;
  /**
   * Only addresses of these (lowercase) domains may sign up, sign in or link through it (a tenant's own
   * IdP); undefined: any verified address (a platform provider).
   */
  allowedDomains?: readonly string[];
  /** Requests to the provider go through this (a tenant's IdP: no private addresses); default `fetch`. */
  fetch?: typeof fetch;
}

/** Where providers come from: the platform's configuration (and, for tenants, their own IdP record). */
export interface OidcProviderSource {
  /** The platform providers, in the operator's order. */
  platformProviders(): readonly PlatformOidcProvider[];
  /** A provider by reference; undefined when there is no such provider (any more). */
  resolve(ref: OidcProviderRef): Promise<ResolvedOidcProvider | undefined>;
}

/** How the key of every tenant's own provider begins (`tenant:<tenantId>`). */
export const TENANT_PROVIDER_KEY_PREFIX = 'tenant:';

/** The key a provider's identities are stored under: an identity (`sub`) is unique per provider only. */
export function providerKeyOf(ref: OidcProviderRef): string {
  return ref.kind === 'platform' ? `platform:${ref.id}` : `${TENANT_PROVIDER_KEY_PREFIX}${ref.tenantId}`;
}

/** The provider a stored key names. */
export function providerRefOf(key: string): OidcProviderRef {
  const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (kind === 'platform') return { kind, id };
  if (kind === 'tenant') return { kind, tenantId: id };
  throw new Error(`not an OIDC provider key: ${key}`);
}

/**
 * Whether an issuer may be reached over plain HTTP: only on loopback (local mode and tests). Anywhere
 * else it must be HTTPS.
 */
export function isLoopbackIssuer(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** Problems with an issuer URL, or none. */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'Not a URL';
  }
  if (url.search || url.hash) return 'An issuer has no query or fragment';
  if (url.protocol !== 'https:' && !isLoopbackIssuer(issuer)) return 'An issuer must be an https URL';
  return undefined;
}

/** A Secrets Manager secret name: the characters the service allows, nothing IAM reads as a wildcard. */
const SECRET_NAME = '[A-Za-z0-9/_+=.@-]{1,512}';
const SECRET_NAME_PATTERN = new RegExp(`^${SECRET_NAME}$`);
const SECRET_ARN_PATTERN = new RegExp(
  `^arn:aws(-cn|-us-gov|-iso|-iso-b)?:secretsmanager:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:secret:${SECRET_NAME}$`,
);

/**
 * Why a provider's `clientSecretArn` cannot be used, or undefined. It becomes the resource of the auth
 * role's `secretsmanager:GetSecretValue` grant, so it must name one secret: a whole secret ARN, or a
 * secret name; `*` or `?` anywhere (a wildcard to IAM) and any other service's ARN are refused.
 */
export function clientSecretReferenceProblem(reference: string): string | undefined {
  if (reference.startsWith('arn:')) {
    return SECRET_ARN_PATTERN.test(reference)
      ? undefined
      : 'not the ARN of one Secrets Manager secret (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>, no wildcards)';
  }
  return SECRET_NAME_PATTERN.test(reference)
    ? undefined
    : 'not a Secrets Manager secret name (letters, digits and /_+=.@- only, at most 512; no wildcards)';
}

/**
 * Parses the platform providers (a JSON array, as infra and local mode write OIDC_PROVIDERS); throws
 * naming the first problem, so a misconfigured function fails at its first OIDC request, loudly.
 */
export function parsePlatformProviders(json: string | undefined): PlatformOidcProvider[] {
  if (!json) return [];
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) throw new Error('OIDC providers: not a JSON array');
  const seen = new Set<string>();
  return value.map((entry, index) => {
    const p = entry as Record<string, unknown>;
    const where = `OIDC provider ${index}`;
    for (const field of ['id', 'name', 'issuer', 'clientId', 'clientSecretArn'] as const) {
      if (typeof p[field] !== 'string' || p[field] === '') throw new Error(`${where}: ${field} is required`);
    }
    const id = p.id as string;
    if (!OIDC_PROVIDER_ID_PATTERN.test(id))
      throw new Error(`${where}: id ${JSON.stringify(id)} is not valid`);
    if (seen.has(id)) throw new Error(`${where}: id ${id} appears twice`);
    seen.add(id);
    const problem = issuerProblem(p.issuer as string);
    if (problem) throw new Error(`${where}: issuer: ${problem}`);
    const secretProblem = clientSecretReferenceProblem(p.clientSecretArn as string);
    if (secretProblem) throw new Error(`${where}: clientSecretArn: ${secretProblem}`);
    if (p.algorithm !== undefined && !OIDC_ALGORITHMS.includes(p.algorithm as OidcAlgorithm))
      throw new Error(`${where}: algorithm must be one of ${OIDC_ALGORITHMS.join(', ')}`);
    return {
      id,
      name: p.name as string,
      issuer: p.issuer as string,
      clientId: p.clientId as string,
      clientSecretArn: p.clientSecretArn as string,
      ...(p.algorithm ? { algorithm: p.algorithm as OidcAlgorithm } : {}),
    };
  });
}

/** How long a started flow may take to come back (the user signs in at the provider meanwhile). */
export const OIDC_FLOW_TTL_SECONDS = 10 * 60;

/** Why a flow was started: to sign in (or sign up), or to link the signed-in user's account. */
export type OidcIntent = 'sign-in' | 'link';

/** The secrets of one flow: `state` travels through the provider, `flowToken` stays with the client. */
export interface OidcFlowSecrets {
  state: string;
  flowToken: string;
}

/** Fresh flow secrets (256 bits each). */
export function newFlowSecrets(): OidcFlowSecrets {
  return { state: randomBytes(32).toString('base64url'), flowToken: randomBytes(32).toString('base64url') };
}

const digest = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\n'), 'utf8').digest('base64url');

/** What the stored flow is keyed by: the hash of its state (a state read from the table is useless). */
export const stateHash = (state: string) => digest('oidc-state', state);
/** What the stored flow keeps of the client's flow token. */
export const flowTokenHash = (flowToken: string) => digest('oidc-flow-token', flowToken);

/**
 * The flow's PKCE verifier and nonce, derived from both its secrets instead of stored: the flow item holds
 * only hashes, and only the client that started the flow (holding the flow token) can finish it.
 */
export function flowDerivedSecrets({ state, flowToken }: OidcFlowSecrets) {
  return {
    codeVerifier: digest('oidc-pkce', state, flowToken),
    nonce: digest('oidc-nonce', state, flowToken),
  };
}

/** The domain of an address, lowercased. */
export function emailDomainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** The claims of a verified ID token that sign-in uses. */
export interface OidcIdentityClaims {
  sub: string;
  email?: string;
  /** Only `true` counts: absent, a string or anything else is unverified. */
  emailVerified: boolean;
  name?: string;
}

/** The longest display name taken from a provider (what the register route accepts). */
export const OIDC_NAME_MAX_LENGTH = 200;
/** The longest address taken from a provider (what the API's e-mail fields accept). */
export const OIDC_EMAIL_MAX_LENGTH = 254;
/** The longest `sub` (OpenID Connect Core: at most 255 ASCII characters). */
export const OIDC_SUBJECT_MAX_LENGTH = 255;
/** An address as the API's e-mail fields accept it, roughly: one @, a dot in the domain, no spaces. */
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/**
 * The claims sign-in uses, from a verified ID token's payload, held to the rules every API input is
 * (domain/text.ts): the provider is not trusted to send displayable text. An unsafe, empty or overlong
 * name is dropped (the caller falls back to the address's local part); an unsafe, malformed or overlong
 * address counts as unverified (so no account is made or linked from it). Undefined when the subject
 * itself is not a usable string.
 */
export function identityClaimsOf(claims: Record<string, unknown>): OidcIdentityClaims | undefined {
  const { sub } = claims;
  if (typeof sub !== 'string' || !sub || sub.length > OIDC_SUBJECT_MAX_LENGTH || unsafeTextReason(sub))
    return undefined;
  const email = typeof claims.email === 'string' ? claims.email.trim() : undefined;
  const emailUsable =
    email !== undefined &&
    email.length <= OIDC_EMAIL_MAX_LENGTH &&
    unsafeTextReason(email) === undefined &&
    EMAIL_SHAPE.test(email);
  const name = typeof claims.name === 'string' ? claims.name.trim() : '';
  const nameUsable =
    name !== '' && name.length <= OIDC_NAME_MAX_LENGTH && unsafeTextReason(name) === undefined;
  return {
    sub,
    email: emailUsable ? email : undefined,
    emailVerified: emailUsable && claims.email_verified === true,
    name: nameUsable ? name : undefined,
  };
}

/** The name a new account from a provider gets: its safe name claim, else the address's local part. */
export function displayNameOf(claims: OidcIdentityClaims, email: string): string {
  if (claims.name) return claims.name;
  const local = email.slice(0, email.lastIndexOf('@')).slice(0, OIDC_NAME_MAX_LENGTH);
  return local && unsafeTextReason(local) === undefined ? local : 'New user';
}
