import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleFiles, functionName, shippedFunctions } from '../../bench/assembly.js';
import { ENTRY_METADATA_KEY, StrongroomFunction } from '../../infra/constructs/strongroom-function.js';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';

/**
 * CDK caches a bundled asset by its source path and bundling options; every function bundles from the
 * project root, so only the local bundling's own fields tell two functions apart. Once, a synth gave every
 * function the first one's code. Two tiny entry points, really bundled, must give two assets.
 */
const dir = mkdtempSync(join(tmpdir(), 'strongroom-assets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stack of StrongroomFunctions, one per name, each from an entry point of its own answering its name. */
function tinyFunctions(stackId: string, names: readonly string[]) {
  const app = new App({ outdir: join(dir, `cdk.out.${stackId}`) });
  const stack = new Stack(app, stackId);
  const entries = names.map((name, i) => {
    const entry = join(dir, `${name}.ts`);
    writeFileSync(entry, `export const handler = async () => '${name}';\n`);
    new StrongroomFunction(stack, `Fn${i}`, { entry, projectRoot: PROJECT_ROOT, description: `fn ${i}` });
    return entry;
  });
  return { app, stack, entries };
}

describe('function assets', () => {
  it('gives each function the bundle of its own entry point', () => {
    // Prepare: two entry points that differ
    const { stack } = tinyFunctions('Assets', ['first', 'second']);

    // Act
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');

    // Assess: two functions, two different code assets
    const keys = Object.values(functions).map((f) => JSON.stringify(f.Properties.Code));
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });

  it("lets the bench find each function's shipped code by its entry point", async () => {
    // Prepare: two entry points, each answering its own name
    const names = ['third', 'fourth'];
    const { app, stack, entries } = tinyFunctions('Shipped', names);

    // Act
    const shipped = shippedFunctions(app.synth());

    // Assess: each entry's metadata leads to the asset built from it, whose index.mjs is all a cold start loads
    const byEntry = Object.fromEntries(shipped.map((f) => [f.entry, f.dir]));
    expect(Object.keys(byEntry).sort()).toEqual(entries.map((e) => relative(PROJECT_ROOT, e)).sort());
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    expect(
      Object.values(functions)
        .map((f) => f.Metadata?.[ENTRY_METADATA_KEY])
        .sort(),
    ).toEqual(Object.keys(byEntry).sort());
    for (const [i, name] of names.entries()) {
      const assetDir = byEntry[relative(PROJECT_ROOT, entries[i]!)]!;
      const { handler } = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as {
        handler: () => Promise<string>;
      };
      expect(await handler()).toBe(name);
      expect(bundleFiles(assetDir).init).toEqual([join(assetDir, 'index.mjs')]);
    }
  });

  it('names a function in the bench by its area and, beside the API handler, its file', () => {
    // Assess
    expect(functionName('functions/auth/handler.ts')).toBe('auth');
    expect(functionName('functions/audit/sequencer.ts')).toBe('audit/sequencer');
    expect(functionName('functions/jobs/verify-chains.ts')).toBe('jobs/verify-chains');
    expect(() => functionName('shared/http/api.ts')).toThrow(
      'not a function entry point: shared/http/api.ts',
    );
  });
});
