import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ForbiddenError } from '../errors.js';

/**
 * The console's session cookie. `__Host-` makes browsers refuse it unless it is Secure, has Path=/ and no
 * Domain, so no sibling host can set or overwrite it; HttpOnly keeps it from script; SameSite=Strict keeps
 * it off every request another site starts.
 */
export const SESSION_COOKIE = '__Host-strongroom-session';

const ATTRIBUTES = 'Path=/; HttpOnly; Secure; SameSite=Strict';

/** The Set-Cookie value that holds a session until it expires. */
export function sessionCookie(token: string, expiresAt: string, now = Date.now()): string {
  const maxAge = Math.max(0, Math.floor((Date.parse(expiresAt) - now) / 1000));
  return `${SESSION_COOKIE}=${token}; ${ATTRIBUTES}; Max-Age=${maxAge}`;
}

/** The Set-Cookie value that removes the session cookie (sent on every sign-out). */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; ${ATTRIBUTES}; Max-Age=0`;
}

function headerValues(event: APIGatewayProxyEvent, name: string): string[] {
  const lower = name.toLowerCase();
  const values: string[] = [];
  for (const [key, list] of Object.entries(event.multiValueHeaders ?? {}))
    if (key.toLowerCase() === lower) values.push(...(list ?? []));
  if (values.length) return values;
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === lower && value !== undefined) values.push(value);
  return values;
}

/** The session token in the request's Cookie header(s), if any. */
export function sessionCookieOf(event: APIGatewayProxyEvent): string | undefined {
  for (const header of headerValues(event, 'cookie')) {
    for (const pair of header.split(';')) {
      const at = pair.indexOf('=');
      if (at > 0 && pair.slice(0, at).trim() === SESSION_COOKIE)
        return pair.slice(at + 1).trim() || undefined;
    }
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A request the browser sent with the session cookie may change something only when it comes from the
 * console itself: the browser's own `Sec-Fetch-Site` (a header no page can set) must say `same-origin`. A
 * request without it (a browser too old to send it, or a program that copied the cookie) is refused too;
 * programs use `Authorization: Bearer`. SameSite=Strict already keeps the cookie off cross-site requests;
 * this also refuses same-site ones from another origin (a sibling host) and form posts.
 */
export function requireConsoleOrigin(event: APIGatewayProxyEvent): void {
  if (SAFE_METHODS.has(event.httpMethod.toUpperCase())) return;
  const site = headerValues(event, 'sec-fetch-site')[0]?.trim().toLowerCase();
  if (site === 'same-origin') return;
  throw new ForbiddenError(
    'A request authenticated by the session cookie must come from the console’s own origin; programs send Authorization: Bearer.',
    'cross-origin-refused',
  );
}

/**
 * The answer to a sign-in: the session token in the body, or, for a cookie session, in the HttpOnly cookie
 * only (the console's script never sees it).
 */
export function signedInAnswer<S extends { token: string; expiresAt: string }>(
  session: string | undefined,
  signedIn: S,
) {
  if (session !== 'cookie') return { status: 200, body: signedIn };
  const { token, ...rest } = signedIn;
  return { status: 200, headers: { 'Set-Cookie': sessionCookie(token, rest.expiresAt) }, body: rest };
}
