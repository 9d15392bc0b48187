// Append notifications: the in-process (local mode, tests) sequencer learns which logs have new events.
// In Lambda nobody listens and the table's stream drives the sequencer instead.

type AppendListener = (logId: string) => void;
const appendListeners = new Set<AppendListener>();
const recentlyAppended = new Set<string>();
const RECENT_LIMIT = 1000;

/** Announces an append to the listeners of this process (before it commits). */
export function notifyAppend(logId: string): void {
  if (recentlyAppended.size >= RECENT_LIMIT) recentlyAppended.clear();
  recentlyAppended.add(logId);
  for (const listener of appendListeners) listener(logId);
}

/** Subscribes to appends made in this process; returns the logs appended to before, and an unsubscribe. */
export function onAuditAppend(listener: AppendListener): { earlier: string[]; unsubscribe: () => void } {
  appendListeners.add(listener);
  return { earlier: [...recentlyAppended], unsubscribe: () => appendListeners.delete(listener) };
}
