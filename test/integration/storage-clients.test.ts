import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/local/system.js';
import { uploadEncryption } from '../../shared/sdk/index.js';
import {
  type EnabledMfa,
  enableMfa,
  type TenantWithRoles,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import { awsCli, cleanEnv, pythonWithBoto3 } from '../support/python-clients.js';

const run = promisify(execFile);

const api = useTestApi();
let acme: TenantWithRoles;
let awsEndpoint: string;
let bucket: string;
let locationId: string;
let prefix: string;
/** The tenant key managed writes must name (the vend's sse hint). */
let tenantKeyArn: string;
/** A project outside the repository with the packed SDK installed, and where its CLI lives. */
let project: string;
let installedBin: string;
/** Where the CLI keeps its session (XDG_CONFIG_HOME) and the AWS config file, both outside the repository. */
let xdg: string;
let awsConfig: string;

beforeAll(async () => {
  awsEndpoint = inject('awsEndpoint');
  bucket = process.env.STORAGE_BUCKET!;
  acme = await tenantWithEveryRole(api, 'Acme');
  const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(created.status, created.text).toBe(201);
  locationId = created.body.locationId;
  prefix = created.body.prefix;
  const write = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
    token: acme.users.editor.token,
    body: { location: locationId, access: 'write' },
  });
  expect(write.status, write.text).toBe(200);
  await new S3Client({
    endpoint: write.body.endpoint,
    region: write.body.region,
    forcePathStyle: write.body.pathStyle,
    credentials: {
      accessKeyId: write.body.accessKeyId,
      secretAccessKey: write.body.secretAccessKey,
      sessionToken: write.body.sessionToken,
    },
  }).send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${prefix}/hello.txt`,
      Body: 'hello',
      ...uploadEncryption(write.body),
    }),
  );
  tenantKeyArn = write.body.sse.keyArn;

  // npm pack runs the package's own build (prepack); the tarball installs offline: it has no dependencies.
  const work = await mkdtemp(join(tmpdir(), 'strongroom-sdk-'));
  const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], {
    cwd: join(PROJECT_ROOT, 'shared', 'sdk'),
    env: cleanEnv({}),
  });
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')));
  project = join(work, 'consumer');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), '{"name":"consumer","private":true,"type":"module"}\n');
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, filename)], {
    cwd: project,
    env: cleanEnv({}),
  });
  installedBin = join(project, 'node_modules', '.bin', 'strongroom');
  xdg = join(work, 'xdg');
  awsConfig = join(work, 'aws-config');
}, 240_000);

/** Runs a program from the consumer project (outside the repository) with only the settings given. */
const outside = (file: string, args: string[], extra: Record<string, string> = {}) =>
  run(file, args, {
    cwd: project,
    env: cleanEnv({
      XDG_CONFIG_HOME: xdg,
      AWS_CONFIG_FILE: awsConfig,
      AWS_SHARED_CREDENTIALS_FILE: join(xdg, 'no-credentials'),
      ...extra,
    }),
  });

describe('endpoint hints', () => {
  it('a vend says region, endpoint (the emulator, in local mode) and path style', async () => {
    // Act
    const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.viewer.token,
      body: { location: locationId, access: 'read' },
    });

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ region: TEST_REGION, endpoint: awsEndpoint, pathStyle: true });

    // Act / Assess: the OpenAPI document says so too
    const document = await api.request('GET', '/openapi.json');
    const schema = document.body.components?.schemas?.StorageCredentials;
    expect(schema?.required).toEqual(expect.arrayContaining(['region', 'pathStyle']));
    expect(Object.keys(schema?.properties ?? {})).toEqual(expect.arrayContaining(['endpoint', 'pathStyle']));
  });
});

describe('the packed SDK, installed in a project outside the repository', () => {
  it('plain node imports fromStrongroom and s3ClientConfig from the package; the credentials work', async () => {
    // Act: an ES module of the consumer project, run by node with no loader
    const script = join(project, 'vend.mjs');
    await writeFile(
      script,
      `import { fromStrongroom, s3ClientConfig, StrongroomApiError } from '@strongroom/sdk';
import { StrongroomClient } from '@strongroom/sdk/client';
const options = { endpoint: process.argv[2], token: process.argv[3], tenantId: process.argv[4], location: process.argv[5], access: 'read' };
const config = await s3ClientConfig(options);
const identity = await config.credentials();
const denied = await fromStrongroom({ ...options, access: 'write' })().catch((e) => e);
console.log(JSON.stringify({
  region: config.region, endpoint: config.endpoint, forcePathStyle: config.forcePathStyle,
  identity, client: typeof StrongroomClient, denied: denied instanceof StrongroomApiError ? denied.status : String(denied),
}));
`,
    );
    const out = await outside('node', [script, api.url, acme.users.viewer.token, acme.tenantId, locationId]);
    // Assess
    const result = JSON.parse(out.stdout);
    expect(result).toMatchObject({
      region: TEST_REGION,
      endpoint: awsEndpoint,
      forcePathStyle: true,
      client: 'function',
      denied: 403,
    });
    const s3 = new S3Client({
      endpoint: result.endpoint,
      region: result.region,
      forcePathStyle: result.forcePathStyle,
      credentials: { ...result.identity, expiration: new Date(result.identity.expiration) },
    });
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/hello.txt` }));
    expect(await got.Body!.transformToString()).toBe('hello');
    // The package ships compiled JavaScript with declarations, and its exports map, nothing else.
    const manifest = JSON.parse(
      await readFile(join(project, 'node_modules', '@strongroom', 'sdk', 'package.json'), 'utf8'),
    );
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('its CLI signs in from any directory; profile writes a credential_process line that the AWS CLI and boto3 use', async () => {
    // Prepare: sign in with the installed CLI, from the consumer project
    const editor = acme.users.editor;
    const login = spawn(
      installedBin,
      ['login', '--endpoint', api.url, '--email', editor.email, '--password-stdin'],
      { cwd: project, env: cleanEnv({ XDG_CONFIG_HOME: xdg }) },
    );
    let loginErr = '';
    login.stderr.on('data', (chunk) => (loginErr += chunk));
    login.stdin.end(`${editor.password}\n`);
    expect(await new Promise((resolve) => login.on('close', resolve)), loginErr).toBe(0);
    const who = await outside(installedBin, ['whoami', '--json']);
    expect(JSON.parse(who.stdout).user.email).toBe(editor.email);

    // Act: a profile for write access, then the AWS CLI from a directory that is not the project either
    const profile = await outside(installedBin, [
      'profile',
      '--tenant',
      acme.tenantId,
      '--location',
      `s3://${bucket}/${prefix}`,
      '--access',
      'write',
      '--name',
      'lake',
    ]);
    await writeFile(awsConfig, profile.stdout);
    const elsewhere = await mkdtemp(join(tmpdir(), 'strongroom-elsewhere-'));
    const aws = (args: string[]) =>
      run(awsCli(), args, {
        cwd: elsewhere,
        env: cleanEnv({
          XDG_CONFIG_HOME: xdg,
          AWS_CONFIG_FILE: awsConfig,
          AWS_SHARED_CREDENTIALS_FILE: join(xdg, 'no-credentials'),
        }),
      });
    await writeFile(join(elsewhere, 'upload.txt'), 'from the AWS CLI');
    // Without the tenant key named, a managed write is refused (as AWS refuses it: the bucket's default key is
    // one the session may not use), so the CLI names it, as the client guide says.
    const unnamed = await aws([
      's3',
      'cp',
      'upload.txt',
      `s3://${bucket}/${prefix}/cli/bare.txt`,
      '--profile',
      'lake',
    ]).catch((error: { stderr: string }) => error);
    await aws([
      's3',
      'cp',
      'upload.txt',
      `s3://${bucket}/${prefix}/cli/upload.txt`,
      '--sse',
      'aws:kms',
      '--sse-kms-key-id',
      tenantKeyArn,
      '--profile',
      'lake',
    ]);
    const listed = await aws(['s3', 'ls', `s3://${bucket}/${prefix}/`, '--recursive', '--profile', 'lake']);

    // Assess: the profile names this installation by absolute path, and the hints; the AWS CLI needed nothing
    // else
    const text = profile.stdout;
    expect(text).toContain('[profile lake]');
    expect(text).toContain(`region = ${TEST_REGION}`);
    expect(text).toContain(`endpoint_url = ${awsEndpoint}`);
    expect(text).toContain('addressing_style = path');
    const command = /credential_process = (.*)/.exec(text)![1]!;
    expect(
      command.startsWith(`${process.execPath} ${join(project, 'node_modules', '@strongroom', 'sdk', 'bin')}`),
    ).toBe(true);
    expect(command).not.toMatch(/\bnpx\b/);
    expect(listed.stdout).toContain(`${prefix}/hello.txt`);
    expect(listed.stdout).toContain(`${prefix}/cli/upload.txt`);
    expect((unnamed as { stderr?: string }).stderr ?? '').toContain('AccessDenied');
    expect(listed.stdout).not.toContain(`${prefix}/cli/bare.txt`);

    // boto3 reads the same profile: credential_process, region, endpoint_url and path addressing
    const boto = await run(
      pythonWithBoto3(),
      [
        '-c',
        `import boto3, sys
s3 = boto3.Session(profile_name='lake').client('s3')
print(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read().decode())`,
        bucket,
        `${prefix}/cli/upload.txt`,
      ],
      {
        cwd: elsewhere,
        env: cleanEnv({
          XDG_CONFIG_HOME: xdg,
          AWS_CONFIG_FILE: awsConfig,
          AWS_SHARED_CREDENTIALS_FILE: join(xdg, 'no-credentials'),
        }),
      },
    );
    expect(boto.stdout.trim()).toBe('from the AWS CLI');
    // Four AWS CLI runs and a boto3 run, each starting credential_process: slow on a loaded machine.
  }, 120_000);

  it('logout revokes the session: the next credential_process call fails and the AWS CLI gets no credentials', async () => {
    // Prepare
    const token = JSON.parse(await readFile(join(xdg, 'strongroom', 'config.json'), 'utf8')).token;

    // Act
    await outside(installedBin, ['logout']);

    // Assess: the session is refused, and the AWS CLI gets no credentials
    const me = await api.request('GET', '/v1/me', { token });
    expect(me.status).toBe(401);
    const elsewhere = await mkdtemp(join(tmpdir(), 'strongroom-elsewhere-'));
    const failed = await run(awsCli(), ['s3', 'ls', `s3://${bucket}/${prefix}/`, '--profile', 'lake'], {
      cwd: elsewhere,
      env: cleanEnv({
        XDG_CONFIG_HOME: xdg,
        AWS_CONFIG_FILE: awsConfig,
        AWS_SHARED_CREDENTIALS_FILE: join(xdg, 'no-credentials'),
      }),
    }).catch((e) => e);
    expect(failed.code).not.toBe(0);
    expect(failed.stdout).not.toContain('hello.txt');
    expect(failed.stderr).toMatch(/Not signed in/);
  });

  it('login on a terminal asks for the password and the MFA code without echoing them', async () => {
    // Prepare: a user with MFA on (its recovery code stands in for a TOTP code not yet used)
    const owner = acme.users.owner;
    const mfa: EnabledMfa = await enableMfa(api, owner);
    const code = mfa.recoveryCodes[0]!;
    // A pseudo-terminal driven by Python's pty module: the CLI sees a real TTY on stdin.
    const driver = `import os, pty, select, sys
argv = sys.argv[1:]
password, code = sys.stdin.readline().rstrip('\\n'), sys.stdin.readline().rstrip('\\n')
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen = b''
def until(marker):
    global seen
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready: raise SystemExit('timed out waiting for %r in %r' % (marker, seen))
        seen += os.read(fd, 1024)
until(b'Password for')
os.write(fd, password.encode() + b'\\r')
until(b'MFA code')
os.write(fd, code.encode() + b'\\r')
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk: break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
    const child = spawn(
      pythonWithBoto3(),
      ['-c', driver, installedBin, 'login', '--endpoint', api.url, '--email', owner.email],
      { cwd: project, env: cleanEnv({ XDG_CONFIG_HOME: join(xdg, 'tty') }) },
    );
    let transcript = '';
    child.stdout.on('data', (chunk) => (transcript += chunk));
    child.stderr.on('data', (chunk) => (transcript += chunk));
    child.stdin.end(`${owner.password}\n${code}\n`);
    // Act
    const exit = await new Promise((resolve) => child.on('close', resolve));
    // Assess
    expect(exit, transcript).toBe(0);
    expect(transcript).toContain(`Password for ${owner.email}:`);
    expect(transcript).toContain('MFA code (or a recovery code):');
    expect(transcript).toContain(`Signed in as ${owner.email}`);
    expect(transcript).not.toContain(owner.password);
    expect(transcript).not.toContain(code);
    const config = JSON.parse(await readFile(join(xdg, 'tty', 'strongroom', 'config.json'), 'utf8'));
    const me = await api.request('GET', '/v1/me', { token: config.token });
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(owner.email);
  });
});
