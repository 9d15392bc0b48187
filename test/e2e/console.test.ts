import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { jsonRequest } from '../../infra/local/json-request.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { axeViolations, launchChromium, recordConsole, screenshot } from '../support/browser.js';
import { freshLoopbackIp } from '../support/local-api.js';
import { type LocalRun, startLocalRun } from '../support/local-run.js';
import { seedCustomers, startTestPostgres, type TestPostgres } from '../support/postgres.js';

/**
 * The console in Debian's Chromium against `npm run local` (a child process with its own emulator, as a
 * person runs it): one walk through every screen by an owner and an invited admin, with an accessibility
 * check and a 375 px check on each screen, and no secret ever in a URL, a title or the browser console.
 */
let local: LocalRun | undefined;
let origin: string;
/** The local inbox's REST API, from the URL `npm run local` prints. */
let inboxApi: string;
let consoleUrl: string;
let browser: Browser;

beforeAll(async () => {
  local = await startLocalRun();
  consoleUrl = local.printed(/Console\s+(\S+)/);
  inboxApi = new URL('/api', local.printed(/Mail inbox\s+(\S+)/)).href;
  origin = local.origin;
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

/** A JSON request from Node, from its own loopback address (so the browser's sign-in budget is its own). */
async function apiCall(method: string, url: string, body?: unknown, token?: string) {
  const reply = await jsonRequest({
    url: new URL(url, origin),
    method,
    body,
    token,
    localAddress: freshLoopbackIp(),
  });
  return { status: reply.status, body: (reply.text ? JSON.parse(reply.text) : undefined) as any };
}

/** TOTP codes as an authenticator app gives them: each used step is spent, so wait for the next one. */
function authenticator(secret: string) {
  let lastStep = -1;
  return async (): Promise<string> => {
    for (;;) {
      const step = Math.floor(Date.now() / 30_000);
      // The API accepts one step either side of now; take the next unused one, waiting if needed.
      const use = Math.max(step, lastStep + 1);
      if (use <= step + 1) {
        lastStep = use;
        return totpCodeAt(secret, use * 30_000);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
}

/** Runs in the page (a string, because this file is type-checked without the DOM's types). */
const WIDTH_PROBE = `({
  scrollWidth: document.documentElement.scrollWidth,
  widest: [...document.querySelectorAll('body *')]
    .map((e) => [e, e.getBoundingClientRect().right])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([e, right]) => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(right)),
})`;

/**
 * Opens the verification link mailed to `email` (on `base`, the console URL the page uses, when given) and
 * waits for the console to confirm; the token must be gone from the address bar at once.
 */
async function verifyInBrowser(page: Page, email: string, base?: string) {
  const mail = await takeMail(inboxApi, email, /^Verify your e-mail/, 20_000);
  const link = linkIn(mail, '/verify-email');
  secrets.push(link.token);
  await page.goto(base ? `${base}#/verify-email/${link.token}` : link.url);
  await page.getByText(`${email} is verified`).waitFor();
  expect(page.url()).not.toContain(link.token);
}

/** Waiting for the page to settle: generous, as the machine running the tests may be busy. */
const POLL = { timeout: 30_000 };

const secrets: string[] = [];
const visited: string[] = [];

/** Checks a screen: no axe violation, nothing secret in the URL or title; at 375 px too; a screenshot of each. */
async function checkScreen(page: Page, name: string) {
  await page.waitForSelector('.loading', { state: 'detached' }).catch(() => undefined);
  visited.push(name);
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
  const title = await page.title();
  for (const secret of secrets) {
    expect(page.url()).not.toContain(secret);
    expect(title).not.toContain(secret);
  }
  await screenshot(page, name);
  const desktop = page.viewportSize()!;
  await page.setViewportSize({ width: 375, height: 800 });
  // The page's width, and the elements reaching furthest right (to say what to fix when it is too wide).
  const layout = await page.evaluate<{ scrollWidth: number; widest: string[] }>(WIDTH_PROBE);
  expect(
    layout.scrollWidth,
    `${name} scrolls sideways at 375 px: ${layout.widest.join(', ')}`,
  ).toBeLessThanOrEqual(375);
  expect(await axeViolations(page), `axe on ${name} at 375 px`).toEqual([]);
  await screenshot(page, `${name}-375`);
  await page.setViewportSize(desktop);
}

describe('the console in Chromium against npm run local', () => {
  const stamp = Date.now();
  const owner = {
    name: 'Ada Owner',
    email: `ada-${stamp}@example.com`,
    password: `ada's long passphrase ${stamp}`,
  };
  const admin = {
    name: 'Grace Admin',
    email: `grace-${stamp}@example.com`,
    password: `grace's long passphrase ${stamp}`,
  };
  const tenantName = `Acme ${stamp}`;
  const connectionPassword = `conn-pw-${stamp}-secret`;
  let ownerContext: BrowserContext;
  let adminContext: BrowserContext;
  let ownerLog: string[];
  let adminLog: string[];
  let page: Page;
  let adminPage: Page;
  let code: () => Promise<string>;
  let tenantId: string;

  beforeAll(async () => {
    secrets.push(owner.password, admin.password, connectionPassword);
    ownerContext = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ownerLog = recordConsole(ownerContext);
    adminLog = recordConsole(adminContext);
    page = await ownerContext.newPage();
    adminPage = await adminContext.newPage();
  });

  it('npm run local prints the console URL and serves the console there with its CSP', async () => {
    // Act / Assess: the printed URL
    expect(consoleUrl).toBe(`${origin}/console/`);

    // Act
    const res = await fetch(consoleUrl);

    // Assess: the CSP, and no inline script at all: every <script> has a src on this origin
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await res.text();
    // No inline script at all: every <script> has a src on this origin.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/)[^>]*>/);
  });

  it('a new user signs up and signs in', async () => {
    // Act
    await page.goto(consoleUrl);

    // Assess
    await expect.poll(() => page.locator('h1').textContent(), POLL).toBe('Sign in');
    await checkScreen(page, '01-sign-in');

    // Act: to the sign-up form
    await page.getByRole('link', { name: 'Create one' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await checkScreen(page, '02-sign-up');

    // Act / Assess: a too-short password: the API's field error shows next to the input.
    await page.getByLabel('Name').fill(owner.name);
    await page.getByLabel('E-mail').fill(owner.email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('.field-error').first().waitFor();
    expect(await page.getByRole('alert').textContent()).toBeTruthy();

    // Act: the right password, then sign in
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Create account' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Account requested' }).waitFor();
    await page.getByRole('button', { name: 'Continue to sign in' }).click();
    expect(await page.getByLabel('E-mail').inputValue()).toBe(owner.email);
    await page.getByLabel('Password').fill(owner.password);

    // Act
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    // Until the address is verified, a banner says why it matters and offers a new link.
    await page.getByText(`Verify ${owner.email} to create tenants`).waitFor();
    await checkScreen(page, '03-tenants-empty');
  });

  it('verifies the address with the link mailed to the local inbox', async () => {
    // Act
    await verifyInBrowser(page, owner.email);
    await checkScreen(page, '03-verify-email');
    await page.getByRole('link', { name: 'Continue to the console' }).click();

    // Assess: the banner is gone
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    expect(await page.getByText(`Verify ${owner.email} to create tenants`).count()).toBe(0);
  });

  it('enrols MFA by reading the secret from the page, then signs in again with a code', async () => {
    // Act
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
    await checkScreen(page, '04-account');

    // Act: start enrolment
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();

    // Assess: a QR code and a base32 secret
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    const secret = await page.getByLabel('Secret', { exact: true }).inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    secrets.push(secret);
    await checkScreen(page, '05-mfa-enrol');

    // Act: confirm with a code from the secret
    code = authenticator(secret);
    const confirm = page.getByRole('form', { name: 'Confirm two-step verification' });
    await confirm.getByLabel('Code from the app').fill(await code());
    await confirm.getByLabel('Current password').fill(owner.password);
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();

    // Assess: at least eight recovery codes, with copy and download
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor();
    expect(await codes.count()).toBeGreaterThanOrEqual(8);
    for (const recovery of await codes.allTextContents()) secrets.push(recovery.trim());
    await page.getByRole('button', { name: 'Copy recovery codes' }).waitFor();
    await page.getByRole('button', { name: 'Download recovery codes' }).waitFor();
    await checkScreen(page, '06-recovery-codes');

    // Act / Assess
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Signing in needs a code').waitFor();

    // Act: sign out and in again
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Assess: a code is asked for, and accepted
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await checkScreen(page, '07-sign-in-code');
    await page.getByLabel('Authentication code').fill(await code());
    await page.getByRole('button', { name: 'Verify and sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
  });

  it('keeps the session in an HttpOnly, Secure, SameSite=Strict cookie that script cannot read', async () => {
    // Act
    const cookies = await ownerContext.cookies(origin);

    // Assess: one host-only cookie, nothing readable by script or in storage
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: '__Host-strongroom-session',
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    });
    expect(cookies[0]!.domain).toBe('127.0.0.1');
    secrets.push(cookies[0]!.value);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate('JSON.stringify([localStorage.length, sessionStorage.length])')).toBe('[0,0]');

    // Act / Assess: a reload keeps the session (the browser sends the cookie; nothing was in the page's
    // memory).
    await page.reload();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
  });

  it('creates a tenant and shows its overview', async () => {
    // Act
    await page.getByLabel('Tenant name').fill(tenantName);
    await page.getByRole('button', { name: 'Create tenant' }).click();

    // Assess
    await page.getByRole('heading', { name: tenantName }).waitFor();
    tenantId = /#\/t\/(t_[0-9a-z]+)/.exec(page.url())?.[1] ?? '';
    expect(tenantId).toMatch(/^t_/);
    await checkScreen(page, '08-tenant-overview');
  });

  it('invites a member as admin, who signs up, accepts and sees only what an admin may use', async () => {
    // Act
    await page.getByRole('link', { name: 'Members' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Members' }).waitFor();

    // Assess: an owner may grant every role; the select offers exactly those.
    await page.getByLabel('E-mail').fill(admin.email);
    expect(await page.getByLabel('Role', { exact: true }).locator('option').allTextContents()).toEqual([
      'viewer',
      'reviewer',
      'editor',
      'admin',
      'owner',
    ]);

    // Act: invite the address as admin
    await page.getByLabel('Role', { exact: true }).selectOption('admin');
    await page.getByRole('button', { name: 'Send invitation' }).click();

    // Assess
    await page.getByText(`Invitation sent to ${admin.email}`).waitFor();
    await page.getByText(`${admin.email}`, { exact: false }).first().waitFor();
    await checkScreen(page, '09-members');

    // Act: the admin signs up, verifies the address and opens the invitations
    await adminPage.goto(`${consoleUrl}#/sign-up`);
    await adminPage.getByLabel('Name').fill(admin.name);
    await adminPage.getByLabel('E-mail').fill(admin.email);
    await adminPage.getByLabel('Password').fill(admin.password);
    await adminPage.getByRole('button', { name: 'Create account' }).click();
    await adminPage.getByRole('button', { name: 'Continue to sign in' }).click();
    await adminPage.getByLabel('Password').fill(admin.password);
    await adminPage.getByRole('button', { name: 'Sign in' }).click();
    await adminPage.getByRole('heading', { name: 'Tenants' }).waitFor();
    await verifyInBrowser(adminPage, admin.email);
    await adminPage.getByRole('link', { name: 'Continue to the console' }).click();
    await adminPage.getByRole('heading', { name: 'Tenants' }).waitFor();
    await adminPage.getByRole('link', { name: 'Invitations' }).click();
    await adminPage.getByRole('button', { name: `Accept invitation to ${tenantName}` }).waitFor();
    await checkScreen(adminPage, '10-invitations');

    // Act
    await adminPage.getByRole('button', { name: `Accept invitation to ${tenantName}` }).click();

    // Assess
    await adminPage.getByText('You joined').waitFor();

    // Act
    await adminPage.getByRole('link', { name: tenantName }).click();

    // Assess
    await adminPage.getByRole('heading', { name: tenantName }).waitFor();
    // An admin's overview: settings, but neither export nor deletion (owner only).
    await adminPage.getByRole('heading', { name: 'Settings' }).waitFor();
    expect(await adminPage.getByRole('heading', { name: 'Delete this tenant' }).count()).toBe(0);
    expect(await adminPage.getByRole('heading', { name: 'Export' }).count()).toBe(0);

    // Act / Assess
    await adminPage.getByRole('link', { name: 'Members' }).click();
    // Granting admin or owner needs members:manage-admins-owners (owners only): an admin is offered the rest.
    expect(await adminPage.getByLabel('Role', { exact: true }).locator('option').allTextContents()).toEqual([
      'viewer',
      'reviewer',
      'editor',
    ]);
  });

  it("lists the owner's sessions and revokes the others", async () => {
    // Prepare: a second session of the owner, signed in by a program elsewhere.
    const other = await apiCall('POST', '/v1/auth/login', {
      email: owner.email,
      password: owner.password,
      mfaCode: await code(),
    });
    expect(other.status).toBe(200);

    // Act
    await page.getByRole('link', { name: 'Sessions' }).click();

    // Assess: one other session to revoke
    await page.getByText('This session').waitFor();
    await expect
      .poll(() => page.getByRole('button', { name: /^Revoke the session from/ }).count(), POLL)
      .toBe(1);

    // Assess: the sign-in history under the sessions: the program's sign-in, newest first, with its address.
    const history = page.getByRole('region', { name: 'Sign-in attempts' });
    await history.getByRole('row').nth(1).waitFor();
    expect(await history.getByRole('row').nth(1).textContent()).toContain('Signed in');
    expect(await history.getByRole('row').nth(1).textContent()).toContain('Password and authenticator code');
    await checkScreen(page, '11-sessions');

    // Act
    await page.getByRole('button', { name: 'Revoke all other sessions' }).click();

    // Assess: the other session is revoked
    await page.getByText('1 other session revoked.').waitFor();
    expect((await apiCall('GET', '/v1/me', undefined, other.body.token)).status).toBe(401);
  });

  it('creates an API key (shown once, scopes the owner holds), which works until it is revoked', async () => {
    // Act
    await page.goto(`${consoleUrl}#/t/${tenantId}/api-keys`);
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    const form = page.getByRole('form', { name: 'Create an API key' });
    await form.getByLabel('Name').fill('nightly export');
    await form.getByRole('checkbox', { name: 'members:read' }).check();
    await form.getByRole('button', { name: 'Create key' }).click();

    // Assess: the key is shown once, with a copy button, and carries the owner's scopes
    const key = await page.getByLabel('API key', { exact: true }).inputValue();
    expect(key.length).toBeGreaterThan(20);
    secrets.push(key);
    await page.getByRole('button', { name: 'Copy api key' }).waitFor();
    await checkScreen(page, '12-api-key-created');
    const asKey = await apiCall('GET', '/v1/me', undefined, key);
    expect(asKey.status).toBe(200);
    expect(asKey.body.apiKey.scopes.sort()).toEqual(['members:read', 'tenant:read']);

    // Act / Assess: done hides it
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    expect(await page.getByLabel('API key', { exact: true }).count()).toBe(0);

    // Act: revoke it
    await page.getByRole('button', { name: 'Revoke the key nightly export' }).click();
    await page
      .getByRole('dialog', { name: 'Revoke API key' })
      .getByRole('button', { name: 'Revoke key' })
      .click();

    // Assess
    await page.getByText('Key nightly export revoked.').waitFor();
    expect((await apiCall('GET', '/v1/me', undefined, key)).status).toBe(401);
  });

  it('registers a managed location and vends credentials with credential_process and environment exports', async () => {
    // Act
    await page.getByRole('link', { name: 'Storage' }).click();
    await page.getByRole('heading', { name: 'Storage', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Register managed location' }).click();

    // Assess: a root under the tenant's prefix
    await page.getByText(/^Registered s3:\/\//).waitFor();
    const root = await page
      .getByRole('region', { name: 'Storage locations' })
      .locator('td.mono')
      .first()
      .textContent();
    expect(root).toContain(tenantId);

    // Act / Assess: the external form shows the tenant's ExternalId and a trust policy requiring it.
    await page.getByLabel(/^External:/).check();
    const externalId = await page.getByLabel('ExternalId', { exact: true }).inputValue();
    expect(await page.getByLabel('Trust policy').inputValue()).toContain(`"sts:ExternalId": "${externalId}"`);
    await checkScreen(page, '13-storage');

    // Act: vend write credentials for the managed location
    await page.getByLabel(/^Managed:/).check();
    const vend = page.getByRole('form', { name: 'Vend storage credentials' });
    await vend.getByLabel('Access').selectOption('write');
    await vend.getByRole('button', { name: 'Vend credentials' }).click();

    // Assess: the keys, the environment exports and the credential_process profile
    const secretKey = await page.getByLabel('Secret access key').inputValue();
    secrets.push(secretKey);
    expect(await page.getByLabel('Access key id').inputValue()).toMatch(/^[A-Z0-9]{16,}$/);
    expect(await page.getByLabel('Environment exports').inputValue()).toContain(
      `export AWS_SECRET_ACCESS_KEY=${secretKey}`,
    );
    expect(await page.getByLabel('credential_process profile').inputValue()).toContain(
      `credential_process = npx strongroom credentials --tenant ${tenantId} --location ${root} --access write`,
    );
    await checkScreen(page, '14-storage-vended');

    // Act: the scope self-test of the managed location
    await page.getByRole('button', { name: `Validate the location ${root}` }).click();

    // Assess: each named check is shown; the emulator cannot judge the refusals, so the result is
    // incomplete, and the checks it can run pass.
    await page.getByText(`Validated ${root}: no check failed, but some could not be judged here.`).waitFor();
    const checks = page.getByRole('region', { name: `Checks of ${root}` });
    const rows = await checks.locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(8);
    for (const passing of ['credentials-issued', 'read-inside-prefix', 'write-inside-prefix'])
      expect(rows.find((r) => r.startsWith(passing))).toMatch(new RegExp(`^${passing}pass`));
    expect(rows.filter((r) => /not-judged/.test(r))).toHaveLength(5);
  });

  it('stores a connection, which the owner reveals after confirming and the admin cannot', async () => {
    // Act
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    const add = page.getByRole('form', { name: 'Add connection' });
    await add.getByLabel('Name').fill('warehouse');
    await add.getByLabel('Host').fill('db.example.com');
    await add.getByLabel('Database').fill('analytics');
    await add.getByLabel('User').fill('reporter');
    await add.getByLabel('Password').fill(connectionPassword);
    await add.getByRole('button', { name: 'Add connection' }).click();

    // Assess: it is stored, masked in the list and the detail.
    await page.getByRole('heading', { name: 'warehouse' }).waitFor();
    expect(await page.getByRole('region', { name: 'Connections' }).textContent()).toContain('********');
    expect(await page.content()).not.toContain(connectionPassword);
    await checkScreen(page, '15-connections');

    // Act: reveal after confirming
    await page.getByRole('button', { name: 'Reveal password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reveal the password' });
    await checkScreen(page, '16-reveal-confirm');
    await dialog.getByRole('button', { name: 'Reveal' }).click();

    // Assess
    expect(await page.getByLabel('Connection password').inputValue()).toBe(connectionPassword);

    // Act / Assess
    await page.getByRole('button', { name: 'Hide password' }).click();

    // Act: the admin opens the connection
    await adminPage.goto(`${consoleUrl}#/t/${tenantId}/connections`);
    await adminPage.getByRole('button', { name: 'Open warehouse' }).click();
    await adminPage.getByRole('heading', { name: 'warehouse' }).waitFor();

    // Assess: no reveal button
    expect(await adminPage.getByRole('button', { name: 'Reveal password' }).count()).toBe(0);
    // An admin may edit the connection (the edit form is there) …
    await adminPage.getByText('Edit warehouse').waitFor();
    await checkScreen(adminPage, '17-connections-admin');

    // Act / Assess: … and the API refuses the reveal to an admin, whatever the page shows.
    const signedIn = await apiCall('POST', '/v1/auth/login', {
      email: admin.email,
      password: admin.password,
    });
    expect(signedIn.status).toBe(200);
    const reveal = await apiCall(
      'GET',
      `/v1/tenants/${tenantId}/connections`,
      undefined,
      signedIn.body.token,
    );
    const connectionId = reveal.body.items[0].connectionId;
    const refused = await apiCall(
      'POST',
      `/v1/tenants/${tenantId}/connections/${connectionId}/reveal`,
      undefined,
      signedIn.body.token,
    );
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).not.toContain(connectionPassword);
  });

  it('reads, filters, verifies and exports the audit log', async () => {
    // Act
    await page.getByRole('link', { name: 'Audit log' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const events = page.getByRole('region', { name: 'Audit events' });
    await events.waitFor();
    expect(await events.textContent()).toContain('connection.revealed');
    await checkScreen(page, '18-audit');

    // Act: filter by action
    await page.getByLabel('Action').selectOption('api-key.revoked');
    await page.getByRole('button', { name: 'Apply filter' }).click();

    // Assess
    await expect.poll(async () => (await events.locator('tbody tr').allTextContents()).length, POLL).toBe(1);

    // Act / Assess: verify the chain
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText(/records checked/).waitFor();

    // Act: export
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Prepare CSV export' }).click();
    await page.getByRole('button', { name: /^Download CSV/ }).click();

    // Assess: a CSV with its header and the events, and no secret
    const csv = await readFile((await (await download).path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toMatch(/^"sequence","id","time","action",/);
    expect(csv).toContain('api-key.created');
    for (const secret of secrets) expect(csv).not.toContain(secret);
  });

  it('deletes the tenant with a fresh MFA code and the typed name', async () => {
    // Act: a wrong name and code
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Delete this tenant' }).waitFor();
    const form = page.getByRole('form', { name: 'Delete this tenant' });
    await form.getByLabel(/Type the tenant name/).fill('not the name');
    await form.getByLabel('Authentication code').fill('000000');
    await form.getByRole('button', { name: 'Delete tenant permanently' }).click();

    // Assess
    await form.getByText('Type the tenant name exactly to confirm.').waitFor();

    // Act: the right ones
    await form.getByLabel(/Type the tenant name/).fill(tenantName);
    await form.getByLabel('Authentication code').fill(await code());
    await form.getByRole('button', { name: 'Delete tenant permanently' }).click();

    // Assess: back to an empty tenant list
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.getByText('You are not a member of any tenant yet.').waitFor();
    await checkScreen(page, '19-tenant-deleted');
  });

  it('refuses a POST with the cookie from another origin of the same site, and changes nothing', async () => {
    // Prepare: a page on another port of the same host: same site, so the browser sends the SameSite=Strict
    // cookie, but Sec-Fetch-Site says same-site, not same-origin.
    const other = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>elsewhere</title><p>elsewhere</p>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    try {
      const elsewhere = await ownerContext.newPage();
      await elsewhere.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);

      // Act: a form post from there (it navigates, so its answer can be read; a fetch's would be hidden by
      // CORS).
      await Promise.all([
        elsewhere.waitForURL(`${origin}/v1/tenants`),
        elsewhere.evaluate(`(() => {
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = '${origin}/v1/tenants';
          form.enctype = 'text/plain';
          const input = document.createElement('input');
          input.name = '{"name":"Forged","x":"';
          input.value = '"}';
          form.append(input);
          document.body.append(form);
          form.submit();
        })()`),
      ]);

      // Assess
      const answer = JSON.parse((await elsewhere.textContent('body')) ?? '{}');
      expect(answer.status).toBe(403);
      expect(answer.type).toMatch(/cross-origin-refused$/);
      await elsewhere.close();
    } finally {
      other.close();
    }

    // Act / Assess: no tenant was made
    await page.goto(`${consoleUrl}#/`);
    await page.getByText('You are not a member of any tenant yet.').waitFor();
  });

  it('never wrote a secret to the browser console, and the CSP was never violated', () => {
    // Act
    const lines = [...ownerLog, ...adminLog];

    // Assess
    for (const secret of secrets) for (const line of lines) expect(line).not.toContain(secret);
    expect(lines.filter((l) => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    expect(visited.length).toBeGreaterThanOrEqual(19);
  });
});

/**
 * A TCP relay to the local API that connects from its own loopback address, as a second person's network
 * would: this walk's sign-ups and sign-ins get their own per-address budget (the walk above spends the
 * browser's), and the console is served, like the API, on the relay's origin.
 */
async function relayFromOwnAddress(targetPort: number): Promise<{ origin: string; close(): void }> {
  const localAddress = freshLoopbackIp();
  const server = createNetServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort, localAddress });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => server.close(),
  };
}

describe('the rest of the console in Chromium: queries, rules, recovery codes, password, MFA removal, settings, export', () => {
  const stamp = Date.now();
  const bea = {
    name: 'Bea Owner',
    email: `bea-${stamp}@example.com`,
    password: `bea's long passphrase ${stamp}`,
    newPassword: `bea's newer passphrase ${stamp}`,
  };
  const val = {
    name: 'Val Viewer',
    email: `val-${stamp}@example.com`,
    password: `val's passphrase ${stamp}`,
  };
  const tenantName = `Globex ${stamp}`;
  const appPassword = `app-pw-${stamp}-secret`;
  let relay: { origin: string; close(): void };
  let pg: TestPostgres;
  let context: BrowserContext;
  let log: string[];
  let page: Page;
  let url: string;
  let code: () => Promise<string>;
  let recoveryCodes: string[];
  let tenantId: string;
  let connectionId: string;
  let valToken: string;
  let beaToken: string;

  /** Bea's next unused recovery code (each works once). */
  const nextRecoveryCode = () => {
    const next = recoveryCodes.shift();
    if (!next) throw new Error('out of recovery codes');
    return next;
  };

  beforeAll(async () => {
    secrets.push(bea.password, bea.newPassword, val.password, appPassword);
    pg = await startTestPostgres();
    await seedCustomers(pg, appPassword, 'CREATE TABLE vault (id int PRIMARY KEY, note text);');
    relay = await relayFromOwnAddress(Number(new URL(origin).port));
    url = `${relay.origin}/console/`;
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    log = recordConsole(context);
    page = await context.newPage();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    relay?.close();
    await pg?.stop();
  });

  it('signs up, enrols MFA, and signs in again with a recovery code, which is then spent', async () => {
    // Act: sign up, verify the address, enrol MFA and keep the recovery codes, sign out
    await page.goto(`${url}#/sign-up`);
    await page.getByLabel('Name').fill(bea.name);
    await page.getByLabel('E-mail').fill(bea.email);
    await page.getByLabel('Password').fill(bea.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Continue to sign in' }).click();
    await page.getByLabel('Password').fill(bea.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await verifyInBrowser(page, bea.email, url);
    await page.goto(`${url}#/account`);
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    const secret = await page.getByLabel('Secret', { exact: true }).inputValue();
    secrets.push(secret);
    code = authenticator(secret);
    const confirm = page.getByRole('form', { name: 'Confirm two-step verification' });
    await confirm.getByLabel('Code from the app').fill(await code());
    await confirm.getByLabel('Current password').fill(bea.password);
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    const listed = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await listed.first().waitFor();
    recoveryCodes = (await listed.allTextContents()).map((c) => c.trim());
    secrets.push(...recoveryCodes);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();

    // Act: sign in with a recovery code instead of a code
    await page.getByLabel('E-mail').fill(bea.email);
    await page.getByLabel('Password').fill(bea.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByText('Enter one of your recovery codes. Each code works once.').waitFor();
    const recovery = nextRecoveryCode();
    await page.getByLabel('Recovery code').fill(recovery);
    await checkScreen(page, '20-sign-in-recovery-code');
    await page.getByRole('button', { name: 'Verify and sign in' }).click();

    // Assess: signed in; the session says how it was signed in, and the code is spent
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.getByRole('link', { name: 'Sessions' }).click();
    const current = page.getByRole('row').filter({ hasText: 'This session' });
    await current.waitFor();
    expect(await current.textContent()).toContain('Password and recovery code');
    await checkScreen(page, '21-sessions-recovery-code');

    // Act / Assess: the spent code is refused
    const again = await apiCall('POST', '/v1/auth/login', {
      email: bea.email,
      password: bea.password,
      recoveryCode: recovery,
    });
    expect(again.status).toBe(401);
    expect(again.body.type).toMatch(/invalid-mfa-code$/);

    // Prepare: a program's session of Bea (for checking what the console did), signed in with another code.
    const program = await apiCall('POST', '/v1/auth/login', {
      email: bea.email,
      password: bea.password,
      recoveryCode: nextRecoveryCode(),
    });
    expect(program.status).toBe(200);
    beaToken = program.body.token;
    secrets.push(beaToken);
  });

  it('creates a tenant and invites a viewer, who accepts', async () => {
    // Act: create a tenant and invite the viewer
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.getByLabel('Tenant name').fill(tenantName);
    await page.getByRole('button', { name: 'Create tenant' }).click();

    // Assess
    await page.getByRole('heading', { name: tenantName }).waitFor();
    tenantId = /#\/t\/(t_[0-9a-z]+)/.exec(page.url())?.[1] ?? '';
    expect(tenantId).toMatch(/^t_/);
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByLabel('E-mail').fill(val.email);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText(`Invitation sent to ${val.email}`).waitFor();

    // Act / Assess: the viewer registers, verifies, signs in and accepts
    expect((await apiCall('POST', '/v1/auth/register', val)).status).toBe(202);
    const verification = linkIn(await takeMail(inboxApi, val.email, /^Verify/, 20_000), '/verify-email');
    expect((await apiCall('POST', '/v1/auth/verify-email', { token: verification.token })).status).toBe(200);
    const signedIn = await apiCall('POST', '/v1/auth/login', { email: val.email, password: val.password });
    expect(signedIn.status).toBe(200);
    valToken = signedIn.body.token;
    secrets.push(valToken);
    const invitations = await apiCall('GET', '/v1/me/invitations', undefined, valToken);
    expect(invitations.body.items).toHaveLength(1);
    const accepted = await apiCall(
      'POST',
      `/v1/me/invitations/${invitations.body.items[0].invitationId}/accept`,
      undefined,
      valToken,
    );
    expect(accepted.status).toBe(201);
  });

  it('stores a connection to a real PostgreSQL, edits its rules, and the rules hold for the viewer', async () => {
    // Act: add the connection
    await page.getByRole('link', { name: 'Connections' }).click();
    const add = page.getByRole('form', { name: 'Add connection' });
    await add.getByLabel('Name').fill('shop');
    await add.getByLabel('Host').fill(pg.host);
    await add.getByLabel('Port').fill(String(pg.port));
    await add.getByLabel('Database').fill(pg.database);
    await add.getByLabel('User').fill('app');
    await add.getByLabel('Password').fill(appPassword);
    await add.getByRole('button', { name: 'Add connection' }).click();

    // Assess: stored without rules
    await page.getByRole('heading', { name: 'shop' }).waitFor();
    const listed = await apiCall('GET', `/v1/tenants/${tenantId}/connections`, undefined, beaToken);
    expect(listed.body.items).toHaveLength(1);
    connectionId = listed.body.items[0].connectionId;
    expect(listed.body.items[0].rules).toBeNull();

    // Act: try the connection without running a statement
    await page.getByRole('button', { name: 'Test connection' }).click();

    // Assess: connected, and the test is in the audit log
    await page.getByText(/^Connected to shop in \d+ ms \(/).waitFor();
    const tested = await apiCall(
      'GET',
      `/v1/tenants/${tenantId}/audit-events?action=connection.tested`,
      undefined,
      beaToken,
    );
    expect(tested.body.items.map((e: { details: unknown }) => e.details)).toEqual([
      expect.objectContaining({ outcome: 'connected' }),
    ]);

    // Act: edit its rules
    await page.getByText('Query rules of shop').click();
    const rules = page.getByRole('form', { name: 'Query rules' });
    await rules.getByLabel('Read-only (no insert, update or delete)').check();
    await rules.getByLabel('Never these tables').fill('vault');
    await rules.getByLabel('Hidden columns').fill('customers: email, tier');
    await checkScreen(page, '22-connection-rules');
    await rules.getByRole('button', { name: 'Save rules' }).click();

    // Assess: shown and stored
    await page.getByText('Rules saved.').waitFor();
    const rulesFact = page.locator('section[aria-labelledby="connection-title"] dl.facts dd').nth(3);
    await expect
      .poll(() => rulesFact.textContent(), POLL)
      .toBe('read-only; never vault; customers: email, tier hidden');
    const stored = await apiCall(
      'GET',
      `/v1/tenants/${tenantId}/connections/${connectionId}`,
      undefined,
      beaToken,
    );
    expect(stored.body.rules).toEqual({
      readOnly: true,
      deniedTables: ['vault'],
      hiddenColumns: [{ table: 'customers', columns: ['email', 'tier'] }],
    });

    // Act / Assess: the viewer's queries: the hidden columns are gone, the denied table refused, writes
    // refused.
    const query = (body: unknown) =>
      apiCall('POST', `/v1/tenants/${tenantId}/connections/${connectionId}/query`, body, valToken);
    const viewerRead = await query({
      operation: 'select',
      table: 'customers',
      orderBy: [{ column: 'id' }],
      limit: 2,
    });
    expect(viewerRead.status).toBe(200);
    expect(viewerRead.body.columns).toEqual(['id', 'name', 'city']);
    expect((await query({ operation: 'select', table: 'vault' })).status).toBe(403);
  });

  it('runs a query from the console and shows the rows as a table; a refused query shows its detail', async () => {
    // Act: a filtered, ordered query of three rows
    await page.getByText('Query shop').click();
    const runner = page.getByRole('form', { name: 'Run a query' });
    await runner.getByLabel('Table').fill('customers');
    await runner.getByLabel('Columns').fill('id, name, city');
    await runner.getByLabel('Filter column').fill('city');
    await runner.getByLabel('Comparison').selectOption('eq');
    await runner.getByLabel('Value').fill('Paris');
    await runner.getByLabel('Order by').fill('id');
    await runner.getByLabel('Direction').selectOption('desc');
    await runner.getByLabel('Rows').fill('3');
    await runner.getByRole('button', { name: 'Run query' }).click();

    // Assess: those rows, as a table
    const result = page.getByRole('region', { name: 'Query result' });
    await result.waitFor();
    expect(await result.locator('caption').textContent()).toBe('3 rows (more available)');
    expect(await result.locator('thead th').allTextContents()).toEqual(['id', 'name', 'city']);
    const rows = await Promise.all(
      (await result.locator('tbody tr').all()).map((row) => row.locator('td').allTextContents()),
    );
    expect(rows).toEqual([
      ['24', 'customer 24', 'Paris'],
      ['22', 'customer 22', 'Paris'],
      ['20', 'customer 20', 'Paris'],
    ]);
    await checkScreen(page, '23-query-result');

    // Act / Assess: the owner manages connections, so the hidden columns are not hidden from her; a like
    // filter works.
    await runner.getByLabel('Columns').fill('');
    await runner.getByLabel('Filter column').fill('name');
    await runner.getByLabel('Comparison').selectOption('like');
    await runner.getByLabel('Value').fill('customer 7');
    await runner.getByLabel('Order by').fill('');
    await runner.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(() => result.locator('caption').textContent(), POLL).toBe('1 row');
    expect(await result.locator('thead th').allTextContents()).toEqual([
      'id',
      'name',
      'city',
      'email',
      'tier',
    ]);
    expect(await result.locator('tbody tr').first().locator('td').allTextContents()).toEqual([
      '7',
      'customer 7',
      'Oslo',
      'c7@example.test',
      '1',
    ]);

    // Prepare: a table the rules deny: the API's detail, as the API gives it.
    const refused = await apiCall(
      'POST',
      `/v1/tenants/${tenantId}/connections/${connectionId}/query`,
      { operation: 'select', table: 'vault' },
      beaToken,
    );
    expect(refused.status).toBe(403);

    // Act
    await runner.getByLabel('Table').fill('vault');
    await runner.getByLabel('Filter column').fill('');
    await runner.getByRole('button', { name: 'Run query' }).click();

    // Assess: the API's detail, and no table
    const alert = runner.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(refused.body.detail);
    expect(await result.count()).toBe(0);
    await checkScreen(page, '24-query-refused');
  });

  it('changes the tenant settings (MFA required, session limits), which the API then applies', async () => {
    // Prepare
    await page.getByRole('link', { name: 'Overview' }).click();
    const settings = page.getByRole('form', { name: 'Tenant settings' });
    const idle = settings.getByLabel('Sign members out after this many idle seconds');
    const absolute = settings.getByLabel('Sign members out after this many seconds in any case');

    // Act / Assess: out of range: the API's message shows next to the input.
    await idle.fill('60');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.locator('.field-error').waitFor();
    expect(await idle.getAttribute('aria-invalid')).toBe('true');
    await checkScreen(page, '25-settings-error');

    // Act: MFA required, and both limits
    await settings.getByLabel('Require two-step verification of every member').check();
    await idle.fill('900');
    await absolute.fill('3600');
    await settings.getByRole('button', { name: 'Save settings' }).click();

    // Assess: shown and stored
    await page.getByText('Settings saved.').waitFor();
    await page.getByText('Required of every member').waitFor();
    await checkScreen(page, '26-settings-saved');
    const read = () => apiCall('GET', `/v1/tenants/${tenantId}`, undefined, beaToken);
    expect((await read()).body.settings).toEqual({
      requireMfa: true,
      sessionIdleSeconds: 900,
      sessionAbsoluteSeconds: 3600,
    });

    // Assess: the viewer signed in with a password only: refused in this tenant now.
    const refused = await apiCall('GET', `/v1/tenants/${tenantId}`, undefined, valToken);
    expect(refused.status).toBe(403);
    expect(refused.body.type).toMatch(/mfa-enrolment-required$/);

    // Act / Assess: emptying a limit returns it to the platform default.
    await idle.fill('');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(async () => (await read()).body.settings, POLL)
      .toEqual({
        requireMfa: true,
        sessionAbsoluteSeconds: 3600,
      });

    // Act / Assess: a reload shows what is stored
    await page.reload();
    await page.getByRole('heading', { name: tenantName }).waitFor();
    expect(await idle.inputValue()).toBe('');
    expect(await absolute.inputValue()).toBe('3600');
    expect(await settings.getByLabel('Require two-step verification of every member').isChecked()).toBe(true);
  });

  it('exports the tenant and downloads the archive from the link', async () => {
    // Act
    await page.getByRole('button', { name: 'Export tenant data' }).click();

    // Assess
    const link = page.getByRole('link', { name: 'Download the export' });
    await link.waitFor();
    expect(await page.getByText(/^Export ready \(/).textContent()).toMatch(/^Export ready \([\d,]+ bytes\)/);
    const href = (await link.getAttribute('href')) ?? '';

    // Assess: a presigned URL of the emulator's export bucket, never the API's origin or a token of the
    // console.
    expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*exports\/.*\.json\?/);
    expect(href).toContain('X-Amz-Signature=');
    await checkScreen(page, '27-export-ready');

    // Act / Assess: what the link answers: the archive, as an attachment.
    const direct = await fetch(href);
    expect(direct.status, await direct.clone().text()).toBe(200);
    expect(direct.headers.get('content-disposition')).toMatch(/^attachment; filename="t_/);

    // Act: download it from the page
    const download = page.waitForEvent('download');
    await link.click();

    // Assess: the tenant's archive, without any secret
    const file = await download;
    expect(file.suggestedFilename()).toMatch(new RegExp(`^${tenantId}-.+\\.json$`));
    const archive = await readFile((await file.path())!, 'utf8');
    const parsed = JSON.parse(archive);
    expect(JSON.stringify(parsed)).toContain(tenantName);
    expect(archive).toContain(val.email);
    expect(archive).toContain('"shop"');
    for (const secret of secrets) expect(archive).not.toContain(secret);

    // Assess: the page is still the console: the download did not navigate away.
    expect(page.url()).toMatch(new RegExp(`^${url}#/t/${tenantId}`));
  });

  it('changes the password with a code, which signs out the other sessions', async () => {
    // Act: the wrong password
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('not my password at all');
    await form.getByLabel('New password').fill(bea.newPassword);
    await form.getByLabel('Authentication code').fill('000000');
    await form.getByRole('button', { name: 'Change password' }).click();

    // Assess
    await form.getByRole('alert').waitFor();
    await checkScreen(page, '28-password-error');

    // Act / Assess: the right password with a wrong code: the API answers 401 about the code, and the
    // console shows that in the form (it once took any 401 for the end of the session and showed the sign-in
    // screen).
    await form.getByLabel('Current password').fill(bea.password);
    await form.getByLabel('New password').fill(bea.newPassword);
    await form.getByLabel('Authentication code').fill('000000');
    await form.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), POLL).toMatch(/code is wrong/);
    expect(await page.getByRole('heading', { name: 'Account', exact: true }).count()).toBe(1);

    // Act: the right password and code
    await form.getByLabel('Current password').fill(bea.password);
    await form.getByLabel('New password').fill(bea.newPassword);
    await form.getByLabel('Authentication code').fill(await code());
    await form.getByRole('button', { name: 'Change password' }).click();

    // Assess
    await page.getByText('Password changed. 1 other session was signed out.').waitFor();
    // The form is emptied, nothing of it stays on the page.
    expect(await form.getByLabel('New password').inputValue()).toBe('');
    await checkScreen(page, '29-password-changed');

    // Assess: the other session ended; the old password fails, the new one works
    expect((await apiCall('GET', '/v1/me', undefined, beaToken)).status).toBe(401);
    const old = await apiCall('POST', '/v1/auth/login', {
      email: bea.email,
      password: bea.password,
      recoveryCode: recoveryCodes[0],
    });
    expect(old.status).toBe(401);
    const fresh = await apiCall('POST', '/v1/auth/login', {
      email: bea.email,
      password: bea.newPassword,
      recoveryCode: nextRecoveryCode(),
    });
    expect(fresh.status).toBe(200);
    beaToken = fresh.body.token;
    secrets.push(beaToken);

    // Act / Assess: this browser's session was kept.
    await page.reload();
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
  });

  it('turns MFA off with a recovery code after a wrong code is refused', async () => {
    // Act: a wrong code
    await page.getByText('Turn two-step verification off').first().click();
    const form = page.getByRole('form', { name: 'Turn two-step verification off' });
    await form.getByLabel('Authentication code').fill('000000');
    await form.getByRole('button', { name: 'Turn off' }).click();

    // Assess
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/code is wrong/);
    await checkScreen(page, '30-mfa-remove');

    // Act: a recovery code (the password form below has its own such button)
    await page
      .getByRole('region', { name: 'Two-step verification' })
      .getByRole('button', { name: 'Use a recovery code instead' })
      .click();
    await form.getByLabel('Recovery code').fill(nextRecoveryCode());
    await form.getByRole('button', { name: 'Turn off' }).click();

    // Assess
    await page.getByText('Two-step verification is off.').waitFor();
    await page.getByRole('button', { name: 'Set up two-step verification' }).waitFor();
    await checkScreen(page, '31-mfa-removed');

    // Assess: signing in needs only the password now (and the other sessions ended with the change).
    expect((await apiCall('GET', '/v1/me', undefined, beaToken)).status).toBe(401);
    const plain = await apiCall('POST', '/v1/auth/login', { email: bea.email, password: bea.newPassword });
    expect(plain.status).toBe(200);
    const me = await apiCall('GET', '/v1/me', undefined, plain.body.token);
    expect(me.body.user.mfaEnabled).toBe(false);
  });

  it('never wrote a secret to the browser console, and the CSP was never violated', () => {
    // Act / Assess
    for (const secret of secrets) for (const line of log) expect(line).not.toContain(secret);
    expect(log.filter((l) => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
    expect(log.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });
});
