import {
  browserSupportsWebAuthn,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  startAuthentication,
  startRegistration,
  WebAuthnError,
} from '@simplewebauthn/browser';
import { ApiProblem, api, ok } from '../api/client';

/**
 * Whether this browser can use passkeys here: WebAuthn needs a secure context whose host is a domain name
 * (browsers refuse an IP address as a relying party, so on `127.0.0.1` the console offers none).
 */
export function passkeysAvailable(): boolean {
  const host = window.location.hostname;
  const ipAddress = /^[\d.]+$/.test(host) || host.startsWith('[');
  return !ipAddress && browserSupportsWebAuthn();
}

/** The browser's refusal (the user cancelled, no authenticator, another site…) as a problem to show. */
function ceremonyProblem(error: unknown): unknown {
  if (!(error instanceof WebAuthnError) && !(error instanceof DOMException)) return error;
  const cancelled =
    error.name === 'NotAllowedError' || (error as WebAuthnError).code === 'ERROR_CEREMONY_ABORTED';
  return new ApiProblem({
    status: 0,
    title: 'Passkey',
    detail: cancelled
      ? 'The passkey prompt was cancelled or timed out.'
      : `The browser could not use a passkey here: ${error.message}`,
  });
}

/** The browser's prompt for one of this site's passkeys, for the API's options; its refusal as a problem. */
async function assertion(options: unknown) {
  try {
    return await startAuthentication({
      optionsJSON: options as PublicKeyCredentialRequestOptionsJSON,
    });
  } catch (error) {
    throw ceremonyProblem(error);
  }
}

/** Signs in with a passkey: the API's challenge, the browser's prompt, then the session cookie. */
export async function signInWithPasskey(): Promise<void> {
  const { challengeId, options } = ok(await api.POST('/v1/auth/passkeys/options'));
  const credential = await assertion(options);
  // As with the password: the API answers with an HttpOnly cookie and no token in the body.
  ok(
    await api.POST('/v1/auth/passkeys/sign-in', {
      body: { challengeId, credential: credential as never, session: 'cookie' },
    }),
  );
}

/**
 * Creates a passkey on this device and adds it to the account (with `factor`, the fresh second factor an
 * account that has one must send); how many other sessions ended.
 */
export async function addPasskey(
  name: string,
  currentPassword: string,
  factor: { mfaCode?: string; recoveryCode?: string; stepUpToken?: string } = {},
): Promise<number> {
  const { challengeId, options } = ok(await api.POST('/v1/me/passkeys/registration-options'));
  let credential: Awaited<ReturnType<typeof startRegistration>>;
  try {
    credential = await startRegistration({
      optionsJSON: options as unknown as PublicKeyCredentialCreationOptionsJSON,
    });
  } catch (error) {
    throw ceremonyProblem(error);
  }
  const added = ok(
    await api.POST('/v1/me/passkeys', {
      body: { challengeId, credential: credential as never, name, currentPassword, ...factor },
    }),
  );
  return added.revokedSessions;
}

/**
 * Steps up with a passkey: a fresh assertion in this session (user verification required) becomes a token
 * that one fresh-MFA action (password change, turning TOTP off, tenant deletion) accepts instead of a code,
 * once, within five minutes. The session must be an MFA session (403 otherwise, shown like any problem).
 */
export async function stepUpWithPasskey(): Promise<string> {
  const { challengeId, options } = ok(await api.POST('/v1/me/step-up/passkey/options'));
  const credential = await assertion(options);
  return ok(
    await api.POST('/v1/me/step-up/passkey', { body: { challengeId, credential: credential as never } }),
  ).stepUpToken;
}
