import { performance } from 'node:perf_hooks';
import { seedDemo } from '../../infra/local/seed.js';
import {
  jsonCall,
  printWhenRunDirectly,
  type Reply,
  runInOwnProcess,
  withLocalSystem,
} from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

/**
 * Emulator memory under local mode: the system `npm run local` starts (moto through moto-server.py, the
 * API and the in-process audit sequencer), driven by REQUESTS mixed requests from CONCURRENCY clients —
 * member reads and invitations, tenant renames, API keys created and revoked, sign-ins, audit reads and
 * verification, storage credential vends — each state change appending audit events the sequencer chains
 * in DynamoDB transactions. Reports moto's resident memory at the start, at every quarter and at the end;
 * the bound to hold is 2 GB after 5,000 requests (moto once grew past 23 GB after ~1,400).
 * `STRONGROOM_BENCH_MEMORY_REQUESTS` changes the count. Run alone: `npx tsx bench/sections/emulator-memory.ts`.
 */
const REQUESTS = Number(process.env.STRONGROOM_BENCH_MEMORY_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.STRONGROOM_BENCH_MEMORY_CLIENTS ?? 8);
const LIMIT_BYTES = 2 * 1024 ** 3;

let lastIp = 0;
/** One JSON request from its own loopback address (per-IP limits would otherwise refuse most of the run). */
function call(apiUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  lastIp++;
  const localAddress = `127.3.${(lastIp >> 8) & 255}.${lastIp & 255 || 1}`;
  return jsonCall({ apiUrl, method, path, body, token, localAddress });
}

const mib = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : (bytes / 1024 ** 2).toFixed(0));

export function run(): Promise<BenchTable> {
  return withLocalSystem(async (system) => {
    const rows: string[][] = [];
    const rss = () => system.emulatorResidentBytes?.();
    const demo = await seedDemo(system.apiUrl, system.inbox.apiUrl);
    const t = `/v1/tenants/${demo.tenantId}`;
    const token = demo.token;
    const keys: string[] = [];
    const location = await call(system.apiUrl, 'POST', `${t}/storage-locations`, { managed: true }, token);
    if (location.status !== 201) throw new Error(`bench: registering a location answered ${location.status}`);
    const locationId = String(location.body.locationId);
    const mix: Array<(i: number) => Promise<Reply>> = [
      () => call(system.apiUrl, 'GET', `${t}/members`, undefined, token),
      (i) =>
        call(system.apiUrl, 'POST', `${t}/members`, { email: `m${i}@example.com`, role: 'viewer' }, token),
      (i) => call(system.apiUrl, 'PATCH', t, { name: `Demo ${i}` }, token),
      () => call(system.apiUrl, 'GET', `${t}/audit-events`, undefined, token),
      async (i) => {
        const created = await call(
          system.apiUrl,
          'POST',
          `${t}/api-keys`,
          { name: `bench ${i}`, scopes: ['members:read'] },
          token,
        );
        if (created.status === 201) keys.push(String(created.body.keyId));
        return created;
      },
      () => call(system.apiUrl, 'POST', '/v1/auth/login', { email: demo.email, password: demo.password }),
      () =>
        call(
          system.apiUrl,
          'POST',
          `${t}/storage-credentials`,
          { location: locationId, access: 'read' },
          token,
        ),
      () => {
        const keyId = keys.shift();
        return keyId
          ? call(system.apiUrl, 'DELETE', `${t}/api-keys/${keyId}`, undefined, token)
          : call(system.apiUrl, 'GET', '/v1/me', undefined, token);
      },
      () => call(system.apiUrl, 'GET', `${t}/audit-events/verify`, undefined, token),
    ];
    const before = rss();
    rows.push(['emulator memory at start (MiB)', mib(before), 'after provisioning and seeding']);
    const statuses = new Map<number, number>();
    let next = 0;
    let peak = before ?? 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const reply = await mix[i % mix.length]!(i);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          peak = Math.max(peak, rss() ?? 0);
          if ((i + 1) % Math.ceil(REQUESTS / 4) === 0 && i + 1 < REQUESTS)
            rows.push([`emulator memory after ${i + 1} requests (MiB)`, mib(rss()), '']);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = rss();
    const fives = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    rows.push([
      `emulator memory after ${REQUESTS} requests (MiB)`,
      mib(after),
      `${after !== undefined && after < LIMIT_BYTES ? 'within' : 'OVER'} the 2 GiB bound; peak ${mib(peak)} MiB`,
    ]);
    rows.push([
      'growth per 1,000 requests (MiB)',
      after !== undefined && before !== undefined
        ? ((((after - before) / REQUESTS) * 1000) / 1024 ** 2).toFixed(1)
        : 'n/a',
      `${(REQUESTS / seconds).toFixed(1)} requests/s with ${CONCURRENCY} clients; 5xx: ${fives}; statuses ${[
        ...statuses,
      ]
        .sort(([a], [b]) => a - b)
        .map(([s, c]) => `${s}×${c}`)
        .join(' ')}`,
    ]);
    return { title: 'AWS emulator memory in local mode', columns: ['measure', 'value', 'note'], rows };
  });
}

export const emulatorMemorySection: BenchSection = {
  name: 'emulator-memory',
  slow: true,
  run: () => runInOwnProcess(import.meta),
};

await printWhenRunDirectly(import.meta, run);
