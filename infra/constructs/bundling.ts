/**
 * How a function is bundled, in one place: the CDK function construct and the bench (bench/run.ts) both
 * read these settings, so the bench measures exactly what is deployed.
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
