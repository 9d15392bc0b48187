import { cacheStats } from '../../shared/observability.js';
import { runLoad } from '../load.js';
import { printWhenRunDirectly, runInOwnProcess, withLocalSystem } from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * Every warm cache (shared/domain/bounded-cache.ts) after mixed traffic (bench/load.ts, 4 tenants) against
 * the system `npm run local` starts, where all functions share this one process: its bounds in entries and
 * estimated bytes, what it holds, and its hit rate. `STRONGROOM_BENCH_CACHE_REQUESTS` changes the count.
 * Run alone: `npx tsx bench/sections/caches.ts`.
 */
const REQUESTS = Number(process.env.STRONGROOM_BENCH_CACHE_REQUESTS ?? 400);

export function run(): Promise<BenchTable> {
  return withLocalSystem(async (system) => {
    await runLoad({
      apiUrl: system.apiUrl,
      inboxApiUrl: system.inbox.apiUrl,
      tenants: 4,
      requests: REQUESTS,
      concurrency: 8,
    });
    const kib = (bytes: number) =>
      bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
    return {
      title: `Warm caches after ${REQUESTS} mixed requests (every function in one process)`,
      columns: ['cache', 'instances', 'bound', 'held', 'hits', 'misses', 'hit rate', 'evictions'],
      rows: cacheStats().map((s) => {
        const lookups = s.hits + s.misses;
        return [
          s.name,
          String(s.instances),
          `${s.maxEntries.toLocaleString('en-US')} entries, ${kib(s.maxBytes)} (each instance)`,
          `${s.entries} entries, ${kib(s.bytes)}`,
          String(s.hits),
          String(s.misses),
          lookups ? `${((100 * s.hits) / lookups).toFixed(0)} %` : 'not used',
          String(s.evictions),
        ];
      }),
    };
  });
}

export const cachesSection: BenchSection = {
  name: 'caches',
  slow: true,
  run: () => runInOwnProcess(import.meta),
};

await printWhenRunDirectly(import.meta, run);
