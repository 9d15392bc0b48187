import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];
export type FieldError = NonNullable<Problem['errors']>[number];

/**
 * An error answer of the API (RFC 9457), or a network failure dressed as one, so every screen shows errors
 * the same way: `detail` in an alert, `errors` next to the inputs they name.
 */
export class ApiProblem extends Error {
  readonly status: number;
  /** The problem type's last segment (`mfa-required`, `validation-error`, …). */
  readonly code: string;
  readonly detail: string;
  readonly errors: FieldError[];

  constructor(problem: Partial<Problem> & { status: number }) {
    const detail = problem.detail ?? problem.title ?? `Request failed (${problem.status})`;
    super(detail);
    this.name = 'ApiProblem';
    this.status = problem.status;
    this.code = problem.type?.split('/').pop() ?? 'about:blank';
    this.detail = detail;
    this.errors = problem.errors ?? [];
  }

  /** The message for one field (`body.email` → `email`), if the problem named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find(
      (e) => e.path === `body.${field}` || e.path === field || e.path === `query.${field}`,
    )?.message;
  }
}

/** 401 problems about a credential typed into a form, not about the session that sent it. */
const TYPED_CREDENTIAL_PROBLEMS = new Set(['invalid-mfa-code', 'invalid-credentials']);

/** Told when the API says the session is gone, so the app can show the sign-in screen. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener;
}

const problems: Middleware = {
  async onResponse({ response, request }) {
    if (response.ok) return undefined;
    const body = (await response
      .clone()
      .json()
      .catch(() => undefined)) as Partial<Problem> | undefined;
    const problem = new ApiProblem({ ...body, status: response.status });
    // A 401 on anything but signing in means the session ended (expired, revoked elsewhere, signed out),
    // unless it is about a code or password typed into the form (a wrong MFA code when turning MFA off,
    // changing the password or deleting a tenant): that leaves the session as it was.
    if (
      response.status === 401 &&
      !new URL(request.url).pathname.startsWith('/v1/auth/') &&
      !TYPED_CREDENTIAL_PROBLEMS.has(problem.code)
    )
      onSignedOut();
    throw problem;
  },
  onError({ error }) {
    return new ApiProblem({
      status: 0,
      title: 'Network error',
      detail: `The API could not be reached (${error instanceof Error ? error.message : String(error)}).`,
    });
  },
};

/**
 * The typed API client, generated from the OpenAPI document (`npm run console:api`). Same origin as the
 * console, so the browser sends the HttpOnly session cookie with every request: no token is ever visible to
 * script, kept in storage or put in a URL.
 */
export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(problems);

/** The body of a successful answer (errors were thrown by the middleware). */
export function ok<T>(result: { data?: T; error?: unknown }): T {
  if (result.error !== undefined) throw result.error;
  return result.data as T;
}
