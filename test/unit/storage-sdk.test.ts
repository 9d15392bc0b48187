import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliIo, main } from '../../shared/sdk/cli.js';
import { StrongroomApiError, StrongroomClient } from '../../shared/sdk/client.js';
import { fromStrongroom } from '../../shared/sdk/credentials.js';

const T = 't_01jx0000000000000000000001';
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
    if (url.endsWith('/v1/auth/login'))
      return Response.json({ token: 'session-token', expiresAt: 'x', user: { email: 'a@b' } });
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
    const failing: typeof fetch = async () =>
      new Response(JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'STS down' }), {
        status: 503,
        headers: { 'retry-after': '5', 'content-type': 'application/problem+json' },
      });
    const provider = fromStrongroom({
      endpoint: 'https://api.example.com',
      apiKey: 'k',
      tenantId: T,
      location: 'l',
      access: 'read',
      fetch: failing,
    });
    const error = await provider().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrongroomApiError);
    expect((error as StrongroomApiError).status).toBe(503);
    expect((error as StrongroomApiError).retryAfterSeconds).toBe(5);
  });

  it('needs exactly one of token and apiKey, and https off localhost', () => {
    const base = { endpoint: 'https://api.example.com', tenantId: T, location: 'l', access: 'read' as const };
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
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );
    const code = await main(
      ['credentials', '--tenant', T, '--location', 's3://b/p/x', '--access', 'read', '--duration', '1800'],
      cli,
    );
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
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      { STRONGROOM_ENDPOINT: 'https://api.example.com', STRONGROOM_TOKEN: 'tok' },
      api,
    );
    expect(await main(['storage', 'external-id', '--tenant', T], cli)).toBe(0);
    expect(out.join('')).toBe('strongroom-xyz\n');
    expect(err.join('')).toContain('sts:ExternalId');
    expect(api.calls[0]!.url).toBe(`https://api.example.com/v1/tenants/${T}/storage-locations/external-id`);
  });

  it('login reads the password from stdin and saves a 0600 config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strongroom-unit-'));
    const api = fakeApi({ now: T0 });
    const env = { STRONGROOM_CONFIG: join(dir, 'nested', 'config.json') };
    const { cli, err } = await io(env, api, 'correct horse battery\n');
    const code = await main(
      ['login', '--endpoint', 'https://api.example.com', '--email', 'a@b.example', '--password-stdin'],
      cli,
    );
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
    [['credentials', '--tenant', T, '--location', 'l'], /--access read\|write/],
    [['credentials', '--tenant', T, '--access', 'read'], /--location/],
    [['credentials', '--tenant', T, '--location', 'l', '--access', 'admin'], /--access/],
    [['credentials', '--location', 'l', '--access', 'read'], /--tenant/],
    [['login', '--endpoint', 'https://api.example.com', '--email', 'a@b'], /stdin/],
    [['storage', 'register', '--tenant', T], /--managed/],
    [['bogus'], /Unknown command/],
    [['credentials', '--nope'], /nope/],
  ])('usage errors exit 2 with a message: %j', async (argv, message) => {
    const api = fakeApi({ now: T0 });
    const { cli, out, err } = await io(
      {
        STRONGROOM_ENDPOINT: 'https://api.example.com',
        STRONGROOM_TOKEN: 'tok',
        STRONGROOM_CONFIG: '/nonexistent/x.json',
      },
      api,
    );
    expect(await main(argv, cli)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('')).toMatch(message);
  });

  it('API problems exit 1 naming the status and fields, stdout stays empty', async () => {
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
    expect(
      await main(
        ['credentials', '--tenant', T, '--location', 'l', '--access', 'read', '--duration', '899'],
        cli,
      ),
    ).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('')).toContain('400');
    expect(err.join('')).toContain('body.durationSeconds: Too small');
  });
});
