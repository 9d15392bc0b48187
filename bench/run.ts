/**
 * `npm run bench`: what a cold start costs, per function, as deployed.
 *
 * 1. Synthesises the real app (bench/assembly.ts: cdk.json's context, one stage and region) and takes every
 *    function's bundle from the cloud assembly: the asset directories `cdk deploy` would upload, found
 *    through each function's template. Plus `bench/baseline.ts`, a bundle holding only a bare DynamoDB
 *    client, built with the same `bundleFunction` (infra/constructs/bundling.ts). The one change to what
 *    ships: the auth function is copied and its argon2 binary installed for this machine instead of
 *    Lambda's arm64.
 * 2. Imports each bundle in RUNS fresh `node` processes (as Lambda starts them: no NODE_OPTIONS), the
 *    bundles interleaved in each round (so a noisy minute hits them all alike; the baseline three times a
 *    round, its round's figure the median of the three: BASELINE_PER_ROUND), and takes the median of the
 *    import's wall time and of the process's CPU time (user + system) during it: module evaluation plus the
 *    handler module's top-level initialisation (clients, schemas, Powertools). CPU time is the steadier
 *    figure on a shared machine. Each ratio to the baseline is the median of the rounds' ratios (a bundle's
 *    import over the baseline's in the same round): the two imports of a round are seconds apart, so a noisy
 *    spell that slows a run of baseline imports does not skew every ratio, as it does a ratio of the two
 *    medians.
 * 3. Prints markdown tables only: the size a cold start loads (index.mjs and the chunks it imports
 *    statically; chunks behind `await import()` are counted in the asset column only), the times, and each
 *    as a ratio to the baseline. The ratios are the figures to watch (target: time ≤ 1.5×, size ≤ 2×);
 *    absolute times depend on the machine. The last column is the middle half of the rounds' CPU ratios: how
 *    much a single round's ratio varies on this machine, around the median that the column before it reports.
 * 4. Runs the extra sections registered in bench/sections/index.ts (each returns one more table and says
 *    how long it took), unless `--cold-only`; the slow ones (minutes of traffic through the local system,
 *    100k-event exports) only with `--all`. `--json <file>` also writes every figure as JSON.
 *
 * Runtime on 2 cores: under two minutes (91 s measured with 25 rounds, the synth's 19 s included). With
 * `--all`, much longer: 8.5 min measured with STRONGROOM_BENCH_MEMORY_REQUESTS=300; at its default 5,000
 * requests the emulator-memory section alone ran for over 20 minutes.
 */
import './quiet.js';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleFunction, FUNCTION_ENTRY_FILE, installNativeModules } from '../infra/constructs/bundling.js';
import { PROJECT_ROOT } from '../infra/stacks/stateless-stack.js';
import {
  bundleFiles,
  functionName,
  type ShippedFunction,
  shippedFunctions,
  synthesiseFunctions,
} from './assembly.js';
import { BENCH_ENV } from './env.js';
import { BENCH_SECTIONS } from './sections/index.js';
import type { BenchBundle, BenchContext } from './sections/types.js';

const run = promisify(execFile);

/**
 * Fresh processes per bundle (rounds); the median of these is reported. One round's CPU ratio moves by about a
 * fifth either way on this shared machine; the median of 25 rounds still moves by about 0.05 between runs of
 * the bench (one standard error, bootstrapped from the rounds), against about 0.07 with 15 rounds.
 */
const RUNS = 25;
/**
 * Baseline imports per round. Every ratio of a round divides by the baseline's figure, so its noise lands
 * on all of them at once, and a noisy divisor also biases ratios upwards (a low sample raises a ratio more than
 * a high one lowers it). The median of three imports, spread over the round, is a steadier divisor.
 */
const BASELINE_PER_ROUND = 3;
/** The assembly, the baseline and the auth function's copy: under the project's node_modules (git ignores it). */
const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'strongroom-bench');

/** The name of every entry point under functions/ (`auth`, `audit/sequencer`, …; see `functionName`). */
function entryPointNames(): string[] {
  return readdirSync(join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(PROJECT_ROOT, 'functions', d.name))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => functionName(`functions/${d.name}/${f}`)),
    );
}

/** The bench's own bundle (the baseline), built as every function is: `bundleFunction`. */
function builtBundle(name: string, entry: string): BenchBundle {
  const outdir = join(OUT_DIR, name);
  bundleFunction({ entry, outdir, projectRoot: PROJECT_ROOT });
  return measuredBundle(name, outdir);
}

/**
 * A function as the synthesised assembly ships it. One with native modules (auth's argon2, installed for
 * Lambda's arm64) is copied and its modules installed for this machine, the bench's only change to it.
 */
function shippedBundle(shipped: ShippedFunction): BenchBundle {
  const name = functionName(shipped.entry);
  if (!existsSync(join(shipped.dir, 'package.json'))) return measuredBundle(name, shipped.dir);
  const copy = join(OUT_DIR, name.replace('/', '-'));
  cpSync(shipped.dir, copy, {
    recursive: true,
    filter: (src) => relative(shipped.dir, src).split(sep)[0] !== 'node_modules',
  });
  installNativeModules(copy, 'host');
  return measuredBundle(name, copy);
}

function measuredBundle(name: string, dir: string): BenchBundle {
  const { init, all } = bundleFiles(dir);
  const size = (files: string[]) => files.reduce((sum, f) => sum + statSync(f).size, 0);
  return { name, file: join(dir, FUNCTION_ENTRY_FILE), bytes: size(init), assetBytes: size(all) };
}

interface ColdFigure {
  name: string;
  initBytes: number;
  assetBytes: number;
  wallMs?: number;
  cpuMs?: number;
  /** Median over the rounds of this bundle's wall time over the baseline's in the same round. */
  wallRatio?: number;
  /** The same for CPU time. */
  cpuRatio?: number;
  /**
   * The first and third quartiles of the rounds' CPU ratios: the middle half of them, the spread of single
   * rounds around `cpuRatio`. On this shared machine one import's CPU time moves by a fifth either way, and
   * the median of RUNS such ratios still moves by a few hundredths from one run of the bench to the next.
   */
  cpuRatioQuartiles?: [number, number];
  /**
   * Every round's wall and CPU time, ms, in round order (the JSON report's raw data; the baseline's, the
   * median of its imports in that round).
   */
  wallSamplesMs?: number[];
  cpuSamplesMs?: number[];
  /** Slowest minus fastest import, ms: how noisy this bundle's samples were. */
  wallSpreadMs?: number;
  error?: string;
}

interface Sample {
  wall: number;
  cpu: number;
}

/** One fresh process importing `file`: wall time of the import and the process's CPU time during it. */
async function coldImport(file: string): Promise<Sample> {
  const script = [
    'const c0 = process.cpuUsage();',
    'const t0 = performance.now();',
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    'const wall = performance.now() - t0;',
    'const c = process.cpuUsage(c0);',
    'console.log(JSON.stringify({ wall, cpu: (c.user + c.system) / 1000 }));',
  ].join('\n');
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...BENCH_ENV },
    cwd: PROJECT_ROOT,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Sample;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** The first and third quartiles, interpolated between the two nearest values of the sorted list. */
const quartiles = (values: number[]): [number, number] => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const position = q * (sorted.length - 1);
    const low = Math.floor(position);
    const high = Math.min(low + 1, sorted.length - 1);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
  };
  return [at(0.25), at(0.75)];
};

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
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  if (jsonAt >= 0 && !jsonFile) throw new Error('--json needs a file name');
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });

  const assembly = synthesiseFunctions(join(OUT_DIR, 'cdk.out'));
  const bundles = [
    builtBundle('baseline', join(PROJECT_ROOT, 'bench', 'baseline.ts')),
    ...shippedFunctions(assembly).map(shippedBundle),
  ];
  // Every entry point under functions/ is a deployed function: one the synth did not ship is a bench defect.
  const shipped = bundles.slice(1).map((b) => b.name);
  const missing = entryPointNames().filter((name) => !shipped.includes(name));
  if (missing.length > 0) throw new Error(`not in the synthesised app: ${missing.join(', ')}`);

  // Interleaved: every round imports each function once, starting one further along each time, and the
  // baseline BASELINE_PER_ROUND times, spread over the round; the round's baseline figure is their median.
  const [baseline, ...functions] = bundles;
  if (!baseline) throw new Error('no baseline bundle');
  const samples = new Map<string, Sample[]>(bundles.map((b) => [b.name, []]));
  const failures = new Map<string, Error>();
  const every = Math.ceil(functions.length / BASELINE_PER_ROUND);
  for (let round = 0; round < RUNS; round++) {
    const order = functions.flatMap((_, k): BenchBundle[] => [
      ...(k % every === 0 ? [baseline] : []),
      functions[(round + k) % functions.length]!,
    ]);
    const baselineSamples: Sample[] = [];
    for (const b of order) {
      if (failures.has(b.name)) continue;
      try {
        const sample = await coldImport(b.file);
        if (b === baseline) baselineSamples.push(sample);
        else samples.get(b.name)!.push(sample);
      } catch (error) {
        failures.set(b.name, error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (!failures.has(baseline.name))
      samples.get(baseline.name)!.push({
        wall: median(baselineSamples.map((x) => x.wall)),
        cpu: median(baselineSamples.map((x) => x.cpu)),
      });
  }
  const baseSamples = samples.get(baseline.name)!;
  // Round k's sample of every bundle is at index k: a bundle that fails is not imported again (and if the
  // baseline fails, the bench stops below).
  const roundRatios = (s: Sample[], key: keyof Sample) =>
    s.slice(0, baseSamples.length).map((x, k) => x[key] / baseSamples[k]![key]);
  const pairedRatio = (s: Sample[], key: keyof Sample) => median(roundRatios(s, key));
  const figures = bundles.map((b): ColdFigure => {
    const s = samples.get(b.name)!;
    const failed = failures.get(b.name);
    return {
      name: b.name,
      initBytes: b.bytes,
      assetBytes: b.assetBytes,
      ...(failed
        ? { error: failed.message.split('\n')[0] }
        : {
            wallMs: median(s.map((x) => x.wall)),
            cpuMs: median(s.map((x) => x.cpu)),
            wallRatio: pairedRatio(s, 'wall'),
            cpuRatio: pairedRatio(s, 'cpu'),
            cpuRatioQuartiles: quartiles(roundRatios(s, 'cpu')),
            wallSamplesMs: s.map((x) => x.wall),
            cpuSamplesMs: s.map((x) => x.cpu),
            wallSpreadMs: Math.max(...s.map((x) => x.wall)) - Math.min(...s.map((x) => x.wall)),
          }),
    };
  });
  const base = figures[0]!;
  if (base.wallMs === undefined || base.cpuMs === undefined)
    throw new Error(`baseline failed to load: ${base.error}`);

  const times = (value: number) => `${value.toFixed(2)}×`;
  const rows = figures.map((f) =>
    f.wallMs === undefined ||
    f.cpuMs === undefined ||
    f.wallRatio === undefined ||
    f.cpuRatio === undefined ||
    f.cpuRatioQuartiles === undefined
      ? [
          f.name,
          kib(f.initBytes),
          kib(f.assetBytes),
          ratio(f.initBytes, base.initBytes),
          `fails to load: ${f.error}`,
          '',
          '',
          '',
          '',
        ]
      : [
          f.name,
          kib(f.initBytes),
          kib(f.assetBytes),
          ratio(f.initBytes, base.initBytes),
          f.wallMs.toFixed(0),
          times(f.wallRatio),
          f.cpuMs.toFixed(0),
          times(f.cpuRatio),
          `${f.cpuRatioQuartiles[0].toFixed(2)}–${f.cpuRatioQuartiles[1].toFixed(2)}`,
        ],
  );
  console.log(
    `## Cold start per function (node ${process.versions.node}, ${process.arch}, median of ${RUNS} interleaved rounds, the baseline's figure in each the median of its ${BASELINE_PER_ROUND} imports; ratios: median of each round's ratio)\n`,
  );
  console.log(
    markdownTable(
      [
        'function',
        'init (KiB)',
        'asset (KiB)',
        'size vs baseline',
        'import+init wall (ms)',
        'wall vs baseline',
        'import+init CPU (ms)',
        'CPU vs baseline',
        'middle half of the rounds',
      ],
      rows,
    ),
  );

  const tables = [];
  if (!args.includes('--cold-only')) {
    const context: BenchContext = { bundles, env: BENCH_ENV };
    const all = args.includes('--all');
    for (const section of BENCH_SECTIONS.filter((s) => all || !s.slow)) {
      const sectionStarted = performance.now();
      const table = await section.run(context);
      const sectionSeconds = Math.round((performance.now() - sectionStarted) / 1000);
      tables.push({ ...table, section: section.name, seconds: sectionSeconds });
      console.log(`\n## ${table.title}\n`);
      console.log(markdownTable(table.columns, table.rows));
      console.log(`\n_${section.name}: ${sectionSeconds} s_`);
    }
    const left = BENCH_SECTIONS.filter((s) => s.slow && !all).map((s) => s.name);
    if (left.length > 0) console.log(`\n_left out as slow: ${left.join(', ')} (\`npm run bench -- --all\`)_`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`\n_bench took ${seconds.toFixed(0)} s_`);
  if (jsonFile) {
    const report = {
      node: process.versions.node,
      arch: process.arch,
      runs: RUNS,
      coldStart: figures,
      tables,
      seconds,
    };
    writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  }
}

await main();
