import { rm } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/moto.js';
import { launchChromium, recordConsole } from '../support/browser.js';
import { type LocalRun, startLocalRun } from '../support/local-run.js';
import {
  startTestOidcProvider,
  type TestOidcProvider,
  testIdpEntry,
  writeProvidersFile,
} from '../support/oidc-provider.js';

/**
 * "Sign in with …" in the console, in Debian's Chromium against `npm run local` configured with an OpenID
 * provider (STRONGROOM_OIDC_PROVIDERS), and a real provider (oidc-provider) on loopback: the browser goes
 * to the provider and back, and the console finishes the sign-in into its HttpOnly cookie.
 */
const POLL = { timeout: 20_000 };

let local: LocalRun | undefined;
let consoleUrl: string;
let browser: Browser;
let idp: TestOidcProvider;
let dir: string;

beforeAll(async () => {
  const apiPort = await freePort();
  consoleUrl = `http://127.0.0.1:${apiPort}/console/`;
  idp = await startTestOidcProvider({ redirectUri: consoleUrl });
  let providersFile: string;
  ({ file: providersFile, dir } = await writeProvidersFile([testIdpEntry(idp)]));
  local = await startLocalRun({ apiPort, env: { STRONGROOM_OIDC_PROVIDERS: providersFile } });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await local?.stop();
  await idp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('single sign-on in the console', () => {
  it('npm run local prints the provider, and the sign-in page offers it', async () => {
    // Act / Assess: the provider and its redirect URI, never its client secret
    expect(local!.output()).toMatch(
      /Sign-in with\s+Test IdP \(redirect URI http:\/\/127\.0\.0\.1:\d+\/console\/\)/,
    );
    expect(local!.output()).not.toContain(idp.clientSecret);
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
