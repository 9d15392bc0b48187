import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { AuthMethod } from '../domain/authentication.js';
import type { Permission, Role } from '../domain/permissions.js';
import type { TenantScope } from '../store/tenant-scope.js';
import type { RouteDef } from './route.js';

/** Who is calling: a user's session or an API key acting for its creator. */
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
}

/** A tenant route's caller: the verified membership, who is calling, and from where. */
export interface TenantCaller {
  access: TenantAccess;
  principal: Principal;
  ip: string;
  userAgent: string;
}

export interface AuthContext {
  principal?: Principal;
  /** The path's tenant on tenant routes; on other routes called with an API key, the key's own tenant. */
  tenant?: TenantAccess;
}

/** Resolves the bearer credential and the tenant membership for a route (implemented in shared/http/auth). */
export interface Authorizer {
  authorize(
    event: APIGatewayProxyEvent,
    route: RouteDef,
    params: Record<string, unknown>,
  ): Promise<AuthContext>;
}

/** Counts requests per key and refuses past the limit (implemented over DynamoDB in shared/store). */
export interface RateLimiter {
  /** Throws TooManyRequestsError when `key` has used up `limit` in the window. */
  consume(name: string, key: string, limit: number, windowSeconds: number): Promise<void>;
}
