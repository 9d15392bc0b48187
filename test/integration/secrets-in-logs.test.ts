import { describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { createTenant, inboxApi, signUp, signUpUnverified } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { captureOutputOfFile } from '../support/log-capture.js';

const api = useTestApi();

// Everything the process writes while the handlers run at the most verbose log level.
const output = captureOutputOfFile({ logLevel: 'DEBUG' });

describe('logs', () => {
  it('never contain a password, session token, TOTP secret, code, recovery code or API key', async () => {
    // Act: sign up, a wrong password, TOTP enrolment and a wrong confirmation, an API key used, a password
    // change, and the mailed links of a second account (the reset spent); every secret on the way is kept
    const secrets: string[] = [];
    const user = await signUp(api, 'logs');
    secrets.push(user.password, user.token, user.token.split('.')[2]!);
    await api.request('POST', '/v1/auth/login', {
      body: { email: user.email, password: 'a-wrong-password-here' },
    });
    const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: user.token });
    const code = totpCodeAt(enrol.body.secret, Date.now());
    const confirm = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code, currentPassword: user.password },
    });
    secrets.push(enrol.body.secret, ...confirm.body.recoveryCodes);
    await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: user.token,
      body: { code, currentPassword: 'a-wrong-password-here' },
    });
    const tenantId = await createTenant(api, user, 'Logs');
    const key = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      token: user.token,
      body: { name: 'k', scopes: ['tenant:read'] },
    });
    secrets.push(key.body.key, key.body.key.split('.')[3]);
    await api.request('GET', `/v1/tenants/${tenantId}`, { token: key.body.key });
    const nextCode = totpCodeAt(enrol.body.secret, Date.now() + 30_000);
    const changed = await api.request('POST', '/v1/me/password', {
      token: user.token,
      body: { currentPassword: user.password, newPassword: 'the-next-password-1', mfaCode: nextCode },
    });
    expect(changed.status, changed.text).toBe(200);
    secrets.push('the-next-password-1', nextCode);
    // The one-time tokens of mailed links (a verification link; a reset link, spent).
    const later = await signUpUnverified(api, 'logs-mail');
    const verification = linkIn(await takeMail(inboxApi(), later.email, /^Verify/), '/verify-email');
    await api.request('POST', '/v1/auth/password-reset', { body: { email: later.email } });
    const reset = linkIn(await takeMail(inboxApi(), later.email, /^Reset/), '/reset-password');
    const resetDone = await api.request('POST', '/v1/auth/password-reset/confirm', {
      body: { token: reset.token, newPassword: 'the-reset-password-1' },
    });
    expect(resetDone.status, resetDone.text).toBe(200);
    await api.request('POST', '/v1/auth/verify-email', { body: { token: verification.token } });
    secrets.push(
      verification.token,
      verification.token.split('.')[1]!,
      reset.token,
      reset.token.split('.')[1]!,
      'the-reset-password-1',
    );

    // Assess: requests were logged, and no secret was
    const logs = output.text();
    expect(logs).toContain('"message":"request"');
    for (const secret of secrets) expect(logs.includes(secret), `a secret reached the logs`).toBe(false);
  });
});
