import type { AsyncMembers } from '../../../shared/aws/loaded-on-use.js';
import { type BoundRoute, implement } from '../../../shared/http/api.js';
import { requirePrincipal } from '../../../shared/http/auth.js';
import { requireConsoleOrigin, signedInAnswer } from '../../../shared/http/session-cookie.js';
import * as passkeyRoutes from '../../../shared/schemas/passkeys.js';
import type { PasskeyService } from '../../../shared/services/passkeys.js';

/**
 * The passkey routes (shared/schemas/passkeys.ts) with their implementations: a chunk that the auth function
 * loads, schemas and all, by the first request to one of them (../handler.ts, ./route-keys.ts).
 */
export function passkeyRoutesFor(passkeys: AsyncMembers<PasskeyService>): BoundRoute[] {
  return [
    implement(passkeyRoutes.listPasskeys, async ({ auth }) => ({
      status: 200,
      body: { items: await passkeys.list(requirePrincipal(auth).userId) },
    })),
    implement(passkeyRoutes.passkeyRegistrationOptions, async ({ auth }) => ({
      status: 200,
      body: await passkeys.registrationOptions(requirePrincipal(auth)),
    })),
    implement(passkeyRoutes.registerPasskey, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 201,
      body: await passkeys.register(requirePrincipal(auth), body, { ip: sourceIp, userAgent }),
    })),
    implement(passkeyRoutes.renamePasskey, async ({ auth, params, body, sourceIp, userAgent }) => ({
      status: 200,
      body: await passkeys.rename(requirePrincipal(auth), params.passkeyId, body.name, {
        ip: sourceIp,
        userAgent,
      }),
    })),
    implement(passkeyRoutes.removePasskey, async ({ auth, params, body, sourceIp, userAgent }) => ({
      status: 200,
      body: await passkeys.remove(requirePrincipal(auth), params.passkeyId, body, {
        ip: sourceIp,
        userAgent,
      }),
    })),
    implement(passkeyRoutes.stepUpOptions, async ({ auth, sourceIp, userAgent }) => ({
      status: 200,
      body: await passkeys.stepUpOptions(requirePrincipal(auth), { ip: sourceIp, userAgent }),
    })),
    implement(passkeyRoutes.stepUpWithPasskey, async ({ auth, body, sourceIp, userAgent }) => ({
      status: 201,
      body: await passkeys.stepUp(requirePrincipal(auth), body, { ip: sourceIp, userAgent }),
    })),
    implement(passkeyRoutes.passkeySignInOptions, async () => ({
      status: 200,
      body: await passkeys.signInOptions(),
    })),
    implement(passkeyRoutes.passkeySignIn, async ({ body, sourceIp, userAgent, event }) => {
      const { session, ...answer } = body;
      // As with password sign-in: a cookie session is only ever started by the console itself.
      if (session === 'cookie') requireConsoleOrigin(event);
      return signedInAnswer(session, await passkeys.signIn(answer, { ip: sourceIp, userAgent }));
    }),
  ];
}
