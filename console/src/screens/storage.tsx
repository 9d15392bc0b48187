import { useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api/client';
import { useTenant } from '../app/tenant';
import { Field, Form, integer, SelectField, text } from '../components/form';
import { useAction, useLoad, useTitle } from '../components/hooks';
import { MoreButton, useTenantPages } from '../components/pager';
import { ConfirmRemoval, RemoveButton, SecretValue } from '../components/secrets';
import { DataTable, Loading, Notice, ProblemAlert, Section, When } from '../components/status';

type Location = Schemas['StorageLocation'];
type Credentials = Schemas['StorageCredentials'];
type Validation = Schemas['StorageValidation'];

/** Storage locations, instances, and vending short-lived S3 credentials. */
export function StorageScreen() {
  const { tenant, can } = useTenant();
  useTitle('Storage', tenant.name);
  const tenantId = tenant.tenantId;
  const locations = useTenantPages('/v1/tenants/{tenantId}/storage-locations', tenantId);
  const instances = useTenantPages('/v1/tenants/{tenantId}/instances', tenantId);
  return (
    <>
      <h1>Storage</h1>
      <Section title="Locations" id="locations">
        <ProblemAlert problem={locations.problem} />
        {!locations.items ? (
          <Loading />
        ) : (
          <LocationTable items={locations.items} onChanged={locations.reload} />
        )}
        <MoreButton pager={locations} label="More locations" />
      </Section>
      {can('storage-locations:manage') && <RegisterSection onRegistered={locations.reload} />}
      <VendSection locations={locations.items ?? []} />
      <Section title="Instances" id="instances">
        <ProblemAlert problem={instances.problem} />
        {!instances.items ? (
          <Loading />
        ) : instances.items.length === 0 ? (
          <p>No instances.</p>
        ) : (
          <DataTable label="Instances" columns={['Name', 'Default storage', 'Created']}>
            {instances.items.map((i) => (
              <tr key={i.instanceId}>
                <td>{i.name}</td>
                <td class="mono wrap">{i.defaultStorageRoot}</td>
                <td>
                  <When iso={i.createdAt} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
        <MoreButton pager={instances} label="More instances" />
        {can('instances:write') && (locations.items?.length ?? 0) > 0 && (
          <Form
            label="Create an instance"
            submitLabel="Create instance"
            busyLabel="Creating…"
            resetOnSuccess
            onSubmit={async (values) => {
              ok(
                await api.POST('/v1/tenants/{tenantId}/instances', {
                  params: { path: { tenantId } },
                  body: {
                    name: text(values, 'name') ?? '',
                    defaultStorageRoot: text(values, 'defaultStorageRoot') ?? '',
                  },
                }),
              );
              await instances.reload();
            }}
          >
            <Field
              name="name"
              label="Instance name"
              hint="Lower-case letters, digits and inner hyphens."
              required
            />
            <SelectField
              name="defaultStorageRoot"
              label="Default storage"
              options={(locations.items ?? []).map((l) => ({ value: l.locationId, label: l.root }))}
            />
          </Form>
        )}
      </Section>
    </>
  );
}

function LocationTable({ items, onChanged }: { items: Location[]; onChanged: () => Promise<void> }) {
  const { tenant, can } = useTenant();
  const action = useAction();
  const [removing, setRemoving] = useState<Location>();
  const [notice, setNotice] = useState<string>();
  const [validation, setValidation] = useState<{ root: string; result: Validation }>();
  if (items.length === 0) return <p>No storage locations yet.</p>;
  const validate = (location: Location) =>
    void action.run(async () => {
      setValidation(undefined);
      const result = ok(
        await api.POST('/v1/tenants/{tenantId}/storage-locations/{locationId}/validate', {
          params: { path: { tenantId: tenant.tenantId, locationId: location.locationId } },
        }),
      );
      setValidation({ root: location.root, result });
    });
  return (
    <>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={action.problem} />
      <DataTable label="Storage locations" columns={['Root', 'Kind', 'Region', 'Created']} actions>
        {items.map((l) => (
          <tr key={l.locationId}>
            <td class="mono wrap">{l.root}</td>
            <td>
              {l.kind}
              {l.roleArn && <div class="mono wrap">{l.roleArn}</div>}
            </td>
            <td>{l.region}</td>
            <td>
              <When iso={l.createdAt} />
            </td>
            <td>
              {can('storage-locations:manage') && (
                <button
                  type="button"
                  aria-label={`Validate the location ${l.root}`}
                  disabled={action.busy}
                  onClick={() => validate(l)}
                >
                  Validate
                </button>
              )}
              {can('storage-locations:manage') && (
                <RemoveButton
                  label={`Remove the location ${l.root}`}
                  busy={action.busy}
                  onClick={() => setRemoving(l)}
                />
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      {validation && <ValidationResult {...validation} />}
      <ConfirmRemoval
        item={removing}
        title="Remove storage location"
        confirmLabel="Remove location"
        onClose={() => setRemoving(undefined)}
        onConfirm={(location) => {
          void action.run(async () => {
            const result = ok(
              await api.DELETE('/v1/tenants/{tenantId}/storage-locations/{locationId}', {
                params: { path: { tenantId: tenant.tenantId, locationId: location.locationId } },
              }),
            );
            setNotice(`Removed. ${result.credentials.map((c) => c.detail).join(' ')}`);
            await onChanged();
          });
        }}
      >
        <p>
          Remove {removing?.root}? Its data stays where it is; credentials vended for it stop as far as its
          kind allows (managed: at once; external: when they expire).
        </p>
      </ConfirmRemoval>
    </>
  );
}

/** The trust policy the customer's role needs so Strongroom can assume it with the tenant's ExternalId. */
const VALIDATION_SUMMARY: Record<Validation['result'], string> = {
  passed: 'every check passed',
  failed: 'a check failed: the credentials reach further, or less far, than the location',
  incomplete: 'no check failed, but some could not be judged here',
};

/** A location's scope self-test: each named check and its outcome. */
function ValidationResult({ root, result }: { root: string; result: Validation }) {
  return (
    <>
      <Notice tone={result.result === 'passed' ? 'ok' : result.result === 'failed' ? 'warn' : 'info'}>
        Validated {root}: {VALIDATION_SUMMARY[result.result]}.
      </Notice>
      <DataTable label={`Checks of ${root}`} columns={['Check', 'Status', 'Detail']}>
        {result.checks.map((check) => (
          <tr key={check.name}>
            <td class="mono">{check.name}</td>
            <td>{check.status}</td>
            <td>{check.detail}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

function trustPolicy(externalId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: '<the Strongroom storage function role ARN, from your operator>' },
          Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
          Condition: { StringEquals: { 'sts:ExternalId': externalId } },
        },
      ],
    },
    null,
    2,
  );
}

function RegisterSection({ onRegistered }: { onRegistered: () => Promise<void> }) {
  const { tenant } = useTenant();
  const tenantId = tenant.tenantId;
  const [kind, setKind] = useState<'managed' | 'external'>('managed');
  const [done, setDone] = useState<string>();
  const externalId = useLoad(
    async () =>
      kind === 'external'
        ? ok(
            await api.GET('/v1/tenants/{tenantId}/storage-locations/external-id', {
              params: { path: { tenantId } },
            }),
          ).externalId
        : undefined,
    [tenantId, kind],
  );
  return (
    <Section title="Register a location" id="register">
      {done && <Notice>{done}</Notice>}
      <fieldset class="field">
        <legend>Kind of location</legend>
        <label class="checkbox-option">
          <input type="radio" name="kind" checked={kind === 'managed'} onChange={() => setKind('managed')} />
          Managed: a prefix in the platform's bucket, encrypted with the platform's storage key
        </label>
        <label class="checkbox-option">
          <input
            type="radio"
            name="kind"
            checked={kind === 'external'}
            onChange={() => setKind('external')}
          />
          External: your own bucket, reached through your IAM role
        </label>
      </fieldset>
      {kind === 'managed' ? (
        <Form
          label="Register a managed location"
          submitLabel="Register managed location"
          busyLabel="Registering…"
          onSubmit={async () => {
            const location = ok(
              await api.POST('/v1/tenants/{tenantId}/storage-locations', {
                params: { path: { tenantId } },
                body: { managed: true },
              }),
            );
            setDone(`Registered ${location.root}.`);
            await onRegistered();
          }}
        >
          {null}
        </Form>
      ) : (
        <>
          <ProblemAlert problem={externalId.problem} />
          {externalId.loading && !externalId.data ? (
            <Loading label="Loading the tenant's ExternalId…" />
          ) : externalId.data ? (
            <>
              <p>
                First let Strongroom assume your role: require this ExternalId in the role's trust policy.
                Strongroom then lists the root with your role before accepting it.
              </p>
              <SecretValue label="ExternalId" value={externalId.data} />
              <SecretValue label="Trust policy" value={trustPolicy(externalId.data)} multiline />
            </>
          ) : null}
          <Form
            label="Register an external location"
            submitLabel="Register external location"
            busyLabel="Verifying and registering…"
            onSubmit={async (values) => {
              const region = text(values, 'region');
              const location = ok(
                await api.POST('/v1/tenants/{tenantId}/storage-locations', {
                  params: { path: { tenantId } },
                  body: {
                    root: text(values, 'root') ?? '',
                    roleArn: text(values, 'roleArn') ?? '',
                    ...(region ? { region } : {}),
                  },
                }),
              );
              setDone(`Registered ${location.root}.`);
              await onRegistered();
            }}
          >
            <Field name="root" label="Root (s3://bucket/prefix)" required />
            <Field name="roleArn" label="Your IAM role ARN" required />
            <Field name="region" label="Region (optional)" hint="The bucket's region, e.g. eu-west-1." />
          </Form>
        </>
      )}
    </Section>
  );
}

function VendSection({ locations }: { locations: Location[] }) {
  const { tenant, can } = useTenant();
  const tenantId = tenant.tenantId;
  const [credentials, setCredentials] = useState<Credentials>();
  if (locations.length === 0) return null;
  const accessOptions = can('storage:write-credentials') ? ['read', 'write'] : ['read'];
  return (
    <Section title="Vend credentials" id="vend">
      <p>
        Short-lived S3 credentials for one location, scoped to its prefix. They are shown once and never
        stored.
      </p>
      <Form
        label="Vend storage credentials"
        submitLabel="Vend credentials"
        busyLabel="Vending…"
        onSubmit={async (values) => {
          setCredentials(undefined);
          const durationSeconds = integer(values, 'durationSeconds');
          setCredentials(
            ok(
              await api.POST('/v1/tenants/{tenantId}/storage-credentials', {
                params: { path: { tenantId } },
                body: {
                  location: text(values, 'location') ?? '',
                  access: (text(values, 'access') ?? 'read') as 'read' | 'write',
                  ...(durationSeconds === undefined ? {} : { durationSeconds }),
                },
              }),
            ),
          );
        }}
      >
        <SelectField
          name="location"
          label="Location"
          options={locations.map((l) => ({ value: l.locationId, label: l.root }))}
        />
        <SelectField name="access" label="Access" options={accessOptions} />
        <Field
          name="durationSeconds"
          label="Valid for (seconds)"
          type="number"
          min={900}
          max={3600}
          defaultValue={900}
          hint="900 to 3600 (external locations: at most 900)."
        />
      </Form>
      {credentials && <VendedCredentials credentials={credentials} tenantId={tenantId} />}
    </Section>
  );
}

function VendedCredentials({ credentials: c, tenantId }: { credentials: Credentials; tenantId: string }) {
  const endpoint = window.location.origin;
  const exports = [
    `export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
    `export AWS_SESSION_TOKEN=${c.sessionToken}`,
    `export AWS_REGION=${c.region}`,
  ].join('\n');
  const profile = [
    '# ~/.aws/config: fresh credentials on every use (STRONGROOM_TOKEN: an API key of this tenant)',
    `[profile strongroom-${c.access}]`,
    `region = ${c.region}`,
    `credential_process = npx strongroom credentials --tenant ${tenantId} --location ${c.root} --access ${c.access}`,
    '',
    `# with STRONGROOM_ENDPOINT=${endpoint}`,
  ].join('\n');
  return (
    <section class="card" aria-label="Vended credentials">
      <Notice tone="warn">
        {c.access === 'write' ? 'Read and write' : 'Read'} access to {c.root} until{' '}
        <When iso={c.expiration} />. Copy them now: they are not shown again.
      </Notice>
      <SecretValue label="Access key id" value={c.accessKeyId} />
      <SecretValue label="Secret access key" value={c.secretAccessKey} />
      <SecretValue label="Session token" value={c.sessionToken} multiline />
      <SecretValue label="Environment exports" value={exports} multiline />
      <SecretValue label="credential_process profile" value={profile} multiline />
    </section>
  );
}
