import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal, TenantAccess } from '../domain/caller.js';
import type { TenantScope } from '../domain/tenant-scope.js';
import { ForbiddenError } from '../errors.js';
import type { TenantRecord } from '../store/tenant-store.js';
import type { RouteDef } from './route.js';

/** What the authorizer resolved for a request: the credential, and on tenant routes the membership. */
export interface AuthContext {
  principal?: Principal;
  /** The path's tenant on tenant routes; on other routes called with an API key, the key's own tenant. */
  tenant?: TenantAccess;
  /**
   * That tenant's item as the authorizer read it for this request (strongly consistent), so a route that
   * answers with it needs no second read.
   */
  tenantRecord?: TenantRecord;
}

/** Resolves the bearer credential and the tenant membership for a route (implemented in shared/http/auth). */
export interface Authorizer {
  authorize(
    event: APIGatewayProxyEvent,
    route: RouteDef,
    params: Record<string, unknown>,
  ): Promise<AuthContext>;
}

/**
 * A 403 the authorizer gave a verified member of the path's tenant (a missing permission, a credential
 * without the second factor the tenant requires): it carries the membership so the refusal can be written
 * to that tenant's audit log, which a handler's own refusals reach through the request's AuthContext.
 */
export class TenantRefusalError extends ForbiddenError {
  constructor(
    detail: string,
    type: string,
    readonly access: { scope: TenantScope; principal: Principal },
    /** What the audit log calls it: the problem type, or `permission-missing`. */
    readonly reason: string = type,
  ) {
    super(detail, type);
    this.name = 'TenantRefusalError';
  }
}
