import type { Middleware } from 'openapi-fetch';

/**
 * The session credential while the API cannot yet set an HttpOnly cookie: held in this module's memory only
 * (never in localStorage, sessionStorage, the URL or a cookie script can read), so a reload signs out.
 */
let token: string | undefined;

export function holdSessionToken(value: string | undefined): void {
  token = value;
}

export const bearerFromMemory: Middleware = {
  onRequest({ request }) {
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
};
