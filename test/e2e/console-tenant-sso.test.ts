import { rm } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/moto.js';
import { axeViolations, launchChromium, recordConsole } from '../support/browser.js';
import { type LocalRun, startLocalRun } from '../support/local-run.js';
import {
  startTestOidcProvider,
  type TestOidcProvider,
  testIdpEntry,
  writeProvidersFile,
} from '../support/oidc-provider.js';

/**
 * The tenant's own identity provider in the console (Overview → Single sign-on), in Debian's Chromium against
 * `npm run local`, with a real OpenID provider (oidc-provider) on loopback as the tenant's issuer: an owner
 * connects it, sees it stored without its secret, is refused enforcement from a session not signed in through
 * it, and removes it.
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
  // The same provider is the platform's too: the owner signs in with it (a verified account at once).
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

describe('a tenant’s own identity provider in the console', () => {
  it('lets an owner connect it (secret never shown), refuses enforcement from another session, and removes it', async () => {
    // Prepare: an owner (signed in through the platform provider) with a tenant
    const stamp = Date.now();
    idp.signInAs({ sub: `owner-${stamp}`, email: `owner-${stamp}@example.com`, email_verified: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const log = recordConsole(context);
    const page = await context.newPage();
    await page.goto(consoleUrl);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);
    await page.getByLabel('Tenant name').fill('Corp');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('heading', { name: 'Corp', level: 1 }).waitFor(POLL);
    const section = page.getByRole('region', { name: 'Single sign-on' });
    await section.getByRole('button', { name: 'Connect identity provider' }).waitFor(POLL);

    // Act: connect it
    await section.getByLabel('Issuer URL').fill(idp.issuer);
    await section.getByLabel('Client id').fill(idp.clientId);
    await section.getByLabel('Client secret').fill(idp.clientSecret);
    await section.getByLabel('Allowed e-mail domains').fill('example.com, corp.example.com');
    await section.getByRole('button', { name: 'Connect identity provider' }).click();

    // Assess: stored, shown without its secret
    await section.getByText('Identity provider saved.').waitFor(POLL);
    expect(await section.locator('dd.mono').textContent()).toBe(idp.issuer);
    expect(await section.getByLabel('Client secret').inputValue()).toBe('');
    expect(await section.getByLabel('Allowed e-mail domains').inputValue()).toBe(
      'corp.example.com, example.com',
    );
    expect(await page.content()).not.toContain(idp.clientSecret);
    expect(await axeViolations(page)).toEqual([]);

    // Act: require sign-in through it, from this session (signed in through the platform provider)
    await section.getByLabel('Require members to sign in through it').check();
    await section.getByRole('button', { name: 'Save identity provider' }).click();

    // Assess: refused with the API's reason; still optional
    await section.getByText('from a session signed in through this identity provider').waitFor(POLL);
    expect(await section.getByText('Optional').count()).toBe(1);

    // Act: remove it
    await section.getByRole('button', { name: 'Remove identity provider' }).click();

    // Assess
    await section.getByText('Identity provider removed.').waitFor(POLL);
    await section.getByRole('button', { name: 'Connect identity provider' }).waitFor(POLL);
    expect(log.filter((l) => l.startsWith('pageerror') || l.includes('Content Security Policy'))).toEqual([]);
    expect(log.join('\n')).not.toContain(idp.clientSecret);
    await context.close();
  });

  it('signs a member in through the organisation link the owner shares, who then accepts the tenant’s invitation', async () => {
    // Prepare: an owner (platform provider) connects Corp's IdP and invites a person of its domain
    const stamp = Date.now();
    const memberEmail = `member-${stamp}@corp.example.com`;
    idp.signInAs({ sub: `owner2-${stamp}`, email: `owner2-${stamp}@example.com`, email_verified: true });
    const ownerContext = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const ownerLog = recordConsole(ownerContext);
    const owner = await ownerContext.newPage();
    await owner.goto(consoleUrl);
    await owner.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await owner.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);
    await owner.getByLabel('Tenant name').fill('Corp Two');
    await owner.getByRole('button', { name: 'Create tenant' }).click();
    await owner.getByRole('heading', { name: 'Corp Two', level: 1 }).waitFor(POLL);
    const tenantId = /#\/t\/(t_[0-9a-z]+)/.exec(owner.url())?.[1] ?? '';
    const section = owner.getByRole('region', { name: 'Single sign-on' });
    await section.getByLabel('Issuer URL').fill(idp.issuer);
    await section.getByLabel('Client id').fill(idp.clientId);
    await section.getByLabel('Client secret').fill(idp.clientSecret);
    await section.getByLabel('Allowed e-mail domains').fill('corp.example.com');
    await section.getByRole('button', { name: 'Connect identity provider' }).click();
    await section.getByText('Identity provider saved.').waitFor(POLL);
    const link = (await section.locator('dd span.mono').textContent()) ?? '';
    // Linking the owner's account to it asks for the password first (this account has none it knows)
    await section.getByText('Link your account to it').click();
    const linkForm = owner.getByRole('form', { name: 'Link your account to the identity provider' });
    await linkForm.getByLabel('Current password').fill('not the password');
    await linkForm.getByRole('button', { name: 'Continue to the identity provider' }).click();
    await linkForm.getByRole('alert').waitFor(POLL);
    expect(owner.url()).toContain(consoleUrl);
    await owner.getByRole('link', { name: 'Members' }).click();
    await owner.getByLabel('E-mail').fill(memberEmail);
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.getByText(`Invitation sent to ${memberEmail}`).waitFor(POLL);

    // Act: the member opens the link in their own browser and signs in through Corp's IdP
    expect(link).toBe(`${consoleUrl}#/sso/${tenantId}`);
    idp.signInAs({ sub: `member-${stamp}`, email: memberEmail, email_verified: true });
    const memberContext = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const memberLog = recordConsole(memberContext);
    const member = await memberContext.newPage();
    await member.goto(link);
    const form = member.getByRole('form', { name: 'Sign in with your organisation' });
    expect(await form.getByLabel('Organisation id').inputValue()).toBe(tenantId);
    expect(await axeViolations(member)).toEqual([]);
    await form.getByRole('button', { name: 'Continue to your organisation' }).click();
    // The provider's address is shown before the browser leaves, and it goes there only when asked
    const host = new URL(idp.issuer).host;
    await member.getByText(host, { exact: true }).waitFor(POLL);
    expect(member.url()).toContain(consoleUrl);
    await member.getByRole('button', { name: `Continue to ${host}` }).click();

    // Assess: signed in as the member through Corp's provider
    await member.getByRole('heading', { name: 'Tenants' }).waitFor(POLL);
    const me = await member.evaluate<{ user: { email: string; emailVerified: boolean } }>(
      `fetch('/v1/me', { credentials: 'same-origin' }).then((r) => r.json())`,
    );
    expect(me.user).toMatchObject({ email: memberEmail, emailVerified: false });

    // Act: accept Corp's invitation
    await member.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Invitations' }).click();
    await member.getByRole('button', { name: 'Accept invitation to Corp Two' }).click();

    // Assess: a member of Corp Two, whose overview its session reaches
    await member.getByText('You joined').waitFor(POLL);
    await member.getByRole('link', { name: 'Corp Two' }).first().click();
    await member.getByRole('heading', { name: 'Corp Two', level: 1 }).waitFor(POLL);
    for (const log of [ownerLog, memberLog]) {
      expect(log.filter((l) => l.startsWith('pageerror') || l.includes('Content Security Policy'))).toEqual(
        [],
      );
      expect(log.join('\n')).not.toContain(idp.clientSecret);
    }
    await ownerContext.close();
    await memberContext.close();
  });

  it('shows the API’s refusal of a malformed organisation id in the form, on the sign-in screen', async () => {
    // Prepare
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${consoleUrl}#/sso/not-a-tenant`);
    const form = page.getByRole('form', { name: 'Sign in with your organisation' });

    // Act
    await form.getByRole('button', { name: 'Continue to your organisation' }).click();

    // Assess: the API's refusal in the form; still on the sign-in screen
    await form.getByRole('alert').waitFor(POLL);
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
    await context.close();
  });
});
