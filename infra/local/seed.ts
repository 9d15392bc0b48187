import { randomBytes } from 'node:crypto';
import { linkIn, takeMail } from './inbox-reader.js';
import { jsonRequest } from './json-request.js';

export interface DemoSeed {
  email: string;
  password: string;
  token: string;
  tenantId: string;
}

/** Sends one JSON request to the local API from its own loopback address, so seeding spends no one's rate limit. */
async function call(
  apiUrl: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, string> }> {
  const url = new URL(path, apiUrl);
  const reply = await jsonRequest({
    url,
    method,
    body,
    token,
    localAddress: url.hostname === '127.0.0.1' ? '127.0.0.2' : undefined,
    userAgent: 'strongroom-local-seed',
  });
  return { status: reply.status, body: reply.text ? JSON.parse(reply.text) : undefined };
}

/**
 * Seeds a demo owner and tenant through the public API, as a person would: register, open the
 * verification link mailed to the local inbox, sign in, create a tenant. The password is random per run
 * and printed once by `npm run local`.
 */
export async function seedDemo(apiUrl: string, inboxApiUrl: string): Promise<DemoSeed> {
  const email = 'owner@demo.strongroom.local';
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  const registered = await call(apiUrl, 'POST', '/v1/auth/register', { email, password, name: 'Demo Owner' });
  if (registered.status !== 202) throw new Error(`seeding: register answered ${registered.status}`);
  const { token } = linkIn(await takeMail(inboxApiUrl, email, /^Verify/), '/verify-email');
  const verified = await call(apiUrl, 'POST', '/v1/auth/verify-email', { token });
  if (verified.status !== 200) throw new Error(`seeding: verify-email answered ${verified.status}`);
  const login = await call(apiUrl, 'POST', '/v1/auth/login', { email, password });
  if (login.status !== 200) throw new Error(`seeding: login answered ${login.status}`);
  const tenant = await call(apiUrl, 'POST', '/v1/tenants', { name: 'Demo' }, login.body.token);
  if (tenant.status !== 201) throw new Error(`seeding: create tenant answered ${tenant.status}`);
  return { email, password, token: String(login.body.token), tenantId: String(tenant.body.tenantId) };
}
