import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal, TenantAccess } from '../domain/caller.js';
import type { RouteDef } from './route.js';

/** What the authorizer resolved for a request: the credential, and on tenant routes the membership. */
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
