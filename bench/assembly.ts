/**
 * The functions as they ship: a synth of the real app, read back from its cloud assembly. The bench measures
 * these directories, the files `cdk deploy` would zip and upload, not a build of its own. (Only the chunks'
 * names depend on where the assembly is written: esbuild's hashes in them cover paths; the bytes do not.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { AssetManifestArtifact, type CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildSync } from 'esbuild';
import { ENTRY_METADATA_KEY } from '../infra/constructs/strongroom-function.js';
import { PROJECT_ROOT } from '../infra/stacks/stateless-stack.js';
import { addStrongroomStacks } from '../infra/strongroom.js';

/** One shipped function: its entry point and its code asset's directory. */
export interface ShippedFunction {
  /** Relative to the project root, from the function's template metadata. */
  entry: string;
  /** The asset directory in the assembly: index.mjs, chunks/, source maps, native modules. */
  dir: string;
}

const STAGE = 'bench';
const REGION = 'eu-central-1';

/**
 * Synthesises the app as `cdk synth` does (cdk.json's context and feature flags; one stage, one region) into
 * `outdir`, bundling the stateless stack's assets only: the functions are all there. cdk-nag is left out;
 * the tests run it on the same app.
 */
export function synthesiseFunctions(outdir: string): CloudAssembly {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({
    outdir,
    context: {
      ...cdkJson.context,
      'aws:cdk:bundling-stacks': [`strongroom-${STAGE}-${REGION}-stateless`],
    },
  });
  addStrongroomStacks(app, { stage: STAGE, regions: [REGION] });
  return app.synth();
}

/**
 * Every Strongroom function of an assembly, nested stages' included (a Lambda function with
 * `strongroom:entry` metadata), with the directory its code ships from: the template's S3 key names a file
 * asset of the stack's asset manifest, whose source is that directory. Throws if a function's code is not
 * such a directory with an index.mjs.
 */
export function shippedFunctions(assembly: CloudAssembly): ShippedFunction[] {
  const found: ShippedFunction[] = [];
  for (const stack of assembly.stacksRecursively) {
    const manifest = stack.dependencies.find((d) => d instanceof AssetManifestArtifact);
    const files = manifest
      ? ((JSON.parse(readFileSync(manifest.file, 'utf8')) as AssetManifest).files ?? {})
      : {};
    const resources = (stack.template as Template).Resources ?? {};
    for (const [logicalId, resource] of Object.entries(resources)) {
      const entry = resource.Metadata?.[ENTRY_METADATA_KEY];
      if (resource.Type !== 'AWS::Lambda::Function' || typeof entry !== 'string') continue;
      const key = resource.Properties?.Code?.S3Key;
      const hash = typeof key === 'string' ? key.replace(/\.zip$/, '') : undefined;
      const source = hash === undefined ? undefined : files[hash]?.source;
      if (!source?.path || source.packaging !== 'zip')
        throw new Error(`${stack.id}/${logicalId}: code is not a directory asset of the stack's manifest`);
      // Relative to the stack's assembly; absolute when bundling was skipped (then there is no index.mjs).
      const dir = resolve(stack.assembly.directory, source.path);
      if (!existsSync(join(dir, 'index.mjs')))
        throw new Error(`${stack.id}/${logicalId}: no index.mjs in ${dir}`);
      found.push({ entry, dir });
    }
  }
  return found.sort((a, b) => a.entry.localeCompare(b.entry));
}

/**
 * A function's name in the bench's tables, from its entry point: `functions/auth/handler.ts` → `auth`,
 * `functions/audit/sequencer.ts` → `audit/sequencer`.
 */
export function functionName(entry: string): string {
  const match = /^functions\/([^/]+)\/([^/]+)\.ts$/.exec(entry);
  if (!match) throw new Error(`not a function entry point: ${entry}`);
  return match[2] === 'handler' ? match[1]! : `${match[1]}/${match[2]}`;
}

interface AssetManifest {
  files?: Record<string, { source?: { path?: string; packaging?: string } }>;
}

interface Template {
  Resources?: Record<
    string,
    { Type: string; Metadata?: Record<string, unknown>; Properties?: { Code?: { S3Key?: unknown } } }
  >;
}

/**
 * The files of a shipped bundle a cold start loads (its index.mjs and the chunks index.mjs imports
 * statically, transitively; esbuild parses the shipped files for their imports and writes nothing) and every
 * .mjs file of the bundle, chunks behind `await import()` and self-contained modules included (native
 * modules' node_modules left out).
 */
export function bundleFiles(dir: string): { init: string[]; all: string[] } {
  const { metafile } = buildSync({
    absWorkingDir: dir,
    entryPoints: ['index.mjs'],
    bundle: true,
    write: false,
    splitting: true,
    outdir: 'unused',
    format: 'esm',
    platform: 'node',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
  });
  const init = new Set<string>();
  const visit = (file: string) => {
    if (init.has(file)) return;
    init.add(file);
    for (const i of metafile.inputs[file]?.imports ?? [])
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit('index.mjs');
  const all = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.mjs') && !f.startsWith('node_modules/'),
  );
  return { init: [...init].map((f) => join(dir, f)), all: all.map((f) => join(dir, f)) };
}
