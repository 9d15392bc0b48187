import { api, ok } from '../api/client';
import { href, navigate } from '../app/router';
import { useSession } from '../app/session';
import { Field, Form, text } from '../components/form';
import { useLoad, useTitle } from '../components/hooks';
import { Loading, ProblemAlert, Section } from '../components/status';

/** The tenants the user belongs to, and creating one. */
export function TenantsScreen() {
  useTitle('Tenants');
  const { me, refresh } = useSession();
  // Reloaded whenever the memberships change (a tenant created, an invitation accepted).
  const ids = me.memberships.map((m) => m.tenantId).join(',');
  const tenants = useLoad(async () => ok(await api.GET('/v1/tenants')).items, [ids]);
  return (
    <>
      <h1>Tenants</h1>
      <ProblemAlert problem={tenants.problem} />
      {tenants.loading && !tenants.data ? (
        <Loading />
      ) : tenants.data?.length ? (
        <ul class="cards">
          {tenants.data.map((tenant) => (
            <li key={tenant.tenantId} class="card">
              <h2>
                <a href={href(`/t/${tenant.tenantId}`)}>{tenant.name}</a>
              </h2>
              <p>
                Your role: <strong>{tenant.role}</strong> · plan {tenant.plan}
                {tenant.settings.requireMfa && ' · two-step verification required'}
              </p>
            </li>
          ))}
        </ul>
      ) : (
        <p>You are not a member of any tenant yet. Create one, or accept an invitation.</p>
      )}
      <Section title="Create a tenant" id="create-tenant">
        <p>You become its owner; it gets its own encryption key.</p>
        <Form
          label="Create a tenant"
          submitLabel="Create tenant"
          busyLabel="Creating…"
          onSubmit={async (values) => {
            const tenant = ok(await api.POST('/v1/tenants', { body: { name: text(values, 'name') ?? '' } }));
            await refresh();
            navigate(`/t/${tenant.tenantId}`);
          }}
        >
          <Field name="name" label="Tenant name" required maxLength={100} />
        </Form>
      </Section>
    </>
  );
}
