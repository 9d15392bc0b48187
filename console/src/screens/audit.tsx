import { useEffect, useState } from 'preact/hooks';
import { AUDIT_ACTIONS } from '../../../shared/domain/audit-events.js';
import { ApiProblem, api, ok, type Schemas } from '../api/client';
import { useTenant } from '../app/tenant';
import { Field, Form, SelectField, text } from '../components/form';
import { useAction, useTitle } from '../components/hooks';
import { DownloadButton } from '../components/secrets';
import { DataTable, Loading, Notice, ProblemAlert, Section, When } from '../components/status';

type Filter = { since?: string; until?: string; action?: (typeof AUDIT_ACTIONS)[number]; actor?: string };
type Verification = Schemas['AuditVerification'];

/** A `datetime-local` value (the viewer's local time) as an ISO instant, or undefined when empty. */
function instant(value: string | undefined, field: string): string | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new ApiProblem({
      status: 400,
      detail: 'Not a date and time.',
      errors: [{ path: field, message: 'Not a date and time' }],
    });
  return time.toISOString();
}

/** The audit log: filter, paginate, verify the hash chain, export CSV. */
export function AuditScreen() {
  const { tenant, can } = useTenant();
  useTitle('Audit log', tenant.name);
  const tenantId = tenant.tenantId;
  const [filter, setFilter] = useState<Filter>({});
  const [page, setPage] = useState<Schemas['AuditEventPage']>();
  const [cursors, setCursors] = useState<string[]>([]);
  const list = useAction();

  const load = async (next: Filter, cursor: string | undefined) => {
    const answer = ok(
      await api.GET('/v1/tenants/{tenantId}/audit-events', {
        params: { path: { tenantId }, query: { ...next, ...(cursor ? { cursor } : {}), limit: 25 } },
      }),
    );
    setPage(answer);
    setFilter(next);
  };
  useEffect(() => {
    void list.run(() => load({}, undefined));
  }, [tenantId]);

  return (
    <>
      <h1>Audit log</h1>
      <Section title="Filter" id="filter">
        <Form
          label="Filter audit events"
          submitLabel="Apply filter"
          busyLabel="Loading…"
          onSubmit={async (values) => {
            const next: Filter = {};
            const since = instant(text(values, 'since'), 'since');
            const until = instant(text(values, 'until'), 'until');
            if (since) next.since = since;
            if (until) next.until = until;
            const action = text(values, 'action');
            if (action) next.action = action as Filter['action'];
            const actor = text(values, 'actor');
            if (actor) next.actor = actor;
            setCursors([]);
            await load(next, undefined);
          }}
        >
          <div class="row start">
            <Field name="since" label="From" type="datetime-local" />
            <Field name="until" label="Until" type="datetime-local" />
          </div>
          <SelectField
            name="action"
            label="Action"
            options={[
              { value: '', label: 'Any action' },
              ...AUDIT_ACTIONS.map((a) => ({ value: a, label: a })),
            ]}
          />
          <Field name="actor" label="Actor" hint="A user id (u_…) or API key id (k_…)." />
        </Form>
      </Section>
      <ProblemAlert problem={list.problem} />
      {!page ? (
        <Loading />
      ) : (
        <>
          {page.pending > 0 && (
            <Notice tone="info">
              {page.pending} recent {page.pending === 1 ? 'event is' : 'events are'} not yet in the hash
              chain.
            </Notice>
          )}
          <EventTable events={page.items} />
          <div class="row start">
            <button
              type="button"
              disabled={list.busy || cursors.length === 0}
              onClick={() =>
                void list.run(async () => {
                  const previous = cursors.slice(0, -1);
                  await load(filter, previous[previous.length - 1]);
                  setCursors(previous);
                })
              }
            >
              Newer events
            </button>
            <button
              type="button"
              disabled={list.busy || !page.nextCursor}
              onClick={() =>
                void list.run(async () => {
                  const cursor = page.nextCursor!;
                  await load(filter, cursor);
                  setCursors([...cursors, cursor]);
                })
              }
            >
              Older events
            </button>
            {list.busy && <Loading />}
          </div>
        </>
      )}
      <VerifySection />
      {can('audit:export') && <ExportSection filter={filter} />}
    </>
  );
}

function EventTable({ events }: { events: Schemas['AuditEvent'][] }) {
  if (events.length === 0) return <p>No events match.</p>;
  return (
    <DataTable label="Audit events" columns={['Time', 'Action', 'Actor', 'Resource', 'Chain']}>
      {events.map((e) => (
        <tr key={e.id}>
          <td>
            <When iso={e.time} />
          </td>
          <td class="mono">{e.action}</td>
          <td class="mono wrap">
            {e.actor.userId ?? e.actor.apiKeyId ?? '—'}
            <div>{e.actor.ip}</div>
          </td>
          <td class="mono wrap">
            {e.resource.type} {e.resource.id}
          </td>
          <td>{e.sequence === null ? 'pending' : `#${e.sequence}`}</td>
        </tr>
      ))}
    </DataTable>
  );
}

function VerifySection() {
  const { tenant } = useTenant();
  const [report, setReport] = useState<Verification>();
  const action = useAction();
  return (
    <Section title="Chain verification" id="verify">
      <p>Checks every chained event against the tenant's authenticated chain heads and daily checkpoints.</p>
      <ProblemAlert problem={action.problem} />
      {report && (
        <p role="status">
          {report.ok ? (
            <span class="badge ok">Intact</span>
          ) : (
            <span class="badge bad">
              Broken at #{report.firstBrokenSequence} ({report.reason})
            </span>
          )}{' '}
          {report.checked} records checked up to #{report.head.sequence}
          {report.pending > 0 ? `; ${report.pending} pending` : ''}.
        </p>
      )}
      <button
        type="button"
        disabled={action.busy}
        aria-busy={action.busy}
        onClick={() =>
          void action.run(async () => {
            setReport(undefined);
            let cursor: string | undefined;
            let checked = 0;
            // Each answer walks a page: follow the cursor to the head (or the first break).
            for (;;) {
              const answer = ok(
                await api.GET('/v1/tenants/{tenantId}/audit-events/verify', {
                  params: { path: { tenantId: tenant.tenantId }, query: cursor ? { cursor } : {} },
                }),
              );
              checked += answer.checked;
              if (answer.complete || !answer.ok || !answer.nextCursor) {
                setReport({ ...answer, checked });
                return;
              }
              cursor = answer.nextCursor;
            }
          })
        }
      >
        {action.busy ? 'Verifying…' : 'Verify the chain'}
      </button>
    </Section>
  );
}

function ExportSection({ filter }: { filter: Filter }) {
  const { tenant } = useTenant();
  const [csv, setCsv] = useState<{ text: string; rows: number; more: boolean }>();
  const action = useAction();
  return (
    <Section title="Export" id="export-csv">
      <p>
        The events of the filter's time range as CSV (oldest first; the last 90 days when no range is set).
      </p>
      <ProblemAlert problem={action.problem} />
      <div class="row start">
        <button
          type="button"
          disabled={action.busy}
          aria-busy={action.busy}
          onClick={() =>
            void action.run(async () => {
              setCsv(undefined);
              const { data, response } = await api.GET('/v1/tenants/{tenantId}/audit-events/export', {
                params: {
                  path: { tenantId: tenant.tenantId },
                  query: {
                    ...(filter.since ? { since: filter.since } : {}),
                    ...(filter.until ? { until: filter.until } : {}),
                  },
                },
                parseAs: 'text',
              });
              const body = data ?? '';
              setCsv({
                text: body,
                rows: Math.max(0, body.split('\r\n').filter(Boolean).length - 1),
                more: response.headers.has('x-next-cursor'),
              });
            })
          }
        >
          {action.busy ? 'Preparing…' : 'Prepare CSV export'}
        </button>
        {csv && (
          <DownloadButton
            content={csv.text}
            type="text/csv"
            filename={`strongroom-audit-${tenant.tenantId}.csv`}
            label={`Download CSV (${csv.rows} events)`}
          />
        )}
      </div>
      {csv?.more && (
        <Notice tone="info">More events remain: narrow the time range to export the rest.</Notice>
      )}
    </Section>
  );
}
