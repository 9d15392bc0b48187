import { runLoad } from '../load.js';
import { printWhenRunDirectly, runInOwnProcess, withLocalSystem } from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * Mixed traffic with invariants (bench/load.ts) against the system `npm run local` starts: requests per
 * second, p50 and p99 per route, and whether every invariant held. `STRONGROOM_BENCH_LOAD_REQUESTS` changes
 * the count. Run alone: `npx tsx bench/sections/load.ts`.
 */
const REQUESTS = Number(process.env.STRONGROOM_BENCH_LOAD_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.STRONGROOM_BENCH_LOAD_CLIENTS ?? 8);

export function run(): Promise<BenchTable> {
  return withLocalSystem(async (system) => {
    const report = await runLoad({
      apiUrl: system.apiUrl,
      inboxApiUrl: system.inbox.apiUrl,
      tenants: 4,
      requests: REQUESTS,
      concurrency: CONCURRENCY,
    });
    const rows = report.routes
      .sort((a, b) => a.route.localeCompare(b.route))
      .map((r) => [
        r.route,
        String(r.count),
        r.p50Ms.toFixed(1),
        r.p99Ms.toFixed(1),
        Object.entries(r.statuses)
          .map(([status, n]) => `${status}×${n}`)
          .join(' '),
      ]);
    rows.push([
      `all (${CONCURRENCY} clients)`,
      String(report.requests),
      `${report.requestsPerSecond.toFixed(1)} requests/s`,
      `${report.seconds.toFixed(1)} s`,
      report.violations.length
        ? `INVARIANTS BROKEN: ${report.violations.join('; ')}`
        : 'every invariant held',
    ]);
    return {
      title: 'Mixed traffic on loopback (bench/load.ts)',
      columns: ['route', 'requests', 'p50 (ms)', 'p99 (ms)', 'statuses'],
      rows,
    };
  });
}

export const loadSection: BenchSection = {
  name: 'load',
  slow: true,
  run: () => runInOwnProcess(import.meta),
};

await printWhenRunDirectly(import.meta, run);
