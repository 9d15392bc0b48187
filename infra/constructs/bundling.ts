import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, type BuildResult, buildSync } from 'esbuild';

/**
 * How a function is bundled, in one place: the CDK function construct (strongroom-function.ts), the bench
 * (bench/run.ts) and the bundle tests (test/infra/bundles.test.ts) all build with `bundleFunction`, so what
 * they measure and check is byte for byte what is deployed.
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

/** Prefer ESM entry points so esbuild can tree-shake. */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/** Source maps are shipped next to the bundle and applied by Node at run time. */
export const FUNCTION_NODE_OPTIONS = '--enable-source-maps';

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
 * loads with `await import()` (the Encryption SDK, pg, the S3 presigner, …) becomes a chunk of its own
 * (`chunks/*.mjs`), so it is neither parsed nor source-mapped at cold start unless a request needs it.
 */
export function functionBuildOptions(
  entry: string,
  outdir: string,
  projectRoot: string,
  nativeModules: readonly string[] = [],
): BuildOptions & { metafile: true } {
  return {
    absWorkingDir: projectRoot,
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    target: FUNCTION_NODE_TARGET,
    format: 'esm',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: [...MAIN_FIELDS],
    banner: { js: ESM_REQUIRE_BANNER },
    external: [...EXTERNAL_MODULES, ...nativeModules],
    metafile: true,
    logLevel: 'warning',
  };
}

/** The file Lambda loads (`index.handler`) inside a function's bundle directory. */
export const FUNCTION_ENTRY_FILE = 'index.mjs';

/**
 * Bundles one function into `outdir` (index.mjs, its chunks and source maps) and, for native modules,
 * installs them there from package-lock.json for Lambda's platform (LAMBDA_NPM_PLATFORM), or for this
 * machine's with `hostNativeModules` (the bench loads the auth function here). Returns esbuild's result
 * (its metafile says which chunks index.mjs imports statically, i.e. what a cold start loads).
 */
export function bundleFunction(options: {
  entry: string;
  outdir: string;
  projectRoot: string;
  nativeModules?: readonly string[];
  hostNativeModules?: boolean;
}): BuildResult<{ metafile: true }> {
  const nativeModules = options.nativeModules ?? [];
  const result = buildSync(
    functionBuildOptions(options.entry, options.outdir, options.projectRoot, nativeModules),
  );
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
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: options.outdir,
      env: {
        ...process.env,
        npm_config_prefer_offline: 'true',
        ...(options.hostNativeModules ? {} : LAMBDA_NPM_PLATFORM),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return result;
}
