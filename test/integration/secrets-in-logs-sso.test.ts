/*
 * The log-secrets sweep (secrets-in-logs.test.ts) runs no OIDC flow. This one does, at DEBUG, including the
 * failure paths (foreign flow token, a code replayed, a code the provider refuses) and a link (with the
 * current password, right and wrong), and greps everything the process wrote for the flow's secrets, the
 * password, the session token and the client secret.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { provisionLocalOidcProviders } from '../../infra/local/oidc-providers.js';
import { signUp } from '../support/identity-fixtures.js';
import { TEST_CONSOLE_URL, TEST_REGION, TEST_STAGE } from '../support/integration-setup.js';
import { startTestApi, type TestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';
import { startTestOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

let api: TestApi;
let idp: TestOidcProvider;
const output = captureOutputOfFile({ logLevel: 'DEBUG' });

beforeAll(async () => {
  idp = await startTestOidcProvider({ redirectUri: TEST_CONSOLE_URL });
  const dir = await mkdtemp(path.join(tmpdir(), 'strongroom-oidc-logs-'));
  const file = path.join(dir, 'providers.json');
  await writeFile(
    file,
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
  Object.assign(
    process.env,
    await provisionLocalOidcProviders({
      file,
      endpoint: inject('awsEndpoint'),
      region: TEST_REGION,
      stage: TEST_STAGE,
    }),
  );
  await rm(dir, { recursive: true });
  api = await startTestApi();
});
afterAll(async () => {
  delete process.env.OIDC_PROVIDERS;
  await api?.close();
  await idp?.close();
});

describe('logs of OIDC flows', () => {
  it('never contain the code, state, flow token, password, session token or client secret', async () => {
    // Prepare
    const secrets: string[] = [idp.clientSecret];
    const account = {
      sub: `logs-${Date.now()}`,
      email: `logs-${Date.now()}@example.test`,
      email_verified: true,
      name: 'Logs',
    };
    const flow = async () => {
      const start = await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } });
      expect(start.status, start.text).toBe(200);
      idp.signInAs(account);
      const back = await idp.authorize(start.body.authorizationUrl);
      const parts = {
        state: back.searchParams.get('state')!,
        code: back.searchParams.get('code')!,
        iss: back.searchParams.get('iss') ?? undefined,
        flowToken: start.body.flowToken as string,
      };
      secrets.push(parts.state, parts.code, parts.flowToken);
      return parts;
    };
    // Act: a good sign-in
    const ok = await flow();
    const signedIn = await api.request('POST', '/v1/auth/oidc/callback', { body: ok });
    expect(signedIn.status, signedIn.text).toBe(200);
    secrets.push(signedIn.body.token, signedIn.body.token.split('.')[2]);
    // the same code and state again (replay), and a foreign flow token
    expect((await api.request('POST', '/v1/auth/oidc/callback', { body: ok })).status).toBe(400);
    const other = await flow();
    const foreign = { ...other, flowToken: ok.flowToken };
    expect((await api.request('POST', '/v1/auth/oidc/callback', { body: foreign })).status).toBe(400);
    // a code spent at the provider already, on a fresh flow: the token endpoint refuses
    const fresh = await flow();
    const spent = await api.request('POST', '/v1/auth/oidc/callback', { body: { ...fresh, code: ok.code } });
    expect(spent.status, spent.text).toBe(401);
    // a link with a wrong password, then with the right one
    const owner = await signUp(api, 'logs-link');
    secrets.push(owner.token, owner.password, 'wrong-password-in-logs?');
    const refused = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: { provider: 'test-idp', currentPassword: 'wrong-password-in-logs?' },
    });
    expect(refused.status).toBe(400);
    const link = await api.request('POST', '/v1/me/oidc/link', {
      token: owner.token,
      body: { provider: 'test-idp', currentPassword: owner.password },
    });
    expect(link.status, link.text).toBe(200);
    idp.signInAs({ ...account, sub: `logs-link-${Date.now()}` });
    const linkBack = await idp.authorize(link.body.authorizationUrl);
    const linkParts = {
      state: linkBack.searchParams.get('state')!,
      code: linkBack.searchParams.get('code')!,
      iss: linkBack.searchParams.get('iss') ?? undefined,
      flowToken: link.body.flowToken as string,
    };
    secrets.push(linkParts.state, linkParts.code, linkParts.flowToken);
    const linked = await api.request('POST', '/v1/auth/oidc/callback', { body: linkParts });
    expect(linked.status, linked.text).toBe(200);

    // Assess: none of them anywhere in what the process wrote

    const text = output.text();
    // The capture works: the refused code was logged (its library code, at WARN), and so was each request
    expect(text).toContain('oidc provider error');
    expect(text).toContain('"route":"finishOidcFlow"');
    for (const secret of secrets)
      expect(text.includes(secret), `a secret (${secret.slice(0, 6)}…) is in the logs`).toBe(false);
  });
});
