import { type ComponentChildren, createContext } from 'preact';
import { useContext, useId, useRef, useState } from 'preact/hooks';
import type { ApiProblem } from '../api/client';
import { asProblem } from './hooks';
import { ProblemAlert } from './status';

interface FormState {
  problem: ApiProblem | undefined;
  fields: Set<string>;
}

const FormContext = createContext<FormState>({ problem: undefined, fields: new Set() });

export interface FormProps {
  /** Called with the form's values; throw (an ApiProblem) to show the error. */
  onSubmit: (values: FormData) => Promise<void>;
  submitLabel: string;
  busyLabel?: string;
  /** Labels the form for assistive technology when it has no visible heading of its own. */
  label?: string;
  children: ComponentChildren;
  /** Clears the inputs after a successful submit. */
  resetOnSuccess?: boolean;
  danger?: boolean;
  class?: string;
}

/**
 * A form with one submit button, a busy state while the request runs, the problem's detail above the
 * inputs and each field's message next to the input it names.
 */
export function Form(props: FormProps) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  const fields = useRef(new Set<string>()).current;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    if (busy) return;
    const form = event.currentTarget as HTMLFormElement;
    setBusy(true);
    setProblem(undefined);
    try {
      await props.onSubmit(new FormData(form));
      if (props.resetOnSuccess) form.reset();
    } catch (error) {
      const shown = asProblem(error);
      setProblem(shown);
      // Put the keyboard on the first input the problem names, else leave focus where it was.
      const first = shown.errors.map((e) => e.path.replace(/^body\./, '')).find((name) => fields.has(name));
      if (first) (form.elements.namedItem(first) as HTMLElement | null)?.focus?.();
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormContext.Provider value={{ problem, fields }}>
      <form
        class={props.class ?? 'form'}
        onSubmit={submit}
        aria-label={props.label}
        aria-busy={busy}
        noValidate
      >
        <ProblemAlert problem={problem} fields={[...fields]} />
        {props.children}
        <div class="actions">
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={busy} aria-busy={busy}>
            {busy ? (props.busyLabel ?? 'Working…') : props.submitLabel}
          </button>
        </div>
      </form>
    </FormContext.Provider>
  );
}

interface FieldBase {
  /** The request body's field name: the API's `errors[].path` (`body.<name>`) lands here. */
  name: string;
  label: string;
  hint?: string;
  required?: boolean;
}

function useField(name: string) {
  const { problem, fields } = useContext(FormContext);
  fields.add(name);
  const id = useId();
  const message = problem?.fieldError(name);
  return { id, message };
}

function Described({ id, hint, message }: { id: string; hint?: string; message?: string }) {
  return (
    <>
      {hint && (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      {message && (
        <span class="field-error" id={`${id}-error`}>
          {message}
        </span>
      )}
    </>
  );
}

const describedBy = (id: string, hint?: string, message?: string) =>
  [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;

export interface InputFieldProps extends FieldBase {
  type?: 'text' | 'email' | 'password' | 'number' | 'url' | 'datetime-local';
  autoComplete?: string;
  defaultValue?: string | number;
  placeholder?: string;
  inputMode?: 'numeric' | 'text' | 'email';
  min?: number;
  max?: number;
  pattern?: string;
  maxLength?: number;
}

/** A labelled input whose API error shows under it (and marks it invalid). */
export function Field(props: InputFieldProps) {
  const { id, message } = useField(props.name);
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label for={id}>
        {props.label}
        {props.required && <span class="required"> (required)</span>}
      </label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        autoComplete={props.autoComplete ?? 'off'}
        defaultValue={props.defaultValue === undefined ? undefined : String(props.defaultValue)}
        placeholder={props.placeholder}
        inputMode={props.inputMode}
        min={props.min}
        max={props.max}
        pattern={props.pattern}
        maxLength={props.maxLength}
        required={props.required}
        aria-invalid={message ? true : undefined}
        aria-describedby={describedBy(id, props.hint, message)}
      />
      <Described id={id} hint={props.hint} message={message} />
    </div>
  );
}

export interface SelectFieldProps extends FieldBase {
  options: readonly (string | { value: string; label: string })[];
  defaultValue?: string;
}

/** A labelled select. */
export function SelectField(props: SelectFieldProps) {
  const { id, message } = useField(props.name);
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        defaultValue={props.defaultValue}
        aria-invalid={message ? true : undefined}
        aria-describedby={describedBy(id, props.hint, message)}
      >
        {props.options.map((o) => {
          const option = typeof o === 'string' ? { value: o, label: o } : o;
          return (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          );
        })}
      </select>
      <Described id={id} hint={props.hint} message={message} />
    </div>
  );
}

/** A labelled checkbox; its FormData value is `on` when checked. */
export function CheckboxField(props: FieldBase & { defaultChecked?: boolean; value?: string }) {
  const { id, message } = useField(props.name);
  return (
    <div class={`field checkbox${message ? ' invalid' : ''}`}>
      <input
        id={id}
        type="checkbox"
        name={props.name}
        value={props.value}
        defaultChecked={props.defaultChecked}
        aria-invalid={message ? true : undefined}
        aria-describedby={describedBy(id, props.hint, message)}
      />
      <label for={id}>{props.label}</label>
      <Described id={id} hint={props.hint} message={message} />
    </div>
  );
}

/** A labelled multi-line input. */
export function TextAreaField(
  props: FieldBase & { defaultValue?: string; rows?: number; monospace?: boolean },
) {
  const { id, message } = useField(props.name);
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 4}
        class={props.monospace ? 'mono' : undefined}
        defaultValue={props.defaultValue}
        spellcheck={false}
        aria-invalid={message ? true : undefined}
        aria-describedby={describedBy(id, props.hint, message)}
      />
      <Described id={id} hint={props.hint} message={message} />
    </div>
  );
}

/** A group of checkboxes sharing one name (FormData.getAll gives the checked values). */
export function CheckboxGroup(
  props: FieldBase & { options: readonly string[]; defaultChecked?: readonly string[] },
) {
  const { id, message } = useField(props.name);
  return (
    <fieldset
      class={`field group${message ? ' invalid' : ''}`}
      aria-describedby={describedBy(id, props.hint, message)}
    >
      <legend>{props.label}</legend>
      <div class="checkbox-grid">
        {props.options.map((option) => (
          <label key={option} class="checkbox-option">
            <input
              type="checkbox"
              name={props.name}
              value={option}
              defaultChecked={props.defaultChecked?.includes(option)}
            />
            <span>{option}</span>
          </label>
        ))}
      </div>
      <Described id={id} hint={props.hint} message={message} />
    </fieldset>
  );
}

/** A text value from FormData (trimmed), or undefined when empty. */
export function text(values: FormData, name: string): string | undefined {
  const value = values.get(name);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A value exactly as typed (passwords: never trimmed). */
export function raw(values: FormData, name: string): string {
  const value = values.get(name);
  return typeof value === 'string' ? value : '';
}

/** A whole number from FormData, or undefined when empty (the API names the field if it is not a number). */
export function integer(values: FormData, name: string): number | undefined {
  const value = text(values, name);
  return value === undefined ? undefined : Number(value);
}

/** The six-digit code of an authenticator app (`code` by default). */
export function CodeField({
  name = 'code',
  label = 'Authentication code',
}: {
  name?: string;
  label?: string;
}) {
  return (
    <Field
      name={name}
      label={label}
      inputMode="numeric"
      autoComplete="one-time-code"
      maxLength={6}
      required
    />
  );
}

/** The signed-in user's current password, asked before a change to how the account signs in. */
export function CurrentPasswordField() {
  return (
    <Field
      name="currentPassword"
      label="Current password"
      type="password"
      autoComplete="current-password"
      required
    />
  );
}
