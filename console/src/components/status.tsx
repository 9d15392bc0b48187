import type { ComponentChildren } from 'preact';
import type { ApiProblem } from '../api/client';

/** Shown while something is loading or working (announced politely to screen readers). */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** The problem's `detail` (and any field messages not shown next to an input). */
export function ProblemAlert({
  problem,
  fields = [],
}: {
  problem: ApiProblem | undefined;
  fields?: string[];
}) {
  if (!problem) return null;
  const elsewhere = problem.errors.filter((e) => !fields.some((f) => e.path === `body.${f}` || e.path === f));
  return (
    <div class="alert alert-error" role="alert">
      <p>{problem.detail}</p>
      {elsewhere.length > 0 && (
        <ul>
          {elsewhere.map((e) => (
            <li key={e.path}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A success or information message (announced). */
export function Notice({
  children,
  tone = 'ok',
}: {
  children: ComponentChildren;
  tone?: 'ok' | 'info' | 'warn';
}) {
  return (
    <div class={`alert alert-${tone}`} role="status">
      {children}
    </div>
  );
}

/** A page section with a heading. */
export function Section({
  title,
  children,
  id,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="card" aria-labelledby={id ? `${id}-title` : undefined}>
      <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

/** Dates as the browser's locale shows them, with the ISO value kept for machines. */
export function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;
}

/**
 * A table that scrolls sideways on narrow screens: a labelled region the keyboard can reach, so its hidden
 * columns can be scrolled into view without a mouse.
 */
export function TableRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
    <section class="table-wrap" tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}

/**
 * A table in a scrolling region: the label names the region and is the table's (visually hidden) caption,
 * one header cell a column and, with `actions`, a last column of row actions with a hidden header.
 * `children` are the body's rows.
 */
export function DataTable(props: {
  label: string;
  columns: string[];
  actions?: boolean;
  children: ComponentChildren;
}) {
  return (
    <TableRegion label={props.label}>
      <table>
        <caption class="visually-hidden">{props.label}</caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </TableRegion>
  );
}
