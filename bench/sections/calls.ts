import { measureCallsPerRequest } from '../calls.js';
import { printWhenRunDirectly, runInOwnProcess, withLocalSystem } from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * AWS calls per request on the hot paths (bench/calls.ts), next to the fewest each needs and why they
 * differ. Run alone: `npx tsx bench/sections/calls.ts`.
 */
export function run(): Promise<BenchTable> {
  return withLocalSystem(
    async (system) => {
      const measured = await measureCallsPerRequest({
        apiUrl: system.apiUrl,
        inboxApiUrl: system.inbox.apiUrl,
      });
      return {
        title: 'AWS calls per request (bench/calls.ts)',
        columns: ['path', 'request', 'calls', 'minimum', 'why'],
        rows: measured.map((m) => [m.name, m.request, String(m.calls), String(m.minimum), m.why]),
      };
    },
    // Every AWS call in this process must be a request's own: the in-process sequencer's would be counted.
    { sequencer: false },
  );
}

export const callsSection: BenchSection = { name: 'calls', run: () => runInOwnProcess(import.meta) };

await printWhenRunDirectly(import.meta, run);
