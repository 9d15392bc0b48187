/*
 * The log-secrets sweep (secrets-in-logs.test.ts) runs no OIDC flow. This one does, at DEBUG, including the
 * failure paths (foreign flow token, a code replayed, a code the provider refuses) and a link (with the
 * current password, right and wrong), and greps everything the process wrote for the flow's secrets, the
 * password, the session token and the client secret.
 */
import { describe, expect, it } from 'vitest';
import { signUp } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';
import { callbackBody, useTestOidcProvider } from '../support/oidc-provider.js';

const output = captureOutputOfFile({ logLevel: 'DEBUG' });
const idp = useTestOidcProvider();
const api = useTestApi();

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
      const parts = await callbackBody(idp, start.body, account);
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
    const linkParts = await callbackBody(idp, link.body, { ...account, sub: `logs-link-${Date.now()}` });
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
