import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import type { PlatformCrypto } from '../../shared/crypto/envelope.js';
import { ssoTenantOf } from '../../shared/domain/caller.js';
import { relyingPartyOf } from '../../shared/domain/passkeys.js';
import { createApiHandler, implement, routesLoadedOnUse } from '../../shared/http/api.js';
import { authorizerFor, rateLimiterFor, requirePrincipal, requireTenant } from '../../shared/http/auth.js';
import {
  clearedSessionCookie,
  requireConsoleOrigin,
  signedInAnswer,
} from '../../shared/http/session-cookie.js';
import { mailFor } from '../../shared/mail/function-mail.js';
import { logger } from '../../shared/observability.js';
import * as routes from '../../shared/schemas/auth.js';
import type { AccountEmailService } from '../../shared/services/account-email.js';
import { IdentityService } from '../../shared/services/identity.js';
import { SecondFactorVerifier } from '../../shared/services/second-factor.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import { IdentityStore } from '../../shared/store/identity-store.js';
import {
  ConfiguredOidcProviders,
  secretsManagerReader,
  tenantOidcProviders,
} from '../../shared/store/oidc-providers.js';
import { ACCOUNT_ROUTE_KEYS, OIDC_ROUTE_KEYS, PASSKEY_ROUTE_KEYS } from './lazy/route-keys.js';

const runtime = functionRuntime();
const identity = new IdentityStore(runtime.dynamo, runtime.require('identityTable'));
// TOTP secrets under the platform key; tenant IdPs' client secrets under each tenant's key (whose policy
// lets this role Decrypt those only). The envelope cipher is loaded by the first secret a request needs (a
// TOTP sign-in, enrolment or removal, a tenant IdP's sign-in): the Encryption SDK behind it is loaded then
// anyway, and a password sign-in or a session's request needs neither.
const platformKeyArn = runtime.require('platformKeyArn');
const envelope = loadedOnUse(async () => {
  const { envelopeCipherFor, platformCrypto } = await import('../../shared/crypto/envelope.js');
  const cipher = envelopeCipherFor(runtime);
  return { ...platformCrypto({ cipher, platformKeyArn }), decrypt: cipher.decrypt.bind(cipher) };
});
const secrets: PlatformCrypto = envelope;
// The auth function writes platform events only (sign-ins, sessions, account changes): the tenant-scoped
// clients its recorder could write a tenant's log with (STS AssumeRole) are loaded only if one is ever asked for.
const audit = auditRecorderFor(runtime, {
  tenantClients: loadedOnUse(async () =>
    (await import('../../shared/store/tenant-data-client.js')).tenantDataClientsFor(runtime),
  ),
});

// Registration, password sign-in, sign-out, the caller's account and sessions are built here. Each other route
// group (the account settings: password, TOTP, sign-in history; mail: verification and reset; passkeys; OpenID
// sign-in and links) is a service loaded by the first request that uses it (shared/aws/loaded-on-use.ts), a
// chunk a cold start neither parses nor runs; every setting it needs is still read here, at load. Those
// groups' routes themselves (schemas and implementations) are loaded that way too (./lazy/*-routes.ts): the
// cold start knows only their methods and paths.
const mail = mailFor(runtime);
const emailService = loadedOnUse(async () => {
  const { AccountEmailService } = await import('../../shared/services/account-email.js');
  return new AccountEmailService({ identity, audit, ...mail, rateLimiter: rateLimiterFor(identity) });
});
/**
 * The mail service as the other services use it. A security notice goes out after the change it reports:
 * when the mail code cannot be loaded it is logged, as a notice that cannot be sent is
 * (AccountEmailService.notify), and the change still answers as done.
 */
const email = {
  mailRegistration: emailService.mailRegistration,
  mailLinkConfirmation: emailService.mailLinkConfirmation,
  redeemLinkToken: emailService.redeemLinkToken,
  notify: (...[user, change, origin]: Parameters<AccountEmailService['notify']>) =>
    emailService.notify(user, change, origin).catch((error: unknown) => {
      logger.error('security notice not sent', {
        change,
        userId: user.userId,
        error: (error as Error).message,
      });
    }),
};
const service = new IdentityService({
  identity,
  lookups: new AuthLookups(runtime.dynamo, {
    identity: runtime.require('identityTable'),
    tenantData: runtime.require('tenantDataTable'),
  }),
  audit,
  secrets,
  email,
});
/** The password, TOTP and the sign-in history (./lazy/account-routes.ts). */
const settings = loadedOnUse(async () => {
  const { AccountSettingsService } = await import('../../shared/services/account-settings.js');
  return new AccountSettingsService({ identity, audit, secrets, email });
});
const relyingParty = relyingPartyOf({
  consoleUrl: runtime.require('consoleUrl'),
  rpId: runtime.optional('passkeyRpId'),
  origins: runtime.optional('passkeyOrigins'),
});
const passkeys = loadedOnUse(async () => {
  const [{ PasskeyService }, { PasskeyStore }] = await Promise.all([
    import('../../shared/services/passkeys.js'),
    import('../../shared/store/passkey-store.js'),
  ]);
  return new PasskeyService({
    identity,
    passkeys: new PasskeyStore(runtime.dynamo, runtime.require('identityTable'), identity),
    audit,
    secrets,
    email,
    relyingParty,
  });
});
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
/** Requests to a tenant's IdP: guardedFetch (its address checks load with the first such request). */
const tenantIdpFetch: typeof fetch = async (input, init) =>
  (await import('../../shared/connectors/outbound-http.js')).guardedFetch(hostPolicy)(input, init);
// The platform's providers are parsed here, at load, as before: a bad configuration fails the cold start.
const providers = new ConfiguredOidcProviders(
  runtime.optional('oidcProviders'),
  secretsManagerReader(runtime),
  tenantOidcProviders({
    db: runtime.dynamo,
    table: runtime.require('tenantDataTable'),
    decrypt: (owner, binding, ciphertext) => envelope.decrypt(owner, binding, ciphertext),
    fetch: tenantIdpFetch,
  }),
);
const oidc = loadedOnUse(async () => {
  const [{ OidcSignInService }, { OidcStore }] = await Promise.all([
    import('../../shared/services/oidc-sign-in.js'),
    import('../../shared/store/oidc-flows.js'),
  ]);
  return new OidcSignInService({
    identity,
    oidc: new OidcStore(runtime.dynamo, runtime.require('identityTable')),
    audit,
    providers,
    secondFactors: new SecondFactorVerifier({ identity, audit, secrets }),
    redirectUri: runtime.require('consoleUrl'),
    newDevice: (user, signIn) => email.notify(user, 'new-device-sign-in', signIn),
    linkNotice: (user, change, origin) => email.notify(user, change, origin),
    linkMail: email,
  });
});

/** Sign-up, sign-in, sessions, password, MFA, passkeys and OpenID sign-in: `/v1/auth/*` and `/v1/me/*`. */
export const handler = createApiHandler({
  runtime,
  area: 'auth',
  allRoutes: [...routes.authRoutes, ...ACCOUNT_ROUTE_KEYS, ...PASSKEY_ROUTE_KEYS, ...OIDC_ROUTE_KEYS],
  authorizer: authorizerFor(runtime, { identity }),
  rateLimiter: rateLimiterFor(identity),
  routes: [
    implement(routes.register, async ({ body, sourceIp, userAgent }) => ({
      status: 202,
      body: await service.register(body, { ip: sourceIp, userAgent }),
    })),
    implement(routes.login, async ({ body, sourceIp, userAgent, event }) => {
      const { session, ...credentials } = body;
      // A cookie session is only ever started by the console itself (no signing a browser in from elsewhere).
      if (session === 'cookie') requireConsoleOrigin(event);
      return signedInAnswer(session, await service.login(credentials, { ip: sourceIp, userAgent }));
    }),
    implement(routes.logout, async ({ auth, sourceIp, userAgent }) => {
      const me = requirePrincipal(auth);
      await service.logout(me.userId, me.credentialId, { ip: sourceIp, userAgent });
      return { status: 204, headers: { 'Set-Cookie': clearedSessionCookie() } };
    }),
    implement(routes.getMe, async ({ auth }) => {
      const me = requirePrincipal(auth);
      if (me.kind !== 'api-key') {
        return { status: 200, body: await service.me(me.userId, { onlyTenant: ssoTenantOf(me) }) };
      }
      // The authorizer resolved the key's own tenant (and only that one); fail closed if it did not.
      const { scope, roleCeiling, permissions } = requireTenant(auth);
      const key = {
        keyId: me.credentialId,
        tenantId: scope.tenantId,
        role: roleCeiling,
        scopes: [...permissions],
      };
      return { status: 200, body: await service.me(me.userId, { apiKey: key }) };
    }),
    implement(routes.listSessions, async ({ auth }) => {
      const me = requirePrincipal(auth);
      return { status: 200, body: { items: await service.listSessions(me.userId, me.credentialId) } };
    }),
    implement(routes.revokeSession, async ({ auth, params, sourceIp, userAgent }) => {
      const me = requirePrincipal(auth);
      await service.revokeSession(me.userId, params.sessionId, me.credentialId, { ip: sourceIp, userAgent });
      return { status: 204 };
    }),
    implement(routes.revokeOtherSessions, async ({ auth, sourceIp, userAgent }) => {
      const me = requirePrincipal(auth);
      return {
        status: 200,
        body: {
          revoked: await service.revokeOtherSessions(me.userId, me.credentialId, { ip: sourceIp, userAgent }),
        },
      };
    }),
    // The account settings and mailed links, passkeys and OpenID sign-in: their schemas and implementations are
    // loaded by the group's first request.
    routesLoadedOnUse(ACCOUNT_ROUTE_KEYS, async () =>
      (await import('./lazy/account-routes.js')).accountRoutesFor(settings, emailService),
    ),
    routesLoadedOnUse(PASSKEY_ROUTE_KEYS, async () =>
      (await import('./lazy/passkey-routes.js')).passkeyRoutesFor(passkeys),
    ),
    routesLoadedOnUse(OIDC_ROUTE_KEYS, async () =>
      (await import('./lazy/oidc-routes.js')).oidcRoutesFor(oidc),
    ),
  ],
});
