import type { AsyncMembers } from '../../../shared/aws/loaded-on-use.js';
import type { OidcProviderRef } from '../../../shared/domain/oidc.js';
import { type BoundRoute, implement } from '../../../shared/http/api.js';
import { requirePrincipal } from '../../../shared/http/auth.js';
import { requireConsoleOrigin, signedInAnswer } from '../../../shared/http/session-cookie.js';
import * as oidcRoutes from '../../../shared/schemas/oidc.js';
import type { OidcSignInService } from '../../../shared/services/oidc-sign-in.js';

/** The provider a start or link names: a platform provider by id, or a tenant's own IdP. */
const providerRefOf = (body: { provider?: string; tenantId?: string }): OidcProviderRef =>
  body.tenantId !== undefined
    ? { kind: 'tenant', tenantId: body.tenantId }
    : { kind: 'platform', id: body.provider! };
const providerFieldOf = (body: { tenantId?: string }) =>
  body.tenantId !== undefined ? 'body.tenantId' : 'body.provider';

/**
 * The OpenID sign-in and link routes (shared/schemas/oidc.ts) with their implementations: a chunk that the auth
 * function loads, schemas and all, by the first request to one of them (../handler.ts, ./route-keys.ts).
 */
export function oidcRoutesFor(oidc: AsyncMembers<OidcSignInService>): BoundRoute[] {
  return [
    implement(oidcRoutes.confirmOidcLink, async ({ body, sourceIp, userAgent }) => ({
      status: 200,
      body: await oidc.confirmMailedLink(body, { ip: sourceIp, userAgent }),
    })),
    implement(oidcRoutes.listOidcProviders, async () => ({
      status: 200,
      body: { items: await oidc.listProviders() },
    })),
    implement(oidcRoutes.startOidcSignIn, async ({ body }) => ({
      status: 200,
      body: await oidc.start(providerRefOf(body), { kind: 'sign-in' }, providerFieldOf(body)),
    })),
    implement(oidcRoutes.startOidcLink, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 200,
      body: await oidc.startLink(
        requirePrincipal(auth),
        providerRefOf(body),
        {
          currentPassword: body.currentPassword,
          mfaCode: body.mfaCode,
          recoveryCode: body.recoveryCode,
          stepUpToken: body.stepUpToken,
        },
        { ip: sourceIp, userAgent },
        providerFieldOf(body),
      ),
    })),
    implement(oidcRoutes.listOidcIdentities, async ({ auth }) => ({
      status: 200,
      body: { items: await oidc.listIdentities(requirePrincipal(auth).userId) },
    })),
    implement(oidcRoutes.unlinkOidcIdentity, async ({ auth, params, body, sourceIp, userAgent }) => {
      await oidc.unlink(requirePrincipal(auth), params.identityId, body, { ip: sourceIp, userAgent });
      return { status: 204 };
    }),
    implement(oidcRoutes.finishOidcFlow, async ({ body, sourceIp, userAgent, event }) => {
      const { session, ...input } = body;
      if (session === 'cookie') requireConsoleOrigin(event);
      const finished = await oidc.callback(input, { ip: sourceIp, userAgent });
      return finished.outcome === 'signed-in'
        ? signedInAnswer(session, finished)
        : { status: 200, body: finished };
    }),
  ];
}
