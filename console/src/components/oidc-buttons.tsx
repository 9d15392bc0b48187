import { useState } from 'preact/hooks';
import { type ApiProblem, api, ok } from '../api/client';
import {
  beginOidc,
  continueOidc,
  type OidcTarget,
  oidcProviders,
  type StartedOidc,
  startOidc,
  tenantIdIn,
} from '../app/oidc';
import { useSession } from '../app/session';
import { CurrentPasswordField, Field, Form, raw, text } from './form';
import { useLoad } from './hooks';
import { FactorField, FactorSwitch, factorBody, NoUsableFactor, useSecondFactor } from './second-factor';
import { Notice, ProblemAlert, Section, When } from './status';

/** "Sign in with …" for each of the platform's identity providers; nothing when there are none. */
export function OidcButtons() {
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
                await startOidc({ provider: p.id });
              } catch (error) {
                setProblem(error as ApiProblem);
                setBusy(undefined);
              }
            }}
          >
            {busy === p.id ? 'Redirecting…' : `Sign in with ${p.name}`}
          </button>
        </p>
      ))}
    </div>
  );
}

/**
 * "Sign in with your organisation": a tenant's own identity provider, by the tenant id in the sign-in link
 * its owner shares (`#/sso/<tenantId>` opens this with the id filled in). Which tenants have a provider is
 * not listed anywhere: the API answers for the id typed. A tenant's provider is whatever its owner named,
 * so before the browser leaves, the page shows the provider's address and goes there only when asked: a
 * link to the genuine console must not carry anyone straight to a look-alike sign-in page.
 */
export function OrganisationSignIn({ tenantId }: { tenantId?: string }) {
  const [started, setStarted] = useState<StartedOidc>();
  const host = started ? new URL(started.authorizationUrl).host : undefined;
  return (
    <details class="organisation-sign-in" open={tenantId !== undefined}>
      <summary>Sign in with your organisation</summary>
      {started ? (
        <div>
          <p>
            Your organisation signs you in at <strong class="mono">{host}</strong>. Continue only if you
            recognise that address.
          </p>
          <p class="row">
            <button type="button" class="primary" onClick={() => continueOidc(started)}>
              Continue to {host}
            </button>
            <button type="button" class="link" onClick={() => setStarted(undefined)}>
              Cancel
            </button>
          </p>
        </div>
      ) : (
        <Form
          label="Sign in with your organisation"
          submitLabel="Continue to your organisation"
          busyLabel="Finding your organisation…"
          onSubmit={async (values) => {
            setStarted(await beginOidc({ tenantId: tenantIdIn(text(values, 'tenantId') ?? '') }));
          }}
        >
          <Field
            name="tenantId"
            label="Organisation id"
            hint="The t_… id, or the whole sign-in link your organisation gave you."
            defaultValue={tenantId}
            required
          />
        </Form>
      )}
    </details>
  );
}

/**
 * The identity providers linked to the signed-in account (each can sign in to it), unlinking them, and
 * linking another (with the current password); nothing when the platform has no providers and nothing is
 * linked.
 */
export function OidcLinkSection() {
  const providers = useLoad(oidcProviders, []);
  const linked = useLoad(async () => ok(await api.GET('/v1/me/oidc/identities')).items, []);
  const [notice, setNotice] = useState<string>();
  if (!providers.data?.length && !linked.data?.length) return null;
  return (
    <Section title="Identity providers" id="identity-providers">
      <p>
        A linked account at one of these providers signs in to this account. Linking or unlinking one asks for
        your password (and, with a second factor, a session signed in with it; linking also a fresh code or
        passkey confirmation); your address must be verified, and the provider must have verified its own.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={linked.problem} />
      {linked.data && linked.data.length > 0 ? (
        <ul>
          {linked.data.map((identity) => (
            <li key={identity.identityId}>
              {identity.providerName ?? identity.provider} ({identity.email}), linked{' '}
              <When iso={identity.linkedAt} />
              {identity.active ? '' : ' — inactive: the provider was reconfigured or removed'}
              <details>
                <summary>
                  Unlink<span class="visually-hidden"> {identity.providerName ?? identity.provider}</span>
                </summary>
                <Form
                  label={`Unlink ${identity.providerName ?? identity.provider}`}
                  submitLabel="Unlink"
                  busyLabel="Unlinking…"
                  danger
                  onSubmit={async (values) => {
                    ok(
                      await api.DELETE('/v1/me/oidc/identities/{identityId}', {
                        params: { path: { identityId: identity.identityId } },
                        body: { currentPassword: raw(values, 'currentPassword') },
                      }),
                    );
                    setNotice(`${identity.providerName ?? identity.provider} (${identity.email}) unlinked.`);
                    await linked.reload();
                  }}
                >
                  <CurrentPasswordField />
                </Form>
              </details>
            </li>
          ))}
        </ul>
      ) : (
        <p>No identity provider is linked.</p>
      )}
      {providers.data?.map((p) => (
        <details key={p.id}>
          <summary>Link {p.name}</summary>
          <LinkProviderForm target={{ provider: p.id }} label={`Link ${p.name}`} providerName={p.name} />
        </details>
      ))}
    </Section>
  );
}

/**
 * Links the signed-in user's account to a provider: the password and, with a second factor, a fresh one of
 * them (the API's rule for every new way into the account), then the browser goes to the provider.
 */
export function LinkProviderForm({
  target,
  label,
  providerName,
}: {
  target: OidcTarget;
  label: string;
  providerName: string;
}) {
  const { me } = useSession();
  const factor = useSecondFactor(me.user);
  if (factor.required && !factor.kind) return <NoUsableFactor />;
  return (
    <>
      <Form
        key={factor.kind ?? 'none'}
        label={label}
        submitLabel={`Continue to ${providerName}`}
        busyLabel="Redirecting…"
        onSubmit={async (values) => {
          const currentPassword = raw(values, 'currentPassword');
          await startOidc(target, { currentPassword, ...(await factorBody(factor.kind, values)) });
        }}
      >
        <CurrentPasswordField />
        <FactorField kind={factor.kind} />
      </Form>
      <FactorSwitch {...factor} />
    </>
  );
}
