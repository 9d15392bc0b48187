import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { axeViolations, launchChromium, recordConsole, screenshot } from '../support/browser.js';
import { type LocalRun, startLocalRun } from '../support/local-run.js';

/**
 * Passkeys in the console, in Debian's Chromium against `npm run local`, with a virtual WebAuthn
 * authenticator (a platform authenticator with resident keys and user verification) attached through the
 * DevTools protocol: a user adds a passkey under Account, renames it, signs out, signs in with it and no
 * password, then removes it, after which it no longer signs in. The console is opened on
 * `http://localhost:<port>` (the URL local mode prints for passkeys): browsers refuse WebAuthn on an IP.
 */
const POLL = { timeout: 15_000 };

let local: LocalRun | undefined;
let passkeyConsoleUrl: string;
let inboxApi: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
let authenticatorId: string;
let log: string[];

const user = {
  name: 'Passkey Person',
  email: `passkey-${Date.now()}@example.test`,
  password: 'a long passkey test passphrase',
};
const newPassword = 'another long passkey test passphrase';

beforeAll(async () => {
  local = await startLocalRun();
  passkeyConsoleUrl = local.printed(/(http:\/\/localhost:\d+\/console\/)\s+\(for passkeys/);
  inboxApi = new URL('/api', local.printed(/Mail inbox\s+(\S+)/)).href;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  log = recordConsole(context);
  page = await context.newPage();
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  }));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

async function checkScreen(name: string) {
  await screenshot(page, `passkeys-${name}`);
  expect(await axeViolations(page), name).toEqual([]);
}

async function credentials() {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

/** The current session, as the console's own fetch sees it (same origin, with the cookie). */
async function currentSession(): Promise<{ authMethod: string; mfa: boolean } | undefined> {
  const sessions = await page.evaluate<{ items: { current: boolean; authMethod: string; mfa: boolean }[] }>(
    `fetch('/v1/me/sessions', { credentials: 'same-origin' }).then((r) => r.json())`,
  );
  return sessions.items.find((s) => s.current);
}

async function signOut() {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

describe('passkeys in the console', () => {
  it('local mode prints the localhost console URL for passkeys', () => {
    // Act / Assess
    expect(passkeyConsoleUrl).toMatch(/^http:\/\/localhost:\d+\/console\/$/);
  });

  it('signs up, verifies the address and signs in with the password', async () => {
    // Act: sign up
    await page.goto(`${passkeyConsoleUrl}#/sign-up`);
    await page.getByLabel('Name').fill(user.name);
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Create account' }).click();

    // Assess
    await page.getByRole('heading', { name: 'Account requested' }).waitFor();

    // Act: follow the mailed link, then sign in
    const mail = await takeMail(inboxApi, user.email, /^Verify your e-mail/);
    await page.goto(`${passkeyConsoleUrl}#/verify-email/${linkIn(mail, '/verify-email').token}`);
    await page.getByRole('link', { name: 'Continue to the console' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    // Assess: a password session without MFA
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    expect(await currentSession()).toMatchObject({ authMethod: 'password', mfa: false });
  });

  it('adds a passkey under Account with the current password: the authenticator holds a resident key', async () => {
    // Act
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
    await page.getByText('No passkeys yet.').waitFor();
    await page.getByText('Add a passkey', { exact: true }).click();
    const form = page.getByRole('form', { name: 'Add a passkey' });
    await form.getByLabel('Passkey name').fill('Laptop');
    await form.getByLabel('Current password').fill(user.password);
    await checkScreen('01-add');

    // Act: create the passkey
    await form.getByRole('button', { name: 'Create passkey' }).click();

    // Assess: listed, and the authenticator holds one resident key for localhost
    await page.getByText('Passkey “Laptop” added.').waitFor(POLL);
    const table = page.getByRole('table', { name: 'Your passkeys' });
    await table.getByRole('cell', { name: 'Laptop' }).waitFor();
    const held = await credentials();
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    await checkScreen('02-listed');
  });

  it('renames it', async () => {
    // Act
    await page.getByText('Rename Laptop').click();
    const form = page.getByRole('form', { name: 'Rename Laptop' });
    await form.getByLabel('New name').fill('Work laptop');
    await form.getByRole('button', { name: 'Save name' }).click();

    // Assess
    await page.getByText('Passkey renamed to “Work laptop”.').waitFor();
    await page
      .getByRole('table', { name: 'Your passkeys' })
      .getByRole('cell', { name: 'Work laptop' })
      .waitFor();
  });

  it('signs in with the passkey and no password: an MFA session, method passkey', async () => {
    // Act
    await signOut();
    await checkScreen('03-sign-in');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();

    // Assess: an MFA session by passkey, the authenticator's counter moved
    await page.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);
    expect(await currentSession()).toMatchObject({ authMethod: 'passkey', mfa: true });
    const held = await credentials();
    expect(held[0]!.signCount).toBeGreaterThan(0);

    // Act / Assess: the sign-in history shows it.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    await page
      .getByRole('table', { name: 'Sign-in attempts' })
      .getByRole('cell', { name: 'Passkey' })
      .first()
      .waitFor();
  });

  it('changes the password with a passkey step-up: a passkey-only account confirms with its passkey, not a code', async () => {
    // Prepare
    const before = (await credentials())[0]!.signCount;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByText(/browser asks for your passkey/).waitFor();
    expect(await form.getByLabel('Authentication code').count()).toBe(0);

    // Act: the browser's prompt is the virtual authenticator's (user verified)
    await form.getByLabel('Current password').fill(user.password);
    await form.getByLabel('New password').fill(newPassword);
    await form.getByRole('button', { name: 'Change password' }).click();

    // Assess: changed, by one more assertion of the passkey; this session kept
    await page.getByText(/^Password changed\./).waitFor(POLL);
    expect((await credentials())[0]!.signCount).toBeGreaterThan(before);
    expect(await currentSession()).toMatchObject({ authMethod: 'passkey', mfa: true });
    await checkScreen('04-password-step-up');
    user.password = newPassword;
  });

  it('deletes a tenant with a passkey step-up', async () => {
    // Prepare: a tenant
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).click();
    await page.getByLabel('Tenant name').fill('Passkey tenant');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('heading', { name: 'Passkey tenant' }).waitFor();

    // Act
    const form = page.getByRole('form', { name: 'Delete this tenant' });
    await form.getByLabel(/Type the tenant name/).fill('Passkey tenant');
    await form.getByRole('button', { name: 'Delete tenant permanently' }).click();

    // Assess: back on the tenant list, which no longer has it
    await page.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);
    await page.getByText('You are not a member of any tenant yet.').waitFor(POLL);
  });

  it('turns two-step verification on beside the passkey only with a passkey confirmation, and off again with a recovery code', async () => {
    // Prepare: enrolment started; the confirm form says the browser will ask for the passkey
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    const secret = await page.getByLabel('Secret', { exact: true }).inputValue();
    const confirm = page.getByRole('form', { name: 'Confirm two-step verification' });
    await confirm.getByText(/browser asks for your passkey/).waitFor();
    const before = (await credentials())[0]!.signCount;

    // Act
    await confirm.getByLabel('Code from the app').fill(totpCodeAt(secret, Date.now()));
    await confirm.getByLabel('Current password').fill(user.password);
    await confirm.getByRole('button', { name: 'Turn on two-step verification' }).click();

    // Assess: on, after one more assertion of the passkey (the step-up the API asks for)
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor(POLL);
    expect((await credentials())[0]!.signCount).toBeGreaterThan(before);
    const recovery = (await codes.first().textContent())!.trim();
    await page.getByRole('button', { name: 'I have saved them' }).click();

    // Act: off again, with a recovery code (the passkey stays the account's only factor)
    await page.locator('summary', { hasText: 'Turn two-step verification off' }).click();
    await page
      .getByRole('region', { name: 'Two-step verification' })
      .getByRole('button', { name: 'Use a recovery code instead' })
      .click();
    const off = page.getByRole('form', { name: 'Turn two-step verification off' });
    await off.getByLabel('Recovery code').fill(recovery);
    await off.getByRole('button', { name: 'Turn off' }).click();

    // Assess
    await page.getByText('Two-step verification is off.').waitFor(POLL);
  });

  it('removes it, the last second factor, with the password and a passkey step-up, after which it no longer signs in', async () => {
    // Prepare: the form says the browser will ask for the passkey
    const before = (await credentials())[0]!.signCount;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByText('Remove Work laptop').click();
    const form = page.getByRole('form', { name: 'Remove Work laptop' });
    await form.getByText(/This is your last second factor/).waitFor();

    // Act: the browser's prompt is the virtual authenticator's (user verified)
    await form.getByLabel('Current password').fill(user.password);
    await form.getByRole('button', { name: 'Remove passkey' }).click();

    // Assess: removed, after one more assertion of the passkey (the step-up)
    await page.getByText('Passkey “Work laptop” removed.').waitFor();
    await page.getByText('No passkeys yet.').waitFor();
    expect((await credentials())[0]!.signCount).toBeGreaterThan(before);

    // Act
    await signOut();
    // The authenticator still holds the key; the account no longer accepts it.
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();

    // Assess
    await page
      .getByRole('alert')
      .getByText(/passkey was not accepted/)
      .waitFor(POLL);
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
  });

  it('left no error, CSP violation or secret in the browser console', () => {
    // Act
    const problems = log.filter((line) => /pageerror|Content Security Policy|Refused/i.test(line));

    // Assess
    expect(problems).toEqual([]);
    expect(log.join('\n')).not.toContain(user.password);
    expect(log.join('\n')).not.toContain('a long passkey test passphrase');
  });
});
