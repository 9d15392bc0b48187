import { jsonRequest } from '../../infra/local/json-request.js';
import { freePort } from '../../infra/local/moto.js';
import { type LocalSystem, type LocalSystemOptions, startLocalSystem } from '../../infra/local/system.js';
import type { BenchTable } from './types.js';

/** A JSON reply: the status and the parsed body (the text when it is not JSON). */
export interface Reply {
  status: number;
  body: any;
}

/** One JSON request to the local API from `localAddress` (default: the kernel's choice). */
export async function jsonCall(options: {
  apiUrl: string;
  method: string;
  path: string;
  body?: unknown;
  token?: string;
  localAddress?: string;
}): Promise<Reply> {
  const { apiUrl, path, ...request } = options;
  const reply = await jsonRequest({ url: new URL(path, apiUrl), ...request });
  let parsed: unknown;
  try {
    parsed = reply.text ? JSON.parse(reply.text) : undefined;
  } catch {
    parsed = reply.text;
  }
  return { status: reply.status, body: parsed };
}

/** Runs `act` against the system `npm run local` starts (on free ports, inbox included), then stops it. */
export async function withLocalSystem<T>(
  act: (system: LocalSystem) => Promise<T>,
  options: Pick<LocalSystemOptions, 'sequencer'> = {},
): Promise<T> {
  const system = await startLocalSystem({
    apiPort: await freePort(),
    motoPort: await freePort(),
    smtpPort: 0,
    inboxPort: 0,
    ...options,
  });
  try {
    return await act(system);
  } finally {
    await system.stop();
  }
}

/** A section's stand-alone entry point: when `meta` is the script node runs, prints its table (logs off). */
export async function printWhenRunDirectly(meta: ImportMeta, run: () => Promise<BenchTable>): Promise<void> {
  if (meta.url !== `file://${process.argv[1]}`) return;
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const table = await run();
  console.log(`## ${table.title}\n`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}
