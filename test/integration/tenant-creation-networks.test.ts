import { describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import {
  TENANT_CREATIONS_PER_NETWORK_PER_HOUR,
  TENANT_CREATIONS_PER_USER_PER_HOUR,
} from '../../shared/schemas/tenants.js';
import { inboxApi } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';

/**
 * Every tenant costs account-wide quota: a KMS key, and an IAM role of the account (1,000 by default,
 * 5,000 at most) once it uses managed storage. Accounts are free, so a per-user limit alone would let one
 * network make as many tenants as it makes accounts, and use up the role quota for everyone. Tenant
 * creation is limited per network (IPv4 /24, IPv6 /48) too.
 */
const api = useTestApi();

async function accountFrom(sourceIp: string, label: string) {
  const email = `quota-${label}-${Date.now()}@example.test`;
  const password = 'quota-exhaustion-password-1!';
  const reg = await api.request('POST', '/v1/auth/register', {
    body: { email, password, name: 'Q' },
    sourceIp,
  });
  expect(reg.status, reg.text).toBe(202);
  const link = linkIn(await takeMail(inboxApi(), email, /^Verify/), '/verify-email');
  const verified = await api.request('POST', '/v1/auth/verify-email', { body: { token: link.token } });
  expect(verified.status, verified.text).toBe(200);
  const login = await api.request('POST', '/v1/auth/login', { body: { email, password }, sourceIp });
  expect(login.status, login.text).toBe(200);
  return login.body.token as string;
}

describe('tenant creation per network', () => {
  it('lets one /24 create no more tenants an hour than its budget, however many accounts it makes', {
    timeout: 300_000,
  }, async () => {
    // Act: four accounts of one /24, each creating up to its own per-user limit
    const statuses: number[] = [];
    for (let host = 1; host <= 4; host++) {
      const sourceIp = `127.9.9.${host}`;
      const token = await accountFrom(sourceIp, `v4-${host}`);
      for (let i = 0; i < TENANT_CREATIONS_PER_USER_PER_HOUR; i++) {
        const res = await api.request('POST', '/v1/tenants', {
          token,
          body: { name: `Quota ${host}-${i}` },
          sourceIp,
        });
        statuses.push(res.status);
      }
    }

    // Assess: the network's budget of tenants, the rest refused with 429
    expect(statuses.filter((s) => s === 201)).toHaveLength(TENANT_CREATIONS_PER_NETWORK_PER_HOUR);
    expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);

    // Act / Assess: someone on another network is not affected.
    const sourceIp = '127.9.10.1';
    const token = await accountFrom(sourceIp, 'elsewhere');
    const res = await api.request('POST', '/v1/tenants', { token, body: { name: 'Mine' }, sourceIp });
    expect(res.status, res.text).toBe(201);
  });

  it('answers the refused creation 429 with Retry-After, as a problem, and creates nothing', async () => {
    // Prepare: an account in the /24 spent above
    const sourceIp = '127.9.9.200'; // the /24 spent above
    const token = await accountFrom(sourceIp, 'late');

    // Act
    const res = await api.request('POST', '/v1/tenants', { token, body: { name: 'Too late' }, sourceIp });

    // Assess: a 429 problem with Retry-After, and no tenant
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const me = await api.request('GET', '/v1/me', { token, sourceIp });
    expect(me.body.memberships).toEqual([]);
  });
});
