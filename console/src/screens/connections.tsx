import { useState } from 'preact/hooks';
import { ApiProblem, api, ok, type Schemas } from '../api/client';
import type { operations } from '../api/schema';
import { useTenant } from '../app/tenant';
import {
  CheckboxField,
  Field,
  Form,
  integer,
  raw,
  SelectField,
  TextAreaField,
  text,
} from '../components/form';
import { useAction, useTitle } from '../components/hooks';
import { MoreButton, useTenantPages } from '../components/pager';
import { ConfirmDialog, SecretValue } from '../components/secrets';
import { DataTable, Loading, Notice, ProblemAlert, Section, TableRegion, When } from '../components/status';

type Connection = Schemas['Connection'];
type ConnectionTest = Schemas['ConnectionTest'];
type CreateBody = operations['createConnection']['requestBody']['content']['application/json'];
type Rules = NonNullable<Connection['rules']>;
const TLS_MODES = ['require', 'verify-full', 'disable'] as const;

/** Data-source connections: list (password masked), create, edit, rules, owner-only reveal, query runner. */
export function ConnectionsScreen() {
  const { tenant, can } = useTenant();
  useTitle('Connections', tenant.name);
  const tenantId = tenant.tenantId;
  const connections = useTenantPages('/v1/tenants/{tenantId}/connections', tenantId);
  const [selected, setSelected] = useState<string>();
  const current = connections.items?.find((c) => c.connectionId === selected);
  return (
    <>
      <h1>Connections</h1>
      <p>
        PostgreSQL databases this tenant queries through Strongroom. Passwords are stored encrypted under the
        tenant's key and never shown in lists.
      </p>
      <ProblemAlert problem={connections.problem} />
      {!connections.items ? (
        <Loading />
      ) : connections.items.length === 0 ? (
        <p>No connections yet.</p>
      ) : (
        <DataTable label="Connections" columns={['Name', 'Database', 'User', 'Password', 'TLS']} actions>
          {connections.items.map((c) => (
            <tr key={c.connectionId}>
              <td>{c.name}</td>
              <td class="mono wrap">
                {c.host}:{c.port}/{c.database}
              </td>
              <td class="mono">{c.user}</td>
              <td class="mono">{c.password}</td>
              <td>{c.tlsMode}</td>
              <td>
                <button
                  type="button"
                  aria-pressed={selected === c.connectionId}
                  onClick={() => setSelected(selected === c.connectionId ? undefined : c.connectionId)}
                >
                  {selected === c.connectionId ? `Close ${c.name}` : `Open ${c.name}`}
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <MoreButton pager={connections} label="More connections" />
      {current && (
        <ConnectionDetail
          key={current.connectionId}
          connection={current}
          onChanged={connections.reload}
          onDeleted={async () => {
            setSelected(undefined);
            await connections.reload();
          }}
        />
      )}
      {can('connections:manage') && (
        <Section title="Add a connection" id="add-connection">
          <ConnectionForm
            submitLabel="Add connection"
            onSubmit={async (body) => {
              const created = ok(
                await api.POST('/v1/tenants/{tenantId}/connections', {
                  params: { path: { tenantId } },
                  body: body as CreateBody,
                }),
              );
              await connections.reload();
              setSelected(created.connectionId);
            }}
          />
        </Section>
      )}
    </>
  );
}

/** The body of a create or edit: every field typed (edits send only what changed, the password if typed). */
function ConnectionForm(props: {
  connection?: Connection;
  submitLabel: string;
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
}) {
  const c = props.connection;
  return (
    <Form
      label={props.submitLabel}
      submitLabel={props.submitLabel}
      busyLabel="Saving…"
      resetOnSuccess={!c}
      onSubmit={async (values) => {
        const body: Record<string, unknown> = {
          name: text(values, 'name') ?? '',
          host: text(values, 'host') ?? '',
          port: integer(values, 'port') ?? 5432,
          database: text(values, 'database') ?? '',
          user: text(values, 'user') ?? '',
          tlsMode: text(values, 'tlsMode') ?? 'require',
        };
        const schema = text(values, 'schema');
        if (schema) body.schema = schema;
        else if (c?.schema) body.schema = null;
        const password = raw(values, 'password');
        if (password !== '' || !c) body.password = password;
        if (c)
          for (const key of Object.keys(body))
            if (body[key] === (c as Record<string, unknown>)[key]) delete body[key];
        if (c && Object.keys(body).length === 0)
          throw new ApiProblem({ status: 400, detail: 'Nothing changed.' });
        await props.onSubmit(body);
      }}
    >
      <Field name="name" label="Name" defaultValue={c?.name} required maxLength={100} />
      <Field name="host" label="Host" defaultValue={c?.host} required hint="Host name or IP address." />
      <Field name="port" label="Port" type="number" min={1} max={65535} defaultValue={c?.port ?? 5432} />
      <Field name="database" label="Database" defaultValue={c?.database} required />
      <Field name="user" label="User" defaultValue={c?.user} required />
      <Field name="schema" label="Schema" defaultValue={c?.schema ?? ''} hint="Empty: public." />
      <SelectField name="tlsMode" label="TLS" options={TLS_MODES} defaultValue={c?.tlsMode ?? 'require'} />
      <Field
        name="password"
        label={c ? 'New password (leave empty to keep the stored one)' : 'Password'}
        type="password"
        autoComplete="new-password"
        required={!c}
        hint={c ? 'Moving the connection (host, port, TLS) needs the password again.' : undefined}
      />
    </Form>
  );
}

function ConnectionDetail(props: {
  connection: Connection;
  onChanged: () => Promise<void>;
  onDeleted: () => Promise<void>;
}) {
  const { tenant, can } = useTenant();
  const c = props.connection;
  const path = { params: { path: { tenantId: tenant.tenantId, connectionId: c.connectionId } } };
  const [saved, setSaved] = useState<string>();
  const [revealing, setRevealing] = useState(false);
  const [revealed, setRevealed] = useState<string>();
  const [deleting, setDeleting] = useState(false);
  const action = useAction();
  return (
    <section class="card" aria-labelledby="connection-title">
      <h2 id="connection-title">{c.name}</h2>
      <dl class="facts">
        <dt>Address</dt>
        <dd class="mono">
          {c.host}:{c.port}/{c.database}
          {c.schema ? ` (schema ${c.schema})` : ''}
        </dd>
        <dt>User</dt>
        <dd class="mono">{c.user}</dd>
        <dt>Password</dt>
        <dd>
          <span class="mono">{c.password}</span> (changed <When iso={c.passwordUpdatedAt} />)
        </dd>
        <dt>Rules</dt>
        <dd>{describeRules(c.rules)}</dd>
      </dl>
      {saved && <Notice>{saved}</Notice>}
      <ProblemAlert problem={action.problem} />
      {can('connections:reveal') && (
        <div class="row start">
          {revealed === undefined ? (
            <button type="button" onClick={() => setRevealing(true)}>
              Reveal password
            </button>
          ) : (
            <>
              <SecretValue label="Connection password" value={revealed} />
              <button type="button" onClick={() => setRevealed(undefined)}>
                Hide password
              </button>
            </>
          )}
        </div>
      )}
      <QueryRunner connection={c} />
      {can('connections:manage') && (
        <>
          <ConnectionTester connection={c} />
          <details>
            <summary>Edit {c.name}</summary>
            <ConnectionForm
              connection={c}
              submitLabel="Save connection"
              onSubmit={async (body) => {
                ok(await api.PATCH('/v1/tenants/{tenantId}/connections/{connectionId}', { ...path, body }));
                setSaved('Connection saved.');
                await props.onChanged();
              }}
            />
          </details>
          <details>
            <summary>Query rules of {c.name}</summary>
            <RulesForm
              rules={c.rules}
              onSubmit={async (rules) => {
                ok(
                  await api.PATCH('/v1/tenants/{tenantId}/connections/{connectionId}', {
                    ...path,
                    body: { rules },
                  }),
                );
                setSaved('Rules saved.');
                await props.onChanged();
              }}
            />
          </details>
          <p>
            <button type="button" class="danger" disabled={action.busy} onClick={() => setDeleting(true)}>
              Delete connection
            </button>
          </p>
        </>
      )}
      <ConfirmDialog
        open={revealing}
        title="Reveal the password"
        confirmLabel="Reveal"
        onCancel={() => setRevealing(false)}
        onConfirm={() => {
          setRevealing(false);
          void action.run(async () => {
            setRevealed(
              ok(await api.POST('/v1/tenants/{tenantId}/connections/{connectionId}/reveal', path)).password,
            );
          });
        }}
      >
        <p>
          The password of {c.name} will be shown on this screen. Revealing it is recorded in the audit log.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={deleting}
        title="Delete connection"
        confirmLabel="Delete connection"
        typed={c.name}
        danger
        onCancel={() => setDeleting(false)}
        onConfirm={() => {
          setDeleting(false);
          void action.run(async () => {
            ok(await api.DELETE('/v1/tenants/{tenantId}/connections/{connectionId}', path));
            await props.onDeleted();
          });
        }}
      >
        <p>The connection and its encrypted password are deleted. Queries through it stop.</p>
      </ConfirmDialog>
    </section>
  );
}

const TLS: Record<ConnectionTest['tls'], string> = {
  verified: 'TLS, certificate verified',
  'encrypted-unverified': 'TLS, certificate not verified',
  none: 'no TLS',
};

/** Tries the connection without running a statement (audited), and says what happened. */
function ConnectionTester({ connection: c }: { connection: Connection }) {
  const { tenant } = useTenant();
  const action = useAction();
  const [result, setResult] = useState<ConnectionTest>();
  return (
    <div>
      <p class="row start">
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              setResult(undefined);
              setResult(
                ok(
                  await api.POST('/v1/tenants/{tenantId}/connections/{connectionId}/test', {
                    params: { path: { tenantId: tenant.tenantId, connectionId: c.connectionId } },
                  }),
                ),
              );
            })
          }
        >
          {action.busy ? 'Testing…' : 'Test connection'}
        </button>
      </p>
      <ProblemAlert problem={action.problem} />
      {result &&
        (result.outcome === 'connected' ? (
          <Notice>
            Connected to {c.name} in {result.latencyMs} ms ({TLS[result.tls]}).
          </Notice>
        ) : (
          <Notice tone="warn">
            Could not connect to {c.name} ({result.failure ?? 'failed'}): {result.detail}
          </Notice>
        ))}
    </div>
  );
}

function describeRules(rules: Rules | null): string {
  if (!rules) return 'None: every table of the schema, reads and writes by role.';
  const parts: string[] = [];
  if (rules.readOnly) parts.push('read-only');
  if (rules.allowedTables) parts.push(`only ${rules.allowedTables.join(', ')}`);
  if (rules.deniedTables?.length) parts.push(`never ${rules.deniedTables.join(', ')}`);
  for (const h of rules.hiddenColumns ?? []) parts.push(`${h.table}: ${h.columns.join(', ')} hidden`);
  return parts.length ? parts.join('; ') : 'None.';
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function RulesForm({
  rules,
  onSubmit,
}: {
  rules: Rules | null;
  onSubmit: (rules: Rules | null) => Promise<void>;
}) {
  return (
    <Form
      label="Query rules"
      submitLabel="Save rules"
      busyLabel="Saving…"
      onSubmit={async (values) => {
        const next: Rules = {};
        if (values.get('rules.readOnly') === 'on') next.readOnly = true;
        const allowed = list(text(values, 'rules.allowedTables'));
        if (allowed.length) next.allowedTables = allowed;
        const denied = list(text(values, 'rules.deniedTables'));
        if (denied.length) next.deniedTables = denied;
        const hidden = (text(values, 'rules.hiddenColumns') ?? '')
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean)
          .map((line) => {
            const [table, columns] = line.split(':');
            return { table: (table ?? '').trim(), columns: list(columns) };
          });
        if (hidden.length) next.hiddenColumns = hidden;
        await onSubmit(Object.keys(next).length ? next : null);
      }}
    >
      <CheckboxField
        name="rules.readOnly"
        label="Read-only (no insert, update or delete)"
        defaultChecked={rules?.readOnly}
      />
      <Field
        name="rules.allowedTables"
        label="Only these tables"
        defaultValue={rules?.allowedTables?.join(', ') ?? ''}
        hint="Comma-separated; empty: every table."
      />
      <Field
        name="rules.deniedTables"
        label="Never these tables"
        defaultValue={rules?.deniedTables?.join(', ') ?? ''}
        hint="Comma-separated."
      />
      <TextAreaField
        name="rules.hiddenColumns"
        label="Hidden columns"
        monospace
        defaultValue={(rules?.hiddenColumns ?? [])
          .map((h) => `${h.table}: ${h.columns.join(', ')}`)
          .join('\n')}
        hint="One line per table: table: column, column. Hidden from everyone without connections:manage."
      />
    </Form>
  );
}

const OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'like'] as const;

/** A select built from a table, columns, one filter and one order (the API validates and binds every value). */
function QueryRunner({ connection }: { connection: Connection }) {
  const { tenant } = useTenant();
  const [result, setResult] = useState<Schemas['QueryResult']>();
  return (
    <details>
      <summary>Query {connection.name}</summary>
      <Form
        label="Run a query"
        submitLabel="Run query"
        busyLabel="Running…"
        onSubmit={async (values) => {
          setResult(undefined);
          const columns = list(text(values, 'columns'));
          const column = text(values, 'where.column');
          const value = text(values, 'where.value');
          const op = (text(values, 'where.op') ?? 'eq') as (typeof OPS)[number];
          const orderBy = text(values, 'orderBy.column');
          const limit = integer(values, 'limit');
          const where =
            column === undefined
              ? undefined
              : op === 'like'
                ? { op, column, value: value ?? '' }
                : {
                    op,
                    column,
                    value:
                      value !== undefined && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : (value ?? ''),
                  };
          const body = {
            operation: 'select' as const,
            table: text(values, 'table') ?? '',
            ...(columns.length ? { columns } : {}),
            ...(where ? { where } : {}),
            ...(orderBy
              ? {
                  orderBy: [
                    {
                      column: orderBy,
                      direction: (text(values, 'orderBy.direction') ?? 'asc') as 'asc' | 'desc',
                    },
                  ],
                }
              : {}),
            ...(limit === undefined ? {} : { limit }),
          };
          setResult(
            ok(
              await api.POST('/v1/tenants/{tenantId}/connections/{connectionId}/query', {
                params: { path: { tenantId: tenant.tenantId, connectionId: connection.connectionId } },
                // biome-ignore lint/suspicious/noExplicitAny: the where union is checked by the API with paths
                body: body as any,
              }),
            ),
          );
        }}
      >
        <Field name="table" label="Table" required />
        <Field name="columns" label="Columns" hint="Comma-separated; empty: every column you may see." />
        <div class="row start">
          <Field name="where.column" label="Filter column" />
          <SelectField name="where.op" label="Comparison" options={OPS} />
          <Field name="where.value" label="Value" />
        </div>
        <div class="row start">
          <Field name="orderBy.column" label="Order by" />
          <SelectField name="orderBy.direction" label="Direction" options={['asc', 'desc']} />
          <Field name="limit" label="Rows" type="number" min={1} max={1000} defaultValue={100} />
        </div>
      </Form>
      {result && <ResultTable result={result} />}
    </details>
  );
}

function ResultTable({ result }: { result: Schemas['QueryResult'] }) {
  if (result.rows.length === 0) return <p role="status">No rows.</p>;
  return (
    <TableRegion label="Query result">
      <table>
        <caption>
          {result.rows.length} {result.rows.length === 1 ? 'row' : 'rows'}
          {result.nextCursor ? ' (more available)' : ''}
        </caption>
        <thead>
          <tr>
            {result.columns.map((name) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {result.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>
                  {cell === null ? (
                    <em>null</em>
                  ) : typeof cell === 'object' ? (
                    JSON.stringify(cell)
                  ) : (
                    String(cell)
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}
