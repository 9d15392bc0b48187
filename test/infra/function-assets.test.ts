import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { StrongroomFunction } from '../../infra/constructs/strongroom-function.js';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';

/**
 * CDK caches a bundled asset by its source path and bundling options; every function bundles from the
 * project root, so only the local bundling's own fields tell two functions apart. Once, a synth gave every
 * function the first one's code. Two tiny entry points, really bundled, must give two assets.
 */
const dir = mkdtempSync(join(tmpdir(), 'strongroom-assets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('function assets', () => {
  it('gives each function the bundle of its own entry point', () => {
    // Prepare: two entry points that differ
    const entries = ['first', 'second'].map((name) => {
      const entry = join(dir, `${name}.ts`);
      writeFileSync(entry, `export const handler = async () => '${name}';\n`);
      return entry;
    });
    const app = new App({ outdir: join(dir, 'cdk.out') });
    const stack = new Stack(app, 'Assets');

    // Act
    entries.forEach((entry, i) => {
      new StrongroomFunction(stack, `Fn${i}`, { entry, projectRoot: PROJECT_ROOT, description: `fn ${i}` });
    });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');

    // Assess: two functions, two different code assets
    const keys = Object.values(functions).map((f) => JSON.stringify(f.Properties.Code));
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });
});
