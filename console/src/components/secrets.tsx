import { useEffect, useRef, useState } from 'preact/hooks';

/** Copies `value` to the clipboard; says so (announced) or tells the user to copy by hand. */
export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <span class="copy">
      <button type="button" onClick={copy}>
        {label}
      </button>
      <span class="copy-state" role="status" aria-live="polite">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text and copy it' : ''}
      </span>
    </span>
  );
}

/** Saves `content` as a file through a Blob URL (nothing goes to a server or into the page's URL). */
export function DownloadButton(props: { content: string; filename: string; type?: string; label?: string }) {
  const download = () => {
    const url = URL.createObjectURL(new Blob([props.content], { type: props.type ?? 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = props.filename;
    link.rel = 'noopener';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <button type="button" onClick={download}>
      {props.label ?? 'Download'}
    </button>
  );
}

/**
 * A secret shown once: read-only, selectable, with a copy button. Its text is never put in the title, the
 * URL or the console log.
 */
export function SecretValue({
  label,
  value,
  multiline,
}: {
  label: string;
  value: string;
  multiline?: boolean;
}) {
  const id = `secret-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="secret">
      <label for={id}>{label}</label>
      <div class="secret-row">
        {multiline ? (
          <textarea
            id={id}
            class="mono"
            readOnly
            rows={Math.min(12, value.split('\n').length + 1)}
            value={value}
          />
        ) : (
          <input id={id} class="mono" readOnly value={value} />
        )}
        <CopyButton value={value} label={`Copy ${label.toLowerCase()}`} />
      </div>
    </div>
  );
}

/**
 * A modal confirmation (the native dialog: focus is trapped and Escape cancels). With `typed`, the
 * confirm button works only once that exact text is typed.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children?: preact.ComponentChildren;
  confirmLabel: string;
  typed?: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      setTyped('');
      dialog.showModal();
    } else if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  const titleId = `dialog-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  const ready = props.typed === undefined || typed === props.typed;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={props.onCancel}
      onClose={() => props.open && props.onCancel()}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
      {props.typed !== undefined && (
        <div class="field">
          <label for={`${titleId}-typed`}>
            Type <strong>{props.typed}</strong> to confirm
          </label>
          <input
            id={`${titleId}-typed`}
            autoComplete="off"
            value={typed}
            onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
      )}
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? 'danger' : 'primary'}
          disabled={!ready}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/**
 * A danger confirmation about `item`, open while there is one: cancelling calls `onClose`, confirming calls
 * `onClose` and then `onConfirm` with the item.
 */
export function ConfirmRemoval<T>(props: {
  item: T | undefined;
  title: string;
  confirmLabel: string;
  children?: preact.ComponentChildren;
  onClose: () => void;
  onConfirm: (item: T) => void;
}) {
  return (
    <ConfirmDialog
      open={props.item !== undefined}
      title={props.title}
      confirmLabel={props.confirmLabel}
      danger
      onCancel={props.onClose}
      onConfirm={() => {
        const item = props.item!;
        props.onClose();
        props.onConfirm(item);
      }}
    >
      {props.children}
    </ConfirmDialog>
  );
}

/** A table row's danger button that opens its `ConfirmRemoval`; `label` names the row to screen readers. */
export function RemoveButton(props: {
  label: string;
  busy: boolean;
  onClick: () => void;
  children?: preact.ComponentChildren;
}) {
  return (
    <button
      type="button"
      class="danger"
      disabled={props.busy}
      aria-label={props.label}
      onClick={props.onClick}
    >
      {props.children ?? 'Remove'}
    </button>
  );
}
