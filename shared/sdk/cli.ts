import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { type StorageAccess, StrongroomApiError, StrongroomClient } from './client.js';

/**
 * The `strongroom` command line: sign in, list tenants and storage locations, register storage, and print
 * vended credentials in the AWS `credential_process` format so the AWS CLI, boto3 and every AWS SDK can use
 * them through `~/.aws/config`:
 *
 *   [profile lake-read]
 *   credential_process = npx strongroom credentials --tenant t_… --location s3://bucket/prefix --access read
 */

export interface CliConfig {
  endpoint?: string;
  token?: string;
  expiresAt?: string;
  tenantId?: string;
}

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  fetch?: typeof fetch;
}

const USAGE = `Usage: strongroom <command> [options]

Commands:
  login --endpoint URL --email EMAIL [--password-stdin] [--mfa-code CODE]
        Signs in and saves the session in ~/.config/strongroom/config.json (mode 0600).
        The password comes from stdin (--password-stdin) or STRONGROOM_PASSWORD, never from the command line.
  tenants [--json]                               Your tenants and roles.
  storage list --tenant T [--json]               Storage locations of a tenant.
  storage external-id --tenant T                 The tenant's ExternalId for your role's trust policy.
  storage register --tenant T --managed          A managed location in the platform bucket.
  storage register --tenant T --root s3://bucket/prefix --role-arn ARN [--region R]
                                                 An external root reached through your role (verified first).
  credentials --tenant T --location L --access read|write [--duration SECONDS]
        Prints credential_process JSON (Version 1) for a location id or an s3:// path.

Environment: STRONGROOM_ENDPOINT, STRONGROOM_TOKEN (a session token or API key), STRONGROOM_TENANT,
STRONGROOM_CONFIG (config file path). Environment values override the config file.
`;

/** Where the CLI keeps its session: $STRONGROOM_CONFIG, else $XDG_CONFIG_HOME/strongroom, else ~/.config/strongroom. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.STRONGROOM_CONFIG) return env.STRONGROOM_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'strongroom', 'config.json');
}

async function readConfig(env: NodeJS.ProcessEnv): Promise<CliConfig> {
  try {
    return JSON.parse(await readFile(configPath(env), 'utf8')) as CliConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Cannot read ${configPath(env)}: ${(error as Error).message}`);
  }
}

/** Writes the config atomically with mode 0600 (it holds a bearer token) in a 0700 directory. */
async function writeConfig(env: NodeJS.ProcessEnv, config: CliConfig): Promise<void> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** A usage or configuration problem: printed without a stack, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

async function settings(io: CliIo) {
  const config = await readConfig(io.env);
  return {
    endpoint: io.env.STRONGROOM_ENDPOINT || config.endpoint,
    token: io.env.STRONGROOM_TOKEN || config.token,
    tenantId: io.env.STRONGROOM_TENANT || config.tenantId,
  };
}

async function client(io: CliIo) {
  const { endpoint, token } = await settings(io);
  if (!endpoint)
    throw new CliError('No endpoint: run `strongroom login --endpoint URL …` or set STRONGROOM_ENDPOINT.');
  if (!token) throw new CliError('Not signed in: run `strongroom login` or set STRONGROOM_TOKEN.');
  return new StrongroomClient({ endpoint, token, fetch: io.fetch });
}

async function tenantOf(io: CliIo, flag: string | undefined): Promise<string> {
  const tenant = flag ?? (await settings(io)).tenantId;
  if (!tenant) throw new CliError('Which tenant? Pass --tenant t_… (or set STRONGROOM_TENANT).');
  return tenant;
}

const print = (io: CliIo, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

function table(io: CliIo, rows: Record<string, unknown>[], columns: string[]) {
  if (rows.length === 0) {
    io.stdout('(none)\n');
    return;
  }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) =>
    `${cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  io.stdout(line(columns));
  for (const row of rows) io.stdout(line(columns.map((c) => String(row[c] ?? ''))));
}

async function login(io: CliIo, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      endpoint: { type: 'string' },
      email: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'mfa-code': { type: 'string' },
    },
    strict: true,
  });
  const current = await readConfig(io.env);
  const endpoint = values.endpoint ?? io.env.STRONGROOM_ENDPOINT ?? current.endpoint;
  if (!endpoint) throw new CliError('login needs --endpoint URL (or STRONGROOM_ENDPOINT).');
  if (!values.email) throw new CliError('login needs --email.');
  const password = values['password-stdin']
    ? (await io.readStdin()).replace(/\r?\n$/, '')
    : io.env.STRONGROOM_PASSWORD;
  if (!password)
    throw new CliError('Give the password on stdin with --password-stdin, or in STRONGROOM_PASSWORD.');
  const api = new StrongroomClient({ endpoint, fetch: io.fetch });
  const result = await api.login({
    email: values.email,
    password,
    ...(values['mfa-code'] ? { mfaCode: values['mfa-code'] } : {}),
  });
  await writeConfig(io.env, { ...current, endpoint, token: result.token, expiresAt: result.expiresAt });
  io.stderr(`Signed in as ${result.user.email}; session saved in ${configPath(io.env)}.\n`);
}

async function tenants(io: CliIo, args: string[]) {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const me = await (await client(io)).me();
  if (values.json) print(io, me.memberships);
  else table(io, me.memberships, ['tenantId', 'role']);
}

async function storage(io: CliIo, args: string[]) {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      tenant: { type: 'string' },
      json: { type: 'boolean' },
      managed: { type: 'boolean' },
      root: { type: 'string' },
      'role-arn': { type: 'string' },
      region: { type: 'string' },
    },
    strict: true,
  });
  const tenantId = await tenantOf(io, values.tenant);
  const api = await client(io);
  if (sub === 'list') {
    const items = [];
    let cursor: string | undefined;
    do {
      const page = await api.listStorageLocations(tenantId, { cursor, limit: 100 });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (values.json) print(io, items);
    else table(io, items, ['locationId', 'kind', 'root', 'region']);
    return;
  }
  if (sub === 'external-id') {
    const { externalId } = await api.getStorageExternalId(tenantId);
    io.stdout(`${externalId}\n`);
    io.stderr(
      'Require it in your role\'s trust policy ("sts:ExternalId"), with sts:TagSession and sts:SetSourceIdentity, before registering.\n',
    );
    return;
  }
  if (sub === 'register') {
    let location: Awaited<ReturnType<typeof api.registerStorageLocation>>;
    if (values.managed) {
      if (values.root || values['role-arn']) throw new CliError('--managed takes no --root or --role-arn.');
      location = await api.registerStorageLocation(tenantId, { managed: true });
    } else {
      if (!values.root || !values['role-arn'])
        throw new CliError(
          'storage register needs --managed, or --root s3://bucket/prefix with --role-arn ARN.',
        );
      location = await api.registerStorageLocation(tenantId, {
        root: values.root,
        roleArn: values['role-arn'],
        ...(values.region ? { region: values.region } : {}),
      });
    }
    print(io, location);
    if (location.externalId)
      io.stderr(
        `Add the condition "sts:ExternalId": "${location.externalId}" to the trust policy of ${location.roleArn}.\n`,
      );
    return;
  }
  throw new CliError('Usage: strongroom storage list|external-id|register --tenant T …');
}

async function credentials(io: CliIo, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      location: { type: 'string' },
      access: { type: 'string' },
      duration: { type: 'string' },
    },
    strict: true,
  });
  const tenantId = await tenantOf(io, values.tenant);
  if (!values.location) throw new CliError('credentials needs --location (a location id or an s3:// path).');
  if (values.access !== 'read' && values.access !== 'write')
    throw new CliError('credentials needs --access read|write.');
  let durationSeconds: number | undefined;
  if (values.duration !== undefined) {
    durationSeconds = Number(values.duration);
    if (!Number.isInteger(durationSeconds))
      throw new CliError('--duration is a whole number of seconds (900–3600).');
  }
  const vend = await (await client(io)).vendStorageCredentials(tenantId, {
    location: values.location,
    access: values.access as StorageAccess,
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
  });
  // The credential_process contract: exactly this JSON on stdout, nothing else.
  io.stdout(
    `${JSON.stringify({
      Version: 1,
      AccessKeyId: vend.accessKeyId,
      SecretAccessKey: vend.secretAccessKey,
      SessionToken: vend.sessionToken,
      Expiration: vend.expiration,
    })}\n`,
  );
}

/** Runs the CLI; returns the exit code (0 ok, 1 API or network failure, 2 usage). Never prints a stack. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'login':
        await login(io, rest);
        return 0;
      case 'tenants':
        await tenants(io, rest);
        return 0;
      case 'storage':
        await storage(io, rest);
        return 0;
      case 'credentials':
        await credentials(io, rest);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`Unknown command ${command}.\n\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof StrongroomApiError) {
      const fields = error.errors.map((e) => `\n  ${e.path}: ${e.message}`).join('');
      const retry = error.retryAfterSeconds !== undefined ? ` (retry after ${error.retryAfterSeconds}s)` : '';
      io.stderr(`strongroom: ${error.status} ${error.message}${retry}${fields}\n`);
      return 1;
    }
    if (error instanceof CliError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`strongroom: ${(error as Error).message}\n`);
      return 2;
    }
    io.stderr(`strongroom: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

function processIo(): CliIo {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}
