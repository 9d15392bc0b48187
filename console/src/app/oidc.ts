import { ApiProblem, api, ok } from '../api/client';

/** Where the flow token waits while the browser is at the provider (this tab only; it is no credential). */
const FLOW_KEY = 'strongroom-oidc-flow';

/** What linking asks of the signed-in user: the password and, with a second factor, a fresh one. */
export type LinkProof = {
  currentPassword: string;
  mfaCode?: string;
  recoveryCode?: string;
  stepUpToken?: string;
};

/** A platform provider by id, or a tenant's own provider by the tenant's id. */
export type OidcTarget = { provider: string } | { tenantId: string };

/**
 * Starts signing in (or, from a signed-in session with the current password and any fresh factor, linking) through a provider: the
 * flow token stays in this tab's session storage and the browser goes to the provider. It comes back to the
 * console's URL with `code`, `state` and `iss`, which `finishOidcFlowFromUrl` sends.
 */
export async function startOidc(target: OidcTarget, link?: LinkProof): Promise<void> {
  continueOidc(await beginOidc(target, link));
}

/** A started flow: where the browser goes next, and the token that binds the flow to this tab. */
export type StartedOidc = { authorizationUrl: string; flowToken: string };

/** Starts a flow without leaving the page (to show where it leads first); `continueOidc` goes there. */
export async function beginOidc(target: OidcTarget, link?: LinkProof): Promise<StartedOidc> {
  return ok(
    link
      ? await api.POST('/v1/me/oidc/link', { body: { ...target, ...link } })
      : await api.POST('/v1/auth/oidc/start', { body: target }),
  );
}

export function continueOidc(started: StartedOidc): void {
  sessionStorage.setItem(FLOW_KEY, started.flowToken);
  window.location.assign(started.authorizationUrl);
}

/** The console link a tenant's members sign in through its own provider with (`#/sso/<tenantId>`). */
export function organisationSignInLink(tenantId: string): string {
  return new URL(`#/sso/${tenantId}`, window.location.href.split('#')[0]).href;
}

/** A tenant id typed as such or pasted as its sign-in link. */
export function tenantIdIn(typed: string): string {
  return /#\/sso\/([^/?#\s]+)/.exec(typed)?.[1] ?? typed.trim();
}

/** What finishing a flow came to: nothing to finish, signed in or linked, or a problem to show. */
export type OidcOutcome =
  | { kind: 'none' }
  | { kind: 'done'; linked: boolean }
  | { kind: 'failed'; problem: ApiProblem };

/**
 * When the provider has sent the browser back (`?code=…&state=…`), finishes the flow: the session goes into
 * the HttpOnly cookie. The query leaves the address bar either way (the code works once).
 */
export async function finishOidcFlowFromUrl(): Promise<OidcOutcome> {
  const query = new URLSearchParams(window.location.search);
  const code = query.get('code');
  const state = query.get('state');
  const providerError = query.get('error');
  if (!state || (!code && !providerError)) return { kind: 'none' };
  const flowToken = sessionStorage.getItem(FLOW_KEY) ?? '';
  sessionStorage.removeItem(FLOW_KEY);
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.hash}`);
  if (!code) {
    const detail = query.get('error_description') ?? providerError ?? 'The provider did not sign you in.';
    return { kind: 'failed', problem: new ApiProblem({ status: 400, title: 'Sign-in cancelled', detail }) };
  }
  try {
    const finished = ok(
      await api.POST('/v1/auth/oidc/callback', {
        body: {
          code,
          state,
          flowToken,
          session: 'cookie',
          ...(query.get('iss') ? { iss: query.get('iss')! } : {}),
        },
      }),
    );
    return { kind: 'done', linked: finished.outcome === 'linked' };
  } catch (error) {
    if (error instanceof ApiProblem) return { kind: 'failed', problem: error };
    throw error;
  }
}

/** The platform's providers ("Sign in with …"). */
export async function oidcProviders(): Promise<{ id: string; name: string }[]> {
  return ok(await api.GET('/v1/auth/oidc/providers')).items;
}
