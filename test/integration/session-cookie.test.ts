import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, CONSOLE_CSP } from '../../infra/console/site.js';
import { consoleFileServer } from '../../infra/local/console-files.js';
import { AREA_HANDLERS } from '../../infra/local/handlers.js';
import { createLocalApiServer } from '../../infra/local/server.js';
import { SESSION_COOKIE } from '../../shared/http/session-cookie.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { signUp } from '../support/identity-fixtures.js';
import { freshLoopbackIp, useTestApi } from '../support/local-api.js';

/**
 * The console's session: an HttpOnly, Secure, SameSite=Strict cookie set by the API, accepted for changes
 * only from the console's own origin; bearer tokens keep working for programs; console pages carry a
 * strict CSP.
 */
const api = useTestApi();

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' };

async function cookieSession(user: { email: string; password: string }) {
  const sourceIp = freshLoopbackIp();
  const res = await api.request('POST', '/v1/auth/login', {
    body: { email: user.email, password: user.password, session: 'cookie' },
    headers: SAME_ORIGIN,
    sourceIp,
  });
  expect(res.status, res.text).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const value = new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(setCookie)?.[1];
  expect(value).toBeDefined();
  return { res, setCookie, cookie: `${SESSION_COOKIE}=${value}`, token: value!, sourceIp };
}

describe('the session cookie', () => {
  it('is HttpOnly, Secure, SameSite=Strict, host-only on Path=/, and the answer carries no token', async () => {
    // Prepare
    const user = await signUp(api, 'cookie');

    // Act
    const { res, setCookie } = await cookieSession(user);

    // Assess: the attributes, a lifetime of 30 days, and no token in the body
    const attributes = setCookie.split(';').map((a) => a.trim());
    expect(attributes[0]).toMatch(new RegExp(`^${SESSION_COOKIE}=srs\\.s_`));
    expect(attributes).toEqual(
      expect.arrayContaining([
        'HttpOnly',
        'Secure',
        'SameSite=Strict',
        'Path=/',
        expect.stringMatching(/^Max-Age=\d+$/),
      ]),
    );
    expect(attributes.some((a) => /^domain=/i.test(a))).toBe(false);
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)![1]);
    expect(maxAge).toBeGreaterThan(29 * 86_400);
    expect(maxAge).toBeLessThanOrEqual(30 * 86_400);
    expect(res.body.token).toBeUndefined();
    expect(res.text).not.toContain(setCookie.split(';')[0]!.split('=')[1]);
    expect(res.body.user.email).toBe(user.email);
  });

  it('authenticates reads, and same-origin changes, from the browser', async () => {
    // Prepare
    const user = await signUp(api, 'cookie');
    const { cookie } = await cookieSession(user);

    // Act / Assess: a read
    const me = await api.request('GET', '/v1/me', { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    expect(me.status).toBe(200);
    expect(me.body.user.userId).toBe(user.userId);

    // Act / Assess: a same-origin change
    const created = await api.request('POST', '/v1/tenants', {
      headers: { cookie, ...SAME_ORIGIN, origin: api.url },
      body: { name: 'Cookie Co' },
    });
    expect(created.status, created.text).toBe(201);
  });

  it('refuses a cross-origin or same-site POST with the cookie (403 cross-origin-refused) and changes nothing', async () => {
    // Prepare: a cookie session, and the headers of requests from elsewhere
    const user = await signUp(api, 'cookie');
    const { cookie } = await cookieSession(user);
    const attempts: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { 'sec-fetch-site': 'same-site', origin: 'https://other.strongroom.example' },
      { 'sec-fetch-site': 'none' },
      // No Sec-Fetch-Site at all (a program replaying the cookie, or a browser too old to say): refused.
      { origin: api.url },
      {},
    ];

    // Act / Assess: each state-changing request with the cookie, from each
    for (const headers of attempts) {
      for (const [method, path, body] of [
        ['POST', '/v1/tenants', { name: 'Forged' }],
        ['DELETE', '/v1/me/sessions', undefined],
        ['POST', '/v1/auth/logout', undefined],
      ] as const) {
        const res = await api.request(method, path, { headers: { cookie, ...headers }, body });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.body.type).toMatch(/cross-origin-refused$/);
      }
    }

    // Assess: no tenant made, no session ended
    const me = await api.request('GET', '/v1/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.memberships).toEqual([]);
    const sessions = await api.request('GET', '/v1/me/sessions', { headers: { cookie } });
    expect(sessions.body.items.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses to start a cookie session from another origin (no signing a browser in from elsewhere)', async () => {
    // Prepare
    const user = await signUp(api, 'cookie');

    // Act
    const res = await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password, session: 'cookie' },
      headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    });

    // Assess
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('holds session tokens only: an API key in the cookie is refused', async () => {
    // Prepare: an API key
    const user = await signUp(api, 'cookie');
    const tenant = await api.request('POST', '/v1/tenants', { token: user.token, body: { name: 'Keys' } });
    const key = await api.request('POST', `/v1/tenants/${tenant.body.tenantId}/api-keys`, {
      token: user.token,
      body: { name: 'k', scopes: ['tenant:read'] },
    });
    expect(key.status).toBe(201);

    // Act
    const res = await api.request('GET', '/v1/me', {
      headers: { cookie: `${SESSION_COOKIE}=${key.body.key}` },
    });

    // Assess
    expect(res.status).toBe(401);
  });

  it('keeps bearer tokens working for programs (no Origin, no Sec-Fetch-Site), even with a stray cookie', async () => {
    // Prepare
    const user = await signUp(api, 'bearer');

    // Act / Assess: a bearer token without browser headers
    const created = await api.request('POST', '/v1/tenants', {
      token: user.token,
      body: { name: 'Program Co' },
    });
    expect(created.status).toBe(201);

    // Act / Assess: with a stray cookie and a cross-site header
    const withCookie = await api.request('POST', '/v1/tenants', {
      token: user.token,
      headers: { cookie: `${SESSION_COOKIE}=st.s_bogus.bogus`, 'sec-fetch-site': 'cross-site' },
      body: { name: 'Program Co 2' },
    });
    expect(withCookie.status).toBe(201);
  });

  it('is cleared on sign-out, and the session it held is revoked', async () => {
    // Prepare
    const user = await signUp(api, 'cookie');
    const { cookie } = await cookieSession(user);

    // Act
    const out = await api.request('POST', '/v1/auth/logout', { headers: { cookie, ...SAME_ORIGIN } });

    // Assess: the cookie cleared, and its session refused
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toBe(
      `${SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`,
    );
    expect((await api.request('GET', '/v1/me', { headers: { cookie } })).status).toBe(401);
  });
});

describe('console pages', () => {
  let server: Server;
  let origin: string;
  let dist: string;
  beforeAll(async () => {
    dist = await mkdtemp(path.join(tmpdir(), 'strongroom-console-test-'));
    await buildConsole(dist);
    server = createLocalApiServer({
      routes: ROUTES,
      handlers: AREA_HANDLERS,
      console: consoleFileServer(dist),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dist, { recursive: true, force: true });
  });

  it("carry a strict CSP (default-src 'self', no inline script, frame-ancestors 'none') on the page and its assets", async () => {
    // Act
    const page = await fetch(`${origin}/console/`);

    // Assess: the page's CSP and headers
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toBe(CONSOLE_CSP);
    const directives = Object.fromEntries(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    // Assess: the page's scripts are external, no inline style
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/console\/assets\/[^"]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\sstyle=|<style/);

    // Act / Assess: an asset carries the same CSP
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${origin}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('are files of the build only: no path outside it, no method but GET and HEAD', async () => {
    // Act / Assess: paths outside the build
    for (const p of [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/..%2fpackage.json',
    ]) {
      const res = await fetch(`${origin}${p}`);
      expect([400, 404], p).toContain(res.status);
    }

    // Act / Assess: a POST, the bare path
    expect((await fetch(`${origin}/console/`, { method: 'POST' })).status).toBe(405);
    const redirect = await fetch(`${origin}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/console/');

    // Act / Assess
    // The API on the same origin is untouched.
    expect((await fetch(`${origin}/health`)).status).toBe(200);
  });
});
