import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

/** The flag with which a section's own process prints its table as one line of JSON for the bench. */
const TABLE_JSON_FLAG = '--table-json';

/**
 * A section's stand-alone entry point: when `meta` is the script node runs, prints its table (logs off), as
 * Markdown rows or, for the bench (`runInOwnProcess`), as one line of JSON.
 */
export async function printWhenRunDirectly(meta: ImportMeta, run: () => Promise<BenchTable>): Promise<void> {
  if (meta.url !== `file://${process.argv[1]}`) return;
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const table = await run();
  if (process.argv.includes(TABLE_JSON_FLAG)) {
    console.log(JSON.stringify(table));
    return;
  }
  console.log(`## ${table.title}\n`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}

/**
 * Runs the section whose module is `meta` in a process of its own and returns its table. A section that
 * starts a local system must: the functions bind their mail port (and other settings) when their module
 * loads, as in Lambda, so a second local system in one process would reach the first one's stopped inbox.
 */
export async function runInOwnProcess(meta: ImportMeta): Promise<BenchTable> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(meta.url), TABLE_JSON_FLAG],
    { env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' }, maxBuffer: 256 * 1024 * 1024 },
  );
  const line = stdout
    .trim()
    .split('\n')
    .findLast((l) => l.startsWith('{"title"'));
  if (!line) throw new Error(`${fileURLToPath(meta.url)} printed no table`);
  return JSON.parse(line) as BenchTable;
}
