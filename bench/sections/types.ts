/** A function's bundle as the synthesised assembly ships it, or the baseline the bench builds alike. */
export interface BenchBundle {
  /** `baseline`, the API area (`public`, `auth`, …) or area and entry file (`audit/sequencer`). */
  name: string;
  /** Absolute path of the bundle's entry file (index.mjs). */
  file: string;
  /** What a cold start loads: index.mjs and the chunks it imports statically. */
  bytes: number;
  /** Every .mjs file of the asset, lazily loaded chunks included. */
  assetBytes: number;
}

/** What every section gets: the bundles and the environment the functions load with. */
export interface BenchContext {
  bundles: readonly BenchBundle[];
  /** Environment of a function in the bench: the variables handler modules require at load, fake values. */
  env: Readonly<Record<string, string>>;
}

/** A table printed after the main one, e.g. per-request handler overhead. */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: string[][];
}

/**
 * One extra bench section; add it to BENCH_SECTIONS in ./index.ts. Keep each under ~20 s, or mark it
 * `slow`: `npm run bench` (under two minutes on 2 cores) leaves slow sections out and names them;
 * `npm run bench -- --all` runs them too.
 */
export interface BenchSection {
  name: string;
  /** Takes minutes (traffic through the local system, 100k-event exports): run with `--all` only. */
  slow?: true;
  run(context: BenchContext): Promise<BenchTable>;
}
