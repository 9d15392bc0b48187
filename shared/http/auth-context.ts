import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Permission, Role } from '../domain/permissions.js';
import type { TenantScope } from '../store/tenant-scope.js';
import type { RouteDef } from './route.js';

/** Who is calling: a user's session or an API key acting for its creator. */
export interface Principal {
  kind: 'session' | 'api-key';
  userId: string;
  /** Session id or API key id. */
  credentialId: string;
  /** API key scopes; undefined for sessions. */
  scopes?: readonly Permission[];
  mfaEnabled: boolean;
}

/** A verified membership of the path's tenant, with the scope that tenant data must be reached through. */
export interface TenantAccess {
  scope: TenantScope;
  role: Role;
  permissions: ReadonlySet<Permission>;
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
