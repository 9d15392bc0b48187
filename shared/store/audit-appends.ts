import type { FunctionRuntime } from '../aws/runtime.js';

type AppendListener = (logId: string) => void;

/** How many logs appended to before anyone listened are remembered for the first listener. */
const RECENT_LIMIT = 1000;

/**
 * Append notifications of one function: its audit store announces each append, and an in-process sequencer
 * (local mode, tests) learns which logs have new events. In Lambda nobody listens and the table's stream
 * drives the sequencer instead.
 */
export class AuditAppends {
  readonly #listeners = new Set<AppendListener>();
  readonly #recent = new Set<string>();

  /** Announces an append to the listeners (before it commits). */
  notify(logId: string): void {
    if (this.#recent.size >= RECENT_LIMIT) this.#recent.clear();
    this.#recent.add(logId);
    for (const listener of this.#listeners) listener(logId);
  }

  /** Subscribes to appends; returns the logs appended to before, and an unsubscribe. */
  subscribe(listener: AppendListener): { earlier: string[]; unsubscribe: () => void } {
    this.#listeners.add(listener);
    return { earlier: [...this.#recent], unsubscribe: () => this.#listeners.delete(listener) };
  }
}

/** The append notifications of a function: one per runtime, shared by its audit store and its sequencer. */
export function auditAppendsOf(runtime: FunctionRuntime): AuditAppends {
  return runtime.shared(AuditAppends, () => new AuditAppends());
}
