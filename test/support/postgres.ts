import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../infra/local/moto.js';

/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, TLS on with a fresh self-signed
 * certificate (for 127.0.0.1 and localhost, so it also serves as the CA for verify-full), served on a free
 * loopback port, stopped and deleted afterwards.
 *
 * Needs the server binaries (Debian: the `postgresql` package, which puts them in
 * /usr/lib/postgresql/<version>/bin and creates the `postgres` user) and `openssl`. initdb and postgres
 * refuse to run as root; as root (CI containers) every server command runs as the `postgres` user through
 * `runuser`, with the temp dir owned by it.
 */
export interface TestPostgres {
  host: string;
  port: number;
  database: string;
  /** Superuser, for fixtures. */
  adminUser: string;
  adminPassword: string;
  /** PEM of the server's self-signed certificate. */
  caPem: string;
  /** A client connected as the superuser (TLS, unverified); the caller ends it. */
  admin(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export interface StartTestPostgresOptions {
  database?: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

/** Starts a throwaway cluster; call `stop()` in afterAll. */
export async function startTestPostgres(options: StartTestPostgresOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const runAs = serverUser();
  // As root, under /tmp: a TMPDIR inside root's home would not be reachable by the postgres user.
  const dir = mkdtempSync(path.join(runAs ? '/tmp' : tmpdir(), 'strongroom-pg-'));
  const data = path.join(dir, 'data');
  const adminUser = 'strongroom_admin';
  const adminPassword = randomBytes(18).toString('base64url');
  const database = options.database ?? 'strongroom_test';
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${adminPassword}\n`, { mode: 0o600 });
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  chmodSync(keyFile, 0o600);
  if (runAs) for (const p of [dir, pwfile, certFile, keyFile]) chownSync(p, runAs.uid, runAs.gid);

  const run = (command: string, args: string[]) => {
    const full = path.join(bin, command);
    const [file, argv] = runAs ? ['runuser', ['-u', 'postgres', '--', full, ...args]] : [full, args];
    const result = spawnSync(file, argv, { encoding: 'utf8', cwd: dir });
    if (result.status !== 0)
      throw new Error(`${command} failed (${result.status}): ${result.stderr || result.stdout}`);
  };

  run('initdb', [
    '-D',
    data,
    '-U',
    adminUser,
    `--pwfile=${pwfile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ]);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    ssl: 'on',
    ssl_cert_file: certFile,
    ssl_key_file: keyFile,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '40',
    ...options.settings,
  };
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ];
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    serverOptions.join(' '),
    'start',
  ]);

  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A crashed test run must not leave a server behind.
  process.once('exit', stopNow);

  const caPem = readFileSync(certFile, 'utf8');
  const admin = async (db = 'postgres') => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: adminUser,
      password: adminPassword,
      database: db,
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    return client;
  };
  const bootstrap = await admin();
  try {
    await bootstrap.query(`CREATE DATABASE ${database}`);
  } finally {
    await bootstrap.end();
  }

  return {
    host: '127.0.0.1',
    port,
    database,
    adminUser,
    adminPassword,
    caPem,
    admin: (db = database) => admin(db),
    stop: async () => {
      process.removeListener('exit', stopNow);
      stopNow();
    },
  };
}

/** The directory with initdb/pg_ctl: next to `pg_ctl` on PATH, else Debian's newest versioned bin dir. */
export function postgresBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pg_ctl')) && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return path.join(root, versions[0], 'bin');
  throw new Error('PostgreSQL server binaries not found: install Debian\'s "postgresql" package');
}

/** As root, the unprivileged account the server runs as (initdb refuses root); otherwise none needed. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (!passwd)
    throw new Error('Running as root needs a "postgres" user (Debian\'s postgresql package creates it)');
  return { uid: Number(passwd[2]), gid: Number(passwd[3]) };
}
