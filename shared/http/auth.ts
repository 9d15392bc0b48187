import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { FunctionRuntime } from '../aws/runtime.js';
import { type Principal, type TenantCaller, tenantIdpOf } from '../domain/caller.js';
import { type ParsedBearer, parseBearer, secretMatches } from '../domain/credentials.js';
import { effectivePermissions, roleHas } from '../domain/permissions.js';
import { mintTenantScope, type TenantScope } from '../domain/tenant-scope.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { logger } from '../observability.js';
import { AuthLookups } from '../store/auth-lookups.js';
import { epochOf, IdentityRecords, type SessionRecord, type UserRecord } from '../store/identity-records.js';
import { DynamoRateLimiter } from '../store/rate-limiter.js';
import type { ApiKeyRecord, MemberRecord } from '../store/tenant-store.js';
import { type ApiRequest, type BoundRoute, implement } from './api.js';
import { type AuthContext, type Authorizer, TenantRefusalError } from './auth-context.js';
import type { RouteDef } from './route.js';
import { requireConsoleOrigin, sessionCookieOf } from './session-cookie.js';

/** The routes an owner's MFA session reaches in a tenant that enforces its IdP (to mend or lift it). */
const SSO_SETTINGS_ROUTES: ReadonlySet<string> = new Set(['getTenantSso', 'putTenantSso', 'deleteTenantSso']);

/** The routes that still reach a tenant whose deletion began: the deletion itself and its status. */
const CLOSING_TENANT_ROUTES: ReadonlySet<string> = new Set(['deleteTenant', 'getTenantDeletion']);

/**
 * The account routes a session signed in through a tenant's own identity provider reaches. That provider's
 * operator (the tenant's owner) can sign in as any account linked to it, so such a session acts in its
 * tenant only: it reads the account as that tenant sees it (GET /v1/me and GET /v1/tenants show that tenant
 * alone), acts on that tenant's invitations and signs out. Every other account route (sessions and sign-in
 * history, password, MFA, passkeys, linked providers, creating tenants, and asking for an address-verification
 * mail: the provider may have made the account for an address its operator does not own, and the owner's
 * click on a genuine mail would then verify the squatted account) answers 403 `sso-session-scope`: they
 * belong to the account's owner, not to one tenant's IdP.
 */
const TENANT_SSO_ACCOUNT_ROUTES: ReadonlySet<string> = new Set([
  'getMe',
  'logout',
  'listMyTenants',
  'listMyInvitations',
  'acceptInvitation',
  'declineInvitation',
  // A tenant route by another name (the tenant is in the body's path): the storage function authorises it
  // again as one, where sessions of another tenant's IdP get sso-session-scope.
  'laminStorageCredentials',
]);

/** The bearer credential from the Authorization header: the only place a credential is read from. */

export function bearerOf(event: APIGatewayProxyEvent): string | undefined {
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() !== 'authorization' || !value) continue;
    const match = /^Bearer ([^\s]+)$/i.exec(value.trim());
    return match?.[1];
  }
  return undefined;
}

interface ResolvedCredential {
  principal: Principal;
  session?: SessionRecord;
  apiKey?: ApiKeyRecord;
}

/**
 * Resolves the bearer (a session or an API key) with one read, then, for tenant routes, the membership
 * with one batched read; builds the TenantScope and checks the route's permission against the one table.
 * Unknown and foreign tenants are both 404; a missing permission is 403.
 */
export class BearerAuthorizer implements Authorizer {
  constructor(
    private readonly lookups: AuthLookups,
    private readonly now: () => number = Date.now,
    private readonly touchSession?: (session: SessionRecord, now: number) => Promise<void>,
  ) {}

  async authorize(
    event: APIGatewayProxyEvent,
    route: RouteDef,
    params: Record<string, unknown>,
  ): Promise<AuthContext> {
    // Programs send Authorization: Bearer; the console's browser sends the HttpOnly session cookie, which
    // only ever holds a session token and never authorises a change requested from another origin.
    const header = bearerOf(event);
    const cookie = header === undefined ? sessionCookieOf(event) : undefined;
    const parsed = header !== undefined ? parseBearer(header) : cookie ? parseBearer(cookie) : undefined;
    if (!parsed || (cookie !== undefined && parsed.kind !== 'session')) throw new UnauthorizedError();
    if (cookie !== undefined) requireConsoleOrigin(event);
    const now = this.now();
    const credential = await this.resolve(parsed, now);
    const auth = route.auth;
    if (auth.kind === 'session' && credential.principal.kind !== 'session') {
      throw new ForbiddenError(
        'This route needs a signed-in session; API keys are not accepted.',
        'session-required',
      );
    }
    if (auth.kind !== 'tenant') {
      if (credential.session) {
        assertSessionCurrent(credential.session, await this.lookups.user(credential.session.userId));
        const ssoTenant = tenantIdpOf(credential.principal);
        if (ssoTenant !== undefined && !TENANT_SSO_ACCOUNT_ROUTES.has(route.id)) {
          logger.warn('sso session on an account route', {
            route: route.id,
            ssoTenantId: ssoTenant,
            userId: credential.principal.userId,
          });
          throw new ForbiddenError(
            'This was signed in through a tenant’s own identity provider, which acts in that tenant only: ' +
              'sign in with your password, a passkey or a platform provider to manage your account.',
            'sso-session-scope',
          );
        }
        return { principal: credential.principal };
      }
      // A key acts only inside its own tenant: even where no tenant is named (GET /v1/me) it is checked
      // against that tenant's membership, and the answer shows that tenant only.
      if (!credential.apiKey) return { principal: credential.principal };
      return this.tenantAccess(credential, credential.apiKey.tenantId, now, route);
    }

    const tenantId = params.tenantId;
    if (typeof tenantId !== 'string') throw new Error(`tenant route ${route.id} has no tenantId parameter`);
    if (credential.apiKey && credential.apiKey.tenantId !== tenantId)
      throw new NotFoundError('No such tenant.');
    const context = await this.tenantAccess(credential, tenantId, now, route);
    // After the membership check, so a key's attempt is written to its tenant's audit log.
    if (auth.sessionOnly && credential.principal.kind !== 'session') {
      throw new TenantRefusalError(
        'This route needs a signed-in session; API keys are not accepted.',
        'session-required',
        { scope: context.tenant.scope, principal: context.principal },
      );
    }
    if (!context.tenant.permissions.has(auth.permission)) {
      throw new TenantRefusalError(
        `This needs the ${auth.permission} permission.`,
        'forbidden',
        { scope: context.tenant.scope, principal: context.principal },
        'permission-missing',
      );
    }
    return context;
  }

  /**
   * The caller's verified membership of `tenantId` with their effective permissions (a session: its role's;
   * an API key: its scopes ∩ its creator's current role), and the TenantScope minted from it.
   */
  private async tenantAccess(
    credential: ResolvedCredential,
    tenantId: string,
    now: number,
    route: RouteDef,
  ): Promise<Required<AuthContext>> {
    const userId = credential.principal.userId;
    const { member, tenant, user } = await this.lookups.membership(tenantId, userId);
    if (credential.session && user) assertSessionCurrent(credential.session, user);
    if (credential.apiKey && (!member || !keyStillBacked(credential.apiKey, member))) {
      // The key outlived what it was created under (its creator was removed, re-added, or demoted below
      // api-keys:create): it never works again, whatever happens to the membership later.
      throw new UnauthorizedError('The API key has been revoked.', 'api-key-revoked');
    }
    // A tenant's own IdP vouches for its people in that tenant only: whoever runs it (a tenant owner) must
    // not act as them in their other tenants, nor learn which those are, so its sessions, and keys they
    // minted, get every other tenant's answer to a stranger (after the same reads), and nothing is written
    // to that tenant's audit log.
    const idpTenant = tenantIdpOf(credential.principal);
    if (idpTenant !== undefined && idpTenant !== tenantId && member && tenant && user)
      this.refuseOtherTenantsSso(tenantId, credential.principal, route);
    if (!member || !tenant || !user) throw new NotFoundError('No such tenant.');
    // A tenant whose deletion began is gone to every route but its deletion, which its owner retries to
    // finish it (services/tenancy.ts TenantDeletionService), and the deletion's status.
    if (tenant.closingAt && !CLOSING_TENANT_ROUTES.has(route.id)) throw new NotFoundError('No such tenant.');
    if (credential.session) {
      const idle = tenant.settings.sessionIdleSeconds;
      const absolute = tenant.settings.sessionAbsoluteSeconds;
      if (
        (idle !== undefined && now > credential.session.lastSeenAt + idle * 1000) ||
        (absolute !== undefined && now > credential.session.createdAt + absolute * 1000)
      ) {
        throw new UnauthorizedError('This tenant requires a more recent sign-in.', 'session-expired');
      }
    }
    // The membership is verified: this is the TenantScope of this request, refused or not. It carries the
    // tenant's plan, from which the audit events written under it take their retention.
    const scope = mintTenantScope({ tenantId, userId, plan: tenant.plan });
    const requireMfa = tenant.settings.requireMfa === true;
    const principal: Principal = { ...credential.principal, mfaEnabled: user.mfaEnabled };
    // A tenant that enforces its own IdP accepts only sessions signed in through it and keys such sessions
    // minted. An owner's MFA session still reaches the IdP settings, to mend or lift enforcement when the
    // provider fails (the permission check below still applies).
    const throughOwnIdp = idpTenant === tenantId;
    if (tenant.ssoEnforced === true && !throughOwnIdp) {
      const breakGlass = SSO_SETTINGS_ROUTES.has(route.id) && principal.kind === 'session' && principal.mfa;
      if (!breakGlass) this.refuseWithoutSso(scope, principal, route);
    }
    // The tenant delegated how its members authenticate to its enforced IdP: a sign-in there satisfies its
    // requireMfa. A platform provider never does.
    const mfaThroughSso = tenant.ssoEnforced === true && throughOwnIdp;
    if (requireMfa && !mfaThroughSso) {
      // A second factor is TOTP or a passkey (a passkey sign-in verifies the user on the device).
      if (!user.mfaEnabled && !((user.passkeyCount ?? 0) > 0)) {
        throw new TenantRefusalError(
          'This tenant requires multi-factor authentication; enrol TOTP or add a passkey first.',
          'mfa-enrolment-required',
          { scope, principal },
        );
      }
      // MFA is a property of the credential, not of the user: a session signed in with the password only
      // (for instance before the user enrolled) never showed the second factor, nor did a key it minted.
      if (principal.mfa !== true) this.refuseWithoutMfa(scope, principal, route);
    }
    const permissions = effectivePermissions(member.role, credential.principal.scopes);
    return {
      principal,
      tenantRecord: tenant,
      tenant: {
        scope,
        permissions,
        roleCeiling: member.role,
        requireMfa,
        ...(requireMfa && mfaThroughSso ? { mfaThroughSso: true } : {}),
      },
    };
  }

  /**
   * A member's tenant reached through another tenant's IdP: 404 exactly as for a stranger (the same error,
   * no TenantScope, so the API layer writes nothing to this tenant's audit log); the platform's own log
   * says what happened.
   */
  private refuseOtherTenantsSso(tenantId: string, principal: Principal, route: RouteDef): never {
    logger.warn('sso session of another tenant', {
      route: route.id,
      tenantId,
      userId: principal.userId,
      credential: principal.kind,
      reason: 'sso-session-scope',
    });
    throw new NotFoundError('No such tenant.');
  }

  /** 403 `sso-session-required` (the API layer writes it to the tenant's audit log). */
  private refuseWithoutSso(scope: TenantScope, principal: Principal, route: RouteDef): never {
    logger.warn('sso session required', {
      route: route.id,
      tenantId: scope.tenantId,
      userId: principal.userId,
      credential: principal.kind,
    });
    throw new TenantRefusalError(
      principal.kind === 'session'
        ? 'This tenant requires signing in through its own identity provider: sign in again through it.'
        : 'This tenant requires signing in through its own identity provider, and this API key was not created from a session signed in through it; create a new key from such a session.',
      'sso-session-required',
      { scope, principal },
    );
  }

  /** 403 `mfa-session-required` (the API layer writes it to the tenant's audit log). */
  private refuseWithoutMfa(scope: TenantScope, principal: Principal, route: RouteDef): never {
    logger.warn('mfa session required', {
      route: route.id,
      tenantId: scope.tenantId,
      userId: principal.userId,
      credential: principal.kind,
    });
    throw new TenantRefusalError(
      principal.kind === 'session'
        ? 'This tenant requires a session signed in with your second factor: sign in again with your code.'
        : 'This tenant requires multi-factor authentication, and this API key was not created from a session signed in with a second factor; create a new key from such a session.',
      'mfa-session-required',
      { scope, principal },
    );
  }

  private async resolve(parsed: ParsedBearer, now: number): Promise<ResolvedCredential> {
    if (parsed.kind === 'session') {
      const session = await this.lookups.session(parsed.sessionId);
      if (!session || !secretMatches(parsed.secret, session.secretHash)) throw new UnauthorizedError();
      if (now > session.absoluteExpiresAt || now > session.lastSeenAt + session.idleTimeoutSeconds * 1000) {
        throw new UnauthorizedError('The session has expired; sign in again.', 'session-expired');
      }
      await this.touchSession?.(session, now);
      return {
        session,
        principal: {
          kind: 'session',
          userId: session.userId,
          credentialId: session.sessionId,
          mfaEnabled: false,
          authMethod: session.authMethod ?? 'password',
          mfa: session.mfa === true,
          ...(session.ssoProvider ? { ssoProvider: session.ssoProvider } : {}),
        },
      };
    }
    const apiKey = await this.lookups.apiKey(parsed.tenantId, parsed.keyId);
    if (!apiKey || !secretMatches(parsed.secret, apiKey.secretHash)) throw new UnauthorizedError();
    if (now >= apiKey.expiresAt) throw new UnauthorizedError('The API key has expired.', 'api-key-expired');
    await this.lookups.touchApiKey(apiKey, now);
    return {
      apiKey,
      principal: {
        kind: 'api-key',
        userId: apiKey.createdBy,
        credentialId: apiKey.keyId,
        scopes: apiKey.scopes,
        keyTenantId: apiKey.tenantId,
        mfaEnabled: false,
        mfa: apiKey.createdWithMfa === true,
        ...(apiKey.createdWithSso ? { ssoProvider: apiKey.createdWithSso } : {}),
      },
    };
  }
}

/**
 * 401 unless the session was made (or kept) under the user's current credential epoch: a change of password
 * or MFA, or "sign out everywhere else", ends every other session at the moment it commits, including one
 * the session index does not list yet.
 */
function assertSessionCurrent(session: SessionRecord, user: UserRecord | undefined): void {
  if (!user) throw new UnauthorizedError();
  if (epochOf(session) < epochOf(user))
    throw new UnauthorizedError('This session was signed out; sign in again.', 'session-revoked');
}

/**
 * Whether an API key still acts for its creator: created under the creator's current membership (its key
 * generation, which a new membership or a demotion below api-keys:create replaces) and the creator still
 * holds api-keys:create. Deleting the key items is the cleanup; this makes revocation atomic with the
 * membership change, however many keys there are.
 */
export function keyStillBacked(key: ApiKeyRecord, member: MemberRecord): boolean {
  return key.memberGeneration === member.keyGeneration && roleHas(member.role, 'api-keys:create');
}

/** The tenant of a tenant route's request (the authorizer guarantees it is there). */
export function requireTenant(auth: AuthContext) {
  if (!auth.tenant || !auth.principal) throw new Error('tenant route without tenant access');
  return { ...auth.tenant, principal: auth.principal };
}

/** The caller of a tenant route, from its request (the authorizer guarantees the membership). */
export function tenantCaller(request: {
  auth: AuthContext;
  sourceIp: string;
  userAgent: string;
}): TenantCaller {
  const { principal, ...access } = requireTenant(request.auth);
  return { access, principal, ip: request.sourceIp, userAgent: request.userAgent };
}

/**
 * Binds a tenant route whose answer is what `act` gives for the route's caller, sent with `status`
 * (a 204 sends no body).
 */
export function implementForTenant<R extends RouteDef>(
  route: R,
  status: 200 | 201 | 204,
  act: (caller: TenantCaller, request: ApiRequest<R>) => Promise<unknown>,
): BoundRoute {
  return implement(route, async (request) => {
    const body = await act(tenantCaller(request), request);
    return status === 204 ? { status } : { status, body };
  });
}

/** The caller of an authenticated route. */
export function requirePrincipal(auth: AuthContext): Principal {
  if (!auth.principal) throw new Error('authenticated route without principal');
  return auth.principal;
}

/** What every API function uses of the identity table, from the function's runtime. */
export function identityRecordsFor(runtime: FunctionRuntime): IdentityRecords {
  return new IdentityRecords(runtime.dynamo, runtime.require('identityTable'));
}

/** The authorizer every API function uses, from its runtime (and its identity records, when it has them). */
export function authorizerFor(
  runtime: FunctionRuntime,
  options: { identity?: IdentityRecords } = {},
): BearerAuthorizer {
  const identity = options.identity ?? identityRecordsFor(runtime);
  const lookups = new AuthLookups(runtime.dynamo, {
    identity: runtime.require('identityTable'),
    tenantData: runtime.require('tenantDataTable'),
  });
  return new BearerAuthorizer(lookups, Date.now, (session, now) => identity.touchSession(session, now));
}

/** The DynamoDB-backed rate limiter: its counters live in the identity table. */
export function rateLimiterFor(identity: IdentityRecords): DynamoRateLimiter {
  return new DynamoRateLimiter(identity.rateWindows);
}
