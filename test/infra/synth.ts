import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';
import { addStrongroomStacks, type RegionStacks, type StrongroomConfig } from '../../infra/strongroom.js';

export const TEST_STAGE = 'test';
export const TEST_REGIONS = ['eu-central-1', 'eu-west-1'] as const;

export interface Synthesised {
  app: App;
  stacks: RegionStacks[];
  assembly: CloudAssembly;
  /** Remove the temporary cloud assembly directory. */
  cleanup(): void;
}

/**
 * Synthesises the real app (cdk.json's context and feature flags, cdk-nag registered as in infra/app.ts)
 * for two regions (or `regions`, with more of the configuration in `config`) into a temporary directory. Asset bundling is skipped (`aws:cdk:bundling-stacks: []`,
 * CDK's own switch): esbuild would only slow the tests down, and every other property is the same.
 */
export function synthStrongroom(
  regions: readonly string[] = TEST_REGIONS,
  config: Partial<Omit<StrongroomConfig, 'stage' | 'regions'>> = {},
): Synthesised {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const outdir = mkdtempSync(join(tmpdir(), 'strongroom-cdk-'));
  const app = new App({
    outdir,
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
  });
  const stacks = addStrongroomStacks(app, { stage: TEST_STAGE, regions, ...config });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return { app, stacks, assembly, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}
