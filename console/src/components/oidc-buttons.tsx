import { useState } from 'preact/hooks';
import type { ApiProblem } from '../api/client';
import { oidcProviders, startOidc } from '../app/oidc';
import { useLoad } from './hooks';
import { ProblemAlert, Section } from './status';

/**
 * "Sign in with …" (or, signed in, "Link …") for each of the platform's identity providers; nothing when
 * there are none.
 */
export function OidcButtons({ link = false }: { link?: boolean }) {
  const providers = useLoad(oidcProviders, []);
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState<string>();
  if (!providers.data?.length) return null;
  return (
    <div class="oidc-providers">
      <ProblemAlert problem={problem} />
      {providers.data.map((p) => (
        <p key={p.id}>
          <button
            type="button"
            disabled={busy !== undefined}
            onClick={async () => {
              setBusy(p.id);
              setProblem(undefined);
              try {
                await startOidc(p.id, link);
              } catch (error) {
                setProblem(error as ApiProblem);
                setBusy(undefined);
              }
            }}
          >
            {busy === p.id ? 'Redirecting…' : link ? `Link ${p.name}` : `Sign in with ${p.name}`}
          </button>
        </p>
      ))}
    </div>
  );
}

/** Linking the signed-in account to the platform's providers; nothing when there are none. */
export function OidcLinkSection() {
  const providers = useLoad(oidcProviders, []);
  if (!providers.data?.length) return null;
  return (
    <Section title="Identity providers" id="identity-providers">
      <p>
        Link an account you have at one of these providers, then sign in with it. The provider must have
        verified its e-mail address.
      </p>
      <OidcButtons link />
    </Section>
  );
}
