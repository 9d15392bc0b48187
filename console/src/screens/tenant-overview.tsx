import { useState } from 'preact/hooks';
import { ApiProblem, api, ok, type Schemas } from '../api/client';
import type { operations } from '../api/schema';
import { organisationSignInLink } from '../app/oidc';
import { PLANS } from '../app/permissions';
import { navigate } from '../app/router';
import { useSession } from '../app/session';
import { useTenant } from '../app/tenant';
import { CheckboxField, Field, Form, integer, raw, SelectField, text } from '../components/form';
import { useAction, useLoad, useTitle } from '../components/hooks';
import { LinkProviderForm } from '../components/oidc-buttons';
import {
  FactorField,
  FactorSwitch,
  factorBody,
  NoUsableFactor,
  useSecondFactor,
} from '../components/second-factor';
import { CopyButton } from '../components/secrets';
import { Loading, Notice, ProblemAlert, Section, When } from '../components/status';

type TenantSettingsChange = NonNullable<
  NonNullable<operations['updateTenant']['requestBody']>['content']['application/json']['settings']
>;

/** A tenant's summary, settings, plan, export and deletion (each part only for roles that may use it). */
export function TenantOverviewScreen() {
  const { tenant, role, can } = useTenant();
  useTitle('Overview', tenant.name);
  return (
    <>
      <h1>{tenant.name}</h1>
      <dl class="facts">
        <dt>Your role</dt>
        <dd>{role}</dd>
        <dt>Plan</dt>
        <dd>{tenant.plan}</dd>
        <dt>Created</dt>
        <dd>
          <When iso={tenant.createdAt} />
        </dd>
        <dt>Two-step verification</dt>
        <dd>{tenant.settings.requireMfa ? 'Required of every member' : 'Not required'}</dd>
        <dt>Tenant id</dt>
        <dd class="mono">{tenant.tenantId}</dd>
      </dl>
      {can('tenant:settings') && <SettingsSection />}
      {can('tenant:sso') && <SsoSection />}
      {can('tenant:export') && <ExportSection />}
      {can('tenant:delete') && <DeleteSection />}
    </>
  );
}

function SettingsSection() {
  const { tenant, can, reload } = useTenant();
  const [saved, setSaved] = useState(false);
  return (
    <Section title="Settings" id="settings">
      {saved && <Notice>Settings saved.</Notice>}
      <Form
        label="Tenant settings"
        submitLabel="Save settings"
        busyLabel="Saving…"
        onSubmit={async (values) => {
          setSaved(false);
          // An emptied limit is sent as null: the API then returns it to the platform default (an absent
          // key would keep the old limit).
          const settings: TenantSettingsChange = {
            requireMfa: values.get('settings.requireMfa') === 'on',
            sessionIdleSeconds: integer(values, 'settings.sessionIdleSeconds') ?? null,
            sessionAbsoluteSeconds: integer(values, 'settings.sessionAbsoluteSeconds') ?? null,
          };
          const plan = text(values, 'plan') as Schemas['Tenant']['plan'] | undefined;
          ok(
            await api.PATCH('/v1/tenants/{tenantId}', {
              params: { path: { tenantId: tenant.tenantId } },
              body: {
                name: text(values, 'name') ?? '',
                settings,
                ...(plan && plan !== tenant.plan ? { plan } : {}),
              },
            }),
          );
          await reload();
          setSaved(true);
        }}
      >
        <Field name="name" label="Name" defaultValue={tenant.name} required maxLength={100} />
        <CheckboxField
          name="settings.requireMfa"
          label="Require two-step verification of every member"
          hint="Sessions signed in with a password only (and API keys they created) are refused in this tenant."
          defaultChecked={tenant.settings.requireMfa}
        />
        <Field
          name="settings.sessionIdleSeconds"
          label="Sign members out after this many idle seconds"
          type="number"
          min={300}
          max={1_209_600}
          hint="300 (5 minutes) to 1209600 (14 days); empty for the platform default of 14 days."
          defaultValue={tenant.settings.sessionIdleSeconds}
        />
        <Field
          name="settings.sessionAbsoluteSeconds"
          label="Sign members out after this many seconds in any case"
          type="number"
          min={900}
          max={2_592_000}
          hint="900 (15 minutes) to 2592000 (30 days); empty for the platform default of 30 days."
          defaultValue={tenant.settings.sessionAbsoluteSeconds}
        />
        {can('tenant:plan') && (
          <SelectField
            name="plan"
            label="Plan"
            options={PLANS}
            defaultValue={tenant.plan}
            hint="Audit events are kept 30 (free), 90 (team) or 365 (enterprise) days."
          />
        )}
      </Form>
    </Section>
  );
}

/**
 * The tenant's own identity provider (owners): issuer, client, the secret (write-only), allowed e-mail
 * domains and enforcement. Enforcement can be turned on only from a session signed in through it.
 */
function SsoSection() {
  const { tenant } = useTenant();
  const path = { params: { path: { tenantId: tenant.tenantId } } };
  const current = useLoad(async () => {
    try {
      return ok(await api.GET('/v1/tenants/{tenantId}/sso', path));
    } catch (error) {
      // No provider yet is an answer, not a problem.
      if (error instanceof ApiProblem && error.status === 404) return null;
      throw error;
    }
  }, [tenant.tenantId]);
  const removal = useAction();
  const [notice, setNotice] = useState<string>();
  const sso = current.data;
  return (
    <Section title="Single sign-on" id="sso">
      <p>
        Your organisation’s own OpenID provider. Register a confidential web client there with this console’s
        address as its redirect URI; people of the allowed domains can then sign in through it. With sign-in
        through it required, members’ other sessions and the API keys those created are refused here.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={current.problem ?? removal.problem} />
      {current.loading && current.data === undefined ? (
        <Loading />
      ) : (
        <>
          {sso && (
            <dl class="facts">
              <dt>Issuer</dt>
              <dd class="mono">{sso.issuer}</dd>
              <dt>Client secret</dt>
              <dd>Stored, encrypted (never shown)</dd>
              <dt>Sign-in through it</dt>
              <dd>{sso.enforced ? 'Required of every member' : 'Optional'}</dd>
              <dt>Members’ sign-in link</dt>
              <dd>
                <span class="mono">{organisationSignInLink(tenant.tenantId)}</span>{' '}
                <CopyButton value={organisationSignInLink(tenant.tenantId)} label="Copy sign-in link" />
              </dd>
            </dl>
          )}
          {sso && (
            <details>
              <summary>Link your account to it</summary>
              <p>
                Signs you in through it as well (needed before you can require it). Your address must be
                verified, and so must its address at the provider; you come back here signed in as before.
              </p>
              <LinkProviderForm
                target={{ tenantId: tenant.tenantId }}
                label="Link your account to the identity provider"
                providerName="the identity provider"
              />
            </details>
          )}
          <Form
            key={sso?.updatedAt ?? 'new'}
            label="Identity provider"
            submitLabel={sso ? 'Save identity provider' : 'Connect identity provider'}
            busyLabel="Checking the issuer…"
            onSubmit={async (values) => {
              setNotice(undefined);
              const clientSecret = raw(values, 'clientSecret');
              ok(
                await api.PUT('/v1/tenants/{tenantId}/sso', {
                  ...path,
                  body: {
                    issuer: text(values, 'issuer') ?? '',
                    clientId: text(values, 'clientId') ?? '',
                    ...(clientSecret ? { clientSecret } : {}),
                    allowedDomains: (text(values, 'allowedDomains') ?? '').split(/[\s,]+/).filter(Boolean),
                    enforced: values.get('enforced') === 'on',
                  },
                }),
              );
              await current.reload();
              setNotice('Identity provider saved.');
            }}
          >
            <Field name="issuer" label="Issuer URL" required defaultValue={sso?.issuer} />
            <Field name="clientId" label="Client id" required defaultValue={sso?.clientId} />
            <Field
              name="clientSecret"
              label="Client secret"
              type="password"
              autoComplete="off"
              required={!sso}
              hint={
                sso
                  ? 'Leave empty to keep the stored secret (required if issuer or client id change).'
                  : undefined
              }
            />
            <Field
              name="allowedDomains"
              label="Allowed e-mail domains"
              required
              hint="Comma-separated, e.g. example.com, example.org"
              defaultValue={sso?.allowedDomains.join(', ')}
            />
            <CheckboxField
              name="enforced"
              label="Require members to sign in through it"
              hint="Only from a session signed in through this provider, so that you keep a way in."
              defaultChecked={sso?.enforced}
            />
          </Form>
          {sso && (
            <button
              type="button"
              class="danger"
              disabled={removal.busy}
              onClick={() =>
                void removal.run(async () => {
                  ok(await api.DELETE('/v1/tenants/{tenantId}/sso', path));
                  await current.reload();
                  setNotice('Identity provider removed.');
                })
              }
            >
              Remove identity provider
            </button>
          )}
        </>
      )}
    </Section>
  );
}

function ExportSection() {
  const { tenant } = useTenant();
  const [archive, setArchive] = useState<Schemas['TenantExport']>();
  return (
    <Section title="Export" id="export">
      <p>An archive of the tenant's records (no secrets), encrypted under its key at rest.</p>
      {archive && (
        <Notice>
          Export ready ({archive.sizeBytes.toLocaleString()} bytes).{' '}
          <a href={archive.url} download rel="noreferrer">
            Download the export
          </a>{' '}
          (link valid until <When iso={archive.urlExpiresAt} />)
        </Notice>
      )}
      <Form
        label="Export the tenant"
        submitLabel="Export tenant data"
        busyLabel="Exporting…"
        onSubmit={async () => {
          setArchive(
            ok(
              await api.POST('/v1/tenants/{tenantId}/exports', {
                params: { path: { tenantId: tenant.tenantId } },
              }),
            ),
          );
        }}
      >
        {null}
      </Form>
    </Section>
  );
}

function DeleteSection() {
  const { tenant } = useTenant();
  const { me, refresh } = useSession();
  const factor = useSecondFactor(me.user);
  return (
    <Section title="Delete this tenant" id="delete">
      <Notice tone="warn">
        Deleting removes every member, key, credential and record of {tenant.name}; its encryption key is
        destroyed after 30 days, so backups become unreadable. This cannot be undone.
      </Notice>
      {!factor.required ? (
        <p>Deleting a tenant needs two-step verification or a passkey: add one in your account first.</p>
      ) : !factor.kind ? (
        <NoUsableFactor />
      ) : (
        <>
          <Form
            key={factor.kind}
            label="Delete this tenant"
            submitLabel="Delete tenant permanently"
            busyLabel="Deleting…"
            danger
            onSubmit={async (values) => {
              if (text(values, 'confirmName') !== tenant.name) {
                throw new ApiProblem({
                  status: 400,
                  detail: 'Type the tenant name exactly to confirm.',
                  errors: [{ path: 'body.confirmName', message: `Type ${tenant.name}` }],
                });
              }
              ok(
                await api.DELETE('/v1/tenants/{tenantId}', {
                  params: { path: { tenantId: tenant.tenantId } },
                  body: await factorBody(factor.kind, values),
                }),
              );
              await refresh();
              navigate('/');
            }}
          >
            <Field name="confirmName" label={`Type the tenant name (${tenant.name}) to confirm`} required />
            <FactorField kind={factor.kind} />
          </Form>
          <FactorSwitch {...factor} />
        </>
      )}
    </Section>
  );
}
