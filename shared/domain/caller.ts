import type { AuditActor } from './audit-events.js';
import type { AuthMethod } from './authentication.js';
import { TENANT_PROVIDER_KEY_PREFIX } from './oidc.js';
import type { Permission, Role } from './permissions.js';
import type { TenantScope } from './tenant-scope.js';

/** The credential a request was made with: a user's session or an API key acting for its creator. */
export interface Principal {
  kind: 'session' | 'api-key';
  userId: string;
  /** Session id or API key id. */
  credentialId: string;
  /** API key scopes as created (not yet intersected with the creator's role); undefined for sessions. */
  scopes?: readonly Permission[];
  /** The one tenant an API key acts in; undefined for sessions. */
  keyTenantId?: string;
  /** Whether the user has MFA on (known on tenant routes, false elsewhere). */
  mfaEnabled: boolean;
  /** How the session was authenticated; undefined for API keys. */
  authMethod?: AuthMethod;
  /**
   * True only when this credential proved a second factor: a session signed in (or stepped up) with one,
   * or an API key minted by such a session. Anything else, including an absent value, is not MFA.
   */
  mfa?: boolean;
  /**
   * The OpenID provider (its key: `platform:<id>` or `tenant:<tenantId>`) a session signed in through, or
   * that an API key's creating session signed in through; undefined otherwise.
   */
  ssoProvider?: string;
}

/**
 * A verified membership of the path's tenant, with the scope that tenant data must be reached through.
 * Every decision reads `permissions` (the caller's effective permissions: a session's role, or an API
 * key's scopes ∩ its creator's current role). There is deliberately no `role`: deciding from the creator's
 * role would hand an API key powers its scopes withhold.
 */
export interface TenantAccess {
  scope: TenantScope;
  permissions: ReadonlySet<Permission>;
  /** The member's current role, only as the ceiling of what they may grant (see canGrantRole). */
  roleCeiling: Role;
  /** The tenant requires multi-factor authentication of every credential that reaches it. */
  requireMfa?: boolean;
  /**
   * The tenant's requireMfa was satisfied by a sign-in through its enforced own IdP rather than a second
   * factor shown to Strongroom.
   */
  mfaThroughSso?: boolean;
}

/** Where a request came from, for the audit log. */
export interface RequestOrigin {
  ip: string;
  userAgent: string;
}

/** Who is calling a tenant route: the verified membership, the credential, and where from. */
export interface TenantCaller extends RequestOrigin {
  access: TenantAccess;
  principal: Principal;
}

/** Longest User-Agent an audit event keeps. */
const ACTOR_USER_AGENT_MAX = 512;

/** Who did it, for an audit event: the user, the API key if one was used, and where the request came from. */
export function auditActorOf(caller: RequestOrigin & { principal: Principal }): AuditActor {
  return {
    userId: caller.principal.userId,
    ...(caller.principal.kind === 'api-key' ? { apiKeyId: caller.principal.credentialId } : {}),
    ip: caller.ip,
    userAgent: caller.userAgent.slice(0, ACTOR_USER_AGENT_MAX),
  };
}

/** The actor of a platform-log event: the user (when known) and where the request came from. */
export function actorOf(origin: RequestOrigin, userId?: string): AuditActor {
  return {
    ...(userId ? { userId } : {}),
    ip: origin.ip,
    userAgent: origin.userAgent.slice(0, ACTOR_USER_AGENT_MAX),
  };
}

/**
 * The tenant whose own identity provider the credential came from: a session signed in through it, or an
 * API key such a session minted. Such a tenant vouches for its people in that tenant only (its owner runs
 * the provider), so the credential acts in that tenant only: every other tenant answers it as it answers a
 * stranger (404), most account routes refuse it (`sso-session-scope`), and the account answers it gets show
 * that tenant alone. Undefined for platform providers and every other credential.
 */
export function tenantIdpOf(principal: Pick<Principal, 'ssoProvider'>): string | undefined {
  if (!principal.ssoProvider?.startsWith(TENANT_PROVIDER_KEY_PREFIX)) return undefined;
  return principal.ssoProvider.slice(TENANT_PROVIDER_KEY_PREFIX.length);
}

/** `tenantIdpOf` for sessions only (a key acts in its own tenant anyway, and shows that one alone). */
export function ssoTenantOf(principal: Pick<Principal, 'kind' | 'ssoProvider'>): string | undefined {
  return principal.kind === 'session' ? tenantIdpOf(principal) : undefined;
}
