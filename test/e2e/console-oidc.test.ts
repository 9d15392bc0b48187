import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/moto.js';
import { PROJECT_ROOT } from '../../infra/local/system.js';
import { launchChromium, recordConsole } from '../support/browser.js';
import { startTestOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

/**
 * "Sign in with …" in the console, in Debian's Chromium against `npm run local` configured with an OpenID
 * provider (STRONGROOM_OIDC_PROVIDERS), and a real provider (oidc-provider) on loopback: the browser goes
 * to the provider and back, and the console finishes the sign-in into its HttpOnly cookie.
 */
const TSX = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');
const POLL = { timeout: 20_000 };

let local: ChildProcessWithoutNullStreams;
let out = '';
let consoleUrl: string;
let browser: Browser;
let idp: TestOidcProvider;
let dir: string;

beforeAll(async () => {
  const apiPort = await freePort();
  consoleUrl = `http://127.0.0.1:${apiPort}/console/`;
  idp = await startTestOidcProvider({ redirectUri: consoleUrl });
  dir = await mkdtemp(path.join(tmpdir(), 'strongroom-oidc-e2e-'));
  const providersFile = path.join(dir, 'providers.json');
  await writeFile(
    providersFile,
    JSON.stringify([
      {
        id: 'test-idp',
        name: 'Test IdP',
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
      },
    ]),
  );
  local = spawn(TSX, ['infra/local/main.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      STRONGROOM_PORT: String(apiPort),
      STRONGROOM_MOTO_PORT: String(await freePort()),
      STRONGROOM_SMTP_PORT: String(await freePort()),
      STRONGROOM_INBOX_PORT: String(await freePort()),
      STRONGROOM_OIDC_PROVIDERS: providersFile,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
  });
  local.stdout.on('data', (c: Buffer) => (out += c.toString()));
  local.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 150_000;
  while (!out.includes('Ctrl-C stops') && local.exitCode === null) {
    if (Date.now() > deadline) throw new Error(`npm run local did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (local && local.exitCode === null) {
    local.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 2000));
    if (local.exitCode === null) local.kill('SIGKILL');
  }
  await idp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('single sign-on in the console', () => {
  it('npm run local prints the provider, and the sign-in page offers it', async () => {
    expect(out).toMatch(/Sign-in with\s+Test IdP \(redirect URI http:\/\/127\.0\.0\.1:\d+\/console\/\)/);
    expect(out).not.toContain(idp.clientSecret);
  });

  it('signs a new person in through the provider, into the HttpOnly cookie, with an sso session', async () => {
    // Prepare: someone new at the provider, with a verified address
    const stamp = Date.now();
    idp.signInAs({
      sub: `e2e-${stamp}`,
      email: `sso-${stamp}@example.com`,
      email_verified: true,
      name: 'Sso Person',
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const log = recordConsole(context);
    const page = await context.newPage();

    // Act: the button, the provider, and back
    await page.goto(consoleUrl);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);

    // Assess: signed in as that person, the code gone from the address bar, the session an sso one in a
    // cookie script cannot read
    expect(page.url()).toBe(consoleUrl);
    expect(await page.locator('.who-name').textContent()).toBe('Sso Person');
    expect(await page.evaluate('document.cookie')).toBe('');
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('cell', { name: 'Identity provider', exact: true }).first().waitFor(POLL);
    expect(log.filter((l) => l.startsWith('pageerror') || l.includes('Content Security Policy'))).toEqual([]);
    await context.close();
  });

  it('shows why when the provider does not vouch for the address', async () => {
    // Prepare
    const stamp = Date.now();
    idp.signInAs({ sub: `e2e-u-${stamp}`, email: `sso-u-${stamp}@example.com`, email_verified: false });
    const context = await browser.newContext();
    const page = await context.newPage();

    // Act
    await page.goto(consoleUrl);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();

    // Assess: back on the sign-in page with the API's explanation
    await page.getByText('did not confirm that this e-mail address is verified').waitFor(POLL);
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    await context.close();
  });
});
