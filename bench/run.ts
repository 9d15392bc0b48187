/**
 * `npm run bench`: what a cold start costs, per function, as deployed.
 *
 * 1. Bundles every `functions/<area>/handler.ts` with esbuild using the exact settings of the CDK function
 *    construct (infra/constructs/bundling.ts: minified ESM for node22, source maps, AWS SDK bundled, native
 *    modules external), plus `bench/baseline.ts`, a bundle holding only a bare DynamoDB client.
 * 2. Imports each bundle in RUNS fresh `node --enable-source-maps` processes (as Lambda runs them,
 *    NODE_OPTIONS included) and takes the median time of the import, i.e. module evaluation plus the
 *    handler module's top-level initialisation (clients, schemas, Powertools).
 * 3. Prints a markdown table: bundle size, cold import+init time, and both as a ratio to the baseline. The
 *    ratio is the figure to watch; absolute times depend on the machine (Lambda's arm64 CPUs differ).
 * 4. Runs the extra sections registered in bench/sections/index.ts (each returns one more table).
 *
 * Native modules (argon2) are loaded from node_modules for this machine's platform; their size is not in
 * the bundle column. Runtime on 2 cores: well under two minutes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import {
  AREA_NATIVE_MODULES,
  ESM_REQUIRE_BANNER,
  EXTERNAL_MODULES,
  FUNCTION_NODE_OPTIONS,
  FUNCTION_NODE_TARGET,
  MAIN_FIELDS,
} from '../infra/constructs/bundling.js';
import { PROJECT_ROOT } from '../infra/stacks/stateless-stack.js';
import { BENCH_SECTIONS } from './sections/index.js';
import type { BenchBundle, BenchContext } from './sections/types.js';

const run = promisify(execFile);

/** Fresh processes per bundle; the median of these is reported. */
const RUNS = 9;
/** Inside the project so that external native modules resolve from its node_modules. */
const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'strongroom-bench');

const ACCOUNT = '123456789012';
const REGION = 'eu-central-1';
/** The variables handler modules require at load; fake values (nothing is called during init). */
export const BENCH_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'strongroom-bench',
  AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  POWERTOOLS_SERVICE_NAME: 'strongroom',
  POWERTOOLS_METRICS_NAMESPACE: 'Strongroom',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  STAGE: 'bench',
  IDENTITY_TABLE: 'bench-identity',
  TENANT_DATA_TABLE: 'bench-tenant-data',
  AUDIT_TABLE: 'bench-audit',
  AUDIT_CHAIN_TABLE: 'bench-audit-chain',
  TENANT_DATA_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-tenant-data`,
  AUDIT_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-audit`,
  AUDIT_CHAIN_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-audit-chain`,
  AUDIT_MAC_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000002`,
  TENANT_DATA_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/bench-tenant-data`,
  PLATFORM_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`,
  TENANT_STORAGE_BOUNDARY_ARN: `arn:aws:iam::${ACCOUNT}:policy/strongroom-bench-${REGION}-tenant-storage-boundary`,
  STORAGE_BUCKET: 'bench-storage',
  EXPORT_BUCKET: 'bench-exports',
  TENANT_KEY_USER_ROLE_ARNS: `arn:aws:iam::${ACCOUNT}:role/bench-functions`,
  TENANT_EXPORT_ROLE_ARNS: `arn:aws:iam::${ACCOUNT}:role/bench-tenants`,
  STORAGE_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000001`,
  // The mail port (auth and tenants send mail: verification, reset, invitations, notices).
  MAIL_FROM: 'Strongroom <no-reply@bench.example.com>',
  CONSOLE_URL: 'https://bench.example.com/console/',
};

async function bundle(
  name: string,
  entry: string,
  nativeModules: readonly string[] = [],
): Promise<BenchBundle> {
  const file = join(OUT_DIR, name, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: FUNCTION_NODE_TARGET,
    format: 'esm',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: [...MAIN_FIELDS],
    banner: { js: ESM_REQUIRE_BANNER },
    external: [...EXTERNAL_MODULES, ...nativeModules],
    logLevel: 'error',
  });
  return { name, file, bytes: statSync(file).size };
}

async function medianOfFreshProcesses(script: string, runs = RUNS): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(
      process.execPath,
      [...FUNCTION_NODE_OPTIONS.split(' '), '--input-type=module', '-e', script],
      { env: { PATH: process.env.PATH ?? '', ...BENCH_ENV }, cwd: PROJECT_ROOT, maxBuffer: 1 << 20 },
    );
    const value = Number(stdout.trim().split('\n').pop());
    if (!Number.isFinite(value)) throw new Error(`bench script printed no number: ${stdout.slice(0, 200)}`);
    samples.push(value);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Module evaluation plus top-level init, measured inside the fresh process (Node's own start excluded). */
function importScript(file: string): string {
  return [
    'const t0 = performance.now();',
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    'console.log(performance.now() - t0);',
  ].join('\n');
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;

function markdownTable(columns: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(columns), line(columns.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join(
    '\n',
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  // Sections run handlers in this process: keep their per-request log lines out of the tables.
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });

  const areas = readdirSync(join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .filter((area) => {
      try {
        return statSync(join(PROJECT_ROOT, 'functions', area, 'handler.ts')).isFile();
      } catch {
        return false;
      }
    })
    .sort();
  const bundles = [
    await bundle('baseline', join(PROJECT_ROOT, 'bench', 'baseline.ts')),
    ...(await Promise.all(
      areas.map((area) =>
        bundle(area, join(PROJECT_ROOT, 'functions', area, 'handler.ts'), AREA_NATIVE_MODULES[area] ?? []),
      ),
    )),
  ];

  const times = new Map<string, number | Error>();
  for (const b of bundles) {
    try {
      times.set(b.name, await medianOfFreshProcesses(importScript(b.file)));
    } catch (error) {
      times.set(b.name, error instanceof Error ? error : new Error(String(error)));
    }
  }
  const base = bundles[0]!;
  const baseTime = times.get('baseline');
  if (!(typeof baseTime === 'number')) throw new Error(`baseline failed to load: ${baseTime?.message}`);

  const rows = bundles.map((b) => {
    const t = times.get(b.name);
    if (typeof t !== 'number') {
      return [
        b.name,
        kib(b.bytes),
        `fails to load: ${t?.message.split('\n')[0]}`,
        '',
        ratio(b.bytes, base.bytes),
      ];
    }
    return [b.name, kib(b.bytes), t.toFixed(1), ratio(t, baseTime), ratio(b.bytes, base.bytes)];
  });
  console.log(
    `## Cold start per function (node ${process.versions.node}, ${process.arch}, median of ${RUNS})\n`,
  );
  console.log(
    markdownTable(
      ['function', 'bundle (KiB)', 'cold import+init (ms)', 'time vs baseline', 'size vs baseline'],
      rows,
    ),
  );

  const context: BenchContext = { bundles, env: BENCH_ENV, medianOfFreshProcesses };
  for (const section of BENCH_SECTIONS) {
    const table = await section.run(context);
    console.log(`\n## ${table.title}\n`);
    console.log(markdownTable(table.columns, table.rows));
  }
  console.log(`\n_bench took ${((performance.now() - started) / 1000).toFixed(0)} s_`);
}

await main();
