import { freePort } from '../../infra/local/moto.js';
import { startLocalSystem } from '../../infra/local/system.js';
import { measureCallsPerRequest } from '../calls.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * AWS calls per request on the hot paths (bench/calls.ts), next to the fewest each needs and why they
 * differ. Run alone: `npx tsx bench/sections/calls.ts`.
 */
export async function run(): Promise<BenchTable> {
  const system = await startLocalSystem({
    apiPort: await freePort(),
    motoPort: await freePort(),
    smtpPort: 0,
    inboxPort: 0,
    // Every AWS call in this process must be a request's own: the in-process sequencer's would be counted.
    sequencer: false,
  });
  try {
    const measured = await measureCallsPerRequest({
      apiUrl: system.apiUrl,
      inboxApiUrl: system.inbox.apiUrl,
    });
    return {
      title: 'AWS calls per request (bench/calls.ts)',
      columns: ['path', 'request', 'calls', 'minimum', 'why'],
      rows: measured.map((m) => [m.name, m.request, String(m.calls), String(m.minimum), m.why]),
    };
  } finally {
    await system.stop();
  }
}

export const callsSection: BenchSection = { name: 'calls', run };

if (import.meta.url === `file://${process.argv[1]}`) {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const table = await run();
  console.log(`## ${table.title}\n`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}
