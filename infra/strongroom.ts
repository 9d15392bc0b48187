import type { App, Environment } from 'aws-cdk-lib';
import { type PlatformOidcProvider, parsePlatformProviders } from '../shared/domain/oidc.js';
import { TenantId } from '../shared/schemas/common.js';
import type { MailSettings } from './constructs/mail-identity.js';
import { TRACING_CONTEXT_KEY } from './constructs/strongroom-function.js';
import { StatefulStack } from './stacks/stateful-stack.js';
import { StatelessStack } from './stacks/stateless-stack.js';
import { TenantKeysStack } from './stacks/tenant-keys-stack.js';

/** CDK context keys Strongroom reads (cdk.json or `-c key=value`). */
export const CONTEXT_KEYS = {
  stage: 'strongroom:stage',
  regions: 'strongroom:regions',
  preProvisionedTenants: 'strongroom:preProvisionedTenants',
  /** The domain SES sends from (an SES domain identity is created for it). */
  mailDomain: 'strongroom:mailDomain',
  /** The console's base URL (`https://…/console/`), where mail links point. */
  consoleUrl: 'strongroom:consoleUrl',
  /**
   * The platform's OpenID providers ("Sign in with …"): a JSON array of `{id, name, issuer, clientId,
   * clientSecretArn, algorithm?}`. `clientSecretArn` is the ARN or name of a Secrets Manager secret (in the
   * stack's account and region) holding the client secret; the secret itself never enters the template.
   */
  oidcProviders: 'strongroom:oidcProviders',
  /** `on` or `off` (the default): the Powertools tracer in every function (infra/constructs/strongroom-function.ts). */
  tracing: TRACING_CONTEXT_KEY,
} as const;

/**
 * Mail settings of a configuration that names none (tests, a first synth): a reserved example domain that
 * no one can verify, so nothing is ever sent from it. A real deployment sets both context keys.
 */
export const EXAMPLE_MAIL: MailSettings = {
  domain: 'strongroom.example.com',
  consoleUrl: 'https://strongroom.example.com/console/',
};

/** A tenant whose KMS key CDK creates, in the tenant's home region. */
export interface PreProvisionedTenant {
  tenantId: string;
  region: string;
}

export interface StrongroomConfig {
  stage: string;
  /** One stateful and one stateless stack per region; tenants are homed in one region. */
  regions: readonly string[];
  /** @default environment-agnostic account (resolved at deploy time) */
  account?: string;
  /** Stateless stack settings for tests and special deployments, e.g. `{ projectRoot }`. */
  projectRoot?: string;
  /** Tenants whose keys CDK makes (`parsePreProvisionedTenants`). @default none */
  preProvisionedTenants?: readonly PreProvisionedTenant[];
  /** @default EXAMPLE_MAIL */
  mail?: MailSettings;
  /** Platform OpenID providers (`strongroom:oidcProviders`). @default none */
  oidcProviders?: readonly PlatformOidcProvider[];
}

export interface RegionStacks {
  region: string;
  stateful: StatefulStack;
  stateless: StatelessStack;
  /** Only in regions that home a pre-provisioned tenant. */
  tenantKeys?: TenantKeysStack;
}

/** Adds Strongroom's stacks for every configured region to `app`. */
export function addStrongroomStacks(app: App, config: StrongroomConfig): RegionStacks[] {
  if (!/^[a-z0-9-]{1,32}$/.test(config.stage)) throw new Error(`stage must be kebab-case: ${config.stage}`);
  if (config.regions.length === 0) throw new Error('no region configured (context strongroom:regions)');
  const tenants = config.preProvisionedTenants ?? [];
  const mail = config.mail ?? EXAMPLE_MAIL;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(mail.domain))
    throw new Error(`${CONTEXT_KEYS.mailDomain}: not a domain name: ${JSON.stringify(mail.domain)}`);
  if (!/^https:\/\/[^/]+\/.*$/.test(mail.consoleUrl))
    throw new Error(`${CONTEXT_KEYS.consoleUrl}: not an https URL: ${JSON.stringify(mail.consoleUrl)}`);
  for (const { tenantId, region } of tenants) {
    if (!TenantId().safeParse(tenantId).success)
      throw new Error(`not a tenant id: ${JSON.stringify(tenantId)}`);
    if (!config.regions.includes(region))
      throw new Error(`tenant ${tenantId}: ${region} is not a configured region`);
  }
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
      mail,
      // Parsed again here, so a configuration built in code is checked as strictly as one from context.
      oidcProviders: parsePlatformProviders(JSON.stringify(config.oidcProviders ?? [])),
      projectRoot: config.projectRoot,
      description: `Strongroom ${config.stage} functions, API, WAF, alarms and the console distribution (${region})`,
    });
    stateless.addStackDependency(stateful);
    const homed = tenants.filter((t) => t.region === region).map((t) => t.tenantId);
    if (homed.length === 0) return { region, stateful, stateless };
    // After the stateless stack has built every function: the key policies name the tenant-key users.
    const tenantKeys = new TenantKeysStack(app, `strongroom-${config.stage}-${region}-tenant-keys`, {
      env,
      stage: config.stage,
      tenantIds: homed,
      applicationRoleArns: stateless.tenantKeys.userRoles.map((role) => role.roleArn),
      // The same export-archive statement as keys made at tenant creation (TENANT_EXPORT_ROLE_ARNS).
      exportArchives: {
        bucketName: stateful.resources.exportBucket.bucketName,
        roleArns: [stateless.functions.tenants.role.roleArn],
      },
      // The same managed-objects statement as keys made at tenant creation (STORAGE_BUCKET).
      managedObjects: { bucketName: stateful.resources.storageBucket.bucketName },
      // The same tenant IdP client-secret statements (TENANT_OIDC_SECRET_*_ROLE_ARNS).
      oidcClientSecret: {
        encryptRoleArns: stateless.tenantKeys.oidcClientSecretRoles.encrypt.map((role) => role.roleArn),
        decryptRoleArns: stateless.tenantKeys.oidcClientSecretRoles.decrypt.map((role) => role.roleArn),
      },
      // The same S3-compatible store key-pair statement (TENANT_STORE_KEY_ROLE_ARNS).
      storeKeyPairs: { roleArns: stateless.tenantKeys.storeKeyPairRoles.map((role) => role.roleArn) },
      description: `Strongroom ${config.stage} keys of pre-provisioned tenants (${region})`,
    });
    tenantKeys.addStackDependency(stateless);
    return { region, stateful, stateless, tenantKeys };
  });
}

/** The configuration `infra/app.ts` deploys: CDK context, and the account of the CLI's credentials. */
export function configFromContext(app: App, account = process.env.CDK_DEFAULT_ACCOUNT): StrongroomConfig {
  const regions = contextList(app.node.tryGetContext(CONTEXT_KEYS.regions));
  return {
    stage: String(app.node.tryGetContext(CONTEXT_KEYS.stage) ?? 'dev'),
    regions,
    account,
    preProvisionedTenants: parsePreProvisionedTenants(
      app.node.tryGetContext(CONTEXT_KEYS.preProvisionedTenants),
      regions,
    ),
    ...mailFromContext(app),
    oidcProviders: oidcProvidersFromContext(app.node.tryGetContext(CONTEXT_KEYS.oidcProviders)),
  };
}

/** Reads `strongroom:oidcProviders` (a JSON array, or its JSON text from `-c`); throws naming the problem. */
export function oidcProvidersFromContext(value: unknown): PlatformOidcProvider[] {
  if (value === undefined) return [];
  try {
    return parsePlatformProviders(typeof value === 'string' ? value : JSON.stringify(value));
  } catch (error) {
    throw new Error(`${CONTEXT_KEYS.oidcProviders}: ${(error as Error).message}`);
  }
}

function mailFromContext(app: App): { mail?: MailSettings } {
  const domain = app.node.tryGetContext(CONTEXT_KEYS.mailDomain) as string | undefined;
  const consoleUrl = app.node.tryGetContext(CONTEXT_KEYS.consoleUrl) as string | undefined;
  if (domain === undefined && consoleUrl === undefined) return {};
  if (!domain || !consoleUrl)
    throw new Error(`set both ${CONTEXT_KEYS.mailDomain} and ${CONTEXT_KEYS.consoleUrl}, or neither`);
  return { mail: { domain: String(domain), consoleUrl: String(consoleUrl) } };
}

/**
 * Reads `strongroom:preProvisionedTenants`: tenant ids (`t_` and 26 Crockford base32 characters), as a
 * JSON array or a comma list. A tenant is homed in one region, so with several regions configured each
 * entry names its region: `{"tenantId": "t_…", "region": "eu-west-1"}` (or `t_…@eu-west-1` in a comma
 * list). Anything else, and any tenant named twice, is refused: a typo must not create a stray key.
 */
export function parsePreProvisionedTenants(
  value: unknown,
  regions: readonly string[],
): PreProvisionedTenant[] {
  const entries: unknown[] =
    value === undefined || value === null
      ? []
      : Array.isArray(value)
        ? value
        : typeof value === 'string'
          ? contextList(value)
          : [value];
  const seen = new Set<string>();
  return entries.map((entry) => {
    let tenantId: unknown;
    let region: unknown;
    if (typeof entry === 'string') [tenantId, region] = entry.split('@');
    else if (entry && typeof entry === 'object') ({ tenantId, region } = entry as Record<string, unknown>);
    if (typeof tenantId !== 'string' || !TenantId().safeParse(tenantId).success)
      throw new Error(`${CONTEXT_KEYS.preProvisionedTenants}: not a tenant id: ${JSON.stringify(entry)}`);
    if (region === undefined) {
      if (regions.length !== 1)
        throw new Error(
          `${CONTEXT_KEYS.preProvisionedTenants}: ${tenantId} needs its home region ({"tenantId", "region"}) when several regions are configured`,
        );
      region = regions[0];
    }
    if (typeof region !== 'string' || !regions.includes(region))
      throw new Error(
        `${CONTEXT_KEYS.preProvisionedTenants}: ${tenantId}: ${JSON.stringify(region)} is not a configured region`,
      );
    if (seen.has(tenantId))
      throw new Error(`${CONTEXT_KEYS.preProvisionedTenants}: ${tenantId} is named twice`);
    seen.add(tenantId);
    return { tenantId, region };
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
