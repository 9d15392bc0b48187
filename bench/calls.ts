import { randomBytes } from 'node:crypto';
import { linkIn, takeMail } from '../infra/local/inbox-reader.js';
import { jsonRequest } from '../infra/local/json-request.js';
import { countingCalls, installAwsCallTap, signatureOf } from '../test/support/aws-call-tap.js';

/**
 * AWS calls per request on the hot paths (issue 12 item 3), counted with the AWS call tap against a running
 * local system whose functions run in this process, next to the fewest each needs. `npm run bench` prints
 * the table; `test/integration/calls-per-request.test.ts` holds every path to its figure.
 */
export interface CallsPath {
  name: string;
  /** What the request is. */
  request: string;
  /** The calls this path is held to (the test fails on any other count)… */
  expected: number;
  /** … or on a count outside `expected`…`upTo`, where a warm cache may save calls. */
  upTo?: number;
  /** How many of them are STS calls. @default 0 */
  stsCalls?: number;
  /** The fewest calls it could make with today's data model. */
  minimum: number;
  /** Why `expected` is above `minimum`, or what the minimum consists of. */
  why: string;
}

export const CALLS_PATHS: readonly CallsPath[] = [
  {
    name: 'sign-in',
    request: 'POST /v1/auth/login (password, no MFA)',
    expected: 8,
    upTo: 11,
    minimum: 8,
    why: 'address claim and profile (2; the second needs the first); three budgets (per address, per account, per account and network), each a sliding window whose current count is reserved before the password is checked and given back after it, so concurrency cannot pass a limit (4); session and its audit event in one transaction (1); the sign-in history entry (1). A previous window is read once per budget and cached when settled: up to 3 more calls (one per budget) before that',
  },
  {
    name: 'authorised read',
    request: 'GET /v1/tenants/{t} (session)',
    expected: 2,
    minimum: 2,
    why: 'the session, then membership, tenant and user in one BatchGetItem; the answer is the tenant item the authorizer read',
  },
  {
    name: 'vend (miss)',
    request: 'GET …/storage-locations/{id}/credentials?access=read, first',
    expected: 9,
    stsCalls: 1,
    minimum: 9,
    why: 'credential and membership (2); location and storage state read in parallel (2); the holder record the revocation needs (1); AssumeRole (1); membership and location re-read after STS, in parallel, so a removal racing the vend withholds the credential (2); the audit event (1)',
  },
  {
    name: 'vend (hit)',
    request: 'the same vend again (cached credential)',
    expected: 5,
    minimum: 5,
    why: 'credential and membership (2); location and storage state, in parallel, because a revocation or a removed location must stop a cached credential too (2); the audit event (1). No STS call',
  },
  {
    name: 'audit list',
    request: 'GET /v1/tenants/{t}/audit-events (warm)',
    expected: 6,
    minimum: 6,
    why: 'credential and membership (2); the page (1) and its sequence numbers, on the markers of the chain table (1); the pending status: the chain head (1), then the events after its watermark, at most 1,000 keys (1). Nothing grows with the log’s age or event rate',
  },
  {
    name: 'query',
    request: 'POST /v1/tenants/{t}/query over members (warm)',
    expected: 3,
    minimum: 3,
    why: 'credential and membership (2), one Query of the tenant partition; the tenant-scoped credentials are cached',
  },
];

export interface CallsMeasurement extends CallsPath {
  calls: number;
  /** The calls, as `Client Command table…`. */
  sequence: string[];
}

/**
 * Counts the AWS calls of each path once, in a tenant of its own, after one warm-up request of the same
 * kind where the path is "warm" (cached tenant-scoped credentials).
 */
export async function measureCallsPerRequest(options: {
  apiUrl: string;
  inboxApiUrl: string;
}): Promise<CallsMeasurement[]> {
  installAwsCallTap();
  // An address of its own, so no other run's per-address budget is spent (two sign-ins here).
  const [a, b] = randomBytes(2);
  const localAddress = `127.5.${a}.${(b! % 254) + 1}`;
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const reply = await jsonRequest({
      url: new URL(path, options.apiUrl),
      method,
      body,
      token,
      localAddress,
    });
    const parsed = reply.text ? JSON.parse(reply.text) : undefined;
    if (reply.status >= 300)
      throw new Error(`calls: ${method} ${path} answered ${reply.status}: ${reply.text}`);
    return parsed;
  };
  const email = `calls-${randomBytes(6).toString('hex')}@example.test`;
  const password = `calls-${randomBytes(12).toString('base64url')}`;
  await call('POST', '/v1/auth/register', { email, password, name: 'Calls' });
  const { token: verification } = linkIn(
    await takeMail(options.inboxApiUrl, email, /^Verify/),
    '/verify-email',
  );
  await call('POST', '/v1/auth/verify-email', { token: verification });
  const { token } = await call('POST', '/v1/auth/login', { email, password });
  const { tenantId } = await call('POST', '/v1/tenants', { name: 'Calls' }, token);
  const { locationId } = await call(
    'POST',
    `/v1/tenants/${tenantId}/storage-locations`,
    { managed: true },
    token,
  );
  const vend = `/v1/tenants/${tenantId}/storage-locations/${locationId}/credentials?access=read`;
  const query = { operation: 'select', table: 'members' };
  // Warm-up: the tenant-scoped credentials of the audit and query functions.
  await call('GET', `/v1/tenants/${tenantId}/audit-events`, undefined, token);
  await call('POST', `/v1/tenants/${tenantId}/query`, query, token);

  const acts: Record<string, () => Promise<unknown>> = {
    'sign-in': () => call('POST', '/v1/auth/login', { email, password }),
    'authorised read': () => call('GET', `/v1/tenants/${tenantId}`, undefined, token),
    'vend (miss)': () => call('GET', vend, undefined, token),
    'vend (hit)': () => call('GET', vend, undefined, token),
    'audit list': () => call('GET', `/v1/tenants/${tenantId}/audit-events`, undefined, token),
    query: () => call('POST', `/v1/tenants/${tenantId}/query`, query, token),
  };
  const measured: CallsMeasurement[] = [];
  for (const path of CALLS_PATHS) {
    const act = acts[path.name];
    if (!act) throw new Error(`calls: no request for ${path.name}`);
    const calls = await countingCalls(act);
    measured.push({ ...path, calls: calls.length, sequence: calls.map(signatureOf) });
  }
  return measured;
}
