import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliIo, main } from '../../../shared/sdk/cli.js';
import { StrongroomApiError, StrongroomClient } from '../../../shared/sdk/client.js';
import { fromStrongroom } from '../../../shared/sdk/credentials.js';

const T = 't_01jx0000000000000000000001';
const L = 'l_01jx0000000000000000000002';
const T0 = Date.parse('2026-11-22T12:00:00Z');

/** A fake API: answers vends with fresh keys that expire `lifetimeMs` after the fake clock. */
function fakeApi(clock: { now: number }, lifetimeMs = 900_000) {
  const calls: { url: string; init: RequestInit }[] = [];
  let n = 0;
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), init: init ?? {} });
    const url = String(input);
    if (url.endsWith('/storage-credentials')) {
      n++;
      return Response.json({
        accessKeyId: `ASIA${n}`,
        secretAccessKey: `secret-${n}`,
        sessionToken: `token-${n}`,
        expiration: new Date(clock.now + lifetimeMs).toISOString(),
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:4566',
        pathStyle: true,
        bucket: 'b',
        prefix: 'p',
        access: 'read',
        locationId: 'l_x',
        root: 's3://b/p',
      });
    }
    if (url.endsWith('/storage-locations/external-id'))
      return Response.json({ externalId: 'strongroom-xyz' });
    if (url.endsWith('/v1/me'))
      return Response.json({ user: {}, memberships: [{ tenantId: T, role: 'viewer' }] });
    if (url.endsWith('/v1/auth/login')) {
      const body = JSON.parse(String(init?.body));
      if (body.email === 'mfa@b.example' && !body.mfaCode && !body.recoveryCode)
        return Response.json(
          { type: 'https://strongroom.dev/problems/mfa-required', title: 'Unauthorized', status: 401 },
          { status: 401 },
        );
      return Response.json({ token: 'session-token', expiresAt: 'x', user: { email: body.email } });
    }
    if (url.endsWith('/v1/auth/logout')) return new Response(null, { status: 204 });
    if (url.includes('/instances'))
      return Response.json({
        items: [{ instanceId: 'i_1', name: 'lab', defaultStorageRoot: 's3://b/p' }],
        nextCursor: null,
      });
    if (url.includes('/storage-locations?'))
      return Response.json({
        items: [{ locationId: L, kind: 'managed', root: 's3://b/p', region: 'eu-west-1' }],
        nextCursor: null,
      });
    return new Response('{}', { status: 404 });
  };
  return { calls, fetchImpl };
}

describe('fromStrongroom', () => {
  it('memoises, shares concurrent refreshes, and renews five minutes before expiry', async () => {
    // Prepare
    const clock = { now: T0 };
    const api = fakeApi(clock);
    const provider = fromStrongroom({
      endpoint: 'https://api.example.com',
      token: 'tok',
      tenantId: T,
      location: 'l_x',
      access: 'read',
      fetch: api.fetchImpl,
      now: () => clock.now,
    });
    // Act / Assess
    const [a, b] = await Promise.all([provider(), provider()]);
    expect(a).toBe(b);
    expect(a.expiration.toISOString()).toBe(new Date(T0 + 900_000).toISOString());
    clock.now = T0 + 9 * 60_000 + 59_000;
    expect((await provider()).accessKeyId).toBe('ASIA1');
    clock.now = T0 + 10 * 60_000;
    expect((await provider()).accessKeyId).toBe('ASIA2');
    expect(api.calls.filter((c) => c.url.endsWith('/storage-credentials'))).toHaveLength(2);
    const sent = api.calls[0]!;
    expect(sent.url).toBe(`https://api.example.com/v1/tenants/${T}/storage-credentials`);
    expect((sent.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(JSON.parse(String(sent.init.body))).toEqual({ location: 'l_x', access: 'read' });
    expect(provider.lastVend()).not.toHaveProperty('secretAccessKey');
  });

  it('a failed vend throws the problem (with Retry-After) and never returns stale or other credentials', async () => {
    // Prepare: the API answers a 503 problem with Retry-After
    const failing: typeof fetch = async () =>
      new Response(JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'STS down' }), {
        status: 503,
        headers: {
          'retry-after': '5',
          'content-type': 'application/problem+json',
          'x-request-id': 'req-123',
        },
      });
    const provider = fromStrongroom({
      endpoint: 'https://api.example.com',
      apiKey: 'k',
      tenantId: T,
      location: 'l',
      access: 'read',
      fetch: failing,
    });

    // Act
    const error = await provider().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StrongroomApiError);
    expect((error as StrongroomApiError).status).toBe(503);
    expect((error as StrongroomApiError).retryAfterSeconds).toBe(5);
    expect((error as StrongroomApiError).requestId).toBe('req-123');
  });

  it('needs exactly one of token and apiKey, and https off localhost', () => {
    // Prepare
    const base = { endpoint: 'https://api.example.com', tenantId: T, location: 'l', access: 'read' as const };

    // Act / Assess
    expect(() => fromStrongroom(base)).toThrow(/token or an apiKey/);
    expect(() => fromStrongroom({ ...base, token: 'a', apiKey: 'b' })).toThrow(/not both/);
    expect(() => new StrongroomClient({ endpoint: 'http://api.example.com', token: 't' })).toThrow(/https/);
    expect(() => new StrongroomClient({ endpoint: 'http://127.0.0.1:3000', token: 't' })).not.toThrow();
  });
});

describe('strongroom CLI', () => {
  async function io(env: Record<string, string>, api: ReturnType<typeof fakeApi>, stdin = '') {
    const out: string[] = [];
    const err: string[] = [];
    const cli: CliIo = {
      env,
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      readStdin: async () => stdin,
      fetch: api.fetchImpl,
    };
    return { cli, out, err };
  }

  it('credentials prints exactly the credential_process document', async () => {
    // Prepare
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );

    // Act
    const code = await main(
      ['credentials', '--tenant', T, '--location', 's3://b/p/x', '--access', 'read', '--duration', '1800'],
      cli,
    );

    // Assess: the document on stdout, nothing on stderr, and the duration asked for
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(JSON.parse(out.join(''))).toEqual({
      Version: 1,
      AccessKeyId: 'ASIA1',
      SecretAccessKey: 'secret-1',
      SessionToken: 'token-1',
      Expiration: new Date(T0 + 900_000).toISOString(),
    });
    expect(JSON.parse(String(api.calls[0]!.init.body))).toEqual({
      location: 's3://b/p/x',
      access: 'read',
      durationSeconds: 1800,
    });
  });

  it('storage external-id prints only the id on stdout', async () => {
    // Prepare
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );

    // Act / Assess
    expect(await main(['storage', 'external-id', '--tenant', T], cli)).toBe(0);
    expect(out.join('')).toBe('strongroom-xyz\n');
    expect(err.join('')).toContain('sts:ExternalId');
    expect(api.calls[0]!.url).toBe(`https://api.example.com/v1/tenants/${T}/storage-locations/external-id`);
  });

  it('login reads the password from stdin and saves a 0600 config', async () => {
    // Prepare: a config path in a directory that does not exist yet
    const dir = await mkdtemp(join(tmpdir(), 'strongroom-unit-'));
    const api = fakeApi({ now: T0 });
    const env = { STRONGROOM_CONFIG: join(dir, 'nested', 'config.json') };
    const { cli, err } = await io(env, api, 'correct horse battery\n');

    // Act
    const code = await main(
      ['login', '--endpoint', 'https://api.example.com', '--email', 'a@b.example', '--password-stdin'],
      cli,
    );

    // Assess: the password sent, not echoed; config and directory private
    expect(code, err.join('')).toBe(0);
    expect(JSON.parse(String(api.calls[0]!.init.body))).toEqual({
      email: 'a@b.example',
      password: 'correct horse battery',
    });
    expect((await stat(env.STRONGROOM_CONFIG)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(env.STRONGROOM_CONFIG, 'utf8'))).toMatchObject({
      endpoint: 'https://api.example.com',
      token: 'session-token',
    });
    expect(err.join('')).not.toContain('correct horse');
  });

  it.each([
    [['credentials', '--tenant', T, '--location', L], /--access read\|write/],
    [['credentials', '--tenant', T, '--access', 'read'], /--location/],
    [['credentials', '--tenant', T, '--location', L, '--access', 'admin'], /--access is read or write/],
    [['credentials', '--location', L, '--access', 'read'], /--tenant/],
    [['credentials', '--tenant', 'acme', '--location', L, '--access', 'read'], /--tenant: "acme"/],
    [['credentials', '--tenant', T, '--location', 'my-lake/data', '--access', 'read'], /--location: /],
    [['credentials', '--tenant', T, '--location', L, '--access', 'read', '--duration', '15m'], /--duration/],
    [['profile', '--tenant', T, '--location', L, '--access', 'read', '--name', 'a b'], /--name/],
    [['login', '--endpoint', 'https://api.example.com', '--email', 'a@b'], /--password-stdin/],
    [['login', '--endpoint', 'http://api.example.com', '--email', 'a@b', '--password-stdin'], /--endpoint: /],
    [['login', '--email', 'a@b', '--mfa-code', '12345', '--password-stdin'], /--mfa-code/],
    [['login', '--email', 'a@b', '--mfa-code', '123456', '--recovery-code', 'x'], /--recovery-code/],
    [['instances'], /--tenant/],
    [['storage', 'frobnicate', '--tenant', T], /storage: unknown subcommand "frobnicate"/],
    [['storage', 'register', '--tenant', T], /--managed/],
    [['bogus'], /Unknown command/],
    [['credentials', '--nope'], /nope/],
  ])('usage errors exit 2 with a message: %j', async (argv, message) => {
    // Prepare
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      {
        STRONGROOM_ENDPOINT: 'https://api.example.com',
        STRONGROOM_TOKEN: 'tok',
        STRONGROOM_CONFIG: '/nonexistent/x.json',
      },
      api,
    );

    // Act / Assess
    expect(await main(argv, cli)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('')).toMatch(message);
  });

  it('API problems exit 1 naming the status and fields, stdout stays empty', async () => {
    // Prepare: the API refuses with a 400 problem
    const failing: typeof fetch = async () =>
      Response.json(
        {
          title: 'Bad Request',
          status: 400,
          detail: 'The request is not valid.',
          errors: [{ path: 'body.durationSeconds', message: 'Too small' }],
        },
        { status: 400 },
      );
    const { cli, out, err } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      { calls: [], fetchImpl: failing },
    );

    // Act / Assess
    expect(
      await main(
        ['credentials', '--tenant', T, '--location', L, '--access', 'read', '--duration', '899'],
        cli,
      ),
    ).toBe(1);

    // Assess
    expect(out).toEqual([]);
    expect(err.join('')).toContain('400');
    expect(err.join('')).toContain('body.durationSeconds: Too small');
  });

  it('login asks for the password without echo and then for the MFA code, on a terminal only', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'strongroom-unit-'));
    const api = fakeApi({ now: T0 });
    const { cli, err } = await io({ STRONGROOM_CONFIG: join(dir, 'config.json') }, api);
    const asked: { question: string; hidden: boolean }[] = [];
    const answers = ['correct horse battery', '123456'];
    cli.prompt = async (question, { hidden }) => {
      asked.push({ question, hidden });
      return answers.shift()!;
    };
    // Act
    const code = await main(
      ['login', '--endpoint', 'https://api.example.com', '--email', 'mfa@b.example'],
      cli,
    );
    // Assess
    expect(code, err.join('')).toBe(0);
    expect(asked).toEqual([
      { question: 'Password for mfa@b.example: ', hidden: true },
      { question: 'MFA code (or a recovery code): ', hidden: true },
    ]);
    const bodies = api.calls.map((c) => JSON.parse(String(c.init.body)));
    expect(bodies).toEqual([
      { email: 'mfa@b.example', password: 'correct horse battery' },
      { email: 'mfa@b.example', password: 'correct horse battery', mfaCode: '123456' },
    ]);

    // A recovery code is sent as one; without a terminal, the missing code is an error naming the flags.
    const recoveryApi = fakeApi({ now: T0 });
    const again = await io({ STRONGROOM_CONFIG: join(dir, 'config.json') }, recoveryApi);
    const recovery = ['pw-pw-pw-pw-pw', 'abcd-efgh-ijkl'];
    again.cli.prompt = async () => recovery.shift()!;
    expect(
      await main(['login', '--endpoint', 'https://api.example.com', '--email', 'mfa@b.example'], again.cli),
    ).toBe(0);
    expect(JSON.parse(String(recoveryApi.calls[1]!.init.body))).toMatchObject({
      recoveryCode: 'abcd-efgh-ijkl',
    });
    const piped = await io({ STRONGROOM_CONFIG: join(dir, 'config.json') }, fakeApi({ now: T0 }), 'pw\n');
    const refused = await main(
      ['login', '--endpoint', 'https://api.example.com', '--email', 'mfa@b.example', '--password-stdin'],
      piped.cli,
    );
    expect(refused).toBe(2);
    expect(piped.err.join('')).toMatch(/--mfa-code CODE or --recovery-code CODE/);
  });

  it('logout revokes the session and removes it from the config, keeping the endpoint', async () => {
    // Prepare: signed in
    const dir = await mkdtemp(join(tmpdir(), 'strongroom-unit-'));
    const api = fakeApi({ now: T0 });
    const env = { STRONGROOM_CONFIG: join(dir, 'config.json') };
    const { cli } = await io(env, api, 'correct horse battery\n');
    await main(
      ['login', '--endpoint', 'https://api.example.com', '--email', 'a@b.example', '--password-stdin'],
      cli,
    );

    // Act / Assess
    expect(await main(['logout'], cli)).toBe(0);

    // Assess: the session revoked with its token; the config keeps the endpoint only
    const logout = api.calls.at(-1)!;
    expect(logout.url).toBe('https://api.example.com/v1/auth/logout');
    expect((logout.init.headers as Record<string, string>).authorization).toBe('Bearer session-token');
    expect(JSON.parse(await readFile(env.STRONGROOM_CONFIG, 'utf8'))).toEqual({
      endpoint: 'https://api.example.com',
    });
  });

  it('whoami, instances and locations print tables or --json', async () => {
    // Prepare
    const api = fakeApi({ now: T0 });
    const { cli, out } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );

    // Act / Assess: each command
    expect(await main(['whoami', '--json'], cli)).toBe(0);
    expect(JSON.parse(out.splice(0).join(''))).toMatchObject({
      memberships: [{ tenantId: T, role: 'viewer' }],
    });
    expect(await main(['instances', '--tenant', T], cli)).toBe(0);
    expect(out.splice(0).join('')).toMatch(
      /instanceId\s+name\s+defaultStorageRoot\ni_1\s+lab\s+s3:\/\/b\/p\n/,
    );
    expect(await main(['locations', '--tenant', T, '--json'], cli)).toBe(0);
    expect(JSON.parse(out.splice(0).join(''))).toEqual([expect.objectContaining({ locationId: L })]);
  });

  it('profile prints an ~/.aws/config section running this CLI by absolute path, with the endpoint hints', async () => {
    // Prepare: a CLI path with a quote and a space
    const api = fakeApi({ now: T0 });
    const { cli, out } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );
    cli.self = ['/usr/local/bin/node', "/opt/it's here/strongroom.js"];

    // Act
    const code = await main(
      ['profile', '--tenant', T, '--location', 's3://b/p/x y', '--access', 'read', '--name', 'lake'],
      cli,
    );

    // Assess: quoted for the shell, with the endpoint hints
    expect(code).toBe(0);
    expect(out.join('')).toBe(
      [
        '[profile lake]',
        'region = eu-west-1',
        `credential_process = /usr/local/bin/node '/opt/it'\\''s here/strongroom.js' credentials --tenant ${T} --location 's3://b/p/x y' --access read`,
        'endpoint_url = http://127.0.0.1:4566',
        's3 =',
        '  addressing_style = path',
        '',
      ].join('\n'),
    );
  });
});
