import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { type BuildOptions, type BuildResult, buildSync, type Metafile } from 'esbuild';
import { fixedExports } from './fixed-exports.js';

/**
 * How a function is bundled, in one place: the CDK function construct (strongroom-function.ts) builds with
 * `bundleFunction`, the bundle tests (test/infra/bundles.test.ts) with `buildFunctionCode`, its build step,
 * so what they check is byte for byte what is deployed. The bench measures the construct's output itself, in
 * a synthesised assembly (bench/assembly.ts), beside a baseline built with `bundleFunction`.
 */

/** Lambda runs Node 22; esbuild targets it even though local development runs Node 20. */
export const FUNCTION_NODE_TARGET = 'node22';

/**
 * ESM output needs `require`, `__filename` and `__dirname` for the CommonJS dependencies that esbuild
 * inlines (they call `require('node:crypto')` and friends at run time). Aliased imports keep the banner's
 * names out of the bundle's own namespace.
 */
export const ESM_REQUIRE_BANNER = [
  "import { createRequire as __srCreateRequire } from 'node:module';",
  "import { fileURLToPath as __srFileURLToPath } from 'node:url';",
  "import { dirname as __srDirname } from 'node:path';",
  'const require = __srCreateRequire(import.meta.url);',
  'const __filename = __srFileURLToPath(import.meta.url);',
  'const __dirname = __srDirname(__filename);',
].join('');

/**
 * Modules left out of every bundle. The AWS SDK is NOT among them: bundling the few clients a function
 * uses (tree-shaken, minified) starts faster than loading the runtime's full copy, and pins the version
 * we tested. `pg-native` is pg's optional native binding, which we never use. `nodemailer` carries mail
 * to the local inbox in local mode only (shared/mail/smtp-mailer.ts loads it on first use); deployed
 * functions send through SES and never load it.
 */
export const EXTERNAL_MODULES: readonly string[] = ['pg-native', 'nodemailer'];

/**
 * Node built-ins that the libraries named here import only for what no function of ours uses, each bundled
 * as a stand-in from ./builtin-stand-ins/ instead: a module of Node's imported as an ES module is loaded and
 * every export of it read (its lazily loaded parts too), at every cold start, whether or not the code that
 * needs it ever runs. Each stand-in exports just the names its importers take, and each is the module's own
 * export (or, for web streams, answers as it would). The bundle tests check that no other module imports
 * these (the stand-ins are not the whole modules) and that a cold start loads none of what they keep out.
 * With client-ip.ts's node:net, they cut the instructions of a cold start's import (callgrind, `node
 * --single-threaded`, a bare `node` subtracted) by about 10 % in the audit function, which then loaded no web
 * streams at init, and by 2 to 5 % in tenants and storage, which still did until the S3 client was built
 * apart (SELF_CONTAINED_MODULES).
 */
export const BUILTIN_STAND_INS: Readonly<Record<string, { file: string; importers: readonly string[] }>> = {
  // Only for @middy/core's streamifyResponse mode; loads all of Node's web streams.
  'node:stream/web': { file: 'stream-web.ts', importers: ['@middy/core'] },
  // Its `promises` export loads timers/promises.
  'node:timers': { file: 'timers.ts', importers: ['@middy/core'] },
  // Its ES import reads every export of the console module.
  'node:console': {
    file: 'console.ts',
    importers: ['@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics'],
  },
};

/**
 * The esbuild aliases of BUILTIN_STAND_INS. An alias covers the module's subpaths too, so
 * `node:timers/promises` is mapped to itself: it stays Node's (external), not a path inside a stand-in.
 */
function builtinStandInAliases(projectRoot: string): Record<string, string> {
  return {
    ...Object.fromEntries(
      Object.entries(BUILTIN_STAND_INS).map(([module, { file }]) => [
        module,
        join(projectRoot, 'infra', 'constructs', 'builtin-stand-ins', file),
      ]),
    ),
    'node:timers/promises': 'node:timers/promises',
  };
}

/**
 * Packages that only rare routes use and that are built as a self-contained module of the bundle
 * (`self-contained/<name>.mjs`, from ./self-contained/<name>.ts), with their own copy of what they share
 * with the rest of the code, instead of as chunks of the function's build.
 *
 * Why: esbuild puts a file in the chunk of every set of entry points whose static imports reach it. A file of
 * @smithy/core or @aws-sdk/core that the DynamoDB client reaches (through a package's index) therefore went
 * into index.mjs whole, with the parts of it that only the S3 client uses; among them @smithy/core's
 * ChecksumStream, which subclasses the global ReadableStream when its module loads, so every cold start of
 * tenants and storage loaded Node's web streams. Built apart, the S3 client leaves the cold start: tenants'
 * and storage's index.mjs lose about 17 KiB, and their import 4.5 and 6 % of its instructions (callgrind,
 * 224M → 214M and 221M → 208M; the baseline's is 150M). The first request of a process that uses S3
 * (tenant export and deletion, a storage location's deletion, checks and self-test) loads the module with
 * its copy of the SDK's core: loading tenants' export and deletion chunks took the same CPU time as before
 * (about 27 ms either way), as most of what that copy holds was in their chunks already.
 *
 * The function's code imports the packages as usual; the build maps them (alias) to the module, which only
 * chunks behind `await import()` may import (`buildFunctionCode` fails the build otherwise): they sit in
 * chunks/, so `../self-contained/<name>.mjs` is where the module is.
 */
export const SELF_CONTAINED_MODULES: Readonly<Record<string, { packages: readonly string[] }>> = {
  s3: { packages: ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner'] },
};

/** The directory of a bundle that holds the SELF_CONTAINED_MODULES it uses. */
export const SELF_CONTAINED_DIR = 'self-contained';

/** How the lazy chunks (in chunks/) import self-contained module `name`. */
const selfContainedImport = (name: string) => `../${SELF_CONTAINED_DIR}/${name}.mjs`;

/** Prefer ESM entry points so esbuild can tree-shake. */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/**
 * Native (N-API) packages an area's bundle loads at run time. esbuild cannot inline a `.node` binary, so
 * these stay external and CDK installs them into the function's asset from package-lock.json, for
 * Lambda's platform (see LAMBDA_NPM_PLATFORM) rather than this machine's.
 */
export const AREA_NATIVE_MODULES: Readonly<Record<string, readonly string[]>> = {
  auth: ['@node-rs/argon2'],
};

/**
 * npm settings for installing native modules into an asset: Lambda's OS, CPU and libc (Amazon Linux 2023,
 * arm64, glibc). Prefer the npm cache so a synth after the first one needs no registry.
 */
export const LAMBDA_NPM_PLATFORM: Readonly<Record<string, string>> = {
  npm_config_os: 'linux',
  npm_config_cpu: 'arm64',
  npm_config_libc: 'glibc',
  npm_config_prefer_offline: 'true',
};

/**
 * The esbuild options of one function: ESM for node22, minified, source maps, code splitting. Splitting is
 * why this is not CDK's NodejsFunction (whose esbuild call writes one `--outfile`): a module a handler
 * loads with `await import()` (the Encryption SDK, pg, the IAM client, …) becomes a chunk of its own
 * (`chunks/*.mjs`), so it is neither parsed nor source-mapped at cold start unless a request needs it; the
 * S3 client and presigner are a module built apart (SELF_CONTAINED_MODULES).
 */
export function functionBuildOptions(
  entry: string,
  outdir: string,
  projectRoot: string,
  nativeModules: readonly string[] = [],
): BuildOptions & { metafile: true } {
  return {
    ...outputOptions(projectRoot, nativeModules),
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    mainFields: [...MAIN_FIELDS],
    alias: {
      ...builtinStandInAliases(projectRoot),
      ...Object.fromEntries(
        Object.entries(SELF_CONTAINED_MODULES).flatMap(([name, { packages }]) =>
          packages.map((pkg) => [pkg, selfContainedImport(name)]),
        ),
      ),
    },
    external: [
      ...EXTERNAL_MODULES,
      ...nativeModules,
      ...Object.keys(SELF_CONTAINED_MODULES).map(selfContainedImport),
    ],
  };
}

/** What the split build and the merge of its init chunks (`mergeInitChunks`) write alike. */
function outputOptions(projectRoot: string, nativeModules: readonly string[]) {
  return {
    absWorkingDir: projectRoot,
    bundle: true,
    platform: 'node',
    target: FUNCTION_NODE_TARGET,
    format: 'esm',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    banner: { js: ESM_REQUIRE_BANNER },
    external: [...EXTERNAL_MODULES, ...nativeModules],
    metafile: true,
    logLevel: 'warning',
    // A name imported from a module that does not export it (a stand-in's importer taking one more name
    // through a namespace import, say) fails the build instead of being undefined at run time.
    logOverride: { 'import-is-undefined': 'error' },
  } satisfies BuildOptions;
}

/** The file Lambda loads (`index.handler`) inside a function's bundle directory. */
export const FUNCTION_ENTRY_FILE = 'index.mjs';

/**
 * Builds one function's code into `outdir`: index.mjs with everything its cold start loads, the chunks
 * behind `await import()` and their source maps (esbuild with code splitting, then `mergeInitChunks`).
 * Returns esbuild's result with the metafile of that layout (which inputs index.mjs holds, i.e. what a cold
 * start loads, and what each lazy chunk holds).
 */
export function buildFunctionCode(options: {
  entry: string;
  outdir: string;
  projectRoot: string;
  nativeModules?: readonly string[];
}): BuildResult<{ metafile: true }> {
  const nativeModules = options.nativeModules ?? [];
  const split = buildSync(
    functionBuildOptions(options.entry, options.outdir, options.projectRoot, nativeModules),
  );
  const selfContained = buildSelfContainedModules(split.metafile, options.outdir, options.projectRoot);
  const merged = mergeInitChunks(split.metafile, options.projectRoot, nativeModules);
  if (!selfContained) return { ...split, metafile: merged };
  return {
    ...split,
    errors: [...split.errors, ...selfContained.errors],
    warnings: [...split.warnings, ...selfContained.warnings],
    metafile: {
      inputs: { ...merged.inputs, ...selfContained.metafile.inputs },
      outputs: { ...merged.outputs, ...selfContained.metafile.outputs },
    },
  };
}

/**
 * Builds the SELF_CONTAINED_MODULES that the split build's outputs import into `outdir/self-contained/`
 * (code splitting among themselves only: the SDK's credential providers stay behind `await import()`), or
 * nothing if none is imported. Throws if anything but a lazy chunk imports one, or imports one with
 * `require()`: code of the cold start would load it at init, and an import from index.mjs (even
 * `await import()`, or a chunk's `require()`, which esbuild's helper in index.mjs resolves) would not find it.
 */
function buildSelfContainedModules(
  metafile: Metafile,
  outdir: string,
  projectRoot: string,
): BuildResult<{ metafile: true }> | undefined {
  const outputs = metafile.outputs;
  const { entry, init } = initGraph(metafile);
  const used = Object.keys(SELF_CONTAINED_MODULES).filter((name) => {
    const importers = Object.keys(outputs).filter((o) =>
      outputs[o]?.imports.some((i) => i.external && i.path === selfContainedImport(name)),
    );
    // A require() of it would resolve from index.mjs (esbuild's __require helper lives there once merged).
    const misplaced = importers.filter(
      (o) =>
        init.has(o) ||
        dirname(resolve(projectRoot, o)) !== resolve(outdir, 'chunks') ||
        outputs[o]?.imports.some(
          (i) =>
            i.path === selfContainedImport(name) && !['import-statement', 'dynamic-import'].includes(i.kind),
        ),
    );
    if (misplaced.length > 0)
      throw new Error(
        `${SELF_CONTAINED_MODULES[name]!.packages.join(' and ')} may be imported only by modules that are ` +
          `loaded with await import(), not by ${misplaced.join(', ')} (the cold start of ${entry})`,
      );
    return importers.length > 0;
  });
  if (used.length === 0) return undefined;
  const options = outputOptions(projectRoot, []);
  return buildSync({
    ...options,
    entryPoints: Object.fromEntries(
      used.map((name) => [name, join(projectRoot, 'infra', 'constructs', SELF_CONTAINED_DIR, `${name}.ts`)]),
    ),
    outdir: join(outdir, SELF_CONTAINED_DIR),
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    mainFields: [...MAIN_FIELDS],
  });
}

/**
 * Bundles one function into `outdir` (`buildFunctionCode`) and, for native modules, installs them there
 * from package-lock.json for Lambda's platform (`installNativeModules`).
 */
export function bundleFunction(options: {
  entry: string;
  outdir: string;
  projectRoot: string;
  nativeModules?: readonly string[];
}): BuildResult<{ metafile: true }> {
  const nativeModules = options.nativeModules ?? [];
  const result = buildFunctionCode(options);
  if (nativeModules.length > 0) {
    const pkg = JSON.parse(readFileSync(join(options.projectRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const dependencies = Object.fromEntries(
      nativeModules.map((name) => {
        const version = pkg.dependencies[name];
        if (!version) throw new Error(`native module ${name} is not a dependency in package.json`);
        return [name, version];
      }),
    );
    writeFileSync(join(options.outdir, 'package.json'), JSON.stringify({ dependencies }));
    copyFileSync(join(options.projectRoot, 'package-lock.json'), join(options.outdir, 'package-lock.json'));
    installNativeModules(options.outdir);
  }
  return result;
}

/**
 * Installs the native modules of a function's bundle directory (its package.json, pinned by its copy of
 * package-lock.json) into its node_modules: for Lambda's platform (LAMBDA_NPM_PLATFORM), or with
 * `platform: 'host'` for this machine's (the bench, which loads the shipped auth function here).
 */
export function installNativeModules(dir: string, platform: 'lambda' | 'host' = 'lambda'): void {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    env: {
      ...process.env,
      npm_config_prefer_offline: 'true',
      ...(platform === 'lambda' ? LAMBDA_NPM_PLATFORM : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** The split build's index.mjs, and it with every output it imports statically, transitively: a cold start. */
function initGraph(metafile: Metafile) {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find(
    (o) => outputs[o]?.entryPoint && o.endsWith(`/${FUNCTION_ENTRY_FILE}`),
  );
  if (!entry) throw new Error('the split build wrote no index.mjs');
  const staticImports = (o: string) =>
    (outputs[o]?.imports ?? [])
      .filter((i) => i.kind === 'import-statement' && !i.external)
      .map((i) => i.path);
  const init = new Set<string>();
  const visit = (o: string) => {
    if (init.has(o)) return;
    init.add(o);
    for (const i of staticImports(o)) visit(i);
  };
  visit(entry);
  return { entry, init, staticImports };
}

/**
 * Per merged chunk, the names the lazy chunks import from it (`import{a as b,c}from"./chunk-X.mjs"`, as
 * esbuild writes them): index.mjs re-exports only those, not what the chunk exported to the other merged
 * chunks. A chunk imported any other way (a namespace, say) is left out of the answer, so all its exports
 * are re-exported; a name missed here would fail the import of the lazy chunk, which the bundle tests do
 * for every chunk.
 */
function namesImportedFrom(
  merged: ReadonlySet<string>,
  lazyOutputs: readonly string[],
  abs: (output: string) => string,
): Map<string, string[]> {
  const names = new Map<string, Set<string>>();
  const other = new Set<string>();
  for (const lazy of lazyOutputs) {
    const code = readFileSync(abs(lazy), 'utf8');
    const byPath = new Map([...merged].map((o) => [`./${relative(dirname(abs(lazy)), abs(o))}`, o]));
    for (const [, list, from] of code.matchAll(/import\{([^}]*)\}from"([^"]+)"/g)) {
      const o = byPath.get(from!);
      if (!o) continue;
      const set = names.get(o) ?? new Set<string>();
      for (const item of list!.split(',')) set.add(item.trim().split(/\s+as\s+/)[0]!);
      names.set(o, set);
    }
    for (const [path, o] of byPath) {
      const quoted = `"${path}"`;
      const all = code.split(quoted).length - 1;
      const named = [...code.matchAll(/import\{[^}]*\}from"([^"]+)"/g)].filter(([, p]) => p === path).length;
      if (all !== named) other.add(o);
    }
  }
  for (const o of other) names.delete(o);
  return new Map([...names].map(([o, set]) => [o, [...set].sort()]));
}

/**
 * The name index.mjs hands merged chunk `n`'s export `name` on under, as a key of `INIT_SNAPSHOT` or (for a
 * binding that may change) an export of its own: short, since each is written in index.mjs and again in a
 * stand-in. Unique among them: `n` is digits ended by the first `_`, an identifier never starts with a digit,
 * and index.mjs's only other exports are `handler` and `INIT_SNAPSHOT`.
 */
const initExport = (n: number, name: string) => `$${n}_${name}`;

/**
 * What index.mjs exports the merged chunks' fixed exports (`fixedExports`) in: one object holding their
 * values, made when index.mjs has run, instead of one export each. V8 looks a module's exported variables up
 * by a linear search of its export list each time it compiles a function that uses one, and the functions'
 * index.mjs re-exported 180–370 names to their lazy chunks: its cold start cost the auth function 2.5 % of
 * its instructions (callgrind). Not an `initExport` name: those start with `$` and a digit.
 */
const INIT_SNAPSHOT = '$init';

/**
 * Merges what a cold start loads into index.mjs alone. Code splitting leaves index.mjs importing a dozen
 * or two shared chunks (esbuild makes one per combination of entry points that share code), and every file
 * a cold start loads costs a resolve, a read, a module record, a source-map read and the require banner.
 * Merged, the tenants function's cold start (25 files) took 13 % less CPU (216 → 189 ms, interleaved on
 * this machine) and the bench's baseline (9 files) 14 % less: a gain for every cold start, though hardly
 * for the ratios to the baseline, which is built the same way. The lazy chunks (behind `await import()`)
 * stay as they are.
 *
 * How: a second esbuild pass bundles index.mjs with the chunks it imports statically (the split output,
 * read back with its source maps, so stack traces still map to the TypeScript), and re-exports what the lazy
 * chunks import from those chunks under names of its own (`namesImportedFrom`, `initExport`): those whose
 * value is fixed once loaded (`fixedExports`: nearly all) as properties of one exported object
 * (`INIT_SNAPSHOT`), the others as live bindings. Each merged chunk that a lazy chunk imports is then
 * replaced by a one-line module exporting those names again, taken from index.mjs (so the lazy chunk sees the
 * very module instances the cold start built); the others are deleted. Returns the metafile as if esbuild had
 * written the merged layout: index.mjs holds every input of the merged chunks.
 */
function mergeInitChunks(
  metafile: Metafile,
  projectRoot: string,
  nativeModules: readonly string[],
): Metafile {
  const outputs = metafile.outputs;
  const { entry, init, staticImports } = initGraph(metafile);
  const chunks = [...init].filter((o) => o !== entry);
  if (chunks.length === 0) return metafile;
  const entryOutput = outputs[entry]!;

  const abs = (o: string) => resolve(projectRoot, o);
  const outdir = dirname(abs(entry));
  const lazyOutputs = Object.keys(outputs).filter((o) => o.endsWith('.mjs') && !init.has(o));
  // Chunks a lazy chunk imports: they keep a re-exporting stand-in; the names they export are re-exported.
  const importedLater = new Set(lazyOutputs.flatMap(staticImports).filter((o) => init.has(o)));
  const wanted = namesImportedFrom(importedLater, lazyOutputs, abs);
  const exported = new Map(
    [...importedLater].map((o, n) => {
      const names = wanted.get(o) ?? outputs[o]?.exports ?? [];
      const fixed = names.length > 0 ? fixedExports(readFileSync(abs(o), 'utf8')) : new Set<string>();
      return [
        o,
        {
          n,
          names,
          fixed: names.filter((name) => fixed.has(name)),
          live: names.filter((name) => !fixed.has(name)),
        },
      ];
    }),
  );
  if (entryOutput.exports.includes(INIT_SNAPSHOT))
    throw new Error(`${entry} exports ${INIT_SNAPSHOT}, the name of the merged chunks' snapshot`);

  // The split files carry the require banner on their first line: blank it (keeping the line, so their
  // source maps still fit) and let the merged file carry it once.
  for (const o of init) {
    const file = abs(o);
    const text = readFileSync(file, 'utf8');
    if (!text.startsWith(ESM_REQUIRE_BANNER)) throw new Error(`${o} does not start with the require banner`);
    writeFileSync(file, text.slice(ESM_REQUIRE_BANNER.length));
  }
  const reexports = [...exported].flatMap(([o, { n, fixed, live }]) => {
    const from = `'./${relative(outdir, abs(o))}'`;
    const list = (names: string[]) => names.map((name) => `${name} as ${initExport(n, name)}`).join(', ');
    return [
      ...(live.length > 0 ? [`export { ${list(live)} } from ${from};`] : []),
      ...(fixed.length > 0 ? [`import { ${list(fixed)} } from ${from};`] : []),
    ];
  });
  const snapshot = [...exported.values()].flatMap(({ n, fixed }) => fixed.map((name) => initExport(n, name)));
  if (snapshot.length > 0) reexports.push(`export const ${INIT_SNAPSHOT} = { ${snapshot.join(', ')} };`);
  const options = outputOptions(projectRoot, nativeModules);
  const merged = buildSync({
    ...options,
    stdin: {
      contents: [`export * from './${FUNCTION_ENTRY_FILE}';`, ...reexports].join('\n'),
      resolveDir: outdir,
      sourcefile: 'merged-init.mjs',
      loader: 'js',
    },
    outfile: abs(entry),
    allowOverwrite: true,
    // The split files already end in their legal comments. Gathered again, a chunk's would be headed by its
    // path when the build directory is inside a node_modules folder (the bench's assembly, the bundle
    // tests), and those bundles would differ from a synth's into cdk.out.
    legalComments: 'inline',
    // The lazy chunks stay where they are (esbuild writes their paths relative to index.mjs).
    external: [...options.external, ...lazyOutputs.map(abs)],
  });
  if (merged.errors.length > 0) throw new Error(`merging the init chunks of ${entry} failed`);

  for (const o of chunks) {
    rmSync(`${abs(o)}.map`, { force: true });
    const stand = exported.get(o);
    if (!stand) {
      rmSync(abs(o));
      continue;
    }
    const index = `"./${relative(dirname(abs(o)), abs(entry))}"`;
    const statements: string[] = [];
    if (stand.fixed.length > 0) {
      // Locals of its own (`s`, then `s0`, `s1`, …), exported under the chunk's names: esbuild names a
      // chunk's exports in sequence, keywords included (its 333rd is `if`), and a keyword is no binding.
      const locals = stand.fixed.map((name, k) => `${initExport(stand.n, name)}:s${k}`).join(',');
      const names = stand.fixed.map((name, k) => `s${k} as ${name}`).join(',');
      statements.push(`import{${INIT_SNAPSHOT} as s}from${index};const{${locals}}=s;export{${names}};`);
    }
    // A chunk a lazy one imports for its effects alone exports nothing, yet must still load index.mjs first.
    if (stand.live.length > 0 || stand.fixed.length === 0) {
      const list = stand.live.map((name) => `${initExport(stand.n, name)} as ${name}`).join(',');
      statements.push(`export{${list}}from${index};`);
    }
    writeFileSync(abs(o), `${statements.join('')}\n`);
  }

  // The metafile of the merged layout: index.mjs with every input of the chunks it absorbed and their
  // imports of what stays outside it; each stand-in importing index.mjs; the lazy chunks as they were.
  const result: Metafile = { inputs: metafile.inputs, outputs: {} };
  const mergedImports = [...init].flatMap((o) => outputs[o]?.imports ?? []).filter((i) => !init.has(i.path));
  result.outputs[entry] = {
    ...entryOutput,
    bytes: readFileSync(abs(entry)).length,
    exports: [
      ...entryOutput.exports,
      ...(snapshot.length > 0 ? [INIT_SNAPSHOT] : []),
      ...[...exported.values()].flatMap(({ n, live }) => live.map((name) => initExport(n, name))),
    ],
    imports: mergedImports.filter(
      (i, k) => mergedImports.findIndex((j) => j.path === i.path && j.kind === i.kind) === k,
    ),
    inputs: Object.fromEntries([...init].flatMap((o) => Object.entries(outputs[o]?.inputs ?? {}))),
  };
  for (const [o, output] of Object.entries(outputs)) {
    if (o === entry || o.endsWith('.map')) continue;
    if (init.has(o)) {
      if (!exported.has(o)) continue;
      result.outputs[o] = {
        bytes: readFileSync(abs(o)).length,
        inputs: {},
        imports: [{ path: entry, kind: 'import-statement' }],
        exports: exported.get(o)?.names ?? [],
      };
      continue;
    }
    result.outputs[o] = output;
  }
  return result;
}
