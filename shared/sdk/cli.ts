import { realpathSync } from 'node:fs';
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
 *   credential_process = /usr/bin/node /opt/lake/node_modules/@strongroom/sdk/bin/strongroom.js credentials …
 *
 * (`strongroom profile` prints such a section, with absolute paths, the region and the endpoint hints.)
 */

export interface CliConfig {
  endpoint?: string;
  token?: string;
  expiresAt?: string;
  tenantId?: string;
}

/** The environment the CLI reads (a plain record, so the package's types need no Node typings). */
export type CliEnv = Record<string, string | undefined>;

export interface CliIo {
  env: CliEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  /**
   * Asks on the terminal (the question on stderr); `hidden` answers are not echoed. Absent when standard
   * input is not a terminal: then nothing is asked and the missing value is an error naming its flag.
   */
  prompt?: (question: string, options: { hidden: boolean }) => Promise<string>;
  /** How to run this CLI again with absolute paths (node and the script), for credential_process lines. */
  self?: string[];
  fetch?: typeof fetch;
}

const USAGE = `Usage: strongroom <command> [options]

Commands:
  login [--endpoint URL] --email EMAIL [--password-stdin] [--mfa-code CODE | --recovery-code CODE]
        Signs in and saves the session in ~/.config/strongroom/config.json (mode 0600). The password is
        asked without echo on a terminal, or read from stdin (--password-stdin) or STRONGROOM_PASSWORD;
        never from the command line. With MFA on, the code is asked for when not given.
  logout                                         Revokes the saved session and forgets it.
  whoami [--json]                                Who the saved session (or STRONGROOM_TOKEN) is.
  tenants [--json]                               Your tenants and roles.
  instances --tenant T [--json]                  Instances of a tenant.
  locations --tenant T [--json]                  Storage locations of a tenant (same as storage list).
  storage list --tenant T [--json]               Storage locations of a tenant.
  storage external-id --tenant T                 The tenant's ExternalId for your role's trust policy.
  storage register --tenant T --managed          A managed location in the platform bucket.
  storage register --tenant T --root s3://bucket/prefix --role-arn ARN [--region R]
                   [--kms-key-arn ARN [--previous-kms-key-arn ARN …]]
                                                 An external root reached through your role (verified first).
  storage validate --tenant T --location L [--json]
                                                 The location's scope self-test (exit 1 when a check fails).
  credentials --tenant T --location L --access read|write [--duration SECONDS]
        Prints credential_process JSON (Version 1) for a location id or an s3:// path.
  profile --tenant T --location L --access read|write [--duration SECONDS] [--name PROFILE]
        Checks that you get such credentials, then prints an ~/.aws/config section that runs this CLI by
        absolute path, with the store's region, endpoint and addressing style.

Environment: STRONGROOM_ENDPOINT, STRONGROOM_TOKEN (a session token or API key), STRONGROOM_TENANT,
STRONGROOM_CONFIG (config file path). Environment values override the config file.
`;

/** Where the CLI keeps its session: $STRONGROOM_CONFIG, else $XDG_CONFIG_HOME/strongroom, else ~/.config/strongroom. */
export function configPath(env: CliEnv): string {
  if (env.STRONGROOM_CONFIG) return env.STRONGROOM_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'strongroom', 'config.json');
}

async function readConfig(env: CliEnv): Promise<CliConfig> {
  try {
    return JSON.parse(await readFile(configPath(env), 'utf8')) as CliConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Cannot read ${configPath(env)}: ${(error as Error).message}`);
  }
}

/** Writes the config atomically with mode 0600 (it holds a bearer token) in a 0700 directory. */
async function writeConfig(env: CliEnv, config: CliConfig): Promise<void> {
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
  if (!/^t_[0-9a-z]{26}$/.test(tenant))
    throw new CliError(`--tenant: ${JSON.stringify(tenant)} is not a tenant id (t_…).`);
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
      'recovery-code': { type: 'string' },
    },
    strict: true,
  });
  const current = await readConfig(io.env);
  const endpoint = values.endpoint ?? io.env.STRONGROOM_ENDPOINT ?? current.endpoint;
  if (!endpoint) throw new CliError('login needs --endpoint URL (or STRONGROOM_ENDPOINT).');
  let api: StrongroomClient;
  try {
    api = new StrongroomClient({ endpoint, fetch: io.fetch });
  } catch (error) {
    throw new CliError(`--endpoint: ${(error as Error).message}`);
  }
  const email = values.email ?? (io.prompt ? (await io.prompt('E-mail: ', { hidden: false })).trim() : '');
  if (!email) throw new CliError('login needs --email.');
  if (values['mfa-code'] && values['recovery-code'])
    throw new CliError('Give --mfa-code or --recovery-code, not both.');
  if (values['mfa-code'] !== undefined && !/^\d{6}$/.test(values['mfa-code']))
    throw new CliError('--mfa-code is the 6-digit code from your authenticator.');
  let password: string | undefined;
  if (values['password-stdin']) password = (await io.readStdin()).replace(/\r?\n$/, '');
  else if (io.env.STRONGROOM_PASSWORD) password = io.env.STRONGROOM_PASSWORD;
  else if (io.prompt) password = await io.prompt(`Password for ${email}: `, { hidden: true });
  if (!password)
    throw new CliError(
      'No password: type it at the prompt (on a terminal), pipe it with --password-stdin, or set STRONGROOM_PASSWORD.',
    );
  const factor = values['mfa-code']
    ? { mfaCode: values['mfa-code'] }
    : values['recovery-code']
      ? { recoveryCode: values['recovery-code'] }
      : {};
  let result: Awaited<ReturnType<StrongroomClient['login']>>;
  try {
    result = await api.login({ email, password, ...factor });
  } catch (error) {
    // The password was right and MFA is on: ask for the second factor (on a terminal), then once more.
    if (!(error instanceof StrongroomApiError && error.code === 'mfa-required')) throw error;
    if (!io.prompt)
      throw new CliError('MFA is on for this account: pass --mfa-code CODE or --recovery-code CODE.');
    const code = (await io.prompt('MFA code (or a recovery code): ', { hidden: true })).trim();
    if (!code) throw new CliError('MFA is on for this account: a code is needed.');
    result = await api.login({
      email,
      password,
      ...(/^\d{6}$/.test(code) ? { mfaCode: code } : { recoveryCode: code }),
    });
  }
  await writeConfig(io.env, { ...current, endpoint, token: result.token, expiresAt: result.expiresAt });
  io.stderr(`Signed in as ${result.user.email}; session saved in ${configPath(io.env)}.\n`);
}

async function logout(io: CliIo, args: string[]) {
  parseArgs({ args, options: {}, strict: true });
  const current = await readConfig(io.env);
  if (!current.token) {
    io.stderr('Not signed in (no saved session).\n');
    return;
  }
  const endpoint = io.env.STRONGROOM_ENDPOINT || current.endpoint;
  if (endpoint) {
    try {
      await new StrongroomClient({ endpoint, token: current.token, fetch: io.fetch }).logout();
    } catch (error) {
      // An expired or already revoked session is as signed out as it gets; anything else is reported and
      // the token kept, so that a network failure does not leave a live session the user believes is gone.
      if (!(error instanceof StrongroomApiError && error.status === 401)) throw error;
    }
  }
  const { token: _token, expiresAt: _expiresAt, ...rest } = current;
  await writeConfig(io.env, rest);
  io.stderr('Signed out; the session is revoked and removed from the config.\n');
}

async function whoami(io: CliIo, args: string[]) {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const me = await (await client(io)).me();
  if (values.json) {
    print(io, me);
    return;
  }
  io.stdout(`${me.user.email} (${me.user.userId})${me.user.mfaEnabled ? ', MFA on' : ''}\n`);
  if (me.apiKey)
    io.stdout(`API key ${me.apiKey.keyId} of ${me.apiKey.tenantId}: ${me.apiKey.scopes.join(' ')}\n`);
  for (const m of me.memberships) io.stdout(`${m.tenantId}  ${m.role}\n`);
}

/** Every page of a listing. */
async function all<T>(
  list: (page: { cursor?: string; limit: number }) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ ...(cursor ? { cursor } : {}), limit: 100 });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

async function instances(io: CliIo, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const tenantId = await tenantOf(io, values.tenant);
  const api = await client(io);
  const items = await all((page) => api.listInstances(tenantId, page));
  if (values.json) print(io, items);
  else table(io, items as unknown as Record<string, unknown>[], ['instanceId', 'name', 'defaultStorageRoot']);
}

async function tenants(io: CliIo, args: string[]) {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const me = await (await client(io)).me();
  if (values.json) print(io, me.memberships);
  else table(io, me.memberships, ['tenantId', 'role']);
}

async function storage(io: CliIo, args: string[]): Promise<number> {
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
      'kms-key-arn': { type: 'string' },
      'previous-kms-key-arn': { type: 'string', multiple: true },
      location: { type: 'string' },
    },
    strict: true,
  });
  const tenantId = await tenantOf(io, values.tenant);
  const api = await client(io);
  if (sub === 'list') {
    const items = await all((page) => api.listStorageLocations(tenantId, page));
    if (values.json) print(io, items);
    else table(io, items as unknown as Record<string, unknown>[], ['locationId', 'kind', 'root', 'region']);
    return 0;
  }
  if (sub === 'external-id') {
    const { externalId } = await api.getStorageExternalId(tenantId);
    io.stdout(`${externalId}\n`);
    io.stderr(
      'Require it in your role\'s trust policy ("sts:ExternalId"), with sts:TagSession and sts:SetSourceIdentity, before registering.\n',
    );
    return 0;
  }
  if (sub === 'register') {
    let location: Awaited<ReturnType<typeof api.registerStorageLocation>>;
    if (values.managed) {
      if (values.root || values['role-arn'] || values['kms-key-arn'] || values['previous-kms-key-arn'])
        throw new CliError(
          '--managed takes no --root, --role-arn or KMS key: the platform bucket has its own.',
        );
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
        ...(values['kms-key-arn'] ? { kmsKeyArn: values['kms-key-arn'] } : {}),
        ...(values['previous-kms-key-arn'] ? { previousKmsKeyArns: values['previous-kms-key-arn'] } : {}),
      });
    }
    print(io, location);
    if (location.externalId)
      io.stderr(
        `Add the condition "sts:ExternalId": "${location.externalId}" to the trust policy of ${location.roleArn}.\n`,
      );
    return 0;
  }
  if (sub === 'validate') {
    if (!values.location) throw new CliError('storage validate needs --location L (a location id).');
    const report = await api.validateStorageLocation(tenantId, values.location);
    if (values.json) print(io, report);
    else {
      table(io, report.checks as unknown as Record<string, unknown>[], ['name', 'status', 'detail']);
      io.stdout(`result: ${report.result}\n`);
    }
    // A failed check is a finding, not a usage error: exit 1, as for an API refusal.
    return report.result === 'failed' ? 1 : 0;
  }
  throw new CliError(
    `storage: unknown subcommand ${JSON.stringify(sub ?? '')}; use storage list|external-id|register|validate --tenant T …`,
  );
}

const VEND_OPTIONS = {
  tenant: { type: 'string' },
  location: { type: 'string' },
  access: { type: 'string' },
  duration: { type: 'string' },
} as const;

/** The vend a `credentials` or `profile` command asks for, each missing or malformed flag named. */
async function vendRequest(
  io: CliIo,
  command: string,
  values: { tenant?: string; location?: string; access?: string; duration?: string },
) {
  const tenantId = await tenantOf(io, values.tenant);
  if (!values.location)
    throw new CliError(`${command} needs --location (a location id l_… or an s3:// path inside one).`);
  if (!/^(l_[0-9a-z]{26}|s3:\/\/.+)$/.test(values.location))
    throw new CliError(
      `--location: ${JSON.stringify(values.location)} is neither a location id nor an s3:// path.`,
    );
  if (values.access === undefined) throw new CliError(`${command} needs --access read|write.`);
  if (values.access !== 'read' && values.access !== 'write')
    throw new CliError(`--access is read or write, not ${JSON.stringify(values.access)}.`);
  let durationSeconds: number | undefined;
  if (values.duration !== undefined) {
    durationSeconds = Number(values.duration);
    if (!/^\d+$/.test(values.duration) || !Number.isSafeInteger(durationSeconds))
      throw new CliError('--duration is a whole number of seconds (900–3600).');
  }
  return {
    tenantId,
    body: {
      location: values.location,
      access: values.access as StorageAccess,
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    },
  };
}

async function credentials(io: CliIo, args: string[]) {
  const { values } = parseArgs({ args, options: VEND_OPTIONS, strict: true });
  const { tenantId, body } = await vendRequest(io, 'credentials', values);
  const vend = await (await client(io)).vendStorageCredentials(tenantId, body);
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

/** Quotes for a POSIX shell, which is also how the AWS CLI (shlex) and the AWS SDKs split credential_process. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * An ~/.aws/config section for a location: credential_process runs this very CLI by absolute path (so no
 * lookup on PATH or in a registry decides what runs), and the vend's hints give region, endpoint and style.
 */
async function profile(io: CliIo, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { ...VEND_OPTIONS, name: { type: 'string' } },
    strict: true,
  });
  const { tenantId, body } = await vendRequest(io, 'profile', values);
  const name = values.name ?? 'strongroom';
  if (!/^[\w.-]{1,64}$/.test(name))
    throw new CliError('--name: letters, digits, ".", "_" and "-", at most 64.');
  if (!io.self) throw new CliError('profile: cannot tell where this CLI is installed.');
  // One real vend first, so a profile is only written for access the caller has.
  const vend = await (await client(io)).vendStorageCredentials(tenantId, body);
  const command = [
    ...io.self,
    'credentials',
    '--tenant',
    tenantId,
    '--location',
    body.location,
    '--access',
    body.access,
    ...(body.durationSeconds !== undefined ? ['--duration', String(body.durationSeconds)] : []),
  ]
    .map(shellQuote)
    .join(' ');
  const lines = [
    `[profile ${name}]`,
    `region = ${vend.region}`,
    `credential_process = ${command}`,
    ...(vend.endpoint ? [`endpoint_url = ${vend.endpoint}`] : []),
    ...(vend.pathStyle ? ['s3 =', '  addressing_style = path'] : []),
  ];
  io.stdout(`${lines.join('\n')}\n`);
  io.stderr(`Add this to ~/.aws/config; then: aws s3 ls ${vend.root}/ --profile ${name}\n`);
}

/** Runs the CLI; returns the exit code (0 ok, 1 API or network failure, 2 usage). Never prints a stack. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'login':
        await login(io, rest);
        return 0;
      case 'logout':
        await logout(io, rest);
        return 0;
      case 'whoami':
        await whoami(io, rest);
        return 0;
      case 'tenants':
        await tenants(io, rest);
        return 0;
      case 'instances':
        await instances(io, rest);
        return 0;
      case 'locations':
        await storage(io, ['list', ...rest]);
        return 0;
      case 'profile':
        await profile(io, rest);
        return 0;
      case 'storage':
        return await storage(io, rest);
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
        throw new CliError(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof StrongroomApiError) {
      const fields = error.errors.map((e) => `\n  ${e.path}: ${e.message}`).join('');
      const retry = error.retryAfterSeconds !== undefined ? ` (retry after ${error.retryAfterSeconds}s)` : '';
      const id = error.requestId ? `\n  request id: ${error.requestId}` : '';
      io.stderr(`strongroom: ${error.status} ${error.message}${retry}${fields}${id}\n`);
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

/** The real process: stdio, the terminal for prompts, and this script's absolute path. */
export function processIo(): CliIo {
  const script = process.argv[1];
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    ...(process.stdin.isTTY ? { prompt: terminalPrompt } : {}),
    ...(script ? { self: [process.execPath, realpathSync(script)] } : {}),
  };
}

/**
 * Reads one line from the terminal; hidden answers are read in raw mode so the terminal never echoes them.
 * Ctrl-C aborts, Ctrl-D ends the line, backspace edits.
 */
function terminalPrompt(question: string, { hidden }: { hidden: boolean }): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the question appears, so nothing typed after it is ever shown.
  if (hidden) stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      if (hidden) stdin.setRawMode(false);
      stdin.pause();
      if (hidden) process.stderr.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') return finish(new CliError('Cancelled.'));
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u007f' || char === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += char;
      }
    };
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}
