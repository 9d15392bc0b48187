import type { App, Environment } from 'aws-cdk-lib';
import { StatefulStack } from './stacks/stateful-stack.js';
import { StatelessStack } from './stacks/stateless-stack.js';

export interface StrongroomConfig {
  stage: string;
  /** One stateful and one stateless stack per region; tenants are homed in one region. */
  regions: readonly string[];
  /** @default environment-agnostic account (resolved at deploy time) */
  account?: string;
  /** Stateless stack settings for tests and special deployments, e.g. `{ projectRoot }`. */
  projectRoot?: string;
}

export interface RegionStacks {
  region: string;
  stateful: StatefulStack;
  stateless: StatelessStack;
}

/** Adds Strongroom's stacks for every configured region to `app`. */
export function addStrongroomStacks(app: App, config: StrongroomConfig): RegionStacks[] {
  if (!/^[a-z0-9-]{1,32}$/.test(config.stage)) throw new Error(`stage must be kebab-case: ${config.stage}`);
  if (config.regions.length === 0) throw new Error('no region configured (context strongroom:regions)');
  return config.regions.map((region) => {
    const env: Environment = { account: config.account, region };
    const stateful = new StatefulStack(app, `strongroom-${config.stage}-${region}-stateful`, {
      env,
      stage: config.stage,
      description: `Strongroom ${config.stage} data: tables, platform key, buckets, backups (${region})`,
    });
    const stateless = new StatelessStack(app, `strongroom-${config.stage}-${region}-stateless`, {
      env,
      stage: config.stage,
      stateful: stateful.resources,
      projectRoot: config.projectRoot,
      description: `Strongroom ${config.stage} functions, API, WAF and alarms (${region})`,
    });
    stateless.addStackDependency(stateful);
    return { region, stateful, stateless };
  });
}

/** Reads a list from CDK context: a JSON array (cdk.json) or a comma-separated string (`-c key=a,b`). */
export function contextList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  const text = String(value).trim();
  if (text.startsWith('[')) return (JSON.parse(text) as unknown[]).map(String);
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
