import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { linkIn, takeMail } from './inbox-reader.js';

export interface DemoSeed {
  email: string;
  password: string;
  token: string;
  tenantId: string;
}

/** Sends one JSON request to the local API from its own loopback address, so seeding spends no one's rate limit. */
function call(
  apiUrl: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, string> }> {
  const url = new URL(path, apiUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        localAddress: url.hostname === '127.0.0.1' ? '127.0.0.2' : undefined,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'user-agent': 'strongroom-local-seed',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
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
