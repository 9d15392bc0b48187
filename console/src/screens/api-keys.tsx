import { useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api/client';
import { PERMISSIONS, type Permission, permissionsOf } from '../app/permissions';
import { useSession } from '../app/session';
import { useTenant } from '../app/tenant';
import { CheckboxGroup, Field, Form, integer, text } from '../components/form';
import { useAction, useTitle } from '../components/hooks';
import { MoreButton, useTenantPages } from '../components/pager';
import { ConfirmRemoval, RemoveButton, SecretValue } from '../components/secrets';
import { DataTable, Loading, Notice, ProblemAlert, Section, When } from '../components/status';

/** API keys of a tenant: create (scopes the creator holds), shown once, list, revoke. */
export function ApiKeysScreen() {
  const { tenant, role, can } = useTenant();
  const { me } = useSession();
  useTitle('API keys', tenant.name);
  const tenantId = tenant.tenantId;
  const keys = useTenantPages('/v1/tenants/{tenantId}/api-keys', tenantId);
  const [created, setCreated] = useState<Schemas['ApiKey'] & { key: string }>();
  const [revoking, setRevoking] = useState<Schemas['ApiKey']>();
  const [notice, setNotice] = useState<string>();
  const action = useAction();
  // A key's scopes must be a subset of its creator's permissions: offer only those.
  const own = permissionsOf(role);
  const scopes = PERMISSIONS.filter((p) => own.has(p));
  return (
    <>
      <h1>API keys</h1>
      <p>
        {can('api-keys:manage') ? 'Every key of this tenant.' : 'Your keys.'} A key acts only in this tenant,
        with its scopes intersected with its creator's current role.
      </p>
      {created && (
        <Section title="New API key" id="new-key">
          <Notice tone="warn">Copy the key now: it is shown only once and cannot be read back.</Notice>
          <SecretValue label="API key" value={created.key} />
          <p>
            Use it as <code>Authorization: Bearer …</code> on this tenant's routes. Expires{' '}
            <When iso={created.expiresAt} />.
          </p>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done, I have copied it
          </button>
        </Section>
      )}
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={action.problem ?? keys.problem} />
      {!keys.items ? (
        <Loading />
      ) : keys.items.length === 0 ? (
        <p>No API keys.</p>
      ) : (
        <DataTable
          label={`API keys of ${tenant.name}`}
          columns={['Name', 'Scopes', 'Created', 'Expires', 'Last used']}
          actions
        >
          {keys.items.map((key) => (
            <tr key={key.keyId}>
              <td>
                {key.name}
                {key.createdBy === me.user.userId && <span class="badge">yours</span>}
              </td>
              <td class="wrap">{key.scopes.join(', ')}</td>
              <td>
                <When iso={key.createdAt} />
              </td>
              <td>
                <When iso={key.expiresAt} />
              </td>
              <td>{key.lastUsedAt ? <When iso={key.lastUsedAt} /> : 'never'}</td>
              <td>
                {(key.createdBy === me.user.userId || can('api-keys:manage')) && (
                  <RemoveButton
                    label={`Revoke the key ${key.name}`}
                    busy={action.busy}
                    onClick={() => setRevoking(key)}
                  >
                    Revoke
                  </RemoveButton>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <MoreButton pager={keys} label="More keys" />
      <Section title="Create an API key" id="create-key">
        <Form
          label="Create an API key"
          submitLabel="Create key"
          busyLabel="Creating…"
          resetOnSuccess
          onSubmit={async (values) => {
            const expiresInDays = integer(values, 'expiresInDays');
            const key = ok(
              await api.POST('/v1/tenants/{tenantId}/api-keys', {
                params: { path: { tenantId } },
                body: {
                  name: text(values, 'name') ?? '',
                  scopes: values.getAll('scopes') as Permission[],
                  ...(expiresInDays === undefined ? {} : { expiresInDays }),
                },
              }),
            );
            setCreated(key);
            setNotice(undefined);
            await keys.reload();
          }}
        >
          <Field
            name="name"
            label="Name"
            required
            maxLength={100}
            hint="What uses it, e.g. “nightly export job”."
          />
          <CheckboxGroup
            name="scopes"
            label="Scopes"
            options={scopes}
            defaultChecked={['tenant:read']}
            hint="Only permissions your role holds can be given."
          />
          <Field
            name="expiresInDays"
            label="Expires in (days)"
            type="number"
            min={1}
            max={365}
            defaultValue={90}
            hint="1 to 365."
          />
        </Form>
      </Section>
      <ConfirmRemoval
        item={revoking}
        title="Revoke API key"
        confirmLabel="Revoke key"
        onClose={() => setRevoking(undefined)}
        onConfirm={(key) => {
          void action.run(async () => {
            ok(
              await api.DELETE('/v1/tenants/{tenantId}/api-keys/{keyId}', {
                params: { path: { tenantId, keyId: key.keyId } },
              }),
            );
            setNotice(`Key ${key.name} revoked.`);
            await keys.reload();
          });
        }}
      >
        <p>Programs using {revoking?.name} stop working at once.</p>
      </ConfirmRemoval>
    </>
  );
}
