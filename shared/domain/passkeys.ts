/** Passkeys an account may hold at once (each is a way into the account; the list stays reviewable). */
export const PASSKEY_LIMIT = 10;

/** How long an issued WebAuthn challenge can be answered: long enough for a PIN or a fingerprint. */
export const PASSKEY_CHALLENGE_SECONDS = 5 * 60;

/** What the browser is told to wait for the authenticator (a little less than the challenge lives). */
export const PASSKEY_CEREMONY_TIMEOUT_MS = 4 * 60_000;

/** The relying party passkeys are created for and answered to. */
export interface RelyingParty {
  /** The RP ID: a host name the console's origin is equal to or a subdomain of. */
  id: string;
  /** Shown by the authenticator when a passkey is created. */
  name: string;
  /** The exact origins (`scheme://host[:port]`) whose ceremonies are accepted. */
  origins: string[];
}

/**
 * The relying party from configuration: by default the console's own host and origin (the console is the
 * only page that runs passkey ceremonies, on the API's origin), each overridable. Throws on settings a
 * browser would never match, so a misconfigured function fails at start, not at a user's first passkey.
 */
export function relyingPartyOf(settings: {
  consoleUrl: string;
  rpId?: string;
  origins?: string;
}): RelyingParty {
  const consoleUrl = new URL(settings.consoleUrl);
  const id = (settings.rpId ?? consoleUrl.hostname).toLowerCase();
  const origins = settings.origins
    ? settings.origins
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean)
    : [consoleUrl.origin];
  if (origins.length === 0) throw new Error('passkeys: no allowed origin');
  for (const origin of origins) {
    const url = new URL(origin);
    if (url.origin !== origin) throw new Error(`passkeys: not an origin: ${origin}`);
    const host = url.hostname.toLowerCase();
    if (host !== id && !host.endsWith(`.${id}`))
      throw new Error(`passkeys: origin ${origin} is not on the relying party ${id}`);
  }
  return { id, name: 'Strongroom', origins };
}
